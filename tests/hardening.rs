//! Hostile input through the real server: every ambiguous, malformed,
//! oversized or slow request gets its status and a closed connection, and
//! never reaches a backend; hostile backends give the client the right
//! status or a clean close; a panicking module costs one request, not the
//! worker.

mod common;

use common::client::{self, local, Conn};
use common::conf::{Cluster, Layout};
use common::origin::{refused_addr, Origin, Reply};
use common::probe::{Probe, Script, Shared};
use ringfront::module::Point;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Small limits, so the limit cases stay small.
const LIMITS: &str = "MaxHeaderBytes = 8192\nMaxHeaderUriBytes = 2048\n";

fn start(o: &Origin, extra: &str) -> (common::conf::ConfDir, ringfront::server::ServerHandle) {
    start_cluster(Cluster::simple("c", &[o.addr]), extra)
}

fn start_cluster(
    c: Cluster,
    extra: &str,
) -> (common::conf::ConfDir, ringfront::server::ServerHandle) {
    let mut l = Layout::single(c);
    l.server_extra = format!("{LIMITS}{extra}");
    let d = l.write();
    let h = common::start(d.path(), None);
    (d, h)
}

/// Send `req` on a fresh connection, then read until the server closes.
/// Returns what was read and whether the read ended at the server's close
/// (rather than at the 5 s timeout).
fn exchange(addr: SocketAddr, req: &[u8]) -> (Vec<u8>, bool) {
    let mut s = TcpStream::connect(local(addr)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // The server may answer and close before all of it is written.
    let _ = s.write_all(req);
    read_until_close(&mut s)
}

fn read_until_close(s: &mut TcpStream) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (out, true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (out, true),
            Err(_) => return (out, false),
        }
    }
}

/// Assert: exactly one response with `status`, `Connection: close`, and
/// the connection closed right after it.
fn assert_refused(name: &str, got: &[u8], eof: bool, status: u16) {
    let text = String::from_utf8_lossy(got);
    let r = client::parse_response(got).unwrap_or_else(|| panic!("{name}: no response: {text:?}"));
    assert_eq!(r.status, status, "{name}: {text:?}");
    assert!(
        text.starts_with(&format!("HTTP/1.1 {status} ")),
        "{name}: status line {text:?}"
    );
    assert_eq!(r.header("connection"), Some("close"), "{name}");
    assert_eq!(r.len, got.len(), "{name}: bytes after the response");
    assert!(eof, "{name}: connection not closed after the response");
}

/// With `RINGFRONT_FUZZ_SEEDS=DIR`, the tests' hostile inputs are also
/// written to `DIR/<target>/` as seeds for the fuzz targets (fuzz/seeds).
fn seed(target: &str, name: &str, bytes: &[u8]) {
    let Ok(dir) = std::env::var("RINGFRONT_FUZZ_SEEDS") else {
        return;
    };
    let dir = std::path::Path::new(&dir).join(target);
    std::fs::create_dir_all(&dir).unwrap();
    let file: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    std::fs::write(dir.join(file), bytes).unwrap();
}

struct Case {
    name: &'static str,
    req: Vec<u8>,
    status: u16,
}

fn case(name: &'static str, req: impl AsRef<[u8]>, status: u16) -> Case {
    Case {
        name,
        req: req.as_ref().to_vec(),
        status,
    }
}

/// A POST with `headers` (CRLF-terminated lines) and `body`.
fn post(headers: &str, body: &str) -> Vec<u8> {
    format!("POST /p HTTP/1.1\r\nHost: example.org\r\n{headers}\r\n{body}").into_bytes()
}

/// A chunked POST with this body.
fn chunked(body: impl AsRef<[u8]>) -> Vec<u8> {
    let mut r = post("Transfer-Encoding: chunked\r\n", "");
    r.extend_from_slice(body.as_ref());
    r
}

const SMUGGLED: &str = "GET /smuggled HTTP/1.1\r\nHost: example.org\r\n\r\n";

fn hostile_requests() -> Vec<Case> {
    let smuggle_body = format!("0\r\n\r\n{SMUGGLED}");
    let smuggle_chunk = format!("{:x}\r\n{SMUGGLED}\r\n0\r\n\r\n", SMUGGLED.len());
    let many_headers: String = (0..200).map(|i| format!("X-H{i}: 1\r\n")).collect();
    let big_trailers: String = (0..2000).map(|i| format!("X-T{i}: aaaa\r\n")).collect();
    let ext_flood: String = (0..20)
        .map(|_| format!("1;{}\r\nx\r\n", "e".repeat(1000)))
        .collect();
    vec![
        // Content-Length and Transfer-Encoding together (CL.TE, TE.CL).
        case(
            "CL.TE",
            post(
                &format!(
                    "Content-Length: {}\r\nTransfer-Encoding: chunked\r\n",
                    smuggle_body.len()
                ),
                &smuggle_body,
            ),
            400,
        ),
        case(
            "TE.CL",
            post(
                "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n",
                &smuggle_chunk,
            ),
            400,
        ),
        case(
            "TE.CL, TE obfuscated by case",
            post(
                "Content-Length: 3\r\nTransfer-Encoding: CHUNKED\r\n",
                &smuggle_chunk,
            ),
            400,
        ),
        // Transfer-Encoding other than exactly one final `chunked`.
        case("TE gzip", post("Transfer-Encoding: gzip\r\n", ""), 501),
        case(
            "TE identity",
            post("Transfer-Encoding: identity\r\n", ""),
            501,
        ),
        case(
            "TE xchunked",
            post("Transfer-Encoding: xchunked\r\n", &smuggle_body),
            501,
        ),
        case(
            "TE chunked;param",
            post("Transfer-Encoding: chunked;a=b\r\n", ""),
            501,
        ),
        case(
            "TE gzip, chunked",
            post("Transfer-Encoding: gzip, chunked\r\n", ""),
            501,
        ),
        case(
            "TE chunked, gzip",
            post("Transfer-Encoding: chunked, gzip\r\n", ""),
            400,
        ),
        case(
            "TE chunked twice",
            post("Transfer-Encoding: chunked, chunked\r\n", ""),
            400,
        ),
        case(
            "TE on two lines",
            post(
                "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                "",
            ),
            400,
        ),
        case(
            "TE chunked then junk line",
            post(
                "Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n",
                &smuggle_body,
            ),
            400,
        ),
        case("TE empty", post("Transfer-Encoding: \r\n", ""), 400),
        case(
            "TE trailing comma",
            post("Transfer-Encoding: chunked,\r\n", ""),
            400,
        ),
        case(
            "TE in HTTP/1.0",
            format!("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n{smuggle_body}"),
            400,
        ),
        case(
            "TE with VT",
            post("Transfer-Encoding: \x0bchunked\r\n", ""),
            400,
        ),
        case(
            "Transfer_Encoding",
            post("Transfer_Encoding: chunked\r\n", &smuggle_body),
            400,
        ),
        case(
            "TE space before colon",
            post("Transfer-Encoding : chunked\r\n", ""),
            400,
        ),
        case(
            "TE folded",
            post("Transfer-Encoding: gzip\r\n chunked\r\n", ""),
            400,
        ),
        // Content-Length that is not exactly one number.
        case(
            "CL.CL differing lines",
            post("Content-Length: 0\r\nContent-Length: 45\r\n", SMUGGLED),
            400,
        ),
        case(
            "CL list differing",
            post("Content-Length: 5, 6\r\n", "hello"),
            400,
        ),
        case("CL plus sign", post("Content-Length: +5\r\n", "hello"), 400),
        case(
            "CL minus sign",
            post("Content-Length: -5\r\n", "hello"),
            400,
        ),
        case(
            "CL inner space",
            post("Content-Length: 5 5\r\n", "hello"),
            400,
        ),
        case("CL hex", post("Content-Length: 0x5\r\n", "hello"), 400),
        case(
            "CL trailing junk",
            post("Content-Length: 5a\r\n", "hello"),
            400,
        ),
        case("CL empty", post("Content-Length: \r\n", ""), 400),
        case(
            "CL overflow",
            post("Content-Length: 99999999999999999999\r\n", ""),
            400,
        ),
        case(
            "CL empty list element",
            post("Content-Length: 5,\r\n", "hello"),
            400,
        ),
        case(
            "Content_Length",
            post("Content_Length: 5\r\n", "hello"),
            400,
        ),
        case(
            "CL space before colon",
            post("Content-Length : 5\r\n", "hello"),
            400,
        ),
        // Line folding and whitespace.
        case(
            "obs-fold",
            "GET / HTTP/1.1\r\nHost: example.org\r\nX-A: a\r\n b\r\n\r\n",
            400,
        ),
        case(
            "first header folded",
            "GET / HTTP/1.1\r\n Host: example.org\r\n\r\n",
            400,
        ),
        case(
            "space before colon",
            "GET / HTTP/1.1\r\nHost : example.org\r\n\r\n",
            400,
        ),
        // CR and LF exactly as CRLF.
        case(
            "bare LF request line",
            "GET / HTTP/1.1\nHost: example.org\r\n\r\n",
            400,
        ),
        case(
            "bare LF header",
            "GET / HTTP/1.1\r\nHost: example.org\n\r\n",
            400,
        ),
        case(
            "bare LF end of head",
            "GET / HTTP/1.1\r\nHost: example.org\r\n\n",
            400,
        ),
        case(
            "bare LF everywhere",
            "GET / HTTP/1.1\nHost: example.org\n\n",
            400,
        ),
        case(
            "bare LF hides TE",
            post(
                "X: y\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n",
                "abc",
            ),
            400,
        ),
        case(
            "bare CR in header",
            "GET / HTTP/1.1\r\nHost: example.org\rX: 1\r\n\r\n",
            400,
        ),
        case(
            "bare CR in request line",
            "GET /\r HTTP/1.1\r\nHost: example.org\r\n\r\n",
            400,
        ),
        // Control characters.
        case(
            "NUL in value",
            "GET / HTTP/1.1\r\nHost: example.org\r\nX: a\0b\r\n\r\n",
            400,
        ),
        case(
            "NUL in name",
            "GET / HTTP/1.1\r\nHost: example.org\r\nX\0: a\r\n\r\n",
            400,
        ),
        case(
            "SOH in value",
            "GET / HTTP/1.1\r\nHost: example.org\r\nX: a\x01\r\n\r\n",
            400,
        ),
        case(
            "DEL in value",
            "GET / HTTP/1.1\r\nHost: example.org\r\nX: a\x7f\r\n\r\n",
            400,
        ),
        case(
            "NUL in target",
            "GET /a\0b HTTP/1.1\r\nHost: example.org\r\n\r\n",
            400,
        ),
        case(
            "DEL in target",
            "GET /a\x7fb HTTP/1.1\r\nHost: example.org\r\n\r\n",
            400,
        ),
        case(
            "TAB in target",
            "GET /a\tb HTTP/1.1\r\nHost: example.org\r\n\r\n",
            400,
        ),
        // The request line.
        case("HTTP/0.9", "GET /\r\n\r\n", 400),
        case(
            "HTTP/2.0 version",
            "GET / HTTP/2.0\r\nHost: example.org\r\n\r\n",
            400,
        ),
        case(
            "HTTP/1.2 version",
            "GET / HTTP/1.2\r\nHost: example.org\r\n\r\n",
            400,
        ),
        case(
            "lowercase version",
            "GET / http/1.1\r\nHost: example.org\r\n\r\n",
            400,
        ),
        case(
            "double space",
            "GET  / HTTP/1.1\r\nHost: example.org\r\n\r\n",
            400,
        ),
        case(
            "trailing space",
            "GET / HTTP/1.1 \r\nHost: example.org\r\n\r\n",
            400,
        ),
        case("garbage line", "GARBAGE\r\n\r\n", 400),
        case(
            "non-ASCII path",
            b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: example.org\r\n\r\n",
            400,
        ),
        case(
            "non-ASCII method",
            b"G\xc3\x89T / HTTP/1.1\r\nHost: example.org\r\n\r\n",
            400,
        ),
        case(
            "fragment",
            "GET /a#b HTTP/1.1\r\nHost: example.org\r\n\r\n",
            400,
        ),
        case(
            "absolute-form disagrees with Host",
            "GET http://other.example/ HTTP/1.1\r\nHost: example.org\r\n\r\n",
            400,
        ),
        case(
            "absolute-form with userinfo",
            "GET http://u@example.org/ HTTP/1.1\r\nHost: example.org\r\n\r\n",
            400,
        ),
        case(
            "absolute-form other scheme",
            "GET ftp://example.org/ HTTP/1.1\r\nHost: example.org\r\n\r\n",
            400,
        ),
        case(
            "asterisk-form on GET",
            "GET * HTTP/1.1\r\nHost: example.org\r\n\r\n",
            400,
        ),
        case(
            "authority-form on GET",
            "GET example.org:80 HTTP/1.1\r\nHost: example.org\r\n\r\n",
            400,
        ),
        case(
            "CONNECT",
            "CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n",
            501,
        ),
        // Host.
        case("Host missing", "GET / HTTP/1.1\r\nX: 1\r\n\r\n", 400),
        case(
            "Host repeated",
            "GET / HTTP/1.1\r\nHost: example.org\r\nHost: other.example\r\n\r\n",
            400,
        ),
        case(
            "Host with space",
            "GET / HTTP/1.1\r\nHost: example.org x\r\n\r\n",
            400,
        ),
        case(
            "Host with slash",
            "GET / HTTP/1.1\r\nHost: example.org/x\r\n\r\n",
            400,
        ),
        case(
            "Host with userinfo",
            "GET / HTTP/1.1\r\nHost: u@example.org\r\n\r\n",
            400,
        ),
        case(
            "Expect not 100-continue",
            post("Expect: magic\r\nContent-Length: 1\r\n", "x"),
            417,
        ),
        // Limits.
        case(
            "URI too long",
            format!(
                "GET /{} HTTP/1.1\r\nHost: example.org\r\n\r\n",
                "a".repeat(3000)
            ),
            414,
        ),
        case(
            "URI too long, line unfinished",
            format!("GET /{}", "a".repeat(3000)),
            414,
        ),
        case(
            "head too large",
            format!(
                "GET / HTTP/1.1\r\nHost: example.org\r\nX-Big: {}\r\n\r\n",
                "b".repeat(10_000)
            ),
            431,
        ),
        case(
            "head too large, unfinished",
            format!(
                "GET / HTTP/1.1\r\nHost: example.org\r\nX-Big: {}",
                "b".repeat(10_000)
            ),
            431,
        ),
        case(
            "too many headers",
            format!("GET / HTTP/1.1\r\nHost: example.org\r\n{many_headers}\r\n"),
            431,
        ),
        // Chunked bodies.
        case(
            "chunk size not hex",
            chunked("zz\r\nhello\r\n0\r\n\r\n"),
            400,
        ),
        case(
            "chunk size 0x",
            chunked(format!("0x0\r\n\r\n{SMUGGLED}")),
            400,
        ),
        case(
            "chunk size negative",
            chunked("-1\r\nhello\r\n0\r\n\r\n"),
            400,
        ),
        case(
            "chunk size junk after",
            chunked("5 x\r\nhello\r\n0\r\n\r\n"),
            400,
        ),
        case(
            "chunk size overflow",
            chunked("10000000000000005\r\nhello\r\n0\r\n\r\n"),
            400,
        ),
        case(
            "chunk size bare LF",
            chunked(format!("0\n\r\n{SMUGGLED}")),
            400,
        ),
        case(
            "chunk data too long",
            chunked("5\r\nhelloXX\r\n0\r\n\r\n"),
            400,
        ),
        case(
            "chunk extension bare LF",
            chunked("5;a\nb\r\nhello\r\n0\r\n\r\n"),
            400,
        ),
        case(
            "chunk extension too long",
            chunked(format!("5;{}\r\nhello\r\n0\r\n\r\n", "e".repeat(5000))),
            400,
        ),
        case(
            "chunk extensions flood",
            chunked(format!("{ext_flood}0\r\n\r\n")),
            400,
        ),
        case("trailer folded", chunked("0\r\nX: a\r\n b\r\n\r\n"), 400),
        case(
            "trailer without colon",
            chunked("0\r\nnot-a-field\r\n\r\n"),
            400,
        ),
        case("trailer NUL", chunked("0\r\nX: a\0\r\n\r\n"), 400),
        case(
            "trailers too large",
            chunked(format!("0\r\n{big_trailers}\r\n")),
            431,
        ),
    ]
}

#[test]
fn hostile_requests_are_refused_and_closed() {
    let o = Origin::start(|s| Reply::Ok(s.body.clone()));
    let (_d, h) = start(&o, "");
    let cases = hostile_requests();
    assert!(cases.len() >= 60, "{} cases", cases.len());
    for c in &cases {
        seed("request", c.name, &c.req);
        if let Some(end) = c.req.windows(4).position(|w| w == b"\r\n\r\n") {
            if c.req[..end].ends_with(b"Transfer-Encoding: chunked") {
                seed("chunked", c.name, &c.req[end + 4..]);
            }
        }
        let (got, eof) = exchange(h.http_addr, &c.req);
        assert_refused(c.name, &got, eof, c.status);
    }
    assert_eq!(
        common::counter(&h, "err_bad_request"),
        cases.len() as u64,
        "each refusal counted once"
    );
    // No request, and so no smuggled one, ever reached the backend whole.
    assert_eq!(o.count(), 0, "{:?}", o.requests());
    assert!(!o.received_text().contains("/smuggled"));
    // The worker is healthy.
    assert_eq!(client::get(h.http_addr, "example.org", "/").status, 200);
}

/// A body that looks like a request is only ever data: it is re-framed,
/// and the backend sees one request.
#[test]
fn request_in_a_body_stays_a_body() {
    let o = Origin::start(|s| Reply::Ok(s.body.clone()));
    let (_d, h) = start(&o, "");
    let mut c = Conn::open(h.http_addr);
    let body = format!("{:x};ext=1\r\n{SMUGGLED}\r\n0\r\n\r\n", SMUGGLED.len());
    c.send(&chunked(&body));
    let r = c.response(false).unwrap();
    assert_eq!((r.status, r.text()), (200, SMUGGLED.to_string()));
    c.send(&post("Content-Length: 5\r\n", "hello"));
    assert_eq!(c.response(false).unwrap().text(), "hello");
    let seen = o.requests();
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|s| s.target == "/p"));
    // Forwarded canonically: fresh chunk framing without the extension,
    // one Content-Length.
    let raw = o.received_text();
    assert!(raw.contains(&format!(
        "\r\n\r\n{:x}\r\n{SMUGGLED}\r\n0\r\n\r\n",
        SMUGGLED.len()
    )));
    assert!(!raw.contains("ext=1"));
    assert!(raw.contains("Content-Length: 5\r\n"));
}

#[test]
fn slow_head_gets_408_even_while_trickling() {
    let o = Origin::named("A");
    let (_d, h) = start(&o, "ClientReadTimeout = 1\n");
    // Stops mid-head.
    let (got, eof) = exchange(h.http_addr, b"GET / HTTP/1.1\r\nHost: exa");
    assert_refused("stalled head", &got, eof, 408);
    // Keeps sending a byte every 200 ms: the head timeout is for the whole
    // head, so trickling does not extend it (a per-read timeout would
    // never fire here, and no 408 would come within the 4 s).
    let mut s = TcpStream::connect(local(h.http_addr)).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\n").unwrap();
    let t0 = Instant::now();
    s.set_nonblocking(true).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while t0.elapsed() < Duration::from_secs(4) {
        let _ = s.write_all(b"X");
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        got.starts_with(b"HTTP/1.1 408 "),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    assert_eq!(o.count(), 0);
    assert_eq!(common::counter(&h, "err_client_timeout"), 2);
}

#[test]
fn slow_body_gets_408_and_never_reaches_backend_whole() {
    let o = Origin::start(|s| Reply::Ok(s.body.clone()));
    let c = Cluster::simple("c", &[o.addr])
        .with_conf(serde_json::json!({"ClusterBasic": {"TimeoutReadClient": 300}}));
    let (_d, h) = start_cluster(c, "");
    let (got, eof) = exchange(h.http_addr, &post("Content-Length: 10\r\n", "abc"));
    assert_refused("stalled body", &got, eof, 408);
    assert_eq!(o.count(), 0);
}

#[test]
fn client_that_stops_reading_is_dropped() {
    // A relayed response waits on the client for the cluster's
    // TimeoutWriteClient (as BFE's response phase), not the server's
    // ClientWriteTimeout, set high here.
    let big = vec![b'z'; 32 * 1024 * 1024];
    let o = Origin::start(move |_| Reply::Ok(big.clone()));
    let c = Cluster::simple("c", &[o.addr])
        .with_conf(serde_json::json!({"ClusterBasic": {"TimeoutWriteClient": 1000}}));
    let (_d, h) = start_cluster(c, "ClientWriteTimeout = 60\n");
    let mut s = TcpStream::connect(local(h.http_addr)).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n")
        .unwrap();
    // Never read: the proxy's writes stall, time out, and it lets go. (The
    // request must have arrived first, or an empty gauge proves nothing.)
    assert!(common::eventually(|| common::counter(&h, "req_total") == 1));
    let t0 = Instant::now();
    while common::counter(&h, "conn_active") > 0 {
        assert!(t0.elapsed() < Duration::from_secs(8), "still held");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(common::counter(&h, "err_client_closed") >= 1);
    assert_eq!(client::get(h.http_addr, "example.org", "/").status, 200);
}

#[test]
fn connection_limit_answers_503() {
    let o = Origin::named("A");
    let (_d, h) = start(&o, "[Ringfront]\nMaxConnsPerWorker = 2\n");
    let held: Vec<Conn> = (0..2).map(|_| Conn::open(h.http_addr)).collect();
    assert!(common::eventually(
        || common::counter(&h, "conn_active") == 2
    ));
    let (got, eof) = exchange(h.http_addr, b"");
    assert_refused("over the limit", &got, eof, 503);
    assert_eq!(common::counter(&h, "conn_refused"), 1);
    drop(held);
    assert!(common::eventually(
        || common::counter(&h, "conn_active") == 0
    ));
    assert_eq!(client::get(h.http_addr, "example.org", "/").text(), "A");
}

// Backend faults.

/// A bounded wait for a condition that settles asynchronously.
fn wait_for(what: &str, secs: u64, mut cond: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !cond() {
        assert!(t0.elapsed() < Duration::from_secs(secs), "{what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn fault_cluster(o: SocketAddr) -> Cluster {
    Cluster::simple("c", &[o]).with_conf(serde_json::json!({
        "BackendConf": {"TimeoutResponseHeader": 500},
        "GslbBasic": {"RetryMax": 0}
    }))
}

#[test]
fn backend_refusing_is_502() {
    let (_d, h) = start_cluster(Cluster::simple("c", &[refused_addr()]), "");
    assert_eq!(client::get(h.http_addr, "example.org", "/").status, 502);
}

#[test]
fn backend_reset_before_or_in_head_is_502_once() {
    let o = Origin::start(|s| match s.target.as_str() {
        "/before" => Reply::Reset(Vec::new()),
        _ => Reply::Reset(b"HTTP/1.1 200 OK\r\nContent-Le".to_vec()),
    });
    let (_d, h) = start_cluster(fault_cluster(o.addr), "");
    assert_eq!(
        client::get(h.http_addr, "example.org", "/before").status,
        502
    );
    assert_eq!(client::get(h.http_addr, "example.org", "/mid").status, 502);
    assert_eq!(o.count(), 2, "nothing re-sent");
    assert_eq!(common::counter(&h, "err_backend_broken"), 2);
}

/// A backend that sends a head and 10 of 100 body bytes, then resets
/// (`/reset`) or stalls (anything else but `/ok`).
fn breaking_origin() -> Origin {
    Origin::start(|s| {
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789".to_vec();
        match s.target.as_str() {
            "/reset" => Reply::Reset(head),
            "/ok" => Reply::text("fine"),
            _ => Reply::Stall {
                bytes: head,
                hold: Duration::from_secs(5),
            },
        }
    })
}

#[test]
fn backend_reset_or_stall_mid_buffered_body_is_502_or_504() {
    // The body fits ResponseBufferSize: the client has had nothing yet
    // when the backend breaks off, so it gets a clean answer.
    let o = breaking_origin();
    let (_d, h) = start_cluster(fault_cluster(o.addr), "");
    for (path, status) in [("/reset", 502), ("/stall", 504)] {
        let t0 = Instant::now();
        assert_eq!(client::get(h.http_addr, "example.org", path).status, status);
        assert!(t0.elapsed() < Duration::from_secs(3), "{path}");
    }
    assert_eq!(common::counter(&h, "upstream_idle"), 0);
    assert_eq!(
        client::get(h.http_addr, "example.org", "/ok").text(),
        "fine"
    );
}

#[test]
fn backend_reset_or_stall_mid_body_closes_client() {
    // Streamed (ResponseBufferSize 0): the head went out before the break.
    let o = breaking_origin();
    let mut c = fault_cluster(o.addr);
    c.conf["ClusterBasic"] = serde_json::json!({"ResponseBufferSize": 0});
    let (_d, h) = start_cluster(c, "");
    for path in ["/reset", "/stall"] {
        let t0 = Instant::now();
        let req = format!("GET {path} HTTP/1.1\r\nHost: example.org\r\n\r\n");
        let (got, eof) = exchange(h.http_addr, req.as_bytes());
        assert!(eof, "{path}: client closed");
        assert!(t0.elapsed() < Duration::from_secs(3), "{path}");
        assert!(got.starts_with(b"HTTP/1.1 200 OK\r\n"), "{path}");
        assert!(
            client::parse_response(&got).is_none(),
            "{path}: a truncated body must not look complete"
        );
    }
    wait_for("connections freed", 3, || {
        common::counter(&h, "conn_active") == 0
    });
    assert_eq!(common::counter(&h, "upstream_idle"), 0);
    assert_eq!(
        client::get(h.http_addr, "example.org", "/ok").text(),
        "fine"
    );
}

#[test]
fn backend_stalling_before_head_is_504() {
    let o = Origin::start(|_| Reply::Stall {
        bytes: Vec::new(),
        hold: Duration::from_secs(5),
    });
    let (_d, h) = start_cluster(fault_cluster(o.addr), "");
    let t0 = Instant::now();
    assert_eq!(client::get(h.http_addr, "example.org", "/").status, 504);
    assert!(t0.elapsed() < Duration::from_secs(2));
    assert_eq!(common::counter(&h, "err_backend_timeout"), 1);
}

/// A head that arrives alone waits for the first body bytes, so both reach
/// the client in one write: a body that comes later still completes the
/// response, and a backend that sends only the head is answered 502 (it
/// closed) or 504 (it stalled), not a head with a truncated body.
#[test]
fn head_arriving_alone_waits_for_its_body() {
    let head = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n".to_vec();
    let o = Origin::start(move |s| match s.target.as_str() {
        "/later" => Reply::Pieces {
            parts: vec![
                (Duration::ZERO, head.clone()),
                (Duration::from_millis(100), b"hello".to_vec()),
            ],
            close: false,
        },
        "/close" => Reply::Slow {
            bytes: head.clone(),
            wait: Duration::from_millis(50),
            rest: Vec::new(),
        },
        _ => Reply::Stall {
            bytes: head.clone(),
            hold: Duration::from_secs(5),
        },
    });
    let (_d, h) = start_cluster(fault_cluster(o.addr), "");
    assert_eq!(
        client::get(h.http_addr, "example.org", "/later").text(),
        "hello"
    );
    assert_eq!(
        client::get(h.http_addr, "example.org", "/close").status,
        502
    );
    let t0 = Instant::now();
    assert_eq!(
        client::get(h.http_addr, "example.org", "/stall").status,
        504
    );
    assert!(t0.elapsed() < Duration::from_secs(2));
    // A backend that closed is broken; one that stalled timed out.
    assert_eq!(common::counter(&h, "err_backend_broken"), 1);
    assert_eq!(common::counter(&h, "err_backend_timeout"), 1);
}

/// Bytes past a response's declared length never become the next
/// client's response, whether they arrive with the body or later.
#[test]
fn extra_response_bytes_never_reach_another_client() {
    let o = Origin::start(|s| match (s.target.as_str(), s.nth) {
        ("/same", 0) => Reply::raw("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA"),
        ("/late", 0) => Reply::Pieces {
            parts: vec![
                (
                    Duration::ZERO,
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec(),
                ),
                (
                    Duration::from_millis(100),
                    b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nPOISON".to_vec(),
                ),
            ],
            close: false,
        },
        _ => Reply::text("ok"),
    });
    let (_d, h) = start_cluster(fault_cluster(o.addr), "");
    for path in ["/same", "/late"] {
        let before = o.conn_count();
        assert_eq!(client::get(h.http_addr, "example.org", path).text(), "ok");
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(client::get(h.http_addr, "example.org", path).text(), "ok");
        assert_eq!(o.conn_count(), before + 2, "{path}: connection not reused");
    }
}

/// The backend closes its idle keep-alive connection just as ringfront
/// reuses it: a body-less request is sent again once on a fresh
/// connection; one with a body is not (it may have been acted on).
#[test]
fn keepalive_closed_on_reuse() {
    let handler = |s: &common::origin::Seen| {
        if s.nth == 0 {
            Reply::Ok(s.body.clone())
        } else {
            Reply::Close
        }
    };
    let o = Origin::start(handler);
    let (_d, h) = start_cluster(fault_cluster(o.addr), "");
    assert_eq!(client::get(h.http_addr, "example.org", "/1").status, 200);
    assert_eq!(client::get(h.http_addr, "example.org", "/2").status, 200);
    let targets: Vec<String> = o.requests().iter().map(|s| s.target.clone()).collect();
    assert_eq!(targets, ["/1", "/2", "/2"]);
    assert_eq!(o.conn_count(), 2);

    let o = Origin::start(handler);
    let (_d2, h) = start_cluster(fault_cluster(o.addr), "");
    assert_eq!(client::get(h.http_addr, "example.org", "/1").status, 200);
    let mut c = Conn::open(h.http_addr);
    c.send(&post("Content-Length: 4\r\n", "data"));
    assert_eq!(c.response(false).unwrap().status, 502);
    let posts = o.requests().iter().filter(|s| s.method == "POST").count();
    assert_eq!(posts, 1, "a request with a body is not sent twice");
}

fn hostile_responses() -> Vec<(&'static str, String)> {
    let many: String = (0..200).map(|i| format!("X-H{i}: 1\r\n")).collect();
    vec![
        ("/bare-lf", "HTTP/1.1 200 OK\nContent-Length: 2\n\nok".into()),
        (
            "/too-large",
            format!("HTTP/1.1 200 OK\r\nX-Big: {}\r\nContent-Length: 2\r\n\r\nok", "b".repeat(10_000)),
        ),
        ("/too-many", format!("HTTP/1.1 200 OK\r\n{many}Content-Length: 2\r\n\r\nok")),
        (
            "/cl-te",
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n".into(),
        ),
        ("/te-gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nok".into()),
        ("/cl-bad", "HTTP/1.1 200 OK\r\nContent-Length: 2x\r\n\r\nok".into()),
        (
            "/cl-two",
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok".into(),
        ),
        ("/status", "HTTP/1.1 20 OK\r\nContent-Length: 2\r\n\r\nok".into()),
        ("/fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 2\r\n\r\nok".into()),
        ("/nul", "HTTP/1.1 200 OK\r\nX: a\0\r\nContent-Length: 2\r\n\r\nok".into()),
        ("/garbage", "NOT HTTP AT ALL\r\n\r\n".into()),
        ("/switch", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n".into()),
        (
            "/bad-chunk",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n".into(),
        ),
    ]
}

#[test]
fn hostile_backend_responses_are_502_and_not_reused() {
    let table = hostile_responses();
    let t2 = table.clone();
    let o = Origin::start(move |s| match t2.iter().find(|(p, _)| *p == s.target) {
        Some((_, r)) => Reply::raw(r),
        None => Reply::text("fine"),
    });
    let (_d, h) = start_cluster(fault_cluster(o.addr), "");
    for (path, raw) in &table {
        seed("response", path, raw.as_bytes());
        let mut c = Conn::open(h.http_addr);
        c.send(format!("GET {path} HTTP/1.1\r\nHost: example.org\r\n\r\n").as_bytes());
        let r = c
            .response(false)
            .unwrap_or_else(|| panic!("{path}: no response"));
        assert_eq!(r.status, 502, "{path}");
        assert_eq!(r.header("connection"), Some("close"), "{path}");
        assert!(c.closed(), "{path}");
        // The broken connection was dropped: the next request opens a new
        // one and is served.
        assert_eq!(
            client::get(h.http_addr, "example.org", "/ok").text(),
            "fine"
        );
        let seen = o.requests();
        let conn_of = |p: &str| seen.iter().rev().find(|s| s.target == p).map(|s| s.conn);
        assert_ne!(
            conn_of(path),
            conn_of("/ok"),
            "{path}: broken connection reused"
        );
    }
    assert_eq!(
        common::counter(&h, "err_backend_broken"),
        table.len() as u64
    );
}

// Panicking modules.

fn probe_env() -> (
    Origin,
    Shared,
    common::conf::ConfDir,
    ringfront::server::ServerHandle,
) {
    let o = Origin::named("origin");
    let mut l = Layout::single(Cluster::simple("c", &[o.addr]));
    l.modules = vec!["mod_probe".into()];
    let d = l.write();
    let script: Shared = Arc::new(Mutex::new(Script::default()));
    let h = common::start(d.path(), Some(Probe::registry(script.clone())));
    (o, script, d, h)
}

#[test]
fn panicking_handler_costs_one_request_not_the_worker() {
    let (o, script, _d, h) = probe_env();
    let set = |p: Option<Point>| {
        let mut s = script.lock().unwrap();
        s.panics.clear();
        s.panics.extend(p);
    };
    let req = b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n";
    let mut panics = 0;
    for p in [
        Point::BeforeLocation,
        Point::FoundProduct,
        Point::AfterLocation,
        Point::Forward,
        Point::ReadResponse,
    ] {
        set(Some(p));
        let (got, eof) = exchange(h.http_addr, req);
        assert_refused(p.name(), &got, eof, 500);
        panics += 1;
        assert_eq!(common::counter(&h, "err_handler_panic"), panics, "{p:?}");
    }
    // After the response was sent: the client has it, then the close.
    set(Some(Point::RequestFinish));
    let (got, eof) = exchange(h.http_addr, req);
    let r = client::parse_response(&got).unwrap();
    assert_eq!((r.status, r.text().as_str(), eof), (200, "origin", true));
    // Before any request: the connection just closes.
    set(Some(Point::Accept));
    let (got, eof) = exchange(h.http_addr, req);
    assert!(got.is_empty() && eof);
    // When the connection ends: nothing for the client to see.
    set(Some(Point::Finish));
    assert_eq!(
        client::get(h.http_addr, "example.org", "/").text(),
        "origin"
    );
    panics += 3;
    wait_for("panics counted", 2, || {
        common::counter(&h, "err_handler_panic") == panics
    });
    // The same worker goes on serving, with nothing leaked.
    set(None);
    let mut c = Conn::open(h.http_addr);
    for _ in 0..3 {
        c.send(req);
        assert_eq!(c.response(false).unwrap().text(), "origin");
    }
    drop(c);
    wait_for("connections freed", 2, || {
        common::counter(&h, "conn_active") == 0 && common::counter(&h, "req_active") == 0
    });
    assert_eq!(common::counter(&h, "workers"), 1);
    assert!(o.count() >= 4);
}
