use super::*;
use crate::basic::RequestBuilder;
use crate::config::Snapshot;
use crate::route::{Cond, RequestFacts};

const RULES: &str = r#"{
    "Version": "20200218210000",
    "Config": {
        "example_product": [
            {"Cond": "req_host_in(\"example.org\")",
             "Param": {"TagName": "tag1", "TagValue": "bfe"}, "Last": false},
            {"cond": "req_tag_match(\"tag1\", \"bfe\") && req_path_prefix_in(\"/stop\", false)",
             "param": {"tagname": "tag1", "tagvalue": "gray:1"}, "last": true},
            {"Cond": "default_t()",
             "Param": {"TagName": "tag2", "TagValue": "tail"}, "Unknown": 1}
        ]
    }
}"#;

fn request(host: &str, path: &str, product: Option<&str>) -> Request {
    let mut s = Snapshot::empty();
    let id = product.map(|p| s.route.add_product(p));
    let mut req = RequestBuilder::get(host, path).snapshot(s).build();
    req.route.product = id;
    req
}

#[test]
fn matching_rules_add_tags_in_order_and_last_stops() {
    let t = table_from(RULES);
    let mut req = request("example.org", "/a", Some("example_product"));
    assert_eq!(tag_request(&t, &mut req), Ret::GoOn);
    assert_eq!(req.tags.get("tag1"), ["bfe"]);
    assert_eq!(req.tags.get("tag2"), ["tail"]);

    // The second rule sees the first rule's tag; `Last` stops the third.
    let mut req = request("example.org", "/stop", Some("example_product"));
    tag_request(&t, &mut req);
    assert_eq!(req.tags.get("tag1"), ["bfe", "gray:1"]);
    assert!(req.tags.get("tag2").is_empty());
    let c = Cond::compile(r#"req_tag_match("tag1", "gray")"#).unwrap();
    assert!(c.eval(&req));
    assert_eq!(req.tag_values("tag1").len(), 2);
}

#[test]
fn other_products_and_no_product_are_untouched() {
    let t = table_from(RULES);
    let mut req = request("example.org", "/", Some("other"));
    assert_eq!(tag_request(&t, &mut req), Ret::GoOn);
    assert!(req.tags.is_empty());
    let mut req = request("example.org", "/", None);
    assert_eq!(tag_request(&t, &mut req), Ret::GoOn);
    assert!(req.tags.is_empty());
    // No `global` fallback in mod_tag.
    let g = table_from(
        r#"{"Version": "1", "Config": {"global": [
            {"Cond": "default_t()", "Param": {"TagName": "g", "TagValue": "x"}}]}}"#,
    );
    let mut req = request("example.org", "/", Some("p"));
    tag_request(&g, &mut req);
    assert!(req.tags.is_empty());
}

fn load_err(text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("rf-mod-tag-err-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let p = dir.join(format!("{:x}-{n}.data", fxhash::hash64(text)));
    std::fs::write(&p, text).unwrap();
    match conf::load_rules(&dir, &p) {
        Ok(_) => panic!("loaded: {text}"),
        Err(e) => joined(e),
    }
}

#[test]
fn bad_rule_files_are_refused_with_the_reason() {
    let e = load_err(r#"{"Version": "", "Config": {}}"#);
    assert!(e.contains("Version"), "{e}");
    let e = load_err(r#"{"Version": "1"}"#);
    assert!(e.contains("Config"), "{e}");
    let e = load_err(
        r#"{"Version": "1", "Config": {"p": [{"Cond": "default_t()", "Param": {"TagName": "", "TagValue": "v"}}]}}"#,
    );
    assert!(e.contains("TagName") && e.contains("empty"), "{e}");
    let e = load_err(
        r#"{"Version": "1", "Config": {"p": [{"Cond": "default_t()", "Param": {"TagName": "n"}}]}}"#,
    );
    assert!(e.contains("TagValue"), "{e}");
    let e = load_err(
        r#"{"Version": "1", "Config": {"p": [{"Cond": "nope()", "Param": {"TagName": "n", "TagValue": "v"}}]}}"#,
    );
    assert!(e.contains("nope"), "{e}");
    let e = load_err(
        r#"{"Version": "1", "Config": {"p": [{"Cond": "default_t()", "Param": {"TagName": "n", "TagValue": "v"}, "Last": "yes"}]}}"#,
    );
    assert!(e.contains("Last"), "{e}");
}

#[test]
fn bfe_sample_conf_loads_unchanged() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf");
    let c = conf::read_conf(&root).expect("conf/mod_tag/mod_tag.conf loads");
    let (t, version) = load(&root, &c.data_path, c.open_debug).expect("tag_rule.data loads");
    assert_eq!(version, "tag_rule.data=20200218210000");
    assert_eq!(t.rules.product("example_product").len(), 1);
    assert!(!t.open_debug);
}

#[test]
fn conf_keys_are_checked() {
    let dir = std::env::temp_dir().join(format!("rf-mod-tag-conf-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("mod_tag")).unwrap();
    std::fs::write(
        dir.join("mod_tag/mod_tag.conf"),
        "[Basic]\nDataPath = mod_tag/tag_rule.data\nNope = 1\n",
    )
    .unwrap();
    let e = joined(conf::read_conf(&dir).unwrap_err());
    assert!(
        e.contains("mod_tag/mod_tag.conf") && e.contains("Nope"),
        "{e}"
    );
    // DataPath missing: BFE's default, relative to the conf root.
    std::fs::write(
        dir.join("mod_tag/mod_tag.conf"),
        "[Log]\nOpenDebug = true\n",
    )
    .unwrap();
    let c = conf::read_conf(&dir).unwrap();
    assert_eq!(c.data_path, dir.join("mod_tag/tag_rule.data"));
    assert!(c.open_debug);
}
