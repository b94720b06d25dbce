use super::*;
use crate::basic::RequestBuilder;
use crate::config::Snapshot;
use crate::module::Counters;
use crate::modules::test_conf::conf_root;

const CONF: &str = include_str!("../../../conf/mod_block/mod_block.conf");
const SAMPLE_RULES: &str = include_str!("../../../conf/mod_block/block_rules.data");
const SAMPLE_IPS: &str = include_str!("../../../conf/mod_block/ip_blocklist.data");

fn root(rules: &str, ips: &str) -> std::path::PathBuf {
    conf_root(
        "block",
        &[
            ("mod_block/mod_block.conf", CONF),
            ("mod_block/block_rules.data", rules),
            ("mod_block/ip_blocklist.data", ips),
        ],
    )
}

/// A request routed to `product`.
fn req(product: &str, path: &str) -> Request {
    let mut s = Snapshot::empty();
    let p = s.route.add_product(product);
    let mut r = RequestBuilder::get("example.org", path).snapshot(s).build();
    r.route.product = Some(p);
    r
}

const RULES: &str = r#"{"Version": "v", "Config": {
    "global": [{"Name": "g-allow", "Cond": "req_path_prefix_in(\"/open\", false)",
                "Action": {"Cmd": "ALLOW", "Params": []}}],
    "p": [{"name": "p-close", "cond": "req_path_prefix_in(\"/open\", false) || req_path_in(\"/limit\", false)",
           "action": {"cmd": "CLOSE", "params": []}}]
}}"#;

#[test]
fn bfe_samples_load_and_block_the_sample_ranges() {
    let conf = conf::load(&root(SAMPLE_RULES, SAMPLE_IPS)).expect("BFE's samples load");
    let c = Counters::new(&COUNTERS);
    let blocked = RequestBuilder::get("h", "/")
        .peer("192.168.7.1:40000")
        .session();
    assert_eq!(accept(&conf, &c, &blocked), Ret::Close);
    assert!(blocked.error().is_some());
    let ok = RequestBuilder::get("h", "/")
        .peer("192.168.16.1:40000")
        .session();
    assert_eq!(accept(&conf, &c, &ok), Ret::GoOn);
    let v: Vec<u64> = (0..3).map(|i| c.get(i)).collect();
    assert_eq!(v, [2, 1, 1]);
    let mut r = req("example_product", "/limit");
    assert!(matches!(
        found_product(&conf, &c, &mut r),
        (Ret::Close, None)
    ));
    assert_eq!(r.ctx.value(BLOCK_INFO), Some("example rule"));
    assert_eq!(r.error_kind(), Some(ErrorKind::Block));
}

#[test]
fn blocklist_checks_the_peer_not_the_trusted_client() {
    let conf = conf::load(&root(SAMPLE_RULES, "127.0.0.2\n")).expect("loads");
    let c = Counters::new(&COUNTERS);
    let ses = RequestBuilder::get("h", "/")
        .peer("127.0.0.1:1")
        .client("127.0.0.2")
        .session();
    assert_eq!(accept(&conf, &c, &ses), Ret::GoOn);
}

#[test]
fn global_allow_wins_over_product_close() {
    let conf = conf::load(&root(RULES, "")).expect("loads");
    let c = Counters::new(&COUNTERS);
    let mut r = req("p", "/open/x");
    assert!(matches!(
        found_product(&conf, &c, &mut r),
        (Ret::GoOn, None)
    ));
    assert_eq!(r.ctx.value(BLOCK_INFO), Some("g-allow"));
    let mut r = req("p", "/limit");
    assert!(matches!(
        found_product(&conf, &c, &mut r),
        (Ret::Close, None)
    ));
    assert_eq!(r.ctx.value(BLOCK_INFO), Some("p-close"));
    let mut r = req("p", "/other");
    assert!(matches!(
        found_product(&conf, &c, &mut r),
        (Ret::GoOn, None)
    ));
    assert_eq!(r.ctx.value(BLOCK_INFO), None);
    let mut r = req("q", "/limit");
    assert!(matches!(
        found_product(&conf, &c, &mut r),
        (Ret::GoOn, None)
    ));
    // REQ_TOTAL 4, REQ_ACCEPT: global allow + p without match = 2, REQ_REFUSE 1.
    let v: Vec<u64> = (3..6).map(|i| c.get(i)).collect();
    assert_eq!(v, [4, 2, 1]);
}

#[test]
fn bad_rules_are_refused_with_file_and_key() {
    let cases = [
        (
            r#"{"Version": "v", "Config": {"p": [{"Name": "a", "Cond": "default_t()", "Action": {"Cmd": "CLOSE"}}]}}"#,
            "Config.p[0].Action.Params",
        ),
        (
            r#"{"Version": "v", "Config": {"p": [{"Name": "a", "Cond": "default_t()", "Action": {"Cmd": "close", "Params": []}}]}}"#,
            "Config.p[0].Action.Cmd",
        ),
        (
            r#"{"Version": "v", "Config": {"p": [{"Name": "a", "Cond": "default_t()", "Action": {"Cmd": "CLOSE", "Params": ["x"]}}]}}"#,
            "Config.p[0].Action.Params",
        ),
        (
            r#"{"Version": "v", "Config": {"p": [{"Cond": "default_t()", "Action": {"Cmd": "CLOSE", "Params": []}}]}}"#,
            "Config.p[0].Name",
        ),
        (
            r#"{"Version": "v", "Config": {"p": [
            {"Name": "a", "Cond": "default_t()", "Action": {"Cmd": "CLOSE", "Params": []}},
            {"Name": "a", "Cond": "default_t()", "Action": {"Cmd": "ALLOW", "Params": []}}]}}"#,
            "Config.p[1].Name",
        ),
        (r#"{"Config": {}}"#, "Version"),
    ];
    for (text, key) in cases {
        let e = conf::load(&root(text, "")).expect_err(key);
        let msg = e[0].to_string();
        assert!(
            msg.contains("block_rules.data") && msg.contains(key),
            "{key}: {msg}"
        );
    }
    let e = conf::load(&root(SAMPLE_RULES, "10.0.0.1\n10.0.0.x\n")).expect_err("bad ip");
    let msg = e[0].to_string();
    assert!(
        msg.contains("ip_blocklist.data") && msg.contains("line 2"),
        "{msg}"
    );
}

#[test]
fn no_rules_costs_a_counter() {
    let conf = conf::load(&root(r#"{"Version": "v", "Config": {}}"#, "")).expect("loads");
    assert!(!conf.any_rules);
    let c = Counters::new(&COUNTERS);
    let mut r = req("p", "/");
    assert!(matches!(
        found_product(&conf, &c, &mut r),
        (Ret::GoOn, None)
    ));
    assert_eq!(c.get(REQ_TOTAL), 1);
}
