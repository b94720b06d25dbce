//! The HTTPS listener through the real server: requests over TLS, the
//! certificate chosen by SNI, large bodies both ways, handshake failures
//! and timeouts, TLS configuration errors and reloads.

mod common;

use common::client;
use common::conf::{Cluster, ConfDir, Layout};
use common::origin::{Origin, Reply};
use common::tls::{self as t, cert};
use ringfront::server::ServerHandle;
use std::io::Read;
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn tls_layout(origin: &Origin) -> Layout {
    let mut l = Layout::single(Cluster::simple("c", &[origin.addr]));
    l.server_extra
        .push_str("HttpsPort = 0\nTlsHandshakeTimeout = 1\n");
    l
}

fn start(l: &Layout) -> (ConfDir, ServerHandle) {
    let d = l.write();
    t::write_files(&d);
    let h = common::start(d.path(), None);
    (d, h)
}

fn https(h: &ServerHandle) -> std::net::SocketAddr {
    h.https_addr.expect("HTTPS listener")
}

#[test]
fn requests_over_tls_are_proxied_with_keep_alive() {
    let origin = Origin::start(|s| Reply::text(&format!("hello {}", s.target)));
    let (_d, h) = start(&tls_layout(&origin));
    let mut c = t::connect_verified(https(&h), "example.org").expect("handshake");
    let raw = t::exchange(
        &mut c,
        b"GET /one HTTP/1.1\r\nHost: example.org\r\n\r\nGET /two HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n",
    );
    let all = client::parse_all(&raw);
    assert_eq!(all.len(), 2, "{}", String::from_utf8_lossy(&raw));
    assert_eq!(all[0].status, 200);
    assert_eq!(all[0].text(), "hello /one");
    assert_eq!(all[1].text(), "hello /two");
    let seen = origin.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].header("x-forwarded-for"), Some("127.0.0.1"));
    // Plain HTTP still works beside it.
    assert_eq!(client::get(h.http_addr, "example.org", "/p").status, 200);
}

#[test]
fn server_name_chooses_the_certificate() {
    let origin = Origin::named("o");
    let (_d, h) = start(&tls_layout(&origin));
    let example = cert(t::EXAMPLE_CRT);
    let other = cert(t::OTHER_CRT);
    // Real verification against the test CA, by name.
    let c = t::connect_verified(https(&h), "other.test").expect("other.test");
    assert_eq!(t::presented(&c), other);
    let c = t::connect_verified(https(&h), "example.org").expect("example.org");
    assert_eq!(t::presented(&c), example);
    // Names are case-insensitive.
    let c = t::connect_any(https(&h), Some("OTHER.test")).expect("handshake");
    assert_eq!(t::presented(&c), other);
    // tls_rule_conf's SniConf maps alias.test to the other.test certificate.
    let c = t::connect_any(https(&h), Some("alias.test")).expect("handshake");
    assert_eq!(t::presented(&c), other);
    // Unknown names and no SNI at all get Config.Default.
    let c = t::connect_any(https(&h), Some("unknown.test")).expect("handshake");
    assert_eq!(t::presented(&c), example);
    let c = t::connect_any(https(&h), None).expect("handshake");
    assert_eq!(t::presented(&c), example);
    // A client that checks the name refuses the default for another name.
    assert!(t::connect_verified(https(&h), "unknown.test").is_err());
}

#[test]
fn large_bodies_stream_both_ways_over_tls() {
    let big: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
    let reply = big.clone();
    let origin = Origin::start(move |_| Reply::Ok(reply.clone()));
    let (_d, h) = start(&tls_layout(&origin));
    let upload: Vec<u8> = (0..300_000u32).map(|i| (i % 13) as u8 + b'a').collect();
    let mut req = format!(
        "POST /up HTTP/1.1\r\nHost: example.org\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        upload.len()
    )
    .into_bytes();
    req.extend_from_slice(&upload);
    let mut c = t::connect_verified(https(&h), "example.org").expect("handshake");
    let raw = t::exchange(&mut c, &req);
    let r = client::parse_response(&raw).expect("response");
    assert_eq!(r.status, 200);
    assert!(
        r.body == big,
        "response body differs ({} bytes)",
        r.body.len()
    );
    assert!(origin.requests()[0].body == upload, "request body differs");
}

#[test]
fn plain_http_on_the_tls_port_is_closed_and_counted() {
    let origin = Origin::named("o");
    let (_d, h) = start(&tls_layout(&origin));
    let raw = client::raw(
        https(&h),
        b"GET / HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n",
    );
    assert!(!raw.starts_with(b"HTTP/"), "no HTTP answer on the TLS port");
    assert!(common::eventually(|| common::counter(
        &h,
        "err_tls_handshake"
    ) == 1));
    assert_eq!(origin.count(), 0);
    // The listener is still healthy.
    let mut c = t::connect_verified(https(&h), "example.org").expect("handshake");
    let raw = t::exchange(
        &mut c,
        b"GET / HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(client::parse_response(&raw).expect("response").status, 200);
}

#[test]
fn silent_client_is_closed_after_the_handshake_timeout() {
    let origin = Origin::named("o");
    let (_d, h) = start(&tls_layout(&origin));
    let mut s = TcpStream::connect(client::local(https(&h))).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 64];
    // EOF (or reset), not the 10 s read timeout: TlsHandshakeTimeout is 1 s.
    match s.read(&mut buf) {
        Ok(0) => {}
        Ok(n) => panic!("unexpected {n} bytes"),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
    }
    assert!(started.elapsed() < Duration::from_secs(8));
    assert!(common::eventually(|| common::counter(
        &h,
        "err_tls_handshake"
    ) == 1));
}

#[test]
fn broken_tls_files_are_load_errors_naming_file_and_key() {
    let origin = Origin::named("o");
    let l = tls_layout(&origin);
    let d = l.write();
    t::write_files(&d);
    // A key that belongs to another certificate, and a missing file.
    d.write("tls_conf/example.org.key", t::OTHER_KEY);
    std::fs::remove_file(d.path().join("tls_conf/other.test.crt")).unwrap();
    let err = ringfront::server::start(ringfront::server::ServerOptions::new(d.path()))
        .err()
        .expect("start must fail");
    assert!(
        err.contains("tls_conf/server_cert_conf.data: Config.CertConf.other.test.ServerCertFile"),
        "{err}"
    );
    assert!(err.contains("tls_conf/other.test.crt"), "{err}");
    // Fix the missing file: the mismatched key is reported on its own.
    d.write("tls_conf/other.test.crt", t::OTHER_CRT);
    let err = ringfront::server::start(ringfront::server::ServerOptions::new(d.path()))
        .err()
        .expect("start must fail");
    assert!(
        err.contains("tls_conf/server_cert_conf.data: Config.CertConf.example.org"),
        "{err}"
    );
}

#[test]
fn reload_tls_conf_swaps_certificates_and_rejects_bad_ones() {
    let origin = Origin::named("o");
    let (d, h) = start(&tls_layout(&origin));
    let no_sni = || t::presented(&t::connect_any(https(&h), None).expect("handshake"));
    assert_eq!(no_sni(), cert(t::EXAMPLE_CRT));

    // A rule naming a certificate that does not exist: rejected, unchanged.
    d.write(
        "tls_conf/tls_rule_conf.data",
        r#"{"Version":"bad","Config":{"p":{"SniConf":["x.test"],"CertName":"nope"}}}"#,
    );
    let r = common::reload(&h, "tls_conf");
    let body = r["error"].as_str().unwrap_or_default().to_string();
    assert!(!body.is_empty(), "{r}");
    assert!(body.contains("Config.p.CertName"), "{body}");
    assert_eq!(no_sni(), cert(t::EXAMPLE_CRT));

    // A good change: the default becomes other.test.
    t::write_files(&d);
    let path = d.path().join("tls_conf/server_cert_conf.data");
    let mut conf: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    conf["Config"]["Default"] = "other.test".into();
    d.write_json("tls_conf/server_cert_conf.data", &conf);
    let r = common::reload(&h, "tls_conf");
    assert!(r["error"].is_null(), "{r}");
    assert_eq!(no_sni(), cert(t::OTHER_CRT));
}

#[test]
fn conditions_see_tls_and_the_server_name() {
    let sni = Origin::named("sni");
    let secure = Origin::named("secure");
    let plain = Origin::named("plain");
    let mut l = tls_layout(&plain);
    l.clusters = vec![
        Cluster::simple("by_sni", &[sni.addr]),
        Cluster::simple("by_tls", &[secure.addr]),
        Cluster::simple("plain", &[plain.addr]),
    ];
    l.rules = vec![(
        "p".into(),
        vec![
            (r#"ses_tls_sni_in("alias.test")"#.into(), "by_sni".into()),
            ("req_proto_secure()".into(), "by_tls".into()),
            ("default_t()".into(), "plain".into()),
        ],
    )];
    let (_d, h) = start(&l);
    let get = b"GET / HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n";
    let via = |sni_name: &str| {
        let mut c = t::connect_any(https(&h), Some(sni_name)).expect("handshake");
        client::parse_response(&t::exchange(&mut c, get))
            .expect("response")
            .text()
    };
    assert_eq!(via("alias.test"), "sni");
    assert_eq!(via("example.org"), "secure");
    assert_eq!(client::get(h.http_addr, "example.org", "/").text(), "plain");
}

/// A routing reload must not rebuild the TLS acceptors (their session
/// caches would be lost); a tls_conf change does.
#[test]
fn routing_reload_keeps_tls_sessions_resumable() {
    let origin = Origin::named("o");
    let (d, h) = start(&tls_layout(&origin));
    let conf = t::verified_config();
    // Resumed, or a full handshake (with or without HelloRetryRequest).
    let resumed = || {
        let mut c = t::connect_with(https(&h), &conf, "example.org").expect("handshake");
        // Read the response so the client also receives its session tickets.
        let raw = t::exchange(
            &mut c,
            b"GET / HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n",
        );
        assert_eq!(client::parse_response(&raw).expect("response").status, 200);
        c.conn.handshake_kind().expect("handshake done") == rustls::HandshakeKind::Resumed
    };
    assert!(!resumed());
    assert!(resumed());
    let r = common::reload(&h, "server_data_conf");
    assert!(r["error"].is_null(), "{r}");
    assert!(resumed(), "a routing reload kept the session cache");
    // Changing tls_conf builds new acceptors with empty caches.
    let path = d.path().join("tls_conf/server_cert_conf.data");
    let mut certs: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    certs["Version"] = "t2".into();
    d.write_json("tls_conf/server_cert_conf.data", &certs);
    let r = common::reload(&h, "tls_conf");
    assert!(r["error"].is_null(), "{r}");
    assert!(!resumed());
}
