//! Message framing through the real server (RFC 9112): lengths, chunked in
//! both directions with trailers, body-less responses, 100-continue,
//! HTTP/1.0, keep-alive, pipelining, malformed input.

mod common;

use common::client::{self, Conn};
use common::conf::{Cluster, Layout};
use common::origin::{Origin, Reply};
use std::io::Write;
use std::time::Duration;

fn proxy_to(o: &Origin) -> (common::conf::ConfDir, ringfront::server::ServerHandle) {
    let d = Layout::single(Cluster::simple("c", &[o.addr])).write();
    let h = common::start(d.path(), None);
    (d, h)
}

#[test]
fn content_length_body_is_forwarded() {
    let o = Origin::start(|s| Reply::Ok(s.body.clone()));
    let (_d, h) = proxy_to(&o);
    let body = vec![b'x'; 200_000];
    let mut req = format!(
        "POST /up HTTP/1.1\r\nHost: example.org\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(&body);
    let r = client::parse_response(&client::raw(h.http_addr, &req)).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), body.len());
    assert_eq!(o.requests()[0].header("content-length"), Some("200000"));
}

#[test]
fn chunked_request_with_trailers_is_reframed() {
    let o = Origin::start(|s| Reply::Ok(s.body.clone()));
    let (_d, h) = proxy_to(&o);
    let req = b"POST / HTTP/1.1\r\nHost: example.org\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 42\r\n\r\n";
    let r = client::parse_response(&client::raw(h.http_addr, req)).unwrap();
    assert_eq!(r.text(), "hello world");
    let seen = &o.requests()[0];
    assert_eq!(seen.header("transfer-encoding"), Some("chunked"));
    assert_eq!(seen.body, b"hello world");
    assert_eq!(seen.trailers, vec![("X-Sum".to_string(), "42".to_string())]);
}

#[test]
fn chunked_response_with_trailers_reaches_client() {
    let o = Origin::start(|_| {
        Reply::raw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n3\r\nabc\r\n4;x=y\r\ndefg\r\n0\r\nX-T: done\r\n\r\n")
    });
    let (_d, h) = proxy_to(&o);
    let mut c = Conn::open(h.http_addr);
    c.send(b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n");
    let r = c.response(false).unwrap();
    assert!(r.chunked);
    assert_eq!(r.text(), "abcdefg");
    assert_eq!(r.trailers, vec![("X-T".to_string(), "done".to_string())]);
    // Same connection still works.
    c.send(b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n");
    assert_eq!(c.response(false).unwrap().text(), "abcdefg");
}

#[test]
fn chunked_response_to_http10_client_is_close_delimited() {
    let o = Origin::start(|_| {
        Reply::raw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    });
    let (_d, h) = proxy_to(&o);
    let raw = client::raw(h.http_addr, b"GET / HTTP/1.0\r\nHost: example.org\r\n\r\n");
    let r = client::parse_response(&raw).unwrap();
    assert_eq!(r.status, 200);
    assert!(!r.chunked);
    assert!(r.header("transfer-encoding").is_none());
    assert_eq!(r.text(), "abc");
}

#[test]
fn close_delimited_response_becomes_chunked_for_http11() {
    let o = Origin::start(|_| Reply::Raw {
        bytes: b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close".to_vec(),
        close: true,
    });
    let (_d, h) = proxy_to(&o);
    let mut c = Conn::open(h.http_addr);
    c.send(b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n");
    let r = c.response(false).unwrap();
    assert!(r.chunked);
    assert_eq!(r.text(), "until close");
}

#[test]
fn bodyless_responses_keep_the_connection() {
    let o = Origin::start(|s| match s.target.as_str() {
        "/204" => Reply::raw("HTTP/1.1 204 No Content\r\n\r\n"),
        "/304" => {
            Reply::raw("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\nETag: \"x\"\r\n\r\n")
        }
        _ => Reply::raw("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"),
    });
    let (_d, h) = proxy_to(&o);
    let mut c = Conn::open(h.http_addr);
    c.send(b"HEAD /head HTTP/1.1\r\nHost: example.org\r\n\r\n");
    let r = c.response(true).unwrap();
    assert_eq!((r.status, r.header("content-length")), (200, Some("5")));
    c.send(b"GET /204 HTTP/1.1\r\nHost: example.org\r\n\r\n");
    let r = c.response(false).unwrap();
    assert_eq!(r.status, 204);
    assert!(r.header("content-length").is_none());
    c.send(b"GET /304 HTTP/1.1\r\nHost: example.org\r\n\r\n");
    let r = c.response(false).unwrap();
    assert_eq!((r.status, r.header("etag")), (304, Some("\"x\"")));
    // Nothing stray was sent after the body-less responses.
    c.send(b"GET /204 HTTP/1.1\r\nHost: example.org\r\n\r\n");
    assert_eq!(c.response(false).unwrap().status, 204);
}

/// Fuzzing found this (response target): a backend's `Content-Length: 0,
/// 0`, which the parser reads as 0, was relayed as no length at all, so a
/// kept-alive HTTP/1.1 client had a 200 with no framing and read the
/// connection's next bytes as its body.
#[test]
fn content_length_lists_are_relayed_as_one_length() {
    let o = Origin::start(|s| match s.target.as_str() {
        "/empty" => Reply::raw("HTTP/1.1 200 OK\r\nContent-Length: 0,   0\r\n\r\n"),
        "/head" => Reply::raw("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n"),
        _ => Reply::raw("HTTP/1.1 204 No Content\r\n\r\n"),
    });
    let (_d, h) = proxy_to(&o);
    let mut c = Conn::open(h.http_addr);
    c.send(b"GET /empty HTTP/1.1\r\nHost: example.org\r\n\r\n");
    let r = c.response(false).unwrap();
    assert_eq!((r.status, r.header("content-length")), (200, Some("0")));
    c.send(b"HEAD /head HTTP/1.1\r\nHost: example.org\r\n\r\n");
    let r = c.response(true).unwrap();
    assert_eq!((r.status, r.header("content-length")), (200, Some("5")));
    // The connection is still framed: the next response is read as one.
    c.send(b"GET /204 HTTP/1.1\r\nHost: example.org\r\n\r\n");
    assert_eq!(c.response(false).unwrap().status, 204);
}

#[test]
fn expect_100_continue() {
    let o = Origin::start(|s| Reply::Ok(s.body.clone()));
    let (_d, h) = proxy_to(&o);
    let mut c = Conn::open(h.http_addr);
    c.send(b"PUT /x HTTP/1.1\r\nHost: example.org\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    let interim = c.response(true).unwrap();
    assert_eq!(interim.status, 100);
    c.send(b"data");
    let r = c.response(false).unwrap();
    assert_eq!((r.status, r.text().as_str()), (200, "data"));
    assert!(!o.requests()[0].has_header("expect"));
    let raw = client::raw(
        h.http_addr,
        b"PUT /x HTTP/1.1\r\nHost: example.org\r\nExpect: something\r\nContent-Length: 1\r\n\r\nx",
    );
    assert_eq!(client::parse_response(&raw).unwrap().status, 417);
}

#[test]
fn http10_clients() {
    let o = Origin::named("A");
    let (_d, h) = proxy_to(&o);
    // Without keep-alive the connection closes after the response.
    let raw = client::raw(h.http_addr, b"GET / HTTP/1.0\r\n\r\n");
    let r = client::parse_response(&raw).unwrap();
    assert_eq!((r.status, r.text().as_str()), (200, "A"));
    assert_eq!(r.header("connection"), Some("close"));
    // With keep-alive it stays open.
    let mut c = Conn::open(h.http_addr);
    for _ in 0..2 {
        c.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        let r = c.response(false).unwrap();
        assert_eq!(r.header("connection"), Some("keep-alive"));
    }
}

#[test]
fn connection_close_is_honoured() {
    let o = Origin::named("A");
    let (_d, h) = proxy_to(&o);
    let mut c = Conn::open(h.http_addr);
    c.send(b"GET / HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n");
    let r = c.response(false).unwrap();
    assert_eq!(r.header("connection"), Some("close"));
    assert!(c.closed());
}

#[test]
fn pipelined_requests_answer_in_order() {
    let o = Origin::start(|s| Reply::Ok(s.target.clone().into_bytes()));
    let (_d, h) = proxy_to(&o);
    let mut req = Vec::new();
    for i in 0..5 {
        req.extend_from_slice(format!("GET /{i} HTTP/1.1\r\nHost: example.org\r\n\r\n").as_bytes());
    }
    req.extend_from_slice(
        b"POST /body HTTP/1.1\r\nHost: example.org\r\nContent-Length: 3\r\n\r\nabc",
    );
    req.extend_from_slice(b"GET /last HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n");
    let all = client::parse_all(&client::raw(h.http_addr, &req));
    let bodies: Vec<String> = all.iter().map(|r| r.text()).collect();
    assert_eq!(bodies, ["/0", "/1", "/2", "/3", "/4", "/body", "/last"]);
}

#[test]
fn malformed_requests_get_4xx_and_close() {
    let o = Origin::named("A");
    let (_d, h) = proxy_to(&o);
    let long_uri = format!(
        "GET /{} HTTP/1.1\r\nHost: example.org\r\n\r\n",
        "a".repeat(9000)
    );
    let big_head = format!(
        "GET / HTTP/1.1\r\nHost: example.org\r\nX-Big: {}\r\n\r\n",
        "b".repeat(1_100_000)
    );
    let cases: Vec<(&[u8], u16)> = vec![
        (b"GET / HTTP/1.1\r\nHost example.org\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n\r\n", 400),
        (b"GARBAGE\r\n\r\n", 400),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
            400,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 2\r\n\r\n",
            400,
        ),
        // One header, one number, as nginx has it: equal values too.
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000,1000\r\n\r\n",
            400,
        ),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
            400,
        ),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
            501,
        ),
        (long_uri.as_bytes(), 414),
        (big_head.as_bytes(), 431),
    ];
    for (req, status) in cases {
        let mut c = Conn::open(h.http_addr);
        c.send(req);
        let r = c.response(false).unwrap_or_else(|| {
            panic!(
                "no answer to {:?}",
                String::from_utf8_lossy(&req[..40.min(req.len())])
            )
        });
        assert_eq!(
            r.status,
            status,
            "for {:?}",
            String::from_utf8_lossy(&req[..30.min(req.len())])
        );
        assert_eq!(r.header("connection"), Some("close"));
        assert!(c.closed());
    }
    assert_eq!(o.count(), 0, "nothing malformed reached the backend");
    assert_eq!(common::counter(&h, "err_bad_request"), 10);
}

/// RFC 9112 `chunk-size = 1*HEXDIG`: leading zeros are a valid size.
#[test]
fn chunk_sizes_with_leading_zeros_are_read() {
    let o = Origin::start(|s| Reply::Ok(s.body.clone()));
    let (_d, h) = proxy_to(&o);
    let data = "z".repeat(0xe3);
    let body = format!("000000000000000000000000000000000e3\r\n{data}\r\n0000\r\n\r\n");
    let mut c = Conn::open(h.http_addr);
    c.send(
        format!(
            "POST /lz HTTP/1.1\r\nHost: example.org\r\nTransfer-Encoding: chunked\r\n\r\n{body}"
        )
        .as_bytes(),
    );
    let r = c.response(false).expect("answer");
    assert_eq!((r.status, r.text()), (200, data));
    assert_eq!(o.requests()[0].body.len(), 0xe3);
}

#[test]
fn malformed_chunked_body_is_400() {
    let o = Origin::start(|s| Reply::Ok(s.body.clone()));
    let (_d, h) = proxy_to(&o);
    let raw = client::raw(h.http_addr, b"POST / HTTP/1.1\r\nHost: example.org\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n");
    assert_eq!(client::parse_response(&raw).unwrap().status, 400);
}

#[test]
fn large_response_streams_through() {
    let big = vec![b'z'; 8 * 1024 * 1024];
    let b2 = big.clone();
    let o = Origin::start(move |_| Reply::Ok(b2.clone()));
    let (_d, h) = proxy_to(&o);
    let mut s = std::net::TcpStream::connect(client::local(h.http_addr)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n")
        .unwrap();
    let raw = client::read_to_close(&mut s);
    let r = client::parse_response(&raw).unwrap();
    assert_eq!(r.body.len(), big.len());
}

/// A client with a tiny receive window that starts reading late: writes to
/// it stop part-way once the socket buffers fill, and each must go on
/// exactly where the kernel stopped.
#[test]
fn slow_reader_with_small_window_gets_every_byte_in_order() {
    use std::os::fd::FromRawFd;
    let body: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let sent = body.clone();
    let o = Origin::start(move |_| Reply::Ok(sent.clone()));
    let (_d, h) = proxy_to(&o);
    // SAFETY: plain socket calls on a descriptor this test owns; the
    // window is set before connecting so the handshake advertises it.
    let mut s = unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0);
        let small: libc::c_int = 4096;
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            &small as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
        let std::net::SocketAddr::V4(a) = client::local(h.http_addr) else {
            panic!("IPv4 listener expected")
        };
        let sin = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: a.port().to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(*a.ip()).to_be(),
            },
            sin_zero: [0; 8],
        };
        let rc = libc::connect(
            fd,
            &sin as *const _ as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        assert_eq!(rc, 0);
        std::net::TcpStream::from_raw_fd(fd)
    };
    s.write_all(b"GET /big HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let got = client::read_to_close(&mut s);
    let r = client::parse_response(&got).expect("whole response");
    assert_eq!(r.status, 200);
    assert!(r.body == body, "body differs ({} bytes)", r.body.len());
}
