use super::*;
use crate::basic::RequestBuilder;
use crate::modules::test_conf::conf_root;

const CONF: &str = "[basic]\nDataPath = mod_trust_clientip/trust_client_ip.data\n";

fn data(ranges: &str) -> String {
    format!(r#"{{"Version": "v1", "Config": {{"lb": [{ranges}]}}}}"#)
}

fn root(ranges: &str) -> std::path::PathBuf {
    conf_root(
        "trust",
        &[
            ("mod_trust_clientip/mod_trust_clientip.conf", CONF),
            ("mod_trust_clientip/trust_client_ip.data", &data(ranges)),
        ],
    )
}

#[test]
fn accept_trusts_peers_in_the_table_and_counts() {
    let r = root(
        r#"{"Begin": "127.0.0.1", "End": "127.0.0.1"}, {"begin": "10.0.0.0", "end": "10.255.255.255"}"#,
    );
    let conf = conf::load(&r).expect("loads");
    let c = Counters::new(&COUNTERS);
    let trusted = RequestBuilder::get("h", "/")
        .peer("10.1.2.3:5000")
        .session();
    assert_eq!(accept(&conf, &c, &trusted), Ret::GoOn);
    assert!(trusted.trusted());
    let outside = RequestBuilder::get("h", "/")
        .peer("192.168.0.9:5000")
        .session();
    outside.set_trusted(true);
    assert_eq!(accept(&conf, &c, &outside), Ret::GoOn);
    assert!(!outside.trusted(), "the module decides, both ways");
    let public = RequestBuilder::get("h", "/").peer("8.8.8.8:1").session();
    accept(&conf, &c, &public);
    let lo = RequestBuilder::get("h", "/").peer("127.0.0.1:1").session();
    accept(&conf, &c, &lo);
    assert!(lo.trusted());
    let v: Vec<u64> = (0..4).map(|i| c.get(i)).collect();
    assert_eq!(v, [4, 2, 2, 1]);
}

#[test]
fn bfe_sample_loads_and_bad_files_name_file_and_key() {
    let sample = include_str!("../../../conf/mod_trust_clientip/trust_client_ip.data");
    let r = conf_root(
        "trust-sample",
        &[
            ("mod_trust_clientip/mod_trust_clientip.conf", CONF),
            ("mod_trust_clientip/trust_client_ip.data", sample),
        ],
    );
    let conf = conf::load(&r).expect("BFE's sample loads");
    assert!(conf.table.contains("10.9.9.9".parse().unwrap()));
    assert_eq!(conf.version, "init version");

    let bad = root(r#"{"Begin": "10.0.0.1"}"#);
    let e = conf::load(&bad).expect_err("no End").remove(0).to_string();
    assert!(
        e.contains("trust_client_ip.data") && e.contains("Config.lb[0].End"),
        "{e}"
    );
    let bad = root(r#"{"Begin": "10.0.0.9", "End": "10.0.0.1"}"#);
    assert!(conf::load(&bad).is_err());
    let bad = root(r#"{"Begin": "10.0.0.x", "End": "10.0.0.1"}"#);
    let e = conf::load(&bad).expect_err("bad ip").remove(0).to_string();
    assert!(e.contains("illegal address"), "{e}");
    let typo = conf_root(
        "trust-typo",
        &[(
            "mod_trust_clientip/mod_trust_clientip.conf",
            "[Basic]\nDataPth = x\n",
        )],
    );
    let e = conf::load(&typo)
        .expect_err("unknown key")
        .remove(0)
        .to_string();
    assert!(
        e.contains("mod_trust_clientip.conf") && e.contains("DataPth"),
        "{e}"
    );
}

#[test]
fn missing_data_path_uses_bfe_default() {
    let r = conf_root(
        "trust-default",
        &[
            (
                "mod_trust_clientip/mod_trust_clientip.conf",
                "[Log]\nOpenDebug = true\n",
            ),
            (
                "mod_trust_clientip/trust_client_ip.data",
                &data(r#"{"Begin": "::1", "End": "::1"}"#),
            ),
        ],
    );
    let conf = conf::load(&r).expect("default path");
    assert!(conf.open_debug);
    assert!(conf.table.contains("::1".parse().unwrap()));
}
