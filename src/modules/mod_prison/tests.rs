use super::*;
use crate::basic::RequestBuilder;
use crate::config::Snapshot;
use crate::modules::test_conf::conf_root;
use crate::route::RequestFacts;

const CONF: &str = include_str!("../../../conf/mod_prison/mod_prison.conf");
const SAMPLE: &str = include_str!("../../../conf/mod_prison/prison.data");

fn root(data: &str) -> std::path::PathBuf {
    conf_root(
        "prison",
        &[
            ("mod_prison/mod_prison.conf", CONF),
            ("mod_prison/prison.data", data),
        ],
    )
}

/// One rule for `product`; `sign` and `action` are JSON object bodies.
fn rules(product: &str, name: &str, sign: &str, action: &str, threshold: u32) -> String {
    format!(
        r#"{{"Version": "v1", "Config": {{"{product}": [{{
            "Name": "{name}", "Cond": "req_path_prefix_in(\"/p\", false)",
            "AccessSignConf": {{{sign}}}, "Action": {{{action}}},
            "CheckPeriod": 10, "StayPeriod": 10, "Threshold": {threshold},
            "AccessDictSize": 100, "PrisonDictSize": 100}}]}}}}"#
    )
}

fn req(product: &str, path: &str, headers: &[(&str, &str)]) -> Request {
    let mut s = Snapshot::empty();
    let p = s.route.add_product(product);
    let mut b = RequestBuilder::get("example.org", path).snapshot(s);
    for (n, v) in headers {
        b = b.header(n, v);
    }
    let mut r = b.build();
    r.route.product = Some(p);
    r
}

fn prison(data: &str) -> (Prison, Tables<PrisonConf>) {
    let conf = conf::load(&root(data)).expect("loads");
    let t = Tables::new(conf);
    (Prison::new(t.clone(), Rc::new(Counters::new(&COUNTERS))), t)
}

const CLOSE: &str = r#""Cmd": "close", "Params": []"#;

#[test]
fn bfe_sample_loads_and_limits_per_uid_cookie() {
    let (p, _t) = prison(SAMPLE);
    let uid = [("Cookie", "UID=alice")];
    for i in 1..=5 {
        let mut r = req("example_product", "/prison", &uid);
        assert!(
            matches!(p.found_product(&mut r), (Ret::GoOn, None)),
            "request {i}"
        );
    }
    let mut r = req("example_product", "/prison/x", &uid);
    assert!(
        matches!(p.found_product(&mut r), (Ret::Close, None)),
        "sixth is denied"
    );
    let info = r.ctx.value(PRISON_INFO).unwrap_or_default().to_string();
    assert!(
        info.contains("\"PrisonName\":\"example_prison\"") && info.contains("\"IsExpired\":false"),
        "{info}"
    );
    assert_eq!(r.error_kind(), Some(ErrorKind::Prison));
    // Another signature, and a request without the cookie (skipped).
    let mut r = req("example_product", "/prison", &[("Cookie", "UID=bob")]);
    assert!(matches!(p.found_product(&mut r), (Ret::GoOn, None)));
    for _ in 0..10 {
        let mut r = req("example_product", "/prison", &[]);
        assert!(matches!(p.found_product(&mut r), (Ret::GoOn, None)));
    }
    // Other path: the rule's condition does not hold.
    let mut r = req("example_product", "/other", &uid);
    assert!(matches!(p.found_product(&mut r), (Ret::GoOn, None)));
    assert_eq!(p.counters.get(ALL_PRISON), 1);
    assert_eq!(p.counters.get(ALL_CHECKED), 17);
}

#[test]
fn window_restarts_and_prisoners_are_released() {
    let conf = conf::load(&root(&rules("p", "r", "", CLOSE, 2))).expect("loads");
    let rule = &conf.rules.product("p")[0].rule;
    let mut st = RuleState::new(rule);
    let mut r = req("p", "/p", &[]);
    let s = 1_000_000_000u64;
    // Two per window pass; the window restarts after CheckPeriod.
    assert!(!record_and_check(rule, &mut st, 7, 0, &mut r));
    assert!(!record_and_check(rule, &mut st, 7, s, &mut r));
    assert!(!record_and_check(rule, &mut st, 7, 11 * s, &mut r));
    assert!(!record_and_check(rule, &mut st, 7, 12 * s, &mut r));
    // The third of the window [11s, 21s) is jailed until
    // 13s + StayPeriod 10s + rest of the window 8s = 31s.
    assert!(record_and_check(rule, &mut st, 7, 13 * s, &mut r));
    assert!(record_and_check(rule, &mut st, 7, 30 * s, &mut r));
    assert!(!record_and_check(rule, &mut st, 7, 31 * s, &mut r));
    let info = r.ctx.value(PRISON_INFO).unwrap_or_default();
    assert!(info.contains("\"IsExpired\":true"), "{info}");
    assert_eq!(st.prison.len(), 0, "expired entry removed");
}

#[test]
fn threshold_zero_denies_the_first() {
    let (p, _t) = prison(&rules("p", "r", r#""UseClientIP": true"#, CLOSE, 0));
    let mut r = req("p", "/p", &[]);
    assert!(matches!(p.found_product(&mut r), (Ret::Close, None)));
}

#[test]
fn actions_finish_pass_and_header_set() {
    let (p, _t) = prison(&rules("p", "r", "", r#""Cmd": "FINISH""#, 0));
    let mut r = req("p", "/p", &[]);
    let (ret, res) = p.found_product(&mut r);
    assert_eq!((ret, res.map(|r| r.status())), (Ret::Finish, Some(403)));

    let (p, _t) = prison(&rules("p", "r", "", r#""Cmd": "PASS", "Params": []"#, 0));
    let mut r = req("p", "/p", &[]);
    assert!(matches!(p.found_product(&mut r), (Ret::GoOn, None)));
    assert_eq!(p.counters.get(ALL_PRISON), 1);

    let set = r#""Cmd": "REQ_HEADER_SET", "Params": ["X-Bfe-Prison", "yes"]"#;
    let (p, _t) = prison(&rules("p", "r", "", set, 1));
    let mut r = req("p", "/p", &[]);
    p.found_product(&mut r);
    assert_eq!(r.header(b"x-bfe-prison"), None);
    let mut r = req("p", "/p", &[]);
    assert!(matches!(p.found_product(&mut r), (Ret::GoOn, None)));
    assert_eq!(r.header(b"x-bfe-prison"), Some(&b"yes"[..]));
}

#[test]
fn global_rules_apply_to_every_product() {
    let (p, _t) = prison(&rules("global", "g", r#""UsePath": true"#, CLOSE, 1));
    let mut r = req("a", "/p", &[]);
    assert!(matches!(p.found_product(&mut r), (Ret::GoOn, None)));
    let mut r = req("b", "/p", &[]);
    assert!(
        matches!(p.found_product(&mut r), (Ret::Close, None)),
        "same signature"
    );
    let mut r = req("b", "/p2", &[]);
    assert!(
        matches!(p.found_product(&mut r), (Ret::GoOn, None)),
        "other path"
    );
}

#[test]
fn signature_elements_split_clients() {
    let sign = r#""UseClientIP": true, "Header": ["X-Key"], "Query": ["a|b"], "UrlRegexp": "^/p/([a-z]+)""#;
    let (p, _t) = prison(&rules("p", "r", sign, CLOSE, 1));
    let go = |path: &str, key: &str| {
        let mut r = req("p", path, &[("X-Key", key)]);
        p.found_product(&mut r).0
    };
    assert_eq!(go("/p/x?a=1", "k"), Ret::GoOn);
    // BFE concatenates the alternatives' values: `&a|b=1` either way.
    assert_eq!(go("/p/x?b=1", "k"), Ret::Close);
    assert_eq!(go("/p/x?a=1&b=2", "k"), Ret::GoOn, "&a|b=12 is another");
    assert_eq!(go("/p/y?a=1", "k"), Ret::GoOn, "other capture");
    assert_eq!(go("/p/x?a=1", "k2"), Ret::GoOn, "other header");
    // Missing elements skip the rule.
    for _ in 0..3 {
        assert_eq!(go("/p/x?c=1", "k"), Ret::GoOn, "no query alternative");
        assert_eq!(go("/p/1?a=1", "k"), Ret::GoOn, "regexp does not match");
    }
}

#[test]
fn reload_keeps_state_of_unchanged_rules() {
    let data = rules("p", "r", "", CLOSE, 1);
    let (p, t) = prison(&data);
    for _ in 0..2 {
        p.found_product(&mut req("p", "/p", &[]));
    }
    assert_eq!(p.found_product(&mut req("p", "/p", &[])).0, Ret::Close);
    // Same rule name: still in prison.
    let (rules_same, _) =
        conf::load_rules(&root(&data), &root(&data).join("mod_prison/prison.data")).expect("loads");
    let mut next = t.borrow().clone();
    next.rules = Arc::new(rules_same);
    next.generation = conf::next_generation();
    t.replace(next.clone());
    assert_eq!(p.found_product(&mut req("p", "/p", &[])).0, Ret::Close);
    // Renamed: starts afresh.
    let renamed = rules("p", "r2", "", CLOSE, 1);
    let (rules_new, _) = conf::load_rules(
        &root(&renamed),
        &root(&renamed).join("mod_prison/prison.data"),
    )
    .expect("loads");
    next.rules = Arc::new(rules_new);
    next.generation = conf::next_generation();
    t.replace(next);
    assert_eq!(p.found_product(&mut req("p", "/p", &[])).0, Ret::GoOn);
}

#[test]
fn bad_rules_are_refused_with_file_and_key() {
    let cases = [
        (
            rules("p", "r", "", r#""Cmd": "HOST_SET", "Params": ["x"]"#, 1),
            "Action.Cmd",
        ),
        (rules("p", "r", "", r#""Cmd": "NOPE""#, 1), "Action.Cmd"),
        (
            rules("p", "r", "", r#""Cmd": "CLOSE", "Params": ["x"]"#, 1),
            "Action.Params",
        ),
        (
            rules(
                "p",
                "r",
                "",
                r#""Cmd": "REQ_HEADER_SET", "Params": ["Y-A", "b"]"#,
                1,
            ),
            "Action.Params",
        ),
        (
            rules("p", "r", r#""UrlRegexp": "^/p""#, CLOSE, 1),
            "AccessSignConf.UrlRegexp",
        ),
        (
            rules("p", "r", r#""UseUrl": "yes""#, CLOSE, 1),
            "AccessSignConf.UseUrl",
        ),
        (
            rules("p", "r", "", CLOSE, 1).replace("\"CheckPeriod\": 10", "\"CheckPeriod\": 0"),
            "CheckPeriod",
        ),
        (
            rules("p", "r", "", CLOSE, 1).replace("\"StayPeriod\": 10,", ""),
            "StayPeriod",
        ),
        (
            rules("p", "r", "", CLOSE, 1)
                .replace("\"AccessDictSize\": 100", "\"AccessDictSize\": 0"),
            "AccessDictSize",
        ),
        (
            rules("p", "r", "", CLOSE, 1).replace("\"Name\": \"r\",", ""),
            "Name",
        ),
    ];
    for (text, key) in cases {
        let e = conf::load(&root(&text)).expect_err(key);
        let msg = e[0].to_string();
        assert!(
            msg.contains("prison.data") && msg.contains(key),
            "{key}: {msg}"
        );
    }
    let one = rules("p", "r", "", CLOSE, 1);
    let rule = &one[one.find("[{").unwrap_or(0) + 1..one.rfind("}]").unwrap_or(0) + 1];
    let dup = format!(r#"{{"Version": "v", "Config": {{"p": [{rule}, {rule}]}}}}"#);
    let msg = conf::load(&root(&dup)).expect_err("duplicate")[0].to_string();
    assert!(msg.contains("Config.p[1].Name"), "{msg}");
}

#[test]
fn version_is_file_and_version() {
    let conf = conf::load(&root(SAMPLE)).expect("loads");
    assert_eq!(conf.version, "prison.data=20190101000000");
}

#[test]
fn huge_periods_do_not_overflow() {
    let max = i64::MAX / 1_000_000_000;
    let data = rules("p", "r", "", CLOSE, 0)
        .replace("\"CheckPeriod\": 10", &format!("\"CheckPeriod\": {max}"))
        .replace("\"StayPeriod\": 10", &format!("\"StayPeriod\": {max}"));
    let conf = conf::load(&root(&data)).expect("loads");
    let rule = &conf.rules.product("p")[0].rule;
    let mut st = RuleState::new(rule);
    let mut r = req("p", "/p", &[]);
    assert!(record_and_check(rule, &mut st, 1, u64::MAX / 2, &mut r));
    assert!(record_and_check(rule, &mut st, 1, u64::MAX - 1, &mut r));
}
