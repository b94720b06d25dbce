//! The common path of mod_trust_clientip, mod_block, mod_prison and
//! mod_http_code does not allocate: a connection that is not blocked, a
//! request whose product has no rules, a finished response.

use super::allocations;
use crate::basic::{RequestBuilder, Response};
use crate::config::Snapshot;
use crate::module::{Counters, Tables};
use crate::modules::test_conf::conf_root;
use crate::modules::{mod_block, mod_http_code, mod_prison, mod_trust_clientip};
use std::rc::Rc;

#[test]
fn common_path_does_not_allocate() {
    let rule = r#"{"Version": "v", "Config": {"other": [{"Name": "r", "Cond": "default_t()",
        "AccessSignConf": {"UseClientIP": true}, "Action": {"Cmd": "CLOSE", "Params": []},
        "CheckPeriod": 1, "StayPeriod": 1, "Threshold": 1, "AccessDictSize": 1, "PrisonDictSize": 1}]}}"#;
    let block_rules = r#"{"Version": "v", "Config": {"other": [{"Name": "r", "Cond": "default_t()",
        "Action": {"Cmd": "CLOSE", "Params": []}}]}}"#;
    let root = conf_root(
        "alloc",
        &[
            ("mod_trust_clientip/mod_trust_clientip.conf", "[Basic]\n"),
            (
                "mod_trust_clientip/trust_client_ip.data",
                r#"{"Version": "v", "Config": {"a": [{"Begin": "10.0.0.0", "End": "10.0.0.9"}]}}"#,
            ),
            ("mod_block/mod_block.conf", "[Basic]\n"),
            ("mod_block/block_rules.data", block_rules),
            ("mod_block/ip_blocklist.data", "192.168.0.0/16\n"),
            ("mod_prison/mod_prison.conf", "[Basic]\n"),
            ("mod_prison/prison.data", rule),
        ],
    );
    let trust = mod_trust_clientip::conf::load(&root).expect("trust");
    let block = mod_block::conf::load(&root).expect("block");
    let prison = mod_prison::Prison::new(
        Tables::new(mod_prison::conf::load(&root).expect("prison")),
        Rc::new(Counters::new(&mod_prison::COUNTERS)),
    );
    let tc = Counters::new(&mod_trust_clientip::COUNTERS);
    let bc = Counters::new(&mod_block::COUNTERS);
    let hc = Counters::new(&mod_http_code::COUNTERS);
    let mut s = Snapshot::empty();
    let p = s.route.add_product("p");
    let b = RequestBuilder::get("example.org", "/")
        .peer("10.0.0.5:1000")
        .snapshot(s);
    let ses = b.session();
    let mut req = b.build();
    req.route.product = Some(p);
    let mut res = Response::new(200);
    let mut run = || {
        mod_trust_clientip::accept(&trust, &tc, &ses);
        mod_block::accept(&block, &bc, &ses);
        mod_block::found_product(&block, &bc, &mut req);
        prison.found_product(&mut req);
        mod_http_code::request_finish(&hc, &mut req, &mut res);
    };
    run(); // warm: mod_prison builds its per-worker tables once
    assert_eq!(allocations(run), 0);
    assert!(ses.trusted());
    assert_eq!(hc.get(0), 2);
}
