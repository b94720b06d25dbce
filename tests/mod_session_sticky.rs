//! mod_session_sticky behind the real server, two backends in one
//! sub-cluster balanced round-robin: the cookie set on the first response
//! keeps a client on its backend, a cookie naming a backend that is not
//! there falls back to balancing (and is replaced), `Sticky` rules map an
//! id the backend set to that backend, reloads and `-t` check the files.

mod common;

use common::client::{self, Resp};
use common::conf::{Cluster, ConfDir, Layout};
use common::origin::{Origin, Reply, Seen};
use serde_json::json;
use std::process::Command;

fn origin(name: &'static str) -> Origin {
    Origin::start(move |r: &Seen| {
        if r.has_header("x-login") {
            let body = name;
            Reply::raw(&format!(
                "HTTP/1.1 200 OK\r\nSet-Cookie: sid=user-{name}; Path=/\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ))
        } else {
            Reply::text(name)
        }
    })
}

fn write_rules(d: &ConfDir, rules: serde_json::Value) {
    d.write(
        "mod_session_sticky/mod_session_sticky.conf",
        "[Basic]\nDataPath = mod_session_sticky/mod_session_sticky.data\nCacheSize = 100\nCacheType = local\n",
    );
    d.write_json(
        "mod_session_sticky/mod_session_sticky.data",
        &json!({"Version": "1", "Config": {"p": rules}}),
    );
}

fn setup(a: &Origin, b: &Origin) -> ConfDir {
    let mut l = Layout::single(Cluster::simple("c", &[a.addr, b.addr]));
    l.modules = vec!["mod_session_sticky".into()];
    let d = l.write();
    write_rules(
        &d,
        json!([
            {"Cond": "req_path_prefix_in(\"/sticky\", false)", "Type": "Sticky", "CookieKey": "sid"},
            {"Cond": "default_t()", "MaskCode": "secretmask", "Path": "/", "MaxAge": 3600, "HttpOnly": true}
        ]),
    );
    d
}

fn send(h: &ringfront::server::ServerHandle, path: &str, headers: &[String]) -> Resp {
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n");
    for hd in headers {
        req.push_str(hd);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    let raw = client::raw(h.http_addr, req.as_bytes());
    let r = client::parse_response(&raw).expect("a response");
    assert_eq!(r.status, 200, "{}", r.text());
    r
}

/// `name=value` of a Set-Cookie header.
fn cookie_pair(r: &Resp) -> Option<String> {
    let v = r.header("set-cookie")?;
    Some(v.split(';').next().unwrap_or_default().to_string())
}

#[test]
fn cookie_keeps_a_client_on_its_backend() {
    let (a, b) = (origin("A"), origin("B"));
    let d = setup(&a, &b);
    let h = common::start(d.path(), None);

    let first = send(&h, "/", &[]);
    let home = first.text();
    let set = first
        .header("set-cookie")
        .expect("a sticky cookie")
        .to_string();
    assert!(set.starts_with("bfe_ssbl="), "{set}");
    assert!(set.ends_with("; Path=/; Max-Age=3600; HttpOnly"), "{set}");
    let cookie = format!("Cookie: {}", cookie_pair(&first).unwrap());

    // Without the cookie the balancer alternates; with it, never.
    let other = send(&h, "/", &[]).text();
    assert_ne!(other, home);
    for _ in 0..6 {
        let r = send(&h, "/", std::slice::from_ref(&cookie));
        assert_eq!(r.text(), home);
        // Same backend, renew time far ahead: no new cookie.
        assert!(r.header("set-cookie").is_none());
    }

    // A cookie naming a backend that is not in the cluster is ignored:
    // the request is balanced and gets a cookie for where it went.
    let gone = ringfront::modules::mod_session_sticky::codec::CookieBackend {
        ip: "127.0.0.1".into(),
        port: 1,
        subcluster: "c.all".into(),
        renew_time: None,
    };
    let v = ringfront::modules::mod_session_sticky::codec::encode(&gone, b"secretmask");
    let r = send(&h, "/", &[format!("Cookie: bfe_ssbl={v}")]);
    let went = r.text();
    assert!(went == "A" || went == "B");
    let again = format!("Cookie: {}", cookie_pair(&r).expect("a replacing cookie"));
    for _ in 0..3 {
        assert_eq!(send(&h, "/", std::slice::from_ref(&again)).text(), went);
    }
    // Garbage in the cookie is ignored too.
    assert!(send(&h, "/", &["Cookie: bfe_ssbl=%%%".into()])
        .header("set-cookie")
        .is_some());
}

#[test]
fn sticky_ids_set_by_the_backend_map_to_it() {
    let (a, b) = (origin("A"), origin("B"));
    let d = setup(&a, &b);
    let h = common::start(d.path(), None);
    let login = send(&h, "/sticky/login", &["X-Login: 1".into()]);
    let home = login.text();
    let sid = cookie_pair(&login).expect("the backend's cookie");
    assert_eq!(sid, format!("sid=user-{home}"));
    for _ in 0..5 {
        assert_eq!(
            send(&h, "/sticky/x", &[format!("Cookie: {sid}")]).text(),
            home
        );
    }
    // An unknown id is balanced as usual.
    let seen: std::collections::HashSet<String> = (0..4)
        .map(|_| send(&h, "/sticky/x", &["Cookie: sid=nobody".into()]).text())
        .collect();
    assert_eq!(seen.len(), 2);
}

#[test]
fn reload_and_check() {
    let (a, b) = (origin("A"), origin("B"));
    let d = setup(&a, &b);
    let h = common::start(d.path(), None);
    let r = common::reload(&h, "mod_session_sticky");
    assert!(r["error"].is_null(), "{r}");
    write_rules(&d, json!([{"Cond": "default_t()", "MaskCode": "abc"}]));
    let r = common::reload(&h, "mod_session_sticky");
    let err = r["error"].as_str().unwrap_or_default();
    assert!(err.contains("MaskCode"), "{r}");
    // The old rules still apply.
    assert!(send(&h, "/", &[]).header("set-cookie").is_some());

    d.write(
        "mod_session_sticky/mod_session_sticky.conf",
        "[Basic]\nCacheType = redis\n[Redis]\nBns = x\n",
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
        text.contains("mod_session_sticky/mod_session_sticky.conf")
            && text.contains("CacheType")
            && text.contains("redis"),
        "{text}"
    );
}
