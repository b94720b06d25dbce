//! mod_prison through the real server: a client is limited after N
//! requests in a window and released after the stay period, FINISH answers
//! 403 and closes, reloads take effect (a broken one changes nothing), and
//! counters show on the monitor port.

mod common;
mod guard_util;

use common::conf::{Cluster, ConfDir, Layout};
use common::origin::Origin;
use guard_util::{check, counters, get_from, ONE, TWO};
use serde_json::json;
use std::time::{Duration, Instant};

fn rules(version: &str, cmd: &str, threshold: u32, stay: u32) -> serde_json::Value {
    json!({"Version": version, "Config": {"p": [{
        "Name": "per-client", "Cond": "req_path_prefix_in(\"/api\", false)",
        "AccessSignConf": {"UseClientIP": true},
        "Action": {"Cmd": cmd, "Params": []},
        "CheckPeriod": 1, "StayPeriod": stay, "Threshold": threshold,
        "AccessDictSize": 100, "PrisonDictSize": 100
    }]}})
}

fn setup(cmd: &str, threshold: u32, stay: u32) -> (Origin, ConfDir) {
    let o = Origin::named("origin");
    let mut l = Layout::single(Cluster::simple("c", &[o.addr]));
    l.modules = vec!["mod_prison".into()];
    let d = l.write();
    d.write(
        "mod_prison/mod_prison.conf",
        "[Basic]\nProductRulePath = mod_prison/prison.data\n",
    );
    d.write_json("mod_prison/prison.data", &rules("v1", cmd, threshold, stay));
    (o, d)
}

fn status(src: std::net::Ipv4Addr, h: &ringfront::server::ServerHandle, path: &str) -> u16 {
    get_from(src, h, path, &[]).map_or(0, |r| r.status)
}

#[test]
fn limits_after_threshold_then_releases() {
    let (o, d) = setup("CLOSE", 3, 1);
    let h = common::start(d.path(), None);
    let start = Instant::now();
    for i in 0..3 {
        assert_eq!(status(ONE, &h, "/api/x"), 200, "request {i}");
    }
    assert_eq!(status(ONE, &h, "/api/x"), 0, "fourth in the window: closed");
    assert_eq!(status(ONE, &h, "/api/y"), 0, "still in prison");
    assert_eq!(status(ONE, &h, "/static"), 200, "rule does not apply");
    assert_eq!(status(TWO, &h, "/api/x"), 200, "another client");
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "test too slow to be meaningful"
    );
    assert_eq!(o.count(), 5);
    let c = counters(&h, "mod_prison");
    assert_eq!(c["ALL_PRISON"], 2, "{c}");
    assert_eq!(c["ALL_CHECKED"], 6, "{c}");
    // Released after StayPeriod (1 s) plus the rest of the window (< 1 s).
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(status(ONE, &h, "/api/x"), 200, "released");
}

#[test]
fn finish_answers_403_and_closes() {
    let (_o, d) = setup("FINISH", 1, 5);
    let h = common::start(d.path(), None);
    assert_eq!(status(ONE, &h, "/api"), 200);
    let r = get_from(ONE, &h, "/api", &[]).expect("an answer");
    assert_eq!(r.status, 403);
    assert_eq!(r.header("connection"), Some("close"));
}

#[test]
fn reload_takes_effect_and_a_broken_one_changes_nothing() {
    let (_o, d) = setup("CLOSE", 1, 5);
    let h = common::start(d.path(), None);
    assert_eq!(status(ONE, &h, "/api"), 200);
    assert_eq!(status(ONE, &h, "/api"), 0);
    // Same rule name: the prisoner stays in prison; PASS lets it through.
    d.write_json("mod_prison/prison.data", &rules("v2", "PASS", 1, 5));
    let r = common::reload(&h, "mod_prison");
    assert!(r["error"].is_null(), "{r}");
    assert_eq!(r["version"], "prison.data=v2");
    assert_eq!(status(ONE, &h, "/api"), 200);
    let before = counters(&h, "mod_prison")["ALL_PRISON"]
        .as_u64()
        .unwrap_or(0);
    assert!(before >= 2, "the PASS denial is counted");
    // Broken: CheckPeriod 0.
    let mut bad = rules("v3", "CLOSE", 1, 5);
    bad["Config"]["p"][0]["CheckPeriod"] = json!(0);
    d.write_json("mod_prison/prison.data", &bad);
    let r = common::reload(&h, "mod_prison");
    let e = r["error"].as_str().unwrap_or_default();
    assert!(
        e.contains("prison.data") && e.contains("CheckPeriod"),
        "{r}"
    );
    assert_eq!(status(ONE, &h, "/api"), 200, "still PASS");
}

#[test]
fn check_flag_refuses_bad_rules() {
    let (_o, d) = setup("CLOSE", 1, 5);
    let mut bad = rules("v", "REQ_HEADER_SET", 1, 5);
    bad["Config"]["p"][0]["Action"]["Params"] = json!(["Host", "x"]);
    d.write_json("mod_prison/prison.data", &bad);
    let (code, out) = check(d.path());
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("mod_prison/prison.data") && out.contains("X-Bfe-"),
        "{out}"
    );
}
