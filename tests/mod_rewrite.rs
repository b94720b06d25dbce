//! mod_rewrite through the real server: the backend sees the rewritten
//! host, path and query; reloads take effect without a restart; a broken
//! reload answers BFE's JSON error and changes nothing; `-t` names the
//! problem.

mod common;

use common::client;
use common::conf::{Cluster, ConfDir, Layout};
use common::origin::{Origin, Reply};
use serde_json::{json, Value};
use std::process::Command;

fn rules(v: Value) -> Value {
    json!({"Version": "v1", "Config": {"p": v}})
}

fn setup(data: Value) -> (Origin, ConfDir, ringfront::server::ServerHandle) {
    let o = Origin::start(|_| Reply::text("ok"));
    let mut l = Layout::single(Cluster::simple("c", &[o.addr]));
    l.modules = vec!["mod_rewrite".into()];
    let d = l.write();
    d.write(
        "mod_rewrite/mod_rewrite.conf",
        "[Basic]\nDataPath = mod_rewrite/rewrite.data\n\n[Log]\nOpenDebug = false\n",
    );
    d.write_json("mod_rewrite/rewrite.data", &data);
    let h = common::start(d.path(), None);
    (o, d, h)
}

/// What the backend received for one GET.
fn seen(
    o: &Origin,
    h: &ringfront::server::ServerHandle,
    host: &str,
    target: &str,
) -> (String, String) {
    let r = client::get(h.http_addr, host, target);
    assert_eq!(r.status, 200, "{}", r.text());
    let s = o.requests().pop().expect("backend saw the request");
    (s.header("host").unwrap_or("").to_string(), s.target)
}

#[test]
fn backend_sees_rewritten_host_path_and_query() {
    let (o, _d, h) = setup(rules(json!([
        {"Cond": "req_path_prefix_in(\"/api\", false)", "Actions": [
            {"Cmd": "PATH_PREFIX_TRIM", "Params": ["/api"]},
            {"Cmd": "PATH_PREFIX_ADD", "Params": ["/v2/"]},
            {"Cmd": "HOST_SET", "Params": ["backend.internal"]},
            {"Cmd": "QUERY_ADD", "Params": ["from", "rf"]},
            {"Cmd": "QUERY_DEL", "Params": ["secret"]},
            {"Cmd": "QUERY_RENAME", "Params": ["u", "user"]}
        ], "Last": true},
        {"Cond": "req_path_prefix_in(\"/www.\", false)", "Actions": [
            {"Cmd": "HOST_SET_FROM_PATH_PREFIX"},
            {"Cmd": "QUERY_DEL_ALL_EXCEPT", "Params": ["keep"]}
        ], "Last": false}
    ])));
    assert_eq!(
        seen(&o, &h, "example.org", "/api/items?secret=1&u=7"),
        ("backend.internal".into(), "/v2/items?user=7&from=rf".into())
    );
    assert_eq!(
        seen(&o, &h, "example.org", "/www.example.com/a/b?x=1&keep=2"),
        ("www.example.com".into(), "/a/b?keep=2".into())
    );
    // No rule matches: forwarded as sent.
    assert_eq!(
        seen(&o, &h, "example.org", "/other?q=1"),
        ("example.org".into(), "/other?q=1".into())
    );
}

#[test]
fn reload_takes_effect_and_broken_reload_changes_nothing() {
    let (o, d, h) = setup(rules(json!([
        {"Cond": "default_t()", "Actions": [{"Cmd": "PATH_SET", "Params": ["/one"]}], "Last": true}
    ])));
    assert_eq!(seen(&o, &h, "example.org", "/x").1, "/one");

    d.write_json(
        "mod_rewrite/rewrite.data",
        &rules(json!([{"Cond": "default_t()", "Actions": [{"Cmd": "PATH_SET", "Params": ["/two"]}], "Last": true}])),
    );
    assert_eq!(common::reload(&h, "mod_rewrite"), json!({"error": null}));
    assert_eq!(seen(&o, &h, "example.org", "/x").1, "/two");

    d.write_json(
        "mod_rewrite/rewrite.data",
        &rules(json!([{"Cond": "default_t()", "Actions": [{"Cmd": "HOST_SUFFIX_REPLACE", "Params": ["a", "b"]}], "Last": true}])),
    );
    let r = common::reload(&h, "mod_rewrite");
    let err = r["error"].as_str().expect("an error");
    assert!(err.contains("invalid cmd:HOST_SUFFIX_REPLACE"), "{err}");
    assert_eq!(seen(&o, &h, "example.org", "/x").1, "/two");

    // ?path= loads another file.
    d.write_json(
        "other.data",
        &rules(json!([{"Cond": "default_t()", "Actions": [{"Cmd": "PATH_SET", "Params": ["/three"]}], "Last": true}])),
    );
    let p = d.path().join("other.data");
    let (_, body) = common::monitor_get(&h, &format!("/reload/mod_rewrite?path={}", p.display()));
    assert_eq!(body.trim(), "{\"error\":null}");
    assert_eq!(seen(&o, &h, "example.org", "/x").1, "/three");
}

#[test]
fn check_flag_names_file_key_and_reason() {
    let o = Origin::start(|_| Reply::text("ok"));
    let mut l = Layout::single(Cluster::simple("c", &[o.addr]));
    l.modules = vec!["mod_rewrite".into()];
    let d = l.write();
    d.write(
        "mod_rewrite/mod_rewrite.conf",
        "[Basic]\nDataPath = mod_rewrite/r.data\nTypo = 1\n",
    );
    d.write_json(
        "mod_rewrite/r.data",
        &rules(json!([{"Cond": "default_t()", "Actions": []}])),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_ringfront"))
        .args(["-t", "-c"])
        .arg(d.path())
        .output()
        .expect("run ringfront");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("mod_rewrite/mod_rewrite.conf") && text.contains("Basic.Typo"),
        "{text}"
    );

    d.write(
        "mod_rewrite/mod_rewrite.conf",
        "[Basic]\nDataPath = mod_rewrite/r.data\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_ringfront"))
        .args(["-t", "-c"])
        .arg(d.path())
        .output()
        .expect("run ringfront");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("mod_rewrite/r.data") && text.contains("Last: missing"),
        "{text}"
    );
}
