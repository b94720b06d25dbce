//! HTTP/2 downstream through the real server: curl over TLS (ALPN `h2`)
//! and with prior knowledge on the plain port, bodies both ways under flow
//! control, many streams on one connection, a module acting on an h2
//! request, malformed streams reset, HTTP/1.1 still chosen by ALPN, and
//! NextProtos checked as BFE checks it.
//!
//! Needs `curl` built with HTTP/2 (nghttp2), as Debian's is.

mod common;

use common::conf::{Cluster, ConfDir, Layout};
use common::origin::{Origin, Reply};
use common::tls as t;
use ringfront::server::ServerHandle;
use serde_json::json;
use std::net::SocketAddr;
use std::process::Command;

/// An origin that answers with what it received: method, target, the
/// request body's length and a few headers.
fn echo() -> Origin {
    Origin::start(|s| {
        if let Some(n) = s.target.strip_prefix("/big/") {
            let n: usize = n.parse().unwrap_or(0);
            let body: String = (0..n).map(|i| (b'a' + (i % 26) as u8) as char).collect();
            return Reply::text(&body);
        }
        Reply::text(&format!(
            "{} {} len={} host={} te={} cookie={}",
            s.method,
            s.target,
            s.body.len(),
            s.header("host").unwrap_or("-"),
            s.header("transfer-encoding").unwrap_or("-"),
            s.header("cookie").unwrap_or("-"),
        ))
    })
}

/// The test TLS files with `DefaultNextProtos` replaced.
fn write_tls(d: &ConfDir, default_protos: serde_json::Value) {
    t::write_files(d);
    d.write_json(
        "tls_conf/tls_rule_conf.data",
        &json!({"Version": "t", "DefaultNextProtos": default_protos, "Config": {
            "p": {"SniConf": ["alias.test"], "CertName": "other.test", "NextProtos": ["http/1.1"], "Grade": "C", "ClientAuth": false, "ClientCAName": ""}
        }}),
    );
    d.write("ca.crt", t::CA);
}

fn start(origin: &Origin, protos: serde_json::Value, modules: &[&str]) -> (ConfDir, ServerHandle) {
    let mut l = Layout::single(Cluster::simple("c", &[origin.addr]));
    l.server_extra.push_str("HttpsPort = 0\n");
    l.modules = modules.iter().map(|m| m.to_string()).collect();
    let d = l.write();
    write_tls(&d, protos);
    d.write(
        "mod_header/mod_header.conf",
        "[Basic]\nDataPath = mod_header/header_rule.data\n",
    );
    d.write_json(
        "mod_header/header_rule.data",
        &json!({"Version": "t", "Config": {"p": [
            {"cond": "default_t()", "actions": [
                {"cmd": "REQ_HEADER_SET", "params": ["cookie", "from=module"]},
                {"cmd": "RSP_HEADER_SET", "params": ["X-Proxied-By", "ringfront %bfe_request_host"]}
            ], "last": true}
        ]}}),
    );
    let h = common::start(d.path(), None);
    (d, h)
}

const H2_DEFAULT: &str = "h2;level=0;mcs=100;isw=65535;rate=100";

/// Run curl; returns (stdout, the `-w` line). Panics with a clear message
/// when curl is missing or cannot speak HTTP/2.
fn curl(args: &[&str]) -> (Vec<u8>, String) {
    curl_in(args, std::process::Stdio::null())
}

/// [`curl`] with `stdin` as its standard input (for `-T -`).
fn curl_in(args: &[&str], stdin: std::process::Stdio) -> (Vec<u8>, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20"])
        .args(args)
        .stdin(stdin)
        .output()
        .expect("curl is needed for the HTTP/2 tests (apt-get install -y curl)");
    let stdout = out.stdout;
    let marker = b"\n@@";
    let at = stdout
        .windows(marker.len())
        .rposition(|w| w == marker)
        .unwrap_or_else(|| {
            panic!(
                "curl {args:?} failed: {}\n{}",
                String::from_utf8_lossy(&out.stderr),
                String::from_utf8_lossy(&stdout)
            )
        });
    let info = String::from_utf8_lossy(&stdout[at + marker.len()..])
        .trim()
        .to_string();
    (stdout[..at].to_vec(), info)
}

const W: &str = "\n@@%{http_code} %{http_version}";

fn h2c_url(h: &ServerHandle, path: &str) -> String {
    format!("http://127.0.0.1:{}{path}", h.http_addr.port())
}

fn resolve(addr: SocketAddr) -> String {
    format!("example.org:{}:127.0.0.1", addr.port())
}

fn https_url(addr: SocketAddr, path: &str) -> String {
    format!("https://example.org:{}{path}", addr.port())
}

#[test]
fn h2c_prior_knowledge_get_and_bodies_both_ways() {
    let origin = echo();
    let (_d, h) = start(&origin, json!(["http/1.1"]), &[]);
    let url = h2c_url(&h, "/a?b=1");
    let (body, info) = curl(&[
        "--http2-prior-knowledge",
        "-H",
        "Host: example.org",
        "-b",
        "x=1; y=2",
        &url,
        "-w",
        W,
    ]);
    assert_eq!(info, "200 2");
    assert_eq!(
        String::from_utf8_lossy(&body),
        "GET /a?b=1 len=0 host=example.org te=- cookie=x=1; y=2"
    );
    // A request body of unknown length (upload from stdin, no
    // content-length) reaches the backend whole and chunked.
    let dir = tempdir_file(300_000);
    let (body, info) = curl_in(
        &[
            "--http2-prior-knowledge",
            "-H",
            "Host: example.org",
            "-T",
            "-",
            &h2c_url(&h, "/up"),
            "-w",
            W,
        ],
        std::fs::File::open(&dir).expect("upload file").into(),
    );
    assert_eq!(info, "200 2");
    assert_eq!(
        String::from_utf8_lossy(&body),
        "PUT /up len=300000 host=example.org te=chunked cookie=-"
    );
    let seen = origin.requests();
    let up = seen.last().expect("upload forwarded");
    assert_eq!(up.body.len(), 300_000);
    assert!(up
        .body
        .iter()
        .enumerate()
        .all(|(i, &b)| b == (i % 251) as u8));
    // With a content-length, the body goes through as it came.
    let (body, info) = curl(&[
        "--http2-prior-knowledge",
        "-H",
        "Host: example.org",
        "--data-binary",
        &format!("@{dir}"),
        &h2c_url(&h, "/post"),
        "-w",
        W,
    ]);
    assert_eq!(info, "200 2");
    assert_eq!(
        String::from_utf8_lossy(&body),
        "POST /post len=300000 host=example.org te=- cookie=-"
    );
    let seen = origin.requests();
    let post = seen.last().expect("post forwarded");
    assert_eq!(post.header("content-length"), Some("300000"));
    assert_eq!(post.header("transfer-encoding"), None);
    // HEAD: the length of what GET would send, no body.
    let (head, info) = curl(&[
        "--http2-prior-knowledge",
        "-H",
        "Host: example.org",
        "-I",
        &h2c_url(&h, "/big/1234"),
        "-w",
        W,
    ]);
    assert_eq!(info, "200 2");
    let head = String::from_utf8_lossy(&head);
    assert!(head.contains("content-length: 1234\r\n"), "{head}");
    // A 5 MB response body crosses many flow-control windows intact.
    let (body, info) = curl(&[
        "--http2-prior-knowledge",
        "-H",
        "Host: example.org",
        &h2c_url(&h, "/big/5000000"),
        "-w",
        W,
    ]);
    assert_eq!(info, "200 2");
    assert_eq!(body.len(), 5_000_000);
    assert!(body
        .iter()
        .enumerate()
        .all(|(i, &b)| b == b'a' + (i % 26) as u8));
    assert!(common::counter(&h, "h2_conns") >= 3);
    // HTTP/1.1 on the same port is untouched.
    let (body, info) = curl(&["-H", "Host: example.org", &h2c_url(&h, "/h1"), "-w", W]);
    assert_eq!(info, "200 1.1");
    assert!(String::from_utf8_lossy(&body).starts_with("GET /h1 "));
}

/// A file of `n` bytes with a known pattern, for uploads.
fn tempdir_file(n: usize) -> String {
    let path = std::env::temp_dir().join(format!("ringfront-h2-up-{}-{n}", std::process::id()));
    let data: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
    std::fs::write(&path, data).expect("temp file");
    path.to_string_lossy().into_owned()
}

#[test]
fn tls_alpn_offers_h2_from_next_protos_and_keeps_http11() {
    let origin = echo();
    let (d, h) = start(&origin, json!([H2_DEFAULT, "http/1.1"]), &["mod_header"]);
    let addr = h.https_addr.expect("HTTPS listener");
    let ca = d.path().join("ca.crt");
    let ca = ca.to_string_lossy();
    let r = resolve(addr);
    // h2 by ALPN; mod_header acts on the h2 request and response.
    let (body, info) = curl(&[
        "--http2",
        "--cacert",
        &ca,
        "--resolve",
        &r,
        "-D",
        "-",
        &https_url(addr, "/tls"),
        "-w",
        W,
    ]);
    assert_eq!(info, "200 2");
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.contains(&format!(
            "x-proxied-by: ringfront example.org:{}\r\n",
            addr.port()
        )),
        "{text}"
    );
    assert!(
        text.contains("\r\n\r\nGET /tls len=0 host=example.org:"),
        "{text}"
    );
    assert!(text.ends_with(" te=- cookie=from=module"), "{text}");
    // Bodies both ways over TLS: 3 MB down, 1 MB up (unknown length).
    let (body, info) = curl(&[
        "--http2",
        "--cacert",
        &ca,
        "--resolve",
        &r,
        &https_url(addr, "/big/3000000"),
        "-w",
        W,
    ]);
    assert_eq!(info, "200 2");
    assert_eq!(body.len(), 3_000_000);
    assert!(body
        .iter()
        .enumerate()
        .all(|(i, &b)| b == b'a' + (i % 26) as u8));
    let up = tempdir_file(1_000_000);
    let (body, info) = curl_in(
        &[
            "--http2",
            "--cacert",
            &ca,
            "--resolve",
            &r,
            "-T",
            "-",
            &https_url(addr, "/up"),
            "-w",
            W,
        ],
        std::fs::File::open(&up).expect("upload file").into(),
    );
    assert_eq!(info, "200 2");
    assert!(
        String::from_utf8_lossy(&body).starts_with("PUT /up len=1000000 "),
        "{}",
        String::from_utf8_lossy(&body)
    );
    // A client that asks for HTTP/1.1 gets it from the same rule.
    let (body, info) = curl(&[
        "--http1.1",
        "--cacert",
        &ca,
        "--resolve",
        &r,
        &https_url(addr, "/one"),
        "-w",
        W,
    ]);
    assert_eq!(info, "200 1.1");
    assert!(String::from_utf8_lossy(&body).starts_with("GET /one "));
    // alias.test's rule offers only http/1.1.
    let (_, info) = curl(&[
        "--http2",
        "-k",
        "--resolve",
        &format!("alias.test:{}:127.0.0.1", addr.port()),
        &format!("https://alias.test:{}/", addr.port()),
        "-w",
        W,
    ]);
    assert_eq!(info, "200 1.1");
}

/// BFE's sample (and ringfront's default conf): the rule's SniConf is the
/// certificate's own name, and its NextProtos offer h2 while
/// DefaultNextProtos offers only http/1.1. The rule decides.
#[test]
fn a_rule_naming_the_certificates_own_name_offers_its_protocols() {
    let origin = echo();
    let (d, h) = start(&origin, json!(["http/1.1"]), &[]);
    d.write_json(
        "tls_conf/tls_rule_conf.data",
        &json!({"Version": "t2", "DefaultNextProtos": ["http/1.1"], "Config": {
            "p": {"SniConf": ["example.org"], "CertName": "example.org",
                  "NextProtos": [H2_DEFAULT, "http/1.1"], "Grade": "C",
                  "ClientAuth": false, "ClientCAName": ""}
        }}),
    );
    let rep = common::reload(&h, "tls_conf");
    assert!(rep["error"].is_null(), "{rep}");
    let addr = h.https_addr.expect("HTTPS listener");
    let ca = d.path().join("ca.crt");
    let (_, info) = curl(&[
        "--http2",
        "--cacert",
        &ca.to_string_lossy(),
        "--resolve",
        &resolve(addr),
        &https_url(addr, "/rule"),
        "-w",
        W,
    ]);
    assert_eq!(info, "200 2");
}

#[test]
fn many_concurrent_streams_share_one_connection() {
    let origin = echo();
    let (_d, h) = start(&origin, json!(["http/1.1"]), &[]);
    let before = common::counter(&h, "h2_conns");
    // 300 requests, 100 streams at a time, on one connection.
    let out = Command::new("h2load")
        .args(["-n", "300", "-c", "1", "-m", "100"])
        .args(["-H", ":authority: example.org"])
        .arg(h2c_url(&h, "/many"))
        .output()
        .expect("h2load is needed (apt-get install -y nghttp2-client)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("requests: 300 total, 300 started, 300 done, 300 succeeded"),
        "{text}"
    );
    assert!(text.contains("status codes: 300 2xx"), "{text}");
    assert_eq!(origin.count(), 300);
    assert_eq!(common::counter(&h, "h2_conns") - before, 1);
    assert_eq!(common::counter(&h, "req_total"), 300);
}

/// A raw HTTP/2 client (the `h2` crate's, over monoio poll IO) for what
/// curl will not send.
mod raw {
    use monoio::io::IntoPollIo;
    use std::net::SocketAddr;

    /// Run `f` to its end on a fresh single-threaded runtime (epoll, so
    /// the tests do not depend on io_uring being allowed).
    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    /// A TCP connection to `addr` on readiness IO, as `h2` wants it.
    async fn connect(addr: SocketAddr) -> monoio::net::tcp::stream_poll::TcpStreamPoll {
        monoio::net::TcpStream::connect(addr)
            .await
            .expect("connect")
            .into_poll_io()
            .expect("poll io")
    }

    /// Send `req` on a fresh h2c connection; the status, or the reset
    /// reason the stream ended with.
    pub fn send(addr: SocketAddr, req: http::Request<()>) -> Result<u16, h2::Reason> {
        block_on(async move {
            let io = connect(addr).await;
            let (mut client, conn) = h2::client::handshake(io).await.expect("h2 handshake");
            monoio::spawn(async move {
                let _ = conn.await;
            });
            let (resp, _) = client.send_request(req, true).expect("send");
            match resp.await {
                Ok(r) => Ok(r.status().as_u16()),
                Err(e) => Err(e.reason().expect("a reset reason")),
            }
        })
    }

    /// On one HTTP/2-over-TLS connection, `n` times in turn: open a GET
    /// stream, give the server `settle` to take it, then reset it (CANCEL).
    /// How many of the streams the server refused (REFUSED_STREAM) before
    /// the client's reset.
    pub fn open_and_cancel_tls(addr: SocketAddr, n: usize, settle: std::time::Duration) -> usize {
        block_on(async move {
            let mut conf = (*super::t::verified_config()).clone();
            conf.alpn_protocols = vec![b"h2".to_vec()];
            let name = rustls::pki_types::ServerName::try_from("example.org").expect("name");
            let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(conf))
                .connect(name, connect(addr).await)
                .await
                .expect("TLS handshake");
            let (client, conn) = h2::client::handshake(tls).await.expect("h2 handshake");
            monoio::spawn(async move {
                let _ = conn.await;
            });
            let mut refused = 0;
            let mut client = client;
            for i in 0..n {
                client = client.ready().await.expect("ready");
                let req = http::Request::get(format!("https://example.org/slow/{i}"))
                    .body(())
                    .expect("req");
                let (resp, mut send) = client.send_request(req, true).expect("send");
                let resp = monoio::spawn(resp);
                monoio::time::sleep(settle).await;
                send.send_reset(h2::Reason::CANCEL);
                if let Err(e) = resp.await {
                    if e.reason() == Some(h2::Reason::REFUSED_STREAM) {
                        refused += 1;
                    }
                }
            }
            refused
        })
    }

    /// One request on an h2c connection, then nothing: how long until the
    /// server ended the connection, and with which GOAWAY reason (`None`
    /// for a clean close). Gives up after 10 s.
    pub fn idle_end(addr: SocketAddr) -> (std::time::Duration, Option<h2::Reason>) {
        block_on(async move {
            let io = connect(addr).await;
            let (client, conn) = h2::client::handshake(io).await.expect("h2 handshake");
            let conn = monoio::spawn(conn);
            let mut client = client.ready().await.expect("ready");
            let req = http::Request::get("http://example.org/idle")
                .body(())
                .expect("req");
            let (resp, _) = client.send_request(req, true).expect("send");
            assert_eq!(resp.await.expect("response").status(), 200);
            let start = std::time::Instant::now();
            let end = monoio::time::timeout(std::time::Duration::from_secs(10), conn).await;
            let reason = match end {
                Ok(Ok(())) => None,
                Ok(Err(e)) => e.reason(),
                Err(_) => Some(h2::Reason::INTERNAL_ERROR),
            };
            drop(client);
            (start.elapsed(), reason)
        })
    }

    /// Open `n` streams on one h2c connection and reset each at once
    /// (the "rapid reset" attack). How the connection ended: `Ok` if it
    /// stayed open to the end, else the GOAWAY reason; and how many
    /// streams were opened before it ended (`None`: closed under it).
    pub fn rapid_reset(addr: SocketAddr, n: usize) -> (Result<(), Option<h2::Reason>>, usize) {
        block_on(async move {
            let io = connect(addr).await;
            let (client, conn) = h2::client::handshake(io).await.expect("h2 handshake");
            let conn = monoio::spawn(conn);
            let mut opened = 0;
            let mut next = Some(client);
            for _ in 0..n {
                let Some(c) = next.take() else { break };
                let Ok(mut client) = c.ready().await else {
                    break;
                };
                let req = http::Request::post("http://example.org/flood")
                    .body(())
                    .expect("req");
                match client.send_request(req, false) {
                    Ok((_, mut send)) => {
                        opened += 1;
                        send.send_reset(h2::Reason::CANCEL);
                    }
                    Err(_) => break,
                }
                if opened % 50 == 0 {
                    monoio::time::sleep(std::time::Duration::from_millis(1)).await;
                }
                next = Some(client);
            }
            drop(next);
            let end = monoio::time::timeout(std::time::Duration::from_secs(5), conn).await;
            let end = match end {
                Ok(Ok(())) => Ok(()),
                // GOAWAY, or the socket closed under it before the client
                // read the GOAWAY (then no reason).
                Ok(Err(e)) => Err(e.reason()),
                Err(_) => Ok(()),
            };
            (end, opened)
        })
    }
}

#[test]
fn malformed_streams_are_reset_with_protocol_error() {
    let origin = echo();
    let (_d, h) = start(&origin, json!(["http/1.1"]), &[]);
    let addr = h.http_addr;
    let uri = "http://example.org/m";
    let ok = http::Request::get(uri).body(()).expect("req");
    assert_eq!(raw::send(addr, ok), Ok(200));
    let bad = [
        http::Request::get(uri)
            .header("host", "other.example")
            .body(()),
        http::Request::get(uri).header("x-a", " lead").body(()),
        http::Request::get(uri).header("x-a", "trail\t").body(()),
    ];
    let before = common::counter(&h, "h2_malformed");
    for b in bad {
        let b = b.expect("req");
        let what = format!("{:?}", b.headers());
        assert_eq!(
            raw::send(addr, b),
            Err(h2::Reason::PROTOCOL_ERROR),
            "{what}"
        );
    }
    assert_eq!(common::counter(&h, "h2_malformed") - before, 3);
    // A content-length the stream does not carry: h2 itself resets it.
    let short = http::Request::post(uri)
        .header("content-length", "5")
        .body(())
        .expect("req");
    assert_eq!(raw::send(addr, short), Err(h2::Reason::PROTOCOL_ERROR));
    assert_eq!(origin.count(), 1, "nothing malformed was forwarded");
}

#[test]
fn rapid_reset_floods_end_the_connection() {
    let origin = echo();
    let (_d, h) = start(&origin, json!(["http/1.1"]), &[]);
    let before = common::counter(&h, "h2_conn_errors");
    let (end, opened) = raw::rapid_reset(h.http_addr, 5000);
    assert!(
        matches!(end, Err(None | Some(h2::Reason::ENHANCE_YOUR_CALM))),
        "{end:?} after {opened} streams"
    );
    assert!(opened < 5000, "{opened}");
    assert!(common::counter(&h, "h2_conn_errors") > before);
    // The worker is fine: the next connection is served.
    let ok = http::Request::get("http://example.org/after")
        .body(())
        .expect("req");
    assert_eq!(raw::send(h.http_addr, ok), Ok(200));
}

/// Streams the client resets keep their tasks until the backend answers;
/// a connection may run twice its `mcs` of them, and new streams past that
/// are refused, so opening and resetting streams cannot keep more backend
/// requests in flight than that.
#[test]
fn reset_streams_cannot_pile_up_backend_requests() {
    let origin = Origin::start(|seen| {
        if seen.target.starts_with("/slow/") {
            Reply::Delay(
                std::time::Duration::from_secs(3),
                Box::new(Reply::text("late")),
            )
        } else {
            Reply::text("ok")
        }
    });
    let (_d, h) = start(&origin, json!(["h2;mcs=2", "http/1.1"]), &[]);
    let addr = h.https_addr.expect("https");
    let refused = raw::open_and_cancel_tls(addr, 10, std::time::Duration::from_millis(100));
    // mcs=2: four stream tasks may run; the other six were refused and
    // never reached the backend.
    assert_eq!(refused, 6);
    assert_eq!(common::counter(&h, "h2_refused_streams"), 6);
    assert_eq!(origin.count(), 4, "{:?}", origin.requests());
}

#[test]
fn idle_and_silent_connections_are_closed_after_client_read_timeout() {
    let origin = echo();
    let mut l = Layout::single(Cluster::simple("c", &[origin.addr]));
    l.server_extra.push_str("ClientReadTimeout = 1\n");
    let d = l.write();
    let h = common::start(d.path(), None);
    // Idle after a request: GOAWAY (NO_ERROR) and close.
    let (after, reason) = raw::idle_end(h.http_addr);
    assert!(
        matches!(reason, None | Some(h2::Reason::NO_ERROR)),
        "{reason:?}"
    );
    assert!(after < std::time::Duration::from_secs(4), "{after:?}");
    // The preface, then nothing: closed just the same.
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(h.http_addr).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .expect("timeout");
    s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .expect("preface");
    let start = std::time::Instant::now();
    let mut buf = [0u8; 1024];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
    }
    assert!(start.elapsed() < std::time::Duration::from_secs(4));
    // Half a preface: the connection is dropped all the same, counted.
    let before = common::counter(&h, "err_client_timeout");
    let mut s = std::net::TcpStream::connect(h.http_addr).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .expect("timeout");
    s.set_read_timeout(Some(std::time::Duration::from_secs(8)))
        .expect("timeout");
    s.write_all(b"PRI * HTTP/2.0\r\n").expect("half a preface");
    let start = std::time::Instant::now();
    let mut got = Vec::new();
    assert!(
        s.read_to_end(&mut got).is_ok(),
        "still open after {:?}",
        start.elapsed()
    );
    // ClientReadTimeout idle, then GracefulShutdownTimeout for the GOAWAY.
    assert!(start.elapsed() < std::time::Duration::from_secs(6));
    assert!(common::eventually(|| common::counter(
        &h,
        "err_client_timeout"
    ) > before));
}

#[test]
fn next_protos_parameters_are_checked_as_bfe_checks_them() {
    let origin = echo();
    let bad = [
        (json!(["h2;mcs=0", "http/1.1"]), "out of range"),
        (json!(["h2;isw=1000", "http/1.1"]), "out of range"),
        (json!(["h2;level=3", "http/1.1"]), "out of range"),
        (json!(["h2;rate=101", "http/1.1"]), "out of range"),
        (json!(["h2;foo=1", "http/1.1"]), "unknown parameter"),
        (json!(["h2;mcs=1&mcs=2", "http/1.1"]), "twice"),
        (
            json!(["h2;level=1;rate=50", "http/1.1"]),
            "rate must be 100",
        ),
        (json!(["h2", "http/1.1;rate=50"]), "rate for http/1.1"),
        (json!(["h2;pp=1", "http/1.1"]), "pp is only"),
        (json!(["h2", "h2;mcs=3", "http/1.1"]), "twice"),
        (json!(["h2"]), "must contain http/1.1"),
        (json!(["h2;level=2", "http/1.1"]), "only one"),
    ];
    for (item, why) in bad {
        let mut l = Layout::single(Cluster::simple("c", &[origin.addr]));
        l.server_extra.push_str("HttpsPort = 0\n");
        let d = l.write();
        write_tls(&d, item.clone());
        let opts = ringfront::server::ServerOptions::new(d.path());
        let err = match ringfront::server::start(opts) {
            Ok(_) => panic!("{item} accepted"),
            Err(e) => e,
        };
        assert!(
            err.contains("DefaultNextProtos") && err.contains(why),
            "{item}: {err}"
        );
    }
}

#[test]
fn reload_switch_rate_and_level_decide_what_alpn_offers() {
    let origin = echo();
    let (d, h) = start(&origin, json!([H2_DEFAULT, "http/1.1"]), &[]);
    let addr = h.https_addr.expect("HTTPS listener");
    let ca = d.path().join("ca.crt");
    let ca = ca.to_string_lossy().into_owned();
    let r = resolve(addr);
    let version = || {
        let (_, info) = curl(&[
            "--http2",
            "--cacert",
            &ca,
            "--resolve",
            &r,
            &https_url(addr, "/"),
            "-w",
            W,
        ]);
        info
    };
    assert_eq!(version(), "200 2");
    assert_eq!(
        common::reload(&h, "tls_conf?enable=-h2"),
        json!({"error": null})
    );
    assert_eq!(version(), "200 1.1");
    // The switch stays across other reloads.
    assert_eq!(
        common::reload(&h, "server_data_conf"),
        json!({"error": null})
    );
    assert_eq!(version(), "200 1.1");
    assert_eq!(
        common::reload(&h, "tls_conf?enable=%2Bh2"),
        json!({"error": null})
    );
    assert_eq!(version(), "200 2");
    // level=1 is never switched off.
    write_tls(&d, json!(["h2;level=1", "http/1.1"]));
    assert_eq!(
        common::reload(&h, "tls_conf?enable=-h2"),
        json!({"error": null})
    );
    assert_eq!(version(), "200 2");
}

#[test]
fn goaway_on_shutdown_lets_open_streams_finish() {
    let origin = Origin::start(|s| {
        if s.target == "/slow" {
            std::thread::sleep(std::time::Duration::from_millis(700));
        }
        Reply::text("done")
    });
    let (_d, h) = start(&origin, json!(["http/1.1"]), &[]);
    let child = Command::new("nghttp")
        .args(["-v", "-H", ":authority: example.org"])
        .arg(h2c_url(&h, "/slow"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("nghttp is needed (apt-get install -y nghttp2-client)");
    assert!(common::eventually(|| origin.count() == 1));
    let stopping = std::thread::spawn(move || h.shutdown());
    let out = child.wait_with_output().expect("nghttp output");
    stopping.join().expect("shutdown");
    let text = String::from_utf8_lossy(&out.stdout);
    // GOAWAY while the stream is open, then the stream's answer.
    let goaway = text.find("recv GOAWAY frame").expect("GOAWAY");
    let answer = text.find("done").expect("the answer");
    assert!(goaway < answer, "{text}");
    assert!(text.contains("error_code=NO_ERROR"), "{text}");
    assert!(text.contains(":status: 200"), "{text}");
}

#[test]
fn callbacks_run_once_per_connection_and_once_per_stream() {
    use common::probe::{Probe, Script, Shared};
    use ringfront::module::{Point, Ret};
    use std::sync::{Arc, Mutex};
    let origin = echo();
    let mut l = Layout::single(Cluster::simple("c", &[origin.addr]));
    l.server_extra.push_str("HttpsPort = 0\n");
    l.modules = vec!["mod_probe".into()];
    let d = l.write();
    write_tls(&d, json!([H2_DEFAULT, "http/1.1"]));
    let script: Shared = Arc::new(Mutex::new(Script::default()));
    let h = common::start(d.path(), Some(Probe::registry(script.clone())));
    let addr = h.https_addr.expect("HTTPS listener");
    // 20 requests, 10 streams at a time, on one TLS connection (h2 by ALPN).
    let out = Command::new("h2load")
        .args(["-n", "20", "-c", "1", "-m", "10"])
        .args(["-H", ":authority: example.org"])
        .arg(format!("https://127.0.0.1:{}/p", addr.port()))
        .output()
        .expect("h2load is needed (apt-get install -y nghttp2-client)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Application protocol: h2"), "{text}");
    assert!(text.contains("20 succeeded"), "{text}");
    assert!(common::eventually(|| script
        .lock()
        .unwrap()
        .seen
        .iter()
        .any(|s| s.2 == Point::Finish)));
    let seen = script.lock().unwrap().seen.clone();
    let count = |p: Point| seen.iter().filter(|s| s.2 == p).count();
    assert_eq!(count(Point::Accept), 1);
    assert_eq!(count(Point::Handshake), 1);
    for p in [
        Point::BeforeLocation,
        Point::FoundProduct,
        Point::AfterLocation,
        Point::Forward,
        Point::ReadResponse,
        Point::RequestFinish,
    ] {
        assert_eq!(count(p), 20, "{}", p.name());
    }
    assert_eq!(count(Point::Finish), 1);
    // One session; HandleFinish last.
    assert!(seen.iter().all(|s| s.0 == seen[0].0));
    assert_eq!(seen.last().map(|s| s.2), Some(Point::Finish));
    // A handler that closes at HandleBeforeLocation resets that stream
    // only; the connection serves the next stream.
    script
        .lock()
        .unwrap()
        .returns
        .insert(Point::BeforeLocation, Ret::Close);
    let url = format!("https://example.org:{}/x", addr.port());
    let ca = d.path().join("ca.crt");
    let out = Command::new("curl")
        .args(["-sS", "--http2", "--cacert"])
        .arg(&ca)
        .args(["--resolve", &resolve(addr), &url, &url])
        .output()
        .expect("curl");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("(92)").count(), 2, "{err}");
    let accepts = script
        .lock()
        .unwrap()
        .seen
        .iter()
        .filter(|s| s.2 == Point::Accept)
        .count();
    assert_eq!(accepts, 2, "curl's two streams shared one connection");
    assert_eq!(origin.count(), 20);
}
