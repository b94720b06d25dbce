//! Routing and forwarding through the real server: hosts and paths to
//! clusters, weighted round robin, retries, what the backend receives.

mod common;

use common::client::{self, get};
use common::conf::{Cluster, Layout};
use common::origin::{refused_addr, Origin, Reply};
use serde_json::json;

/// Two products by host, one with a path rule: each request lands on the
/// origin its host and path say.
#[test]
fn routes_by_host_and_path() {
    let a = Origin::named("A");
    let b = Origin::named("B");
    let api = Origin::named("API");
    let mut l = Layout::single(Cluster::simple("ca", &[a.addr]));
    l.clusters.push(Cluster::simple("cb", &[b.addr]));
    l.clusters.push(Cluster::simple("capi", &[api.addr]));
    l.default_product = None;
    l.hosts = vec![
        ("pa".into(), vec!["a.example.com".into()]),
        (
            "pb".into(),
            vec!["*.b.example.com".into(), "b.example.com".into()],
        ),
    ];
    l.rules = vec![
        ("pa".into(), vec![("default_t()".into(), "ca".into())]),
        (
            "pb".into(),
            vec![
                (
                    "req_path_prefix_in(\"/api\", false) && req_method_in(\"GET|POST\")".into(),
                    "capi".into(),
                ),
                ("default_t()".into(), "cb".into()),
            ],
        ),
    ];
    let d = l.write();
    let h = common::start(d.path(), None);
    assert_eq!(get(h.http_addr, "a.example.com", "/").text(), "A");
    assert_eq!(get(h.http_addr, "A.Example.com:8080", "/x").text(), "A");
    assert_eq!(get(h.http_addr, "b.example.com", "/").text(), "B");
    assert_eq!(get(h.http_addr, "x.b.example.com", "/api/v1").text(), "API");
    assert_eq!(get(h.http_addr, "b.example.com", "/apx").text(), "B");
    // No product for the host, no default: 500 (a routing miss).
    let miss = get(h.http_addr, "nowhere.example.com", "/");
    assert_eq!(miss.status, 500);
    assert_eq!(common::counter(&h, "err_no_product"), 1);
}

/// Header and exact-path conditions with `!`, `||` and parentheses.
#[test]
fn conditions_pick_clusters() {
    let a = Origin::named("A");
    let b = Origin::named("B");
    let mut l = Layout::single(Cluster::simple("ca", &[a.addr]));
    l.clusters.push(Cluster::simple("cb", &[b.addr]));
    l.rules = vec![(
        "p".into(),
        vec![
            (
                "!req_path_in(\"/open\", false) && (req_header_value_in(\"X-Tier\", \"gold|silver\", false) || req_host_in(\"vip.example.org\"))".into(),
                "cb".into(),
            ),
            ("default_t()".into(), "ca".into()),
        ],
    )];
    let d = l.write();
    let h = common::start(d.path(), None);
    let send = |host: &str, path: &str, extra: &str| {
        let raw = client::raw(
            h.http_addr,
            format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n")
                .as_bytes(),
        );
        client::parse_response(&raw).unwrap().text()
    };
    assert_eq!(send("example.org", "/x", "X-Tier: gold\r\n"), "B");
    assert_eq!(send("example.org", "/x", "X-Tier: bronze\r\n"), "A");
    assert_eq!(send("vip.example.org", "/x", ""), "B");
    assert_eq!(send("vip.example.org", "/open", "X-Tier: gold\r\n"), "A");
}

/// No rule matches in the product: 500, counted as a cluster miss.
#[test]
fn no_matching_rule_is_500() {
    let a = Origin::named("A");
    let mut l = Layout::single(Cluster::simple("ca", &[a.addr]));
    l.rules = vec![(
        "p".into(),
        vec![("req_path_prefix_in(\"/only\", false)".into(), "ca".into())],
    )];
    let d = l.write();
    let h = common::start(d.path(), None);
    assert_eq!(get(h.http_addr, "example.org", "/only/x").text(), "A");
    assert_eq!(get(h.http_addr, "example.org", "/other").status, 500);
    assert_eq!(common::counter(&h, "err_no_cluster"), 1);
}

/// Weights 3:1 over 400 requests on one worker: smooth WRR is exact.
#[test]
fn weighted_round_robin_matches_weights() {
    let a = Origin::named("A");
    let b = Origin::named("B");
    let mut c = Cluster::simple("c", &[]);
    c.subs[0].2 = vec![(a.addr, 3), (b.addr, 1)];
    let d = Layout::single(c).write();
    let h = common::start(d.path(), None);
    let mut conn = client::Conn::open(h.http_addr);
    let (mut na, mut nb) = (0, 0);
    for _ in 0..400 {
        conn.send(b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n");
        match conn.response(false).unwrap().text().as_str() {
            "A" => na += 1,
            "B" => nb += 1,
            other => panic!("unexpected body {other}"),
        }
    }
    assert_eq!((na, nb), (300, 100));
}

/// The first backend refuses connections: the request is retried on the
/// second and succeeds; the failure is counted.
#[test]
fn retries_next_backend_on_connect_failure() {
    let dead = refused_addr();
    let b = Origin::named("B");
    let mut c = Cluster::simple("c", &[]);
    c.subs[0].2 = vec![(dead, 1), (b.addr, 1)];
    let d = Layout::single(c).write();
    let h = common::start(d.path(), None);
    for _ in 0..4 {
        let r = get(h.http_addr, "example.org", "/");
        assert_eq!((r.status, r.text().as_str()), (200, "B"));
    }
    assert!(common::counter(&h, "err_backend_connect") >= 2);
    assert!(common::counter(&h, "retries") >= 2);
}

/// Every backend refuses: 502 after RetryMax retries.
#[test]
fn all_backends_down_is_502() {
    let c = Cluster::simple("c", &[refused_addr(), refused_addr()])
        .with_conf(json!({"GslbBasic": {"RetryMax": 1}}));
    let d = Layout::single(c).write();
    let h = common::start(d.path(), None);
    assert_eq!(get(h.http_addr, "example.org", "/").status, 502);
    assert_eq!(common::counter(&h, "err_backend_connect"), 2);
    assert_eq!(common::counter(&h, "err_backend_unavailable"), 1);
}

/// Response head not sent within TimeoutResponseHeader: 504.
#[test]
fn slow_backend_is_504() {
    let slow = Origin::start(|_| {
        Reply::Delay(
            std::time::Duration::from_millis(1500),
            Box::new(Reply::text("late")),
        )
    });
    let c = Cluster::simple("c", &[slow.addr])
        .with_conf(json!({"BackendConf": {"TimeoutResponseHeader": 300}}));
    let d = Layout::single(c).write();
    let h = common::start(d.path(), None);
    assert_eq!(get(h.http_addr, "example.org", "/").status, 504);
    assert_eq!(common::counter(&h, "err_backend_timeout"), 1);
}

/// What the backend receives: origin-form target, HTTP/1.1, hop-by-hop
/// headers gone, X-Forwarded-For appended, Host kept.
#[test]
fn backend_sees_clean_request() {
    let o = Origin::named("A");
    let d = Layout::single(Cluster::simple("c", &[o.addr])).write();
    let h = common::start(d.path(), None);
    let raw = client::raw(
        h.http_addr,
        b"GET http://example.org/p?q=1 HTTP/1.1\r\nHost: example.org\r\nConnection: close, X-Secret\r\nX-Secret: s\r\nKeep-Alive: 10\r\nProxy-Connection: x\r\nTE: trailers\r\nUpgrade: websocket\r\nX-Forwarded-For: 10.1.1.1\r\nX-Keep: k\r\n\r\n",
    );
    assert_eq!(client::parse_response(&raw).unwrap().status, 200);
    let seen = &o.requests()[0];
    assert_eq!(seen.target, "/p?q=1");
    assert_eq!(seen.version, "HTTP/1.1");
    assert_eq!(seen.header("host"), Some("example.org"));
    assert_eq!(seen.header("x-keep"), Some("k"));
    assert_eq!(seen.header("x-forwarded-for"), Some("10.1.1.1, 127.0.0.1"));
    for hop in [
        "x-secret",
        "keep-alive",
        "proxy-connection",
        "te",
        "upgrade",
    ] {
        assert!(!seen.has_header(hop), "{hop} was forwarded");
    }
}

/// Upstream connections are kept and reused across client connections.
#[test]
fn upstream_connections_are_reused() {
    let o = Origin::named("A");
    let d = Layout::single(Cluster::simple("c", &[o.addr])).write();
    let h = common::start(d.path(), None);
    for _ in 0..20 {
        assert_eq!(get(h.http_addr, "example.org", "/").status, 200);
    }
    assert_eq!(o.count(), 20);
    assert_eq!(o.conns.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(common::counter(&h, "upstream_reuse"), 19);
}

/// `SessionSticky`: one client (hashed by IP) keeps its backend, where
/// round robin would spread its requests over all four.
#[test]
fn session_sticky_keeps_a_client_on_one_backend() {
    let origins: Vec<Origin> = ["A", "B", "C", "D"]
        .into_iter()
        .map(Origin::named)
        .collect();
    let addrs: Vec<_> = origins.iter().map(|o| o.addr).collect();
    let sticky = json!({"GslbBasic": {"HashConf": {"HashStrategy": 1, "SessionSticky": true}}});
    let d = Layout::single(Cluster::simple("c", &addrs).with_conf(sticky)).write();
    let h = common::start(d.path(), None);
    let first = get(h.http_addr, "example.org", "/").text();
    for _ in 0..20 {
        assert_eq!(get(h.http_addr, "example.org", "/").text(), first);
    }
    // Without it, the same client is spread by weight.
    let d2 = Layout::single(Cluster::simple("c", &addrs)).write();
    let h2 = common::start(d2.path(), None);
    let seen: std::collections::HashSet<String> = (0..8)
        .map(|_| get(h2.http_addr, "example.org", "/").text())
        .collect();
    assert_eq!(seen.len(), 4);
}
