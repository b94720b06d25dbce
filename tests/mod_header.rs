//! mod_header through the real server: the headers the backend received
//! (BFE's defaults and REQ_* rules with variables), the response headers
//! a client sees (RSP_* rules with res_* conditions), reload without
//! restart, and a broken reload that changes nothing.

mod common;

use common::client;
use common::conf::{Cluster, ConfDir, Layout};
use common::origin::{Origin, Reply};
use serde_json::{json, Value};
use std::process::Command;

fn data(version: &str, config: Value) -> Value {
    json!({"Version": version, "Config": config})
}

fn setup(conf: &str, rules: Value) -> (Origin, ConfDir, ringfront::server::ServerHandle) {
    let o = Origin::start(|s| {
        if s.target.starts_with("/missing") {
            Reply::raw("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nX-Up: a\r\n\r\n")
        } else {
            Reply::raw("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Up: a\r\nSet-Cookie: old=1; Path=/; Domain=example.org\r\n\r\nok")
        }
    });
    let mut l = Layout::single(Cluster::simple("c", &[o.addr]));
    l.modules = vec!["mod_header".into()];
    let d = l.write();
    d.write("mod_header/mod_header.conf", conf);
    d.write_json("mod_header/header_rule.data", &rules);
    let h = common::start(d.path(), None);
    (o, d, h)
}

const CONF: &str = "[Basic]\nDataPath = mod_header/header_rule.data\n";

fn rules_v1() -> Value {
    data(
        "v1",
        json!({
            "global": [
                {"cond": "default_t()", "actions": [
                    {"cmd": "REQ_HEADER_SET", "params": ["x-client", "%bfe_client_ip:%bfe_client_port"]},
                    {"cmd": "RSP_HEADER_SET", "params": ["X-Proxied-By", "bfe"]}
                ], "last": false}
            ],
            "p": [
                {"cond": "req_path_prefix_in(\"/a\", false)", "actions": [
                    {"cmd": "REQ_HEADER_ADD", "params": ["X-Info", "host=%bfe_request_host cluster=%bfe_cluster 100%%"]},
                    {"cmd": "REQ_HEADER_DEL", "params": ["X-Secret"]},
                    {"cmd": "REQ_COOKIE_SET", "params": ["seen", "1"]},
                    {"cmd": "RSP_HEADER_RENAME", "params": ["X-Up", "X-Upstream"]},
                    {"cmd": "RSP_COOKIE_SET", "params": ["sid", "abc", "example.org", "/", "Mon, 02 Jan 2006 15:04:05 MST", "0", "false", "true"]}
                ], "last": true},
                {"cond": "res_code_in(\"404\")", "actions": [
                    {"cmd": "RSP_HEADER_SET", "params": ["X-Was-Missing", "%bfe_vip"]}
                ], "last": false}
            ]
        }),
    )
}

#[test]
fn backend_and_client_see_bfe_headers() {
    let (o, _d, h) = setup(CONF, rules_v1());
    let req = "GET /a/x HTTP/1.1\r\nHost: example.org\r\nX-Secret: s\r\nCookie: k=v\r\nX-Forwarded-Host: up.example\r\nConnection: close\r\n\r\n";
    let r = client::parse_response(&client::raw(h.http_addr, req.as_bytes())).expect("answer");
    assert_eq!(r.status, 200);
    let s = o.requests().pop().expect("forwarded");
    let client_port = s.header("x-real-port").expect("X-Real-Port").to_string();
    assert!(
        client_port.parse::<u16>().is_ok_and(|p| p > 0),
        "{client_port}"
    );
    assert_eq!(s.header("x-real-ip"), Some("127.0.0.1"));
    assert_eq!(s.header("x-bfe-ip"), Some("127.0.0.1"));
    assert_eq!(
        s.header("x-forwarded-host"),
        Some("up.example, example.org")
    );
    assert_eq!(s.header("x-forwarded-port"), Some(client_port.as_str()));
    assert_eq!(
        s.header("x-client"),
        Some(format!("127.0.0.1:{client_port}").as_str())
    );
    assert_eq!(s.header("x-info"), Some("host=example.org cluster=c 100%"));
    assert!(!s.has_header("x-secret"));
    assert_eq!(s.header("cookie"), Some("k=v; seen=1"));
    // Response side, as the client sees it.
    assert_eq!(r.header("x-proxied-by"), Some("bfe"));
    assert_eq!(
        (r.header("x-up"), r.header("x-upstream")),
        (None, Some("a"))
    );
    let cookies: Vec<&str> = r
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(
        cookies,
        [
            "old=1; Path=/; Domain=example.org",
            "sid=abc; Path=/; Domain=example.org; Expires=Mon, 02 Jan 2006 15:04:05 GMT; Secure"
        ]
    );

    // res_code_in on the response side; Last of the first rule not hit.
    let r = client::get(h.http_addr, "example.org", "/missing");
    assert_eq!(r.status, 404);
    assert_eq!(r.header("x-was-missing"), Some("127.0.0.1"));
    assert_eq!(r.header("x-proxied-by"), Some("bfe"));
    assert_eq!(r.header("x-up"), Some("a"));
}

#[test]
fn disable_default_header_and_curl() {
    let conf = format!("{CONF}DisableDefaultHeader = true\n[Log]\nOpenDebug = false\n");
    let (o, _d, h) = setup(&conf, data("v", json!({})));
    let out = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
        .arg(format!("http://127.0.0.1:{}/", h.http_addr.port()))
        .output()
        .expect("run curl");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200");
    let s = o.requests().pop().expect("forwarded");
    for name in [
        "x-real-ip",
        "x-real-port",
        "x-bfe-ip",
        "x-forwarded-host",
        "x-forwarded-port",
    ] {
        assert!(!s.has_header(name), "{name} set with DisableDefaultHeader");
    }
}

#[test]
fn reload_takes_effect_and_broken_reload_changes_nothing() {
    let (_o, d, h) = setup(CONF, rules_v1());
    assert_eq!(
        client::get(h.http_addr, "example.org", "/b").header("x-proxied-by"),
        Some("bfe")
    );
    d.write_json(
        "mod_header/header_rule.data",
        &data("v2", json!({"p": [{"cond": "default_t()", "actions": [{"cmd": "RSP_HEADER_SET", "params": ["X-Version", "2"]}], "last": true}]})),
    );
    assert_eq!(common::reload(&h, "mod_header"), json!({"error": null}));
    let r = client::get(h.http_addr, "example.org", "/b");
    assert_eq!(
        (r.header("x-version"), r.header("x-proxied-by")),
        (Some("2"), None)
    );

    d.write_json(
        "mod_header/header_rule.data",
        &data("v3", json!({"p": [{"cond": "default_t()", "actions": [{"cmd": "RSP_HEADER_SET", "params": ["X-Version", "%bfe_cookie_uid"]}], "last": true}]})),
    );
    let r = common::reload(&h, "mod_header");
    let err = r["error"].as_str().expect("an error");
    assert!(err.contains("%bfe_cookie_uid"), "{err}");
    assert_eq!(
        client::get(h.http_addr, "example.org", "/b").header("x-version"),
        Some("2")
    );
}

#[test]
fn check_flag_refuses_unknown_keys() {
    let o = Origin::start(|_| Reply::text("ok"));
    let mut l = Layout::single(Cluster::simple("c", &[o.addr]));
    l.modules = vec!["mod_header".into()];
    let d = l.write();
    d.write(
        "mod_header/mod_header.conf",
        "[Basic]\nDataPath = mod_header/h.data\nDisableDefaultHeaders = true\n",
    );
    d.write_json("mod_header/h.data", &data("v", json!({})));
    let out = Command::new(env!("CARGO_BIN_EXE_ringfront"))
        .args(["-t", "-c"])
        .arg(d.path())
        .output()
        .expect("run ringfront");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("Basic.DisableDefaultHeaders") && text.contains("unknown key"),
        "{text}"
    );
}

/// The three modules together, in BFE's order: mod_redirect answers at
/// HandleFoundProduct (HandleReadResponse, so mod_header's RSP_* rules,
/// do not run on a redirect); mod_rewrite runs before mod_header at
/// HandleAfterLocation, so the default headers see the rewritten Host; an
/// error page ringfront makes gets RSP_* rules.
#[test]
fn with_rewrite_and_redirect_in_bfe_order() {
    let o = Origin::start(|_| Reply::text("ok"));
    let mut l = Layout::single(Cluster::simple("c", &[o.addr]));
    l.modules = vec![
        "mod_header".into(),
        "mod_rewrite".into(),
        "mod_redirect".into(),
    ];
    l.rules = vec![(
        "p".into(),
        vec![(
            "!req_path_prefix_in(\"/nocluster\", false)".into(),
            "c".into(),
        )],
    )];
    let d = l.write();
    d.write("mod_header/mod_header.conf", CONF);
    d.write_json(
        "mod_header/header_rule.data",
        &data(
            "v",
            json!({"p": [{"cond": "default_t()", "actions": [
            {"cmd": "RSP_HEADER_SET", "params": ["X-Proxied-By", "bfe"]},
            {"cmd": "REQ_HEADER_SET", "params": ["X-Seen-Host", "%bfe_request_host"]}
        ], "last": true}]}),
        ),
    );
    d.write(
        "mod_rewrite/mod_rewrite.conf",
        "[Basic]\nDataPath = mod_rewrite/r.data\n",
    );
    d.write_json(
        "mod_rewrite/r.data",
        &data("v", json!({"p": [{"Cond": "default_t()", "Actions": [{"Cmd": "HOST_SET", "Params": ["inner.example"]}], "Last": true}]})),
    );
    d.write(
        "mod_redirect/mod_redirect.conf",
        "[Basic]\nDataPath = mod_redirect/r.data\n",
    );
    d.write_json(
        "mod_redirect/r.data",
        &data("v", json!({"p": [{"Cond": "req_path_prefix_in(\"/moved\", false)", "Actions": [{"Cmd": "URL_SET", "Params": ["/new"]}], "Status": 302}]})),
    );
    let h = common::start(d.path(), None);

    let r = client::get(h.http_addr, "example.org", "/moved");
    assert_eq!((r.status, r.header("location")), (302, Some("/new")));
    assert_eq!(
        r.header("x-proxied-by"),
        None,
        "no HandleReadResponse on a redirect"
    );
    assert_eq!(o.count(), 0);

    let r = client::get(h.http_addr, "example.org", "/page");
    assert_eq!((r.status, r.header("x-proxied-by")), (200, Some("bfe")));
    let s = o.requests().pop().expect("forwarded");
    assert_eq!(s.header("host"), Some("inner.example"));
    assert_eq!(s.header("x-forwarded-host"), Some("inner.example"));
    assert_eq!(s.header("x-seen-host"), Some("inner.example"));

    let r = client::get(h.http_addr, "example.org", "/nocluster");
    assert_eq!((r.status, r.header("x-proxied-by")), (500, Some("bfe")));
}

/// Session variables over TLS: `%bfe_protocol`, `%bfe_ssl_version`,
/// `%bfe_vip`, `%bfe_rip`.
#[test]
fn tls_session_variables() {
    let o = Origin::start(|_| Reply::text("ok"));
    let mut l = Layout::single(Cluster::simple("c", &[o.addr]));
    l.modules = vec!["mod_header".into()];
    l.server_extra.push_str("HttpsPort = 0\n");
    let d = l.write();
    common::tls::write_files(&d);
    d.write("mod_header/mod_header.conf", CONF);
    d.write_json(
        "mod_header/header_rule.data",
        &data("v", json!({"p": [{"cond": "default_t()", "actions": [
            {"cmd": "REQ_HEADER_SET", "params": ["X-Tls", "%bfe_protocol/%bfe_ssl_version/%bfe_vip/%bfe_rip/%bfe_ssl_cipher."]}
        ], "last": true}]})),
    );
    let h = common::start(d.path(), None);
    let addr = h.https_addr.expect("https listener");
    let mut t = common::tls::connect_any(addr, Some("example.org")).expect("handshake");
    let raw = common::tls::exchange(
        &mut t,
        b"GET / HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(client::parse_response(&raw).expect("answer").status, 200);
    let s = o.requests().pop().expect("forwarded");
    // `%bfe_ssl_version` reads the session's TLS version, which the TLS
    // layer does not record yet (TlsInfo.version is empty), and ringfront
    // records no cipher: both expand to "".
    assert_eq!(s.header("x-tls"), Some("https//127.0.0.1/127.0.0.1/."));
    // Plain HTTP: the TLS variables are empty.
    client::get(h.http_addr, "example.org", "/");
    let s = o.requests().pop().expect("forwarded");
    assert_eq!(s.header("x-tls"), Some("http//127.0.0.1/127.0.0.1/."));
}
