//! Shared test harness: a BFE conf dir written per test, real origin
//! servers on loopback, raw HTTP clients, and the real server started
//! in-process (or the real binary, where the CLI is under test).

#![allow(dead_code)]

pub mod client;
pub mod conf;
pub mod origin;
pub mod probe;
pub mod tls;

use ringfront::module::ModuleRegistry;
use ringfront::server::{self, ServerHandle, ServerOptions};
use std::path::Path;

/// Start ringfront on a conf dir with the built-in modules plus `extra`.
pub fn start(conf_dir: &Path, extra: Option<ModuleRegistry>) -> ServerHandle {
    let mut opts = ServerOptions::new(conf_dir);
    if let Some(m) = extra {
        opts.modules = m;
    }
    match server::start(opts) {
        Ok(h) => h,
        Err(e) => panic!("server did not start: {e}"),
    }
}

/// GET a monitor path; returns (status, body).
pub fn monitor_get(h: &ServerHandle, path: &str) -> (u16, String) {
    let addr = h.monitor_addr.expect("monitor enabled");
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], addr.port()));
    let raw = client::raw(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: m\r\n\r\n").as_bytes(),
    );
    let r = client::parse_response(&raw).expect("monitor response");
    (r.status, String::from_utf8_lossy(&r.body).into_owned())
}

/// `GET /reload/<name>` from 127.0.0.1; the JSON reply (always HTTP 200).
pub fn reload(h: &ServerHandle, name: &str) -> serde_json::Value {
    let (status, body) = monitor_get(h, &format!("/reload/{name}"));
    assert_eq!(status, 200, "{body}");
    match serde_json::from_str(&body) {
        Ok(v) => v,
        Err(e) => panic!("reload reply is not JSON ({e}): {body}"),
    }
}

/// One of ringfront's own counters, from `/monitor/ringfront_state?format=kv`.
pub fn counter(h: &ServerHandle, name: &str) -> u64 {
    let (_, body) = monitor_get(h, "/monitor/ringfront_state?format=kv");
    body.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("counter {name} missing in:\n{body}"))
}

/// Poll `cond` for up to two seconds (state that settles asynchronously,
/// like a gauge after a connection closes).
pub fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    for _ in 0..200 {
        if cond() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    false
}
