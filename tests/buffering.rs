//! Slow clients do not hold backends: a request body that fits
//! `RequestBufferSize` is read whole before a backend connection is
//! taken, and a response body that fits `ResponseBufferSize` is read whole
//! and its backend connection pooled before the client is sent anything.
//! Bodies past the limits stream, as before.

mod common;

use common::client::{self, Conn};
use common::conf::{Cluster, ConfDir, Layout};
use common::origin::{Origin, Reply};
use ringfront::server::ServerHandle;
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A response body bigger than every socket buffer on the way (loopback
/// send buffers grow to 4 MiB; a receive window that is not read stays
/// small).
const BIG: usize = 16 << 20;

/// An origin echoing the request body's length.
fn echo_len() -> Origin {
    Origin::start(|s| Reply::text(&format!("got {}", s.body.len())))
}

/// ringfront before `o` with `conf` merged into the cluster's, and a
/// client that has sent the head of a POST of `len` body bytes.
fn posting(o: &Origin, conf: serde_json::Value, len: usize) -> (ConfDir, ServerHandle, Conn) {
    let d = Layout::single(Cluster::simple("c", &[o.addr]).with_conf(conf)).write();
    let h = common::start(d.path(), None);
    let mut c = Conn::open(h.http_addr);
    c.send(
        format!("POST /up HTTP/1.1\r\nHost: example.org\r\nContent-Length: {len}\r\n\r\n")
            .as_bytes(),
    );
    (d, h, c)
}

#[test]
fn a_slowly_sent_body_that_fits_reaches_no_backend_until_whole() {
    let o = echo_len();
    let (_d, _h, mut c) = posting(&o, json!({}), 3000);
    for _ in 0..5 {
        c.send(&[b'a'; 500]);
        std::thread::sleep(Duration::from_millis(150));
        assert_eq!(o.conn_count(), 0, "a backend connection opened mid-body");
    }
    c.send(&[b'a'; 500]);
    let r = c.response(false).expect("a response");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "got 3000");
    assert_eq!(o.conn_count(), 1);
}

#[test]
fn a_body_past_the_limit_streams() {
    let o = echo_len();
    let conf = json!({"ClusterBasic": {"RequestBufferSize": 1000}});
    let (_d, _h, mut c) = posting(&o, conf, 3000);
    c.send(&[b'b'; 500]);
    // Past the limit nothing waits for the body: the backend is opened
    // at once and the body streams to it.
    assert!(common::eventually(|| o.conn_count() == 1));
    c.send(&[b'b'; 2500]);
    let r = c.response(false).expect("a response");
    assert_eq!(r.text(), "got 3000");
}

#[test]
fn a_client_that_stops_sending_its_body_gets_408_and_no_backend() {
    let o = echo_len();
    let conf = json!({"ClusterBasic": {"TimeoutReadClient": 300}});
    let (_d, h, mut c) = posting(&o, conf, 100);
    c.send(b"short");
    let r = c.response(false).expect("an answer");
    assert_eq!(r.status, 408);
    assert!(c.closed());
    assert_eq!(o.conn_count(), 0);
    assert_eq!(common::counter(&h, "err_client_timeout"), 1);
}

/// A client that asked for a `BIG` body (`/big`) through ringfront, with
/// `conf` merged into the cluster's, and read one small piece of it, then
/// nothing; ringfront and the origin (which answers `small` elsewhere).
struct SlowReader {
    _d: ConfDir,
    h: ServerHandle,
    o: Origin,
    slow: TcpStream,
    first: Vec<u8>,
}

impl SlowReader {
    fn start(conf: serde_json::Value) -> SlowReader {
        let big = vec![b'x'; BIG];
        let o = Origin::start(move |s| match s.target.as_str() {
            "/big" => Reply::Ok(big.clone()),
            _ => Reply::text("small"),
        });
        let d = Layout::single(Cluster::simple("c", &[o.addr]).with_conf(conf)).write();
        let h = common::start(d.path(), None);
        let mut slow = TcpStream::connect(h.http_addr).unwrap();
        slow.write_all(b"GET /big HTTP/1.1\r\nHost: example.org\r\n\r\n")
            .unwrap();
        let mut piece = [0u8; 1024];
        let got = slow.read(&mut piece).unwrap();
        SlowReader {
            _d: d,
            h,
            o,
            slow,
            first: piece[..got].to_vec(),
        }
    }

    /// Another client's `/small`, answered.
    fn get_small(&self) {
        assert_eq!(
            client::get(self.h.http_addr, "example.org", "/small").text(),
            "small"
        );
    }

    /// Whether `/small` went over the backend connection `/big` came on.
    fn same_backend_connection(&self) -> bool {
        let seen = self.o.requests();
        let on = |t: &str| seen.iter().find(|s| s.target == t).unwrap().conn;
        on("/small") == on("/big")
    }
}

#[test]
fn a_client_that_stops_reading_does_not_hold_the_backend_connection() {
    // 16 MiB: more than the sockets between ringfront and a client that
    // reads nothing hold, so the relay is stuck on that client unless the
    // body was taken whole (the next test is the same with buffering off).
    let mut s = SlowReader::start(
        json!({"ClusterBasic": {"ResponseBufferSize": BIG, "TimeoutWriteClient": 30000}}),
    );
    // The next request reuses the backend connection the big response
    // came on: it went back to the pool while the slow client dawdles.
    let t = Instant::now();
    s.get_small();
    assert!(t.elapsed() < Duration::from_secs(2));
    assert!(
        s.same_backend_connection(),
        "the backend connection was not reused"
    );
    // And the slow client still gets its whole body when it reads.
    let mut rest = std::mem::take(&mut s.first);
    s.slow
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let want = BIG + 40;
    let mut buf = [0u8; 65536];
    while rest.len() < want {
        match s.slow.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => rest.extend_from_slice(&buf[..n]),
        }
    }
    let r = client::parse_response(&rest).expect("the whole response");
    assert_eq!(r.body.len(), BIG);
}

#[test]
fn a_slow_reader_of_a_body_past_the_limit_holds_its_backend() {
    // With ResponseBufferSize under the body, the body streams: the
    // backend connection stays with the slow client, and the next request
    // opens another.
    let s = SlowReader::start(json!({"ClusterBasic": {"ResponseBufferSize": 4096}}));
    s.get_small();
    assert!(!s.same_backend_connection());
}
