//! Balancing through the real proxy: backend weights (WRR, WLC), GSLB
//! sub-cluster weights and hash strategies, session stickiness, the
//! blackhole, retries (RetryMax, CrossRetry, RetryLevel) and outlier
//! detection by status code.

mod common;

use common::client::{self, Conn};
use common::conf::{Cluster, Layout};
use common::origin::{refused_addr, Origin, Reply};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;

/// `n` GETs of `/` over one keep-alive connection, each with the extra
/// header lines `extra(i)` returns; the count of each body seen. Every
/// answer must be a 200.
fn bodies(addr: SocketAddr, n: usize, extra: impl Fn(usize) -> String) -> HashMap<String, usize> {
    let mut c = Conn::open(addr);
    let mut seen = HashMap::new();
    for i in 0..n {
        let req = format!("GET / HTTP/1.1\r\nHost: example.org\r\n{}\r\n", extra(i));
        c.send(req.as_bytes());
        let r = c.response(false).expect("a response");
        assert_eq!(r.status, 200, "request {i}: {}", r.text());
        *seen.entry(r.text()).or_insert(0) += 1;
    }
    seen
}

/// An origin that names itself in every body, answering in one write (the
/// shared `Origin::named` writes head and body apart, which Nagle's
/// algorithm turns into a delayed-ACK wait per request: too slow for
/// thousands of requests).
fn named(name: &'static str) -> Origin {
    Origin::start(move |_| {
        Reply::raw(&format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{name}",
            name.len()
        ))
    })
}

fn share(seen: &HashMap<String, usize>, name: &str, total: usize) -> f64 {
    *seen.get(name).unwrap_or(&0) as f64 / total as f64
}

fn weighted(name: &str, backends: Vec<(SocketAddr, u32)>, conf: Value) -> Cluster {
    Cluster {
        name: name.into(),
        subs: vec![(format!("{name}.all"), 100, backends)],
        blackhole: 0,
        conf,
    }
}

#[test]
fn backend_weights_3_to_1_hold_over_4000_requests() {
    let (a, b) = (named("A"), named("B"));
    let mut l = Layout::single(weighted("c", vec![(a.addr, 3), (b.addr, 1)], json!({})));
    l.workers = 2;
    let d = l.write();
    let h = common::start(d.path(), None);
    // Four clients at once, spread over both workers.
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let addr = h.http_addr;
            std::thread::spawn(move || bodies(addr, 1000, |_| String::new()))
        })
        .collect();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for t in threads {
        for (k, v) in t.join().unwrap() {
            *seen.entry(k).or_insert(0) += v;
        }
    }
    assert_eq!(seen.values().sum::<usize>(), 4000);
    let a_share = share(&seen, "A", 4000);
    assert!((a_share - 0.75).abs() <= 0.03, "A got {a_share}: {seen:?}");
    assert_eq!(a.count() + b.count(), 4000);
}

#[test]
fn wlc_keeps_weights_when_backends_are_equally_busy() {
    let (a, b) = (named("A"), named("B"));
    let conf = json!({"GslbBasic": {"BalanceMode": "WLC"}});
    let d = Layout::single(weighted("c", vec![(a.addr, 3), (b.addr, 1)], conf)).write();
    let h = common::start(d.path(), None);
    // One client: nothing else is in flight at each pick, so every pick is
    // a tie and smooth WRR decides.
    let seen = bodies(h.http_addr, 4000, |_| String::new());
    let a_share = share(&seen, "A", 4000);
    assert!((a_share - 0.75).abs() <= 0.03, "A got {a_share}: {seen:?}");
}

/// Two sub-clusters weighted 3:1 in gslb.data, one origin each.
fn two_subs(a: SocketAddr, b: SocketAddr, hash: Value) -> Cluster {
    Cluster {
        name: "c".into(),
        subs: vec![
            ("c.a".into(), 3, vec![(a, 1)]),
            ("c.b".into(), 1, vec![(b, 1)]),
        ],
        blackhole: 0,
        conf: json!({"GslbBasic": {"HashConf": hash}}),
    }
}

#[test]
fn gslb_weights_split_clients_and_keep_each_on_its_subcluster() {
    let (a, b) = (named("A"), named("B"));
    let hash = json!({"HashStrategy": 0, "HashHeader": "X-Uid"});
    let d = Layout::single(two_subs(a.addr, b.addr, hash)).write();
    let h = common::start(d.path(), None);
    // 4,000 different clients split 3:1.
    let seen = bodies(h.http_addr, 4000, |i| format!("X-Uid: user-{i}\r\n"));
    let a_share = share(&seen, "A", 4000);
    assert!((a_share - 0.75).abs() <= 0.03, "A got {a_share}: {seen:?}");
    // The same client always lands on the same sub-cluster.
    let mut landed: HashMap<usize, String> = HashMap::new();
    let mut c = Conn::open(h.http_addr);
    for round in 0..5 {
        for id in 0..40 {
            let req = format!("GET / HTTP/1.1\r\nHost: example.org\r\nX-Uid: u{id}\r\n\r\n");
            c.send(req.as_bytes());
            let got = c.response(false).unwrap().text();
            let first = landed.entry(id).or_insert_with(|| got.clone());
            assert_eq!(*first, got, "client u{id} moved in round {round}");
        }
    }
    assert!(landed.values().any(|v| v == "A") && landed.values().any(|v| v == "B"));
}

#[test]
fn gslb_hashes_a_cookie_when_the_header_names_one() {
    let (a, b) = (named("A"), named("B"));
    let hash = json!({"HashStrategy": 0, "HashHeader": "Cookie:UID"});
    let d = Layout::single(two_subs(a.addr, b.addr, hash)).write();
    let h = common::start(d.path(), None);
    let seen = bodies(h.http_addr, 400, |i| {
        format!("Cookie: theme=dark; UID={}\r\n", i % 40)
    });
    // 40 clients, each seen 10 times: every count is a multiple of 10.
    assert!(seen.values().all(|n| n % 10 == 0), "{seen:?}");
    assert_eq!(seen.len(), 2, "{seen:?}");
}

#[test]
fn session_sticky_keeps_a_client_on_one_backend() {
    let origins: Vec<Origin> = ["A", "B", "C", "D"].into_iter().map(named).collect();
    let conf = json!({"GslbBasic": {"HashConf": {"HashStrategy": 0, "HashHeader": "X-Uid", "SessionSticky": true}}});
    let backends = origins.iter().map(|o| (o.addr, 1)).collect();
    let d = Layout::single(weighted("c", backends, conf)).write();
    let h = common::start(d.path(), None);
    let mut used = HashMap::new();
    for id in 0..20 {
        let seen = bodies(h.http_addr, 5, |_| format!("X-Uid: client-{id}\r\n"));
        assert_eq!(seen.len(), 1, "client-{id} saw {seen:?}");
        let name = seen.into_keys().next().unwrap();
        *used.entry(name).or_insert(0) += 1;
    }
    assert!(used.len() > 1, "all clients on one backend: {used:?}");
}

#[test]
fn blackhole_closes_the_connection_and_is_counted() {
    let a = named("A");
    let c = Cluster {
        name: "c".into(),
        subs: vec![("c.a".into(), 0, vec![(a.addr, 1)])],
        blackhole: 100,
        conf: json!({}),
    };
    let d = Layout::single(c).write();
    let h = common::start(d.path(), None);
    let got = client::raw(h.http_addr, b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n");
    assert!(got.is_empty(), "no answer expected: {got:?}");
    assert_eq!(common::counter(&h, "err_blackhole"), 1);
    assert_eq!(a.count(), 0);
}

/// A home sub-cluster whose only backend refuses connections, and a
/// weight-0 backup sub-cluster (reached only by cross retry).
fn home_and_backup(name: &str, backup: SocketAddr, conf: Value) -> Cluster {
    Cluster {
        name: name.into(),
        subs: vec![
            (format!("{name}.home"), 100, vec![(refused_addr(), 1)]),
            (format!("{name}.backup"), 0, vec![(backup, 1)]),
        ],
        blackhole: 0,
        conf,
    }
}

#[test]
fn cross_retry_reaches_another_subcluster() {
    let b = named("B");
    let conf = json!({"GslbBasic": {"RetryMax": 1, "CrossRetry": 1}});
    let d = Layout::single(home_and_backup("c", b.addr, conf)).write();
    let h = common::start(d.path(), None);
    let r = client::get(h.http_addr, "example.org", "/");
    assert_eq!((r.status, r.text().as_str()), (200, "B"));
    // One connect error at home; with nothing else there, straight across.
    assert_eq!(common::counter(&h, "err_backend_connect"), 1);
    assert_eq!(common::counter(&h, "retries"), 1);
    assert_eq!(common::counter(&h, "retries_cross"), 1);
}

#[test]
fn without_cross_retry_a_dead_subcluster_fails() {
    let b = named("B");
    let conf = json!({"GslbBasic": {"RetryMax": 2, "CrossRetry": 0}});
    let d = Layout::single(home_and_backup("c", b.addr, conf)).write();
    let h = common::start(d.path(), None);
    assert_eq!(client::get(h.http_addr, "example.org", "/").status, 502);
    assert_eq!(b.count(), 0);
    assert_eq!(common::counter(&h, "err_backend_unavailable"), 1);
}

#[test]
fn a_subcluster_with_every_backend_down_goes_straight_to_cross_retry() {
    let b = named("B");
    let conf = json!({"GslbBasic": {"CrossRetry": 1}, "CheckConf": {"FailNum": 1, "CheckInterval": 60000}});
    let d = Layout::single(home_and_backup("c", b.addr, conf)).write();
    let h = common::start(d.path(), None);
    for _ in 0..5 {
        let r = client::get(h.http_addr, "example.org", "/");
        assert_eq!((r.status, r.text().as_str()), (200, "B"));
    }
    // Only the first request tried the dead backend; it is down since.
    assert_eq!(common::counter(&h, "err_backend_connect"), 1);
    assert_eq!(common::counter(&h, "backend_down"), 1);
    assert_eq!(common::counter(&h, "retries_cross"), 5);
}

/// Backends X (closes every connection without answering) and Y (answers
/// "Y"); each request is sent to at most how many backends the retry rules
/// allow.
fn closer_and_good(retry_level: u8) -> (Origin, Origin, common::conf::ConfDir) {
    let x = Origin::start(|_| Reply::Close);
    let y = Origin::start(|s| Reply::text(&format!("Y{}", s.body.len())));
    let conf = json!({"BackendConf": {"RetryLevel": retry_level}, "GslbBasic": {"RetryMax": 2}});
    let d = Layout::single(weighted("c", vec![(x.addr, 1), (y.addr, 1)], conf)).write();
    (x, y, d)
}

#[test]
fn retry_level_1_retries_failed_gets_but_never_a_body() {
    let (x, y, d) = closer_and_good(1);
    let h = common::start(d.path(), None);
    for _ in 0..10 {
        let r = client::get(h.http_addr, "example.org", "/");
        assert_eq!((r.status, r.text().as_str()), (200, "Y0"));
    }
    assert!(x.count() >= 1, "X was tried");
    assert_eq!(common::counter(&h, "retries") as usize, x.count());
    // POSTs: whichever backend gets one is the only one that does.
    let (x0, y0) = (x.count(), y.count());
    let mut failed = 0;
    for _ in 0..10 {
        let raw = client::raw(
            h.http_addr,
            b"POST / HTTP/1.1\r\nHost: example.org\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
        );
        let r = client::parse_response(&raw).unwrap();
        match r.status {
            200 => assert_eq!(r.text(), "Y5"),
            502 => failed += 1,
            s => panic!("status {s}"),
        }
    }
    assert_eq!(x.count() - x0, failed, "each failed POST reached X only");
    assert_eq!(
        x.count() - x0 + y.count() - y0,
        10,
        "no POST was sent twice"
    );
    assert!(failed >= 1);
}

#[test]
fn retry_level_0_retries_only_connect_errors() {
    let (x, y, d) = closer_and_good(0);
    let h = common::start(d.path(), None);
    let mut failed = 0;
    for _ in 0..10 {
        match client::get(h.http_addr, "example.org", "/").status {
            200 => {}
            502 => failed += 1,
            s => panic!("status {s}"),
        }
    }
    assert!(failed >= 1);
    assert_eq!(x.count(), failed);
    assert_eq!(x.count() + y.count(), 10);
    assert_eq!(common::counter(&h, "retries"), 0);
}

#[test]
fn outlier_status_codes_count_as_failures() {
    let x = Origin::start(|_| Reply::raw("HTTP/1.1 500 Oops\r\nContent-Length: 3\r\n\r\nbad"));
    let y = named("Y");
    let conf = json!({
        "BackendConf": {"OutlierDetectionHttpCode": "500|503"},
        "CheckConf": {"FailNum": 2, "CheckInterval": 60000}
    });
    let d = Layout::single(weighted("c", vec![(x.addr, 1), (y.addr, 1)], conf)).write();
    let h = common::start(d.path(), None);
    let mut statuses = Vec::new();
    for _ in 0..20 {
        statuses.push(client::get(h.http_addr, "example.org", "/").status);
    }
    // The 500s reach the client (no retry on a response); after FailNum of
    // them X is out of rotation.
    assert_eq!(
        statuses.iter().filter(|&&s| s == 500).count(),
        2,
        "{statuses:?}"
    );
    assert_eq!(statuses.iter().filter(|&&s| s == 200).count(), 18);
    let served = x.requests().iter().filter(|r| r.target == "/").count();
    assert_eq!(served, 2);
    assert_eq!(common::counter(&h, "backend_down"), 1);
}
