//! Idle pooled backend connections notice what their backend does to them:
//! a backend that closes (or half-closes) an idle keep-alive connection
//! gets it closed on our side at once, with no socket left in CLOSE_WAIT,
//! and one that sends bytes on an idle connection loses it too; neither is
//! ever handed to a request.
//!
//! Run under both io_uring and the epoll driver
//! (`MONOIO_FORCE_LEGACY_DRIVER=1 cargo test --test upstream_idle`).

mod common;

use common::client;
use common::conf::{Cluster, Layout};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the backend lets a keep-alive connection sit idle before it
/// does its thing to it.
const BACKEND_IDLE: Duration = Duration::from_millis(200);

/// What the backend does to a connection idle for [`BACKEND_IDLE`].
#[derive(Clone, Copy)]
enum OnIdle {
    /// Close it.
    Close,
    /// Shut down its sending side, keep reading.
    HalfClose,
    /// Send bytes nobody asked for, keep it open.
    Garbage,
}

/// A keep-alive HTTP/1.1 backend answering `ok` to every request, which
/// does `on_idle` to connections left idle.
struct Backend {
    addr: SocketAddr,
    requests: Arc<AtomicUsize>,
    conns: Arc<AtomicUsize>,
}

impl Backend {
    fn start(on_idle: OnIdle) -> Backend {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        let requests = Arc::new(AtomicUsize::new(0));
        let conns = Arc::new(AtomicUsize::new(0));
        let (r, c) = (requests.clone(), conns.clone());
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(s) = s else { return };
                c.fetch_add(1, Ordering::SeqCst);
                let r = r.clone();
                std::thread::spawn(move || serve(s, on_idle, &r));
            }
        });
        Backend {
            addr,
            requests,
            conns,
        }
    }
}

fn serve(mut s: TcpStream, on_idle: OnIdle, requests: &AtomicUsize) {
    let _ = s.set_nodelay(true);
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if !head.is_empty() {
                    return;
                }
                break;
            }
            Err(_) => return,
        }
        if head.windows(4).any(|w| w == b"\r\n\r\n") {
            head.clear();
            requests.fetch_add(1, Ordering::SeqCst);
            if s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .is_err()
            {
                return;
            }
            let _ = s.set_read_timeout(Some(BACKEND_IDLE));
        }
    }
    match on_idle {
        OnIdle::Close => drop(s),
        OnIdle::HalfClose => {
            let _ = s.shutdown(Shutdown::Write);
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            let _ = s.read(&mut buf);
        }
        OnIdle::Garbage => {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\ngarbage");
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            let _ = s.read(&mut buf);
        }
    }
}

/// Sockets in CLOSE_WAIT whose peer is `backend` (/proc/net/tcp: ours
/// are the ones whose remote address is the backend's).
fn close_wait_to(backend: SocketAddr) -> usize {
    let SocketAddr::V4(a) = backend else {
        panic!("IPv4 backend expected")
    };
    let rem = format!(
        "{:08X}:{:04X}",
        u32::from_le_bytes(a.ip().octets()),
        a.port()
    );
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    table
        .lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && f[2] == rem && f[3] == "08"
        })
        .count()
}

/// One request through ringfront to a backend doing `on_idle`; then wait
/// for the backend to act and return the handle, after checking that
/// ringfront dropped the pooled connection within a second.
fn first_request_then_idle(
    on_idle: OnIdle,
) -> (
    Backend,
    common::conf::ConfDir,
    ringfront::server::ServerHandle,
) {
    let b = Backend::start(on_idle);
    let c = Cluster::simple("c", &[b.addr])
        .with_conf(serde_json::json!({"GslbBasic": {"RetryMax": 0}}));
    let d = Layout::single(c).write();
    let h = common::start(d.path(), None);
    let r = client::get(h.http_addr, "example.org", "/");
    assert_eq!((r.status, r.text().as_str()), (200, "ok"));
    assert!(
        common::eventually(|| common::counter(&h, "upstream_idle") == 1),
        "pooled after use"
    );
    std::thread::sleep(BACKEND_IDLE);
    let deadline = Instant::now() + Duration::from_secs(1);
    while common::counter(&h, "upstream_idle") != 0 {
        assert!(
            Instant::now() < deadline,
            "the idle connection is still pooled a second after the backend acted"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (b, d, h)
}

/// The next request after the pooled connection died opens a fresh one
/// and succeeds on its first attempt: nothing retried, nothing reused.
fn next_request_is_clean(b: &Backend, h: &ringfront::server::ServerHandle) {
    let r = client::get(h.http_addr, "example.org", "/");
    assert_eq!((r.status, r.text().as_str()), (200, "ok"));
    assert_eq!(b.requests.load(Ordering::SeqCst), 2, "one request each");
    assert_eq!(b.conns.load(Ordering::SeqCst), 2);
    assert_eq!(common::counter(h, "upstream_reuse"), 0);
    assert_eq!(common::counter(h, "upstream_connect"), 2);
    assert_eq!(common::counter(h, "retries"), 0);
    assert_eq!(common::counter(h, "resp_2xx"), 2);
}

#[test]
fn backend_close_of_idle_connection_leaves_no_close_wait() {
    let (b, _d, h) = first_request_then_idle(OnIdle::Close);
    assert!(
        common::eventually(|| close_wait_to(b.addr) == 0),
        "ringfront holds a CLOSE_WAIT socket to the backend"
    );
    assert_eq!(common::counter(&h, "upstream_idle_peer_closed"), 1);
    assert_eq!(common::counter(&h, "upstream_idle_stray_bytes"), 0);
    next_request_is_clean(&b, &h);
}

#[test]
fn backend_half_close_of_idle_connection_closes_it() {
    let (b, _d, h) = first_request_then_idle(OnIdle::HalfClose);
    assert!(
        common::eventually(|| close_wait_to(b.addr) == 0),
        "ringfront holds a CLOSE_WAIT socket to the backend"
    );
    assert_eq!(common::counter(&h, "upstream_idle_peer_closed"), 1);
    next_request_is_clean(&b, &h);
}

#[test]
fn bytes_on_idle_connection_close_it() {
    let (b, _d, h) = first_request_then_idle(OnIdle::Garbage);
    assert_eq!(common::counter(&h, "upstream_idle_stray_bytes"), 1);
    assert_eq!(common::counter(&h, "upstream_idle_peer_closed"), 0);
    next_request_is_clean(&b, &h);
}
