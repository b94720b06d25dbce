//! mod_block through the real server: the global IP blocklist closes a
//! listed peer's connection at accept, product rules close requests, both
//! tables reload (a broken file changes nothing), counters on the monitor
//! port, `-t` and BFE's shipped samples.

mod common;
mod guard_util;

use common::conf::{Cluster, ConfDir, Layout};
use common::origin::Origin;
use guard_util::{check, copy_samples, counters, get_from, ONE, TWO};
use serde_json::json;

const CONF: &str = "[Basic]\nProductRulePath = mod_block/block_rules.data\nIPBlocklistPath = mod_block/ip_blocklist.data\n";

fn rules(v: &str, product: &str, cmd: &str, cond: &str) -> serde_json::Value {
    json!({"Version": v, "Config": {product: [
        {"Name": "r1", "Cond": cond, "Action": {"Cmd": cmd, "Params": []}}
    ]}})
}

fn setup(blocklist: &str) -> (Origin, ConfDir) {
    let o = Origin::named("origin");
    let mut l = Layout::single(Cluster::simple("c", &[o.addr]));
    l.modules = vec!["mod_block".into()];
    let d = l.write();
    d.write("mod_block/mod_block.conf", CONF);
    d.write("mod_block/ip_blocklist.data", blocklist);
    d.write_json(
        "mod_block/block_rules.data",
        &rules("v1", "p", "CLOSE", r#"req_path_in("/limit", false)"#),
    );
    (o, d)
}

#[test]
fn blocklisted_peer_is_closed_at_accept_and_others_served() {
    let (o, d) = setup("# blocked clients\n127.0.0.2\n");
    let h = common::start(d.path(), None);
    assert!(
        get_from(TWO, &h, "/", &[]).is_none(),
        "127.0.0.2 gets nothing"
    );
    let r = get_from(ONE, &h, "/", &[]).expect("127.0.0.1 is served");
    assert_eq!((r.status, r.text()), (200, "origin".to_string()));
    assert_eq!(o.count(), 1, "the blocked request never reached the origin");
    let c = counters(&h, "mod_block");
    assert_eq!(c["CONN_TOTAL"], 2, "{c}");
    assert_eq!(c["CONN_REFUSE"], 1, "{c}");
    assert_eq!(c["CONN_ACCEPT"], 1, "{c}");
    assert_eq!(c["WRONG_COMMAND"], 0, "{c}");
    // Counted in proxy_state under mod_block's own kind, not as a generic
    // handler abort.
    assert_eq!(common::counter(&h, "err_block"), 1);
    assert_eq!(common::counter(&h, "err_handler_abort"), 0);
}

#[test]
fn product_rule_closes_and_reloads_take_effect() {
    let (o, d) = setup("");
    let h = common::start(d.path(), None);
    assert!(
        get_from(ONE, &h, "/limit", &[]).is_none(),
        "CLOSE: no answer"
    );
    assert_eq!(
        get_from(ONE, &h, "/other", &[]).map(|r| r.status),
        Some(200)
    );
    assert_eq!(o.count(), 1);
    let c = counters(&h, "mod_block");
    assert_eq!(
        (
            c["REQ_TOTAL"].clone(),
            c["REQ_REFUSE"].clone(),
            c["REQ_ACCEPT"].clone()
        ),
        (json!(2), json!(1), json!(1)),
        "{c}"
    );
    assert_eq!(common::counter(&h, "err_block"), 1);

    // A global ALLOW for /limit is checked first and wins.
    let mut v = rules("v2", "p", "CLOSE", r#"req_path_in("/limit", false)"#);
    v["Config"]["global"] = json!([{"name": "open", "cond": "req_path_in(\"/limit\", false)",
        "action": {"cmd": "ALLOW", "params": []}}]);
    d.write_json("mod_block/block_rules.data", &v);
    let r = common::reload(&h, "mod_block.product_rule_table");
    assert!(r["error"].is_null(), "{r}");
    assert_eq!(
        get_from(ONE, &h, "/limit", &[]).map(|r| r.status),
        Some(200)
    );

    // A broken file: error naming it, nothing changes.
    d.write_json(
        "mod_block/block_rules.data",
        &rules("v3", "p", "DROP", "default_t()"),
    );
    let r = common::reload(&h, "mod_block.product_rule_table");
    let e = r["error"].as_str().unwrap_or_default();
    assert!(e.contains("block_rules.data") && e.contains("Cmd"), "{r}");
    assert_eq!(
        get_from(ONE, &h, "/limit", &[]).map(|r| r.status),
        Some(200)
    );
    assert_eq!(get_from(ONE, &h, "/x", &[]).map(|r| r.status), Some(200));
}

#[test]
fn blocklist_reload_takes_effect_and_a_broken_one_changes_nothing() {
    let (_o, d) = setup("");
    let h = common::start(d.path(), None);
    assert_eq!(get_from(TWO, &h, "/", &[]).map(|r| r.status), Some(200));
    d.write("mod_block/ip_blocklist.data", "127.0.0.2 127.0.0.3\n");
    let r = common::reload(&h, "mod_block.global_ip_table");
    assert!(r["error"].is_null(), "{r}");
    assert!(get_from(TWO, &h, "/", &[]).is_none());
    d.write("mod_block/ip_blocklist.data", "127.0.0.1\nnot-an-address\n");
    let r = common::reload(&h, "mod_block.global_ip_table");
    let e = r["error"].as_str().unwrap_or_default();
    assert!(
        e.contains("ip_blocklist.data") && e.contains("line 2"),
        "{r}"
    );
    assert!(get_from(TWO, &h, "/", &[]).is_none(), "still blocked");
    assert_eq!(
        get_from(ONE, &h, "/", &[]).map(|r| r.status),
        Some(200),
        "not blocked"
    );
}

#[test]
fn check_flag_names_file_and_key() {
    let (_o, d) = setup("");
    d.write(
        "mod_block/mod_block.conf",
        &format!("{CONF}IPBlockListPth = x\n"),
    );
    let (code, out) = check(d.path());
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("mod_block/mod_block.conf") && out.contains("IPBlockListPth"),
        "{out}"
    );
    let (_o, d) = setup("10.0.0.1 10.0.0.0\n");
    let (code, out) = check(d.path());
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("ip_blocklist.data"), "{out}");
}

/// BFE's shipped files of all five modules load unchanged and the server
/// serves with every one of them enabled.
#[test]
fn bfe_samples_load_unchanged() {
    let o = Origin::named("origin");
    let mut l = Layout::single(Cluster::simple("c", &[o.addr]));
    l.modules = [
        "mod_trust_clientip",
        "mod_logid",
        "mod_block",
        "mod_prison",
        "mod_http_code",
    ]
    .map(String::from)
    .to_vec();
    let d = l.write();
    for m in ["mod_trust_clientip", "mod_block", "mod_prison"] {
        copy_samples(d.path(), m);
    }
    let (code, out) = check(d.path());
    assert_eq!(code, Some(0), "{out}");
    let h = common::start(d.path(), None);
    let r = get_from(ONE, &h, "/", &[]).expect("served");
    assert_eq!(r.status, 200);
    assert_eq!(counters(&h, "mod_http_code")["ALL2_X_X"], 1);
}
