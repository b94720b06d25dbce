//! Faults on either side: backends dying mid-response, clients leaving
//! mid-request. Each gets the right answer or a clean close, and the
//! worker keeps serving with nothing leaked.

mod common;

use common::client::{self, Conn};
use common::conf::{Cluster, Layout};
use common::origin::{Origin, Reply};
use std::io::Write;
use std::time::Duration;

/// A backend that sends the head and 10 of 100 body bytes, then closes.
fn dying_origin() -> Origin {
    Origin::start(|s| {
        if s.target == "/ok" {
            return Reply::text("fine");
        }
        Reply::Slow {
            bytes: b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789".to_vec(),
            wait: Duration::from_millis(100),
            rest: Vec::new(),
        }
    })
}

#[test]
fn backend_dying_mid_buffered_body_is_502() {
    // The body fits ResponseBufferSize, so nothing reached the client
    // before the backend broke off: it gets a clean 502.
    let o = dying_origin();
    let d = Layout::single(Cluster::simple("c", &[o.addr])).write();
    let h = common::start(d.path(), None);
    assert_eq!(client::get(h.http_addr, "example.org", "/die").status, 502);
    assert_eq!(common::counter(&h, "err_backend_broken"), 1);
    assert_eq!(
        client::get(h.http_addr, "example.org", "/ok").text(),
        "fine"
    );
}

#[test]
fn backend_dying_mid_body_closes_client() {
    // Streamed (ResponseBufferSize 0): the head went out first.
    let o = dying_origin();
    let c = Cluster::simple("c", &[o.addr])
        .with_conf(serde_json::json!({"ClusterBasic": {"ResponseBufferSize": 0}}));
    let d = Layout::single(c).write();
    let h = common::start(d.path(), None);
    let mut c = Conn::open(h.http_addr);
    c.send(b"GET /die HTTP/1.1\r\nHost: example.org\r\n\r\n");
    // The head and the first bytes arrive, then the connection closes
    // before the declared length: the client can tell it was cut short.
    let got = client::read_to_close(&mut c.s);
    assert!(got.starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert!(got.ends_with(b"0123456789"));
    assert!(
        client::parse_response(&got).is_none(),
        "truncated body must not look complete"
    );
    assert_eq!(common::counter(&h, "err_backend_broken"), 1);
    // The worker is healthy.
    assert_eq!(
        client::get(h.http_addr, "example.org", "/ok").text(),
        "fine"
    );
}

#[test]
fn backend_closing_before_head_is_502() {
    let o = Origin::start(|_| Reply::Close);
    let d = Layout::single(Cluster::simple("c", &[o.addr])).write();
    let h = common::start(d.path(), None);
    assert_eq!(client::get(h.http_addr, "example.org", "/").status, 502);
}

#[test]
fn malformed_backend_response_is_502() {
    let o = Origin::start(|_| {
        Reply::raw("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab")
    });
    let d = Layout::single(Cluster::simple("c", &[o.addr])).write();
    let h = common::start(d.path(), None);
    assert_eq!(client::get(h.http_addr, "example.org", "/").status, 502);
    assert_eq!(common::counter(&h, "err_backend_broken"), 1);
}

#[test]
fn client_closing_mid_request_frees_everything() {
    let o = Origin::start(|s| Reply::Ok(s.body.clone()));
    let d = Layout::single(Cluster::simple("c", &[o.addr])).write();
    let h = common::start(d.path(), None);
    {
        let mut s = std::net::TcpStream::connect(client::local(h.http_addr)).unwrap();
        s.write_all(
            b"POST / HTTP/1.1\r\nHost: example.org\r\nContent-Length: 1000\r\n\r\n0123456789",
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(200));
    }
    {
        // And one that leaves in the middle of its head.
        let mut s = std::net::TcpStream::connect(client::local(h.http_addr)).unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: exa").unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(common::eventually(
        || common::counter(&h, "conn_active") == 0
    ));
    assert!(common::counter(&h, "err_client_closed") >= 2);
    assert_eq!(common::counter(&h, "req_active"), 0);
    // The half-sent body never reached the backend as a complete request.
    assert!(o.requests().iter().all(|r| r.body.len() != 1000));
    let r = client::get(h.http_addr, "example.org", "/");
    assert_eq!(r.status, 200);
}

#[test]
fn idle_keepalive_connections_time_out() {
    let o = Origin::named("A");
    let c = Cluster::simple("c", &[o.addr])
        .with_conf(serde_json::json!({"ClusterBasic": {"TimeoutReadClientAgain": 300}}));
    let d = Layout::single(c).write();
    let h = common::start(d.path(), None);
    let mut conn = Conn::open(h.http_addr);
    conn.send(b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n");
    assert_eq!(conn.response(false).unwrap().text(), "A");
    assert!(
        conn.closed(),
        "idle connection closed after TimeoutReadClientAgain"
    );
    assert!(common::eventually(
        || common::counter(&h, "conn_active") == 0
    ));
}

#[test]
fn no_connections_leak_after_many_requests() {
    let o = Origin::named("A");
    let mut l = Layout::single(Cluster::simple("c", &[o.addr]));
    l.workers = 2;
    let d = l.write();
    let h = common::start(d.path(), None);
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let addr = h.http_addr;
            std::thread::spawn(move || {
                let mut c = Conn::open(addr);
                for _ in 0..50 {
                    c.send(b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n");
                    assert_eq!(c.response(false).unwrap().status, 200);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(common::eventually(
        || common::counter(&h, "conn_active") == 0
    ));
    assert_eq!(common::counter(&h, "req_total"), 400);
    assert_eq!(common::counter(&h, "resp_2xx"), 400);
    assert_eq!(common::counter(&h, "workers"), 2);
}

/// The backend closes keep-alive connections right after answering: a
/// pooled connection found dead is replaced by a fresh one, transparently,
/// even with no retries configured.
#[test]
fn stale_pooled_connection_is_replaced() {
    let o = Origin::start(|_| Reply::Raw {
        bytes: b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec(),
        close: true,
    });
    let c = Cluster::simple("c", &[o.addr])
        .with_conf(serde_json::json!({"GslbBasic": {"RetryMax": 0}}));
    let d = Layout::single(c).write();
    let h = common::start(d.path(), None);
    for _ in 0..5 {
        let r = client::get(h.http_addr, "example.org", "/");
        assert_eq!((r.status, r.text().as_str()), (200, "ok"));
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(o.count(), 5);
}
