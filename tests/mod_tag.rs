//! mod_tag behind the real server: tags added at HandleFoundProduct steer
//! route rules (`req_tag_match`), a reload swaps the rules and a bad one
//! changes nothing, and `ringfront -t` names a bad rule file.

mod common;

use common::client;
use common::conf::{Cluster, ConfDir, Layout};
use common::origin::Origin;
use serde_json::json;
use std::process::Command;

fn write_rules(d: &ConfDir, version: &str, header: &str) {
    d.write(
        "mod_tag/mod_tag.conf",
        "[Basic]\nDataPath = mod_tag/tag_rule.data\n\n[Log]\nOpenDebug = false\n",
    );
    let cond = format!("req_header_key_in(\"{header}\")");
    d.write_json(
        "mod_tag/tag_rule.data",
        &json!({"Version": version, "Config": {"p": [
            {"Cond": cond, "Param": {"TagName": "lane", "TagValue": "gray:canary"}, "Last": true},
            {"Cond": "default_t()", "Param": {"TagName": "lane", "TagValue": "never"}}
        ]}}),
    );
}

fn setup(gray: &Origin, stable: &Origin) -> (Layout, ConfDir) {
    let mut l = Layout::single(Cluster::simple("stable", &[stable.addr]));
    l.clusters.push(Cluster::simple("gray", &[gray.addr]));
    l.rules = vec![(
        "p".into(),
        vec![
            (r#"req_tag_match("lane", "gray")"#.into(), "gray".into()),
            ("default_t()".into(), "stable".into()),
        ],
    )];
    l.modules = vec!["mod_tag".into()];
    let d = l.write();
    write_rules(&d, "v1", "X-Gray");
    (l, d)
}

fn send(h: &ringfront::server::ServerHandle, header: Option<&str>) -> String {
    let mut req = "GET / HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n".to_string();
    if let Some(hd) = header {
        req.push_str(hd);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    let raw = client::raw(h.http_addr, req.as_bytes());
    client::parse_response(&raw).expect("a response").text()
}

#[test]
fn tags_steer_route_rules_and_reload_swaps_them() {
    let gray = Origin::named("gray");
    let stable = Origin::named("stable");
    let (_l, d) = setup(&gray, &stable);
    let h = common::start(d.path(), None);
    assert_eq!(send(&h, Some("X-Gray: 1")), "gray");
    assert_eq!(send(&h, None), "stable");

    // The rules now key on another header.
    write_rules(&d, "v2", "X-Canary");
    let r = common::reload(&h, "mod_tag");
    assert!(r["error"].is_null(), "{r}");
    assert_eq!(r["version"], "tag_rule.data=v2");
    assert_eq!(send(&h, Some("X-Gray: 1")), "stable");
    assert_eq!(send(&h, Some("X-Canary: 1")), "gray");

    // A bad file is refused with BFE's JSON error and changes nothing.
    d.write(
        "mod_tag/tag_rule.data",
        r#"{"Version": "v3", "Config": {"p": [{"Cond": "default_t()", "Param": {"TagName": "lane"}}]}}"#,
    );
    let r = common::reload(&h, "mod_tag");
    let err = r["error"].as_str().unwrap_or_default();
    assert!(
        err.contains("mod_tag/tag_rule.data") && err.contains("TagValue"),
        "{r}"
    );
    assert_eq!(send(&h, Some("X-Canary: 1")), "gray");
    assert_eq!(send(&h, None), "stable");
    assert_eq!(gray.count(), 3);
    assert_eq!(stable.count(), 3);
}

#[test]
fn check_names_a_bad_tag_rule() {
    let o = Origin::named("o");
    let (_l, d) = setup(&o, &o);
    d.write_json(
        "mod_tag/tag_rule.data",
        &json!({"Version": "1", "Config": {"p": [
            {"Cond": "req_cip_hash_in(\"5-3\")", "Param": {"TagName": "a", "TagValue": "b"}}]}}),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_ringfront"))
        .args(["-t", "-c"])
        .arg(d.path())
        .output()
        .expect("run ringfront");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("mod_tag/tag_rule.data") && text.contains("start is larger"),
        "{text}"
    );
    // Fixed, it passes.
    write_rules(&d, "v1", "X-Gray");
    let out = Command::new(env!("CARGO_BIN_EXE_ringfront"))
        .args(["-t", "-c"])
        .arg(d.path())
        .output()
        .expect("run ringfront");
    assert_eq!(out.status.code(), Some(0));
}
