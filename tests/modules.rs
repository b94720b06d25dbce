//! The module framework through the real server: the order of callback
//! points on a request, and what every return value does at every point.

mod common;

use common::client::{self, Conn};
use common::conf::{Cluster, Layout};
use common::origin::{Origin, Reply};
use common::probe::{Probe, Script, Shared};
use ringfront::module::{Point, Ret};
use std::sync::{Arc, Mutex};

struct Env {
    origin: Origin,
    script: Shared,
    _d: common::conf::ConfDir,
    h: ringfront::server::ServerHandle,
}

fn env() -> Env {
    env_with(false)
}

/// With `tls`, the conf dir also has an HTTPS listener and certificates.
fn env_with(tls: bool) -> Env {
    env_on(Origin::named("origin"), tls)
}

fn env_on(origin: Origin, tls: bool) -> Env {
    let mut l = Layout::single(Cluster::simple("c", &[origin.addr]));
    l.modules = vec!["mod_probe".into()];
    if tls {
        l.server_extra.push_str("HttpsPort = 0\n");
    }
    let d = l.write();
    if tls {
        common::tls::write_files(&d);
    }
    let script: Shared = Arc::new(Mutex::new(Script::default()));
    let h = common::start(d.path(), Some(Probe::registry(script.clone())));
    Env {
        origin,
        script,
        _d: d,
        h,
    }
}

impl Env {
    fn set(&self, p: Point, r: Ret, with_response: bool) {
        let mut s = self.script.lock().unwrap();
        s.returns.clear();
        s.returns.insert(p, r);
        s.with_response = with_response;
        s.seen.clear();
    }

    /// Points seen, once HandleFinish ran for the connection.
    fn points(&self) -> Vec<Point> {
        assert!(common::eventually(|| self
            .script
            .lock()
            .unwrap()
            .seen
            .iter()
            .any(|s| s.2 == Point::Finish)));
        self.script
            .lock()
            .unwrap()
            .seen
            .iter()
            .map(|s| s.2)
            .collect()
    }
}

const PLAIN: &[u8] = b"GET / HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n";

/// The nine points in lifecycle order, as spec/module-framework.md lists them.
const LIFECYCLE: [Point; 9] = [
    Point::Accept,
    Point::Handshake,
    Point::BeforeLocation,
    Point::FoundProduct,
    Point::AfterLocation,
    Point::Forward,
    Point::ReadResponse,
    Point::RequestFinish,
    Point::Finish,
];

#[test]
fn points_run_in_lifecycle_order() {
    let e = env();
    e.set(Point::Accept, Ret::GoOn, false);
    let r = client::parse_response(&client::raw(e.h.http_addr, PLAIN)).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("x-probe"),
        Some("seen"),
        "ReadResponse edits reach the client"
    );
    // HandleHandshake runs on TLS listeners only.
    let plain: Vec<Point> = LIFECYCLE
        .into_iter()
        .filter(|p| *p != Point::Handshake)
        .collect();
    assert_eq!(e.points(), plain);
}

/// All nine points, in the order of spec/module-framework.md, on one
/// request over TLS (HandleHandshake runs on TLS listeners only).
#[test]
fn all_nine_points_run_in_order_on_a_tls_request() {
    let e = env_with(true);
    let mut c = common::tls::connect_verified(e.h.https_addr.expect("https"), "example.org")
        .expect("handshake");
    let r = client::parse_response(&common::tls::exchange(&mut c, PLAIN)).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(e.points(), LIFECYCLE);
    assert_eq!(LIFECYCLE.len(), Point::ALL.len());
}

#[test]
fn handshake_close_drops_the_connection_other_values_continue() {
    let e = env_with(true);
    let addr = e.h.https_addr.expect("https");
    e.set(Point::Handshake, Ret::Close, false);
    // The handshake completes, then the connection is closed unanswered.
    let mut c = common::tls::connect_any(addr, Some("example.org")).expect("handshake");
    assert!(common::tls::exchange(&mut c, PLAIN).is_empty());
    assert_eq!(
        e.points(),
        vec![Point::Accept, Point::Handshake, Point::Finish]
    );
    assert_eq!(e.origin.count(), 0);
    for r in [Ret::GoOn, Ret::Finish, Ret::Redirect, Ret::Response] {
        e.set(Point::Handshake, r, false);
        let mut c = common::tls::connect_any(addr, Some("example.org")).expect("handshake");
        let raw = common::tls::exchange(&mut c, PLAIN);
        assert_eq!(client::parse_response(&raw).unwrap().status, 200, "{r:?}");
    }
}

/// A failed handshake runs HandleFinish only (after HandleAccept).
#[test]
fn failed_handshake_runs_only_finish() {
    let e = env_with(true);
    let raw = client::raw(e.h.https_addr.expect("https"), PLAIN);
    assert!(!raw.starts_with(b"HTTP/"));
    assert_eq!(e.points(), vec![Point::Accept, Point::Finish]);
}

#[test]
fn unknown_module_stops_startup() {
    let o = Origin::named("o");
    let mut l = Layout::single(Cluster::simple("c", &[o.addr]));
    l.modules = vec!["mod_nonexistent".into()];
    let d = l.write();
    let err = ringfront::server::start(ringfront::server::ServerOptions::new(d.path()))
        .err()
        .expect("start must fail");
    assert!(err.contains("mod_nonexistent"), "{err}");
}

#[test]
fn accept_close_drops_connection_silently() {
    let e = env();
    e.set(Point::Accept, Ret::Close, false);
    assert!(client::raw(e.h.http_addr, PLAIN).is_empty());
    assert_eq!(e.points(), vec![Point::Accept, Point::Finish]);
    assert_eq!(e.origin.count(), 0);
    // Any other value continues.
    for r in [Ret::Finish, Ret::Redirect, Ret::Response] {
        e.set(Point::Accept, r, false);
        assert_eq!(
            client::parse_response(&client::raw(e.h.http_addr, PLAIN))
                .unwrap()
                .status,
            200
        );
    }
}

#[test]
fn request_points_honour_every_value() {
    let e = env();
    for p in [
        Point::BeforeLocation,
        Point::FoundProduct,
        Point::AfterLocation,
    ] {
        // Finish with a response: sent, then the connection closes.
        e.set(p, Ret::Finish, true);
        let mut c = Conn::open(e.h.http_addr);
        c.send(b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n");
        let r = c.response(false).unwrap();
        assert_eq!((r.status, r.text()), (403, format!("probe {}", p.name())));
        assert!(c.closed(), "{p}: Finish closes");
        // Finish without a response: 500, closed.
        e.set(p, Ret::Finish, false);
        let mut c = Conn::open(e.h.http_addr);
        c.send(b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n");
        assert_eq!(c.response(false).unwrap().status, 500);
        assert!(c.closed());
        // Redirect: the handler's location, keep-alive.
        e.set(p, Ret::Redirect, false);
        let mut c = Conn::open(e.h.http_addr);
        c.send(b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n");
        let r = c.response(false).unwrap();
        assert_eq!(
            (r.status, r.header("location")),
            (302, Some("http://elsewhere.example/"))
        );
        c.send(b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n");
        assert_eq!(
            c.response(false).unwrap().status,
            302,
            "{p}: Redirect keeps the connection"
        );
        // Response: the handler's response, keep-alive.
        e.set(p, Ret::Response, true);
        let mut c = Conn::open(e.h.http_addr);
        for _ in 0..2 {
            c.send(b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n");
            assert_eq!(c.response(false).unwrap().status, 403);
        }
        // Close: nothing sent.
        e.set(p, Ret::Close, false);
        assert!(
            client::raw(e.h.http_addr, PLAIN).is_empty(),
            "{p}: Close sends nothing"
        );
        // GoOn: forwarded.
        e.set(p, Ret::GoOn, false);
        assert_eq!(
            client::parse_response(&client::raw(e.h.http_addr, PLAIN))
                .unwrap()
                .text(),
            "origin"
        );
    }
    assert_eq!(e.origin.count(), 3, "only GoOn forwarded");
}

#[test]
fn forward_finish_stops_forwarding_others_continue() {
    let e = env();
    e.set(Point::Forward, Ret::Finish, false);
    let mut c = Conn::open(e.h.http_addr);
    c.send(b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n");
    assert_eq!(c.response(false).unwrap().status, 500);
    assert!(c.closed());
    assert_eq!(e.origin.count(), 0);
    for r in [Ret::GoOn, Ret::Redirect, Ret::Response, Ret::Close] {
        e.set(Point::Forward, r, false);
        assert_eq!(
            client::parse_response(&client::raw(e.h.http_addr, PLAIN))
                .unwrap()
                .text(),
            "origin"
        );
    }
}

#[test]
fn read_response_values() {
    let e = env();
    // Finish: the (edited) backend response, then close.
    e.set(Point::ReadResponse, Ret::Finish, false);
    let mut c = Conn::open(e.h.http_addr);
    c.send(b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n");
    let r = c.response(false).unwrap();
    assert_eq!(
        (r.text().as_str(), r.header("x-probe")),
        ("origin", Some("seen"))
    );
    assert!(c.closed());
    // Redirect replaces the backend response.
    e.set(Point::ReadResponse, Ret::Redirect, false);
    let mut c = Conn::open(e.h.http_addr);
    c.send(b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n");
    assert_eq!(c.response(false).unwrap().status, 307);
    // Response replaces it with the handler's; keep-alive.
    e.set(Point::ReadResponse, Ret::Response, false);
    c.send(b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n");
    let r = c.response(false).unwrap();
    assert_eq!((r.status, r.text().as_str()), (418, "probe reply"));
    // Close: nothing reaches the client.
    e.set(Point::ReadResponse, Ret::Close, false);
    assert!(client::raw(e.h.http_addr, PLAIN).is_empty());
}

#[test]
fn request_finish_finish_closes_after_response() {
    let e = env();
    e.set(Point::RequestFinish, Ret::Finish, false);
    let mut c = Conn::open(e.h.http_addr);
    c.send(b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n");
    assert_eq!(c.response(false).unwrap().text(), "origin");
    assert!(c.closed());
    e.set(Point::RequestFinish, Ret::GoOn, false);
    let mut c = Conn::open(e.h.http_addr);
    for _ in 0..2 {
        c.send(b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n");
        assert_eq!(c.response(false).unwrap().text(), "origin");
    }
}

#[test]
fn request_finish_reads_the_response_head_after_a_streamed_body() {
    // Bigger than any read buffer, so the body streams in several reads.
    let body = vec![b'x'; 300_000];
    let sent = body.clone();
    let e = env_on(Origin::start(move |_| Reply::Ok(sent.clone())), false);
    e.set(Point::RequestFinish, Ret::GoOn, false);
    let mut c = Conn::open(e.h.http_addr);
    for _ in 0..2 {
        c.send(b"GET /big HTTP/1.1\r\nHost: example.org\r\n\r\n");
        assert_eq!(c.response(false).unwrap().body, body);
    }
    // HandleRequestFinish runs once the response is out, so the client can
    // see the second response a moment before its handler ran.
    common::eventually(|| e.script.lock().unwrap().finish_lengths.len() >= 2);
    let seen = e.script.lock().unwrap().finish_lengths.clone();
    assert_eq!(seen, vec![Some("300000".to_string()); 2]);
}

#[test]
fn finish_runs_after_early_close() {
    let e = env();
    e.set(Point::Finish, Ret::Close, false);
    // A malformed request: no request points, but Finish still runs.
    let raw = client::raw(e.h.http_addr, b"BAD\r\n\r\n");
    assert_eq!(client::parse_response(&raw).unwrap().status, 400);
    assert_eq!(e.points(), vec![Point::Accept, Point::Finish]);
}

/// HandleRequestFinish runs once for every request that reached the
/// request points, also one a handler closed without an answer (it then
/// sees no response: status 0), as BFE passes a nil response.
#[test]
fn request_finish_runs_for_every_request() {
    let e = env();
    e.set(Point::FoundProduct, Ret::Close, false);
    assert!(client::raw(e.h.http_addr, PLAIN).is_empty());
    assert_eq!(
        e.points(),
        vec![
            Point::Accept,
            Point::BeforeLocation,
            Point::FoundProduct,
            Point::RequestFinish,
            Point::Finish
        ]
    );
    assert_eq!(e.script.lock().unwrap().finish_statuses, vec![0]);
}

/// BFE's ReadResponse rule for answers made inside the proxy: a module's
/// `Response` and ringfront's own error pages go through it (so header
/// rules apply to them); `Finish` and `Redirect` answers skip it.
#[test]
fn read_response_runs_on_module_responses_and_error_pages() {
    let e = env();
    e.set(Point::FoundProduct, Ret::Response, true);
    let r = client::parse_response(&client::raw(e.h.http_addr, PLAIN)).unwrap();
    assert_eq!((r.status, r.header("x-probe")), (403, Some("seen")));
    assert!(e.points().contains(&Point::ReadResponse));
    for skip in [Ret::Finish, Ret::Redirect] {
        e.set(Point::FoundProduct, skip, true);
        let r = client::parse_response(&client::raw(e.h.http_addr, PLAIN)).unwrap();
        assert_eq!(r.header("x-probe"), None, "{skip:?}");
        assert!(!e.points().contains(&Point::ReadResponse), "{skip:?}");
    }
    // The 500 ringfront answers when HandleForward ends the request.
    e.set(Point::Forward, Ret::Finish, false);
    let r = client::parse_response(&client::raw(e.h.http_addr, PLAIN)).unwrap();
    assert_eq!((r.status, r.header("x-probe")), (500, Some("seen")));
    assert_eq!(e.origin.count(), 0);
}

/// A request body the client breaks is answered 400 and the connection
/// closed; HandleRequestFinish sees that answer.
#[test]
fn request_finish_sees_the_answer_to_a_broken_body() {
    let e = env();
    let raw = client::raw(
        e.h.http_addr,
        b"POST / HTTP/1.1\r\nHost: example.org\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    );
    assert_eq!(client::parse_response(&raw).unwrap().status, 400);
    assert!(e.points().contains(&Point::RequestFinish));
    assert_eq!(e.script.lock().unwrap().finish_statuses, vec![400]);
}
