//! mod_trust_clientip, mod_logid and mod_http_code through the real server:
//! a trusted peer's X-Real-Ip / X-Forwarded-For becomes the client address
//! the backend and conditions see, an untrusted one's does not; log ids as
//! BFE's (a trusted one kept); status-class counters on the monitor port.

mod common;
mod guard_util;

use common::conf::{Cluster, ConfDir, Layout};
use common::origin::{Origin, Reply};
use guard_util::{check, counters, get_from, ONE, TWO};
use serde_json::json;

fn trust(d: &ConfDir, version: &str, begin: &str, end: &str) {
    d.write_json(
        "mod_trust_clientip/trust_client_ip.data",
        &json!({"Version": version, "Config": {"lb": [{"Begin": begin, "End": end}]}}),
    );
}

/// Trust 127.0.0.1 only; mod_block closes requests from client 1.2.3.4.
fn setup(modules: &[&str], origin: Origin) -> (Origin, ConfDir) {
    let mut l = Layout::single(Cluster::simple("c", &[origin.addr]));
    l.modules = modules.iter().map(|m| m.to_string()).collect();
    let d = l.write();
    d.write(
        "mod_trust_clientip/mod_trust_clientip.conf",
        "[Basic]\nDataPath = mod_trust_clientip/trust_client_ip.data\n",
    );
    trust(&d, "v1", "127.0.0.1", "127.0.0.1");
    d.write("mod_block/mod_block.conf", "[Basic]\n");
    d.write("mod_block/ip_blocklist.data", "");
    d.write_json(
        "mod_block/block_rules.data",
        &json!({"Version": "v", "Config": {"p": [{"Name": "deny-1234",
            "Cond": "req_cip_range(\"1.2.3.4\", \"1.2.3.4\")",
            "Action": {"Cmd": "CLOSE", "Params": []}}]}}),
    );
    (origin, d)
}

fn last_xff(o: &Origin) -> String {
    let seen = o.requests();
    let r = seen.last().expect("a request reached the origin");
    let xff = r.header("x-forwarded-for").unwrap_or_default().to_string();
    xff.rsplit(',')
        .next()
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[test]
fn trusted_peer_headers_set_the_client_address() {
    let (o, d) = setup(&["mod_trust_clientip", "mod_block"], Origin::named("o"));
    let h = common::start(d.path(), None);
    let claim = [("X-Real-Ip", "5.6.7.8")];
    assert_eq!(get_from(ONE, &h, "/", &claim).map(|r| r.status), Some(200));
    assert_eq!(last_xff(&o), "5.6.7.8", "trusted: X-Real-Ip is the client");
    let xff = [("X-Forwarded-For", "9.9.9.9, 10.0.0.1")];
    get_from(ONE, &h, "/", &xff);
    assert_eq!(
        last_xff(&o),
        "9.9.9.9",
        "trusted: first X-Forwarded-For entry"
    );
    get_from(
        ONE,
        &h,
        "/",
        &[("X-Real-Ip", ""), ("X-Forwarded-For", "9.9.9.8")],
    );
    assert_eq!(
        last_xff(&o),
        "9.9.9.8",
        "an empty X-Real-Ip falls back, as BFE"
    );
    get_from(TWO, &h, "/", &claim);
    assert_eq!(last_xff(&o), "127.0.0.2", "untrusted: the peer");

    // The condition sees it too: a trusted claim of 1.2.3.4 is closed by
    // mod_block's req_cip_range rule, an untrusted one is not.
    let bad = [("X-Real-Ip", "1.2.3.4")];
    assert!(get_from(ONE, &h, "/", &bad).is_none());
    assert_eq!(get_from(TWO, &h, "/", &bad).map(|r| r.status), Some(200));

    let c = counters(&h, "mod_trust_clientip");
    assert_eq!(c["CONN_TOTAL"], 6, "{c}");
    assert_eq!(c["CONN_TRUST_CLIENTIP"], 4, "{c}");
    assert_eq!(c["CONN_ADDR_INTERNAL"], 0, "{c}");

    // Reload: trust nobody on loopback; a broken file changes nothing.
    trust(&d, "v2", "10.0.0.0", "10.255.255.255");
    let r = common::reload(&h, "mod_trust_clientip");
    assert!(r["error"].is_null(), "{r}");
    get_from(ONE, &h, "/", &claim);
    assert_eq!(last_xff(&o), "127.0.0.1", "no longer trusted");
    trust(&d, "v3", "10.0.0.9", "bogus");
    let r = common::reload(&h, "mod_trust_clientip");
    let e = r["error"].as_str().unwrap_or_default();
    assert!(
        e.contains("trust_client_ip.data") && e.contains("End"),
        "{r}"
    );
    get_from(ONE, &h, "/", &claim);
    assert_eq!(last_xff(&o), "127.0.0.1", "still the v2 table");
}

fn is_id(s: &str) -> bool {
    s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

#[test]
fn log_ids_generated_replaced_and_kept_from_trusted_peers() {
    let (o, d) = setup(&["mod_trust_clientip", "mod_logid"], Origin::named("o"));
    let h = common::start(d.path(), None);
    let seen_id = |o: &Origin| {
        o.requests()
            .last()
            .and_then(|r| r.header("x-bfe-log-id").map(String::from))
            .unwrap_or_default()
    };
    get_from(TWO, &h, "/", &[]);
    let a = seen_id(&o);
    assert!(is_id(&a), "{a:?}");
    get_from(TWO, &h, "/", &[("X-Bfe-Log-Id", "forged")]);
    let b = seen_id(&o);
    assert!(is_id(&b) && b != a, "untrusted id replaced: {b:?}");
    get_from(ONE, &h, "/", &[("X-Bfe-Log-Id", "from-upper-tier")]);
    assert_eq!(seen_id(&o), "from-upper-tier");
    assert_eq!(counters(&h, "mod_logid")["NO_LOGID_FROM_UPPER_BFE"], 0);
    get_from(ONE, &h, "/", &[]);
    assert!(is_id(&seen_id(&o)));
    assert_eq!(counters(&h, "mod_logid")["NO_LOGID_FROM_UPPER_BFE"], 1);
}

#[test]
fn http_code_counts_classes_summed_over_workers() {
    let origin = Origin::start(|s| match s.target.as_str() {
        "/missing" => Reply::raw("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
        "/moved" => Reply::raw("HTTP/1.1 301 Moved\r\nLocation: /\r\nContent-Length: 0\r\n\r\n"),
        "/broken" => Reply::raw("HTTP/1.1 503 Unavailable\r\nContent-Length: 0\r\n\r\n"),
        _ => Reply::text("ok"),
    });
    let mut l = Layout::single(Cluster::simple("c", &[origin.addr]));
    l.workers = 2;
    l.modules = vec!["mod_http_code".into()];
    let d = l.write();
    let h = common::start(d.path(), None);
    for p in ["/", "/", "/", "/missing", "/moved", "/broken", "/missing"] {
        get_from(ONE, &h, p, &[]).expect("answered");
    }
    let c = counters(&h, "mod_http_code");
    assert_eq!(
        c,
        json!({"ALL2_X_X": 3, "ALL3_X_X": 1, "ALL4_X_X": 2, "ALL5_X_X": 1}),
        "{c}"
    );
    let (s, diff) = common::monitor_get(&h, "/monitor/mod_http_code.diff");
    assert_eq!(s, 200, "{diff}");
}

#[test]
fn check_flag_validates_trust_data() {
    let (_o, d) = setup(&["mod_trust_clientip"], Origin::named("o"));
    trust(&d, "v", "10.0.0.1", "::1");
    let (code, out) = check(d.path());
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("mod_trust_clientip/trust_client_ip.data"),
        "{out}"
    );
}
