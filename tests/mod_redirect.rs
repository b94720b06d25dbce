//! mod_redirect through the real server: status, Location and BFE's body
//! as curl and a raw client see them; no request reaches the backend;
//! reload with BFE's version answer; a broken reload changes nothing.

mod common;

use common::client::{self, Conn};
use common::conf::{Cluster, ConfDir, Layout};
use common::origin::{Origin, Reply};
use serde_json::{json, Value};
use std::process::Command;

fn rules(version: &str, v: Value) -> Value {
    json!({"Version": version, "Config": {"p": v}})
}

fn setup(data: Value) -> (Origin, ConfDir, ringfront::server::ServerHandle) {
    let o = Origin::start(|_| Reply::text("backend"));
    let mut l = Layout::single(Cluster::simple("c", &[o.addr]));
    l.modules = vec!["mod_redirect".into()];
    let d = l.write();
    d.write(
        "mod_redirect/mod_redirect.conf",
        "[basic]\nDataPath = mod_redirect/redirect.data\n",
    );
    d.write_json("mod_redirect/redirect.data", &data);
    let h = common::start(d.path(), None);
    (o, d, h)
}

fn default_rules() -> Value {
    rules(
        "v1",
        json!([
            {"Cond": "req_path_prefix_in(\"/old\", false)",
             "Actions": [{"Cmd": "URL_PREFIX_ADD", "Params": ["https://new.example"]}], "Status": 301},
            {"Cond": "req_path_prefix_in(\"/go\", false)",
             "Actions": [{"Cmd": "URL_FROM_QUERY", "Params": ["to"]}], "Status": 302},
            {"Cond": "req_path_prefix_in(\"/secure\", false)",
             "Actions": [{"Cmd": "SCHEME_SET", "Params": ["https"]}], "Status": 308},
            {"Cond": "req_path_prefix_in(\"/rel/\", false)",
             "Actions": [{"Cmd": "URL_SET", "Params": ["../landing?from=rel"]}], "Status": 307}
        ]),
    )
}

/// curl's view: status, Location, body.
fn curl(port: u16, target: &str) -> (u16, String, String) {
    let out = Command::new("curl")
        .args(["-s", "-i", "-H", "Host: example.org"])
        .arg(format!("http://127.0.0.1:{port}{target}"))
        .output()
        .expect("run curl");
    let raw = out.stdout;
    let r = client::parse_response(&raw).expect("curl printed a response");
    (
        r.status,
        r.header("location").unwrap_or("").to_string(),
        r.text(),
    )
}

#[test]
fn redirects_with_bfe_status_location_and_body() {
    let (o, _d, h) = setup(default_rules());
    let port = h.http_addr.port();
    let (s, loc, body) = curl(port, "/old/a%20b?x=1");
    assert_eq!(
        (s, loc.as_str()),
        (301, "https://new.example/old/a%20b?x=1")
    );
    assert_eq!(
        body,
        "<a href=\"https://new.example/old/a%20b?x=1\">Moved Permanently</a>.\n\n"
    );
    let r = client::get(
        h.http_addr,
        "example.org",
        "/go?to=http%3A%2F%2Fa.example%2F%3Fq%3D1%26r%3D2",
    );
    assert_eq!(
        (r.status, r.header("location")),
        (302, Some("http://a.example/?q=1&r=2"))
    );
    assert_eq!(r.header("server"), Some("bfe"));
    assert_eq!(
        r.text(),
        "<a href=\"http://a.example/?q=1&amp;r=2\">Found</a>.\n\n"
    );
    let r = client::get(h.http_addr, "example.org:8080", "/secure/p?q=1");
    assert_eq!(
        (r.status, r.header("location")),
        (308, Some("https://example.org:8080/secure/p?q=1"))
    );
    // A relative URL is made absolute against the request path.
    let r = client::get(h.http_addr, "example.org", "/rel/a/b");
    assert_eq!(
        (r.status, r.header("location")),
        (307, Some("/rel/landing?from=rel"))
    );
    // No rule: forwarded.
    let r = client::get(h.http_addr, "example.org", "/other");
    assert_eq!((r.status, r.text().as_str()), (200, "backend"));
    assert_eq!(o.count(), 1, "redirected requests never reach the backend");

    // HEAD: no body; the connection is kept.
    let mut c = Conn::open(h.http_addr);
    c.send(b"HEAD /old HTTP/1.1\r\nHost: example.org\r\n\r\n");
    let r = c.response(true).expect("answer");
    assert_eq!((r.status, r.body.len()), (301, 0));
    c.send(b"GET /old HTTP/1.1\r\nHost: example.org\r\n\r\n");
    assert_eq!(c.response(false).expect("kept alive").status, 301);
}

#[test]
fn reload_answers_version_and_broken_reload_changes_nothing() {
    let (_o, d, h) = setup(default_rules());
    d.write_json(
        "mod_redirect/redirect.data",
        &rules("v2", json!([{"Cond": "default_t()", "Actions": [{"Cmd": "URL_SET", "Params": ["https://v2.example/"]}], "Status": 303}])),
    );
    assert_eq!(
        common::reload(&h, "mod_redirect"),
        json!({"error": null, "version": "redirect.data=v2"})
    );
    let r = client::get(h.http_addr, "example.org", "/anything");
    assert_eq!(
        (r.status, r.header("location")),
        (303, Some("https://v2.example/"))
    );

    d.write_json(
        "mod_redirect/redirect.data",
        &rules("v3", json!([{"Cond": "default_t()", "Actions": [{"Cmd": "SCHEME_SET", "Params": ["ftp"]}], "Status": 301}])),
    );
    let r = common::reload(&h, "mod_redirect");
    let err = r["error"].as_str().expect("an error");
    assert!(err.contains("scheme ftp invalid"), "{err}");
    let r = client::get(h.http_addr, "example.org", "/anything");
    assert_eq!(
        (r.status, r.header("location")),
        (303, Some("https://v2.example/"))
    );
}

#[test]
fn bfe_sample_conf_starts() {
    // BFE's shipped files, unchanged, under this test's conf dir.
    let (o, d, _) = {
        let o = Origin::start(|_| Reply::text("backend"));
        let mut l = Layout::single(Cluster::simple("c", &[o.addr]));
        l.modules = vec!["mod_redirect".into()];
        l.hosts = vec![("example_product".into(), vec!["example.org".into()])];
        l.default_product = Some("example_product".into());
        l.rules = vec![(
            "example_product".into(),
            vec![("default_t()".into(), "c".into())],
        )];
        let d = l.write();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/mod_redirect");
        for f in ["mod_redirect.conf", "redirect.data"] {
            d.write(
                &format!("mod_redirect/{f}"),
                &std::fs::read_to_string(root.join(f)).unwrap(),
            );
        }
        (o, d, ())
    };
    let h = common::start(d.path(), None);
    let r = client::get(h.http_addr, "example.org", "/redirect/x");
    assert_eq!(
        (r.status, r.header("location")),
        (301, Some("https://example.org"))
    );
    let r = client::get(h.http_addr, "example.org", "/x");
    assert_eq!(r.status, 200);
    assert_eq!(o.count(), 1);
}
