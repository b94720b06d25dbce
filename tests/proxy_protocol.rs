//! `Layer4LoadBalancer = PROXY` through the real server: PROXY protocol v1
//! and v2 headers from raw clients, curl and HAProxy, on the HTTP and the
//! HTTPS listener. The header's source must become the client address
//! (X-Forwarded-For, `req_cip_*`) and its destination the VIP (vip_rule,
//! `req_vip_*`); a connection without a header is served as a direct one
//! (BFE's behaviour); malformed, slow and oversized headers close the
//! connection and are counted in proxy_state.

mod common;

use common::client::{self, Conn};
use common::conf::{Cluster, ConfDir, Layout};
use common::origin::{Origin, Reply};
use common::tls as t;
use ringfront::server::ServerHandle;
use serde_json::json;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What every origin answers: its name and the X-Forwarded-For it got.
fn origin(name: &'static str) -> Origin {
    Origin::start(move |s| {
        Reply::text(&format!(
            "{name} xff={}",
            s.header("x-forwarded-for").unwrap_or("-")
        ))
    })
}

struct Setup {
    _d: ConfDir,
    h: ServerHandle,
    _origins: Vec<Origin>,
}

/// Product `p` (example.org, the default) routes a session from
/// 203.0.113.5 to `sip`, a documentation-range client (192.0.2.0/24) to
/// `doc`, VIP 10.9.8.7 to `vip`, the rest to
/// `c`; VIPs 10.9.8.6 and 127.0.0.2 belong to product `v` (cluster `vc`)
/// by vip_rule.
fn start(extra: &str, tls: bool) -> Setup {
    let o = [
        origin("c"),
        origin("doc"),
        origin("vip"),
        origin("vc"),
        origin("sip"),
    ];
    let mut l = Layout::single(Cluster::simple("c", &[o[0].addr]));
    l.clusters.push(Cluster::simple("doc", &[o[1].addr]));
    l.clusters.push(Cluster::simple("vip", &[o[2].addr]));
    l.clusters.push(Cluster::simple("vc", &[o[3].addr]));
    l.clusters.push(Cluster::simple("sip", &[o[4].addr]));
    l.hosts.push(("v".into(), vec!["v.example".into()]));
    l.rules = vec![
        (
            "p".into(),
            vec![
                (
                    r#"ses_sip_range("203.0.113.5", "203.0.113.5")"#.into(),
                    "sip".into(),
                ),
                (
                    r#"req_cip_range("192.0.2.0", "192.0.2.255")"#.into(),
                    "doc".into(),
                ),
                (r#"req_vip_in("10.9.8.7")"#.into(), "vip".into()),
                ("default_t()".into(), "c".into()),
            ],
        ),
        ("v".into(), vec![("default_t()".into(), "vc".into())]),
    ];
    l.server_extra = format!("Layer4LoadBalancer = PROXY\n{extra}");
    if tls {
        l.server_extra.push_str("HttpsPort = 0\n");
    }
    let d = l.write();
    d.write_json(
        "server_data_conf/vip_rule.data",
        &json!({"Version": "t", "Vips": {"v": ["10.9.8.6", "127.0.0.2"]}}),
    );
    if tls {
        t::write_files(&d);
    }
    let h = common::start(d.path(), None);
    Setup {
        _d: d,
        h,
        _origins: o.into(),
    }
}

fn v2(cmd: u8, fam: u8, payload: &[u8]) -> Vec<u8> {
    let mut b = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    b.push(cmd);
    b.push(fam);
    b.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    b.extend_from_slice(payload);
    b
}

fn v2_tcp4(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16) -> Vec<u8> {
    let mut p = [src, dst].concat();
    p.extend_from_slice(&sport.to_be_bytes());
    p.extend_from_slice(&dport.to_be_bytes());
    v2(0x21, 0x11, &p)
}

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n";

/// Send `header` then `req` in one write; the response's body.
fn ask(h: &ServerHandle, header: &[u8], req: &[u8]) -> String {
    let mut c = Conn::open(h.http_addr);
    c.send(&[header, req].concat());
    match c.response(false) {
        Some(r) => r.text(),
        None => panic!("no response to {:?}", String::from_utf8_lossy(header)),
    }
}

/// Whether the server closed `s` without sending anything, within `wait`.
fn closed_silently(s: &mut TcpStream, wait: Duration) -> bool {
    s.set_read_timeout(Some(wait)).unwrap();
    let mut b = [0u8; 64];
    match s.read(&mut b) {
        Ok(0) => true,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        Ok(_) => false,
    }
}

#[test]
fn v1_header_gives_the_client_address_to_xff_and_route_rules() {
    let s = start("", false);
    let hdr = b"PROXY TCP4 192.0.2.7 10.0.0.1 5555 80\r\n";
    assert_eq!(ask(&s.h, hdr, GET), "doc xff=192.0.2.7");
    // Keep-alive: the later requests of the connection keep the address.
    let mut c = Conn::open(s.h.http_addr);
    c.send(&[&hdr[..], GET].concat());
    assert_eq!(
        c.response(false).expect("first").text(),
        "doc xff=192.0.2.7"
    );
    c.send(GET);
    assert_eq!(
        c.response(false).expect("second").text(),
        "doc xff=192.0.2.7"
    );
    // A source outside the rule's range goes to the default cluster.
    let hdr = b"PROXY TCP4 198.51.100.1 10.0.0.1 5555 80\r\n";
    assert_eq!(ask(&s.h, hdr, GET), "c xff=198.51.100.1");
    let hdr = b"PROXY TCP6 2001:db8::1 ::1 5555 80\r\n";
    assert_eq!(ask(&s.h, hdr, GET), "c xff=2001:db8::1");
    // ses_sip_range reads the session's address, which is the header's
    // source as in BFE (Session.RemoteAddr), not the balancer's.
    let hdr = b"PROXY TCP4 203.0.113.5 10.0.0.1 5555 80\r\n";
    assert_eq!(ask(&s.h, hdr, GET), "sip xff=203.0.113.5");
    assert_eq!(common::counter(&s.h, "proxy_normal_v1_header"), 5);
    assert_eq!(common::counter(&s.h, "proxy_matched_v1_signature"), 5);
}

#[test]
fn v2_header_destination_is_the_vip() {
    let s = start("", false);
    // req_vip_in follows the header's destination, not the socket's.
    let hdr = v2_tcp4([198, 51, 100, 9], 4000, [10, 9, 8, 7], 80);
    assert_eq!(ask(&s.h, &hdr, GET), "vip xff=198.51.100.9");
    // So does vip_rule.data: an unknown host on VIP 10.9.8.6 is product v.
    let req = b"GET / HTTP/1.1\r\nHost: unknown.example\r\n\r\n";
    let hdr = v2_tcp4([198, 51, 100, 9], 4000, [10, 9, 8, 6], 80);
    assert_eq!(ask(&s.h, &hdr, req), "vc xff=198.51.100.9");
    // …and req_cip_range the source; TLVs are skipped.
    let mut p = [[192, 0, 2, 200], [10, 9, 8, 7]].concat();
    p.extend_from_slice(&[0, 1, 0, 80]);
    p.extend_from_slice(&[0x04, 0, 4, 0, 0, 0, 0]);
    assert_eq!(ask(&s.h, &v2(0x21, 0x11, &p), GET), "doc xff=192.0.2.200");
    // IPv6 addresses.
    let mut p = Vec::new();
    p.extend_from_slice(
        &"2001:db8::5"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    p.extend_from_slice(&std::net::Ipv6Addr::LOCALHOST.octets());
    p.extend_from_slice(&[0, 1, 0, 80]);
    assert_eq!(ask(&s.h, &v2(0x21, 0x21, &p), GET), "c xff=2001:db8::5");
    assert_eq!(common::counter(&s.h, "proxy_normal_v2_header"), 4);
}

#[test]
fn local_command_and_unknown_family_keep_the_socket_addresses() {
    let s = start("", false);
    assert_eq!(ask(&s.h, &v2(0x20, 0x00, &[]), GET), "c xff=127.0.0.1");
    assert_eq!(ask(&s.h, &v2(0x21, 0x00, &[]), GET), "c xff=127.0.0.1");
    assert_eq!(ask(&s.h, b"PROXY UNKNOWN\r\n", GET), "c xff=127.0.0.1");
    assert_eq!(
        ask(&s.h, b"PROXY UNKNOWN 1.2.3.4 5.6.7.8 1 2\r\n", GET),
        "c xff=127.0.0.1"
    );
}

/// As in BFE, the header is optional: a connection that does not start
/// with a signature is served as a direct one, with the socket addresses.
#[test]
fn direct_connection_without_a_header_is_served_as_direct() {
    let s = start("", false);
    assert_eq!(ask(&s.h, b"", GET), "c xff=127.0.0.1");
    // A method starting with P is not mistaken for a header.
    let post = b"POST / HTTP/1.1\r\nHost: example.org\r\nContent-Length: 2\r\n\r\nhi";
    assert_eq!(ask(&s.h, b"", post), "c xff=127.0.0.1");
    assert_eq!(common::counter(&s.h, "proxy_err_no_proxy_protocol"), 2);
    assert_eq!(common::counter(&s.h, "proxy_normal_v1_header"), 0);
}

/// A header that arrives in pieces (split inside the signature, inside
/// the addresses, before the request) is put together, and the request
/// right after it is read intact.
#[test]
fn header_in_pieces_is_reassembled() {
    let s = start("", false);
    let v1 = b"PROXY TCP4 192.0.2.7 10.0.0.1 5555 80\r\n";
    let v2h = v2_tcp4([192, 0, 2, 8], 1, [10, 0, 0, 1], 80);
    let cases: [(&[u8], &[usize], &str); 2] = [
        (v1, &[1, 3, 14, 39], "doc xff=192.0.2.7"),
        (&v2h, &[2, 11, 15, 20], "doc xff=192.0.2.8"),
    ];
    for (hdr, cuts, want) in cases {
        let mut c = Conn::open(s.h.http_addr);
        let mut at = 0;
        for &cut in cuts {
            c.send(&hdr[at..cut]);
            std::thread::sleep(Duration::from_millis(30));
            at = cut;
        }
        c.send(&[&hdr[at..], GET].concat());
        assert_eq!(c.response(false).expect("response").text(), want);
    }
}

#[test]
fn malformed_headers_close_the_connection_and_are_counted() {
    let s = start("", false);
    let bad: [&[u8]; 4] = [
        b"PROXY TCP4 300.0.2.7 10.0.0.1 5555 80\r\n",
        b"PROXY TCP4 192.0.2.7 10.0.0.1 5555\r\n",
        b"PROXY TCP4 192.0.2.7 10.0.0.1 5555 80\n",
        // v2 signature with version 1.
        &v2(0x11, 0x11, &[0; 12]),
    ];
    for b in bad {
        let mut c = TcpStream::connect(client::local(s.h.http_addr)).unwrap();
        c.write_all(&[b, GET].concat()).unwrap();
        assert!(
            closed_silently(&mut c, Duration::from_secs(3)),
            "{:?} was not closed",
            String::from_utf8_lossy(b)
        );
    }
    assert_eq!(common::counter(&s.h, "proxy_err_invalid_header"), 4);
    assert_eq!(common::counter(&s.h, "proxy_matched_v1_signature"), 3);
    assert_eq!(common::counter(&s.h, "proxy_matched_v2_signature"), 1);
    assert_eq!(common::counter(&s.h, "conn_active"), 0);
}

#[test]
fn header_slower_than_client_read_timeout_closes() {
    let s = start("ClientReadTimeout = 1\n", false);
    let mut c = TcpStream::connect(client::local(s.h.http_addr)).unwrap();
    c.write_all(b"PROXY TCP4 192.0.2.7 ").unwrap();
    let t0 = Instant::now();
    assert!(closed_silently(&mut c, Duration::from_secs(4)));
    let took = t0.elapsed();
    assert!(took >= Duration::from_millis(900), "closed after {took:?}");
    // A connection that sends nothing at all is closed the same way.
    let mut idle = TcpStream::connect(client::local(s.h.http_addr)).unwrap();
    assert!(closed_silently(&mut idle, Duration::from_secs(4)));
    assert_eq!(common::counter(&s.h, "proxy_err_read_header"), 2);
}

#[test]
fn header_over_max_proxy_header_bytes_closes() {
    let s = start("MaxProxyHeaderBytes = 32\n", false);
    // 39 bytes of v1 header, complete and valid, but over the limit.
    let mut c = TcpStream::connect(client::local(s.h.http_addr)).unwrap();
    c.write_all(&[&b"PROXY TCP4 192.0.2.7 10.0.0.1 5555 80\r\n"[..], GET].concat())
        .unwrap();
    assert!(closed_silently(&mut c, Duration::from_secs(3)));
    // A v2 header announcing 100 bytes of TLVs is refused from its first
    // 16 bytes, without waiting for the rest.
    let mut p = vec![192, 0, 2, 7, 10, 0, 0, 1, 0, 1, 0, 80];
    p.resize(112, 0);
    let h = v2(0x21, 0x11, &p);
    let mut c = TcpStream::connect(client::local(s.h.http_addr)).unwrap();
    c.write_all(&h[..16]).unwrap();
    assert!(closed_silently(&mut c, Duration::from_secs(3)));
    assert_eq!(common::counter(&s.h, "proxy_err_read_header"), 2);
    // A header within the limit still works.
    let hdr = v2_tcp4([192, 0, 2, 8], 1, [10, 0, 0, 1], 80);
    assert_eq!(ask(&s.h, &hdr, GET), "doc xff=192.0.2.8");
}

#[test]
fn tls_behind_a_v2_header_still_picks_the_certificate_by_sni() {
    let s = start("", true);
    let at = client::local(s.h.https_addr.expect("HTTPS listener"));
    for (name, want) in [
        ("other.test", t::OTHER_CRT),
        ("example.org", t::EXAMPLE_CRT),
    ] {
        let mut tcp = TcpStream::connect(at).unwrap();
        tcp.write_all(&v2_tcp4([192, 0, 2, 9], 7, [10, 9, 8, 7], 443))
            .unwrap();
        let mut c = t::connect_verified_on(tcp, name).expect("handshake");
        assert_eq!(t::presented(&c), t::cert(want), "{name}");
        let raw = t::exchange(
            &mut c,
            b"GET / HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n",
        );
        let r = client::parse_response(&raw).expect("response");
        assert_eq!(r.text(), "doc xff=192.0.2.9");
    }
    // Without a header, TLS is served as on a direct connection.
    let mut c = t::connect_verified(at, "other.test").expect("direct handshake");
    assert_eq!(t::presented(&c), t::cert(t::OTHER_CRT));
    let raw = t::exchange(
        &mut c,
        b"GET / HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(
        client::parse_response(&raw).expect("response").text(),
        "c xff=127.0.0.1"
    );
    assert_eq!(common::counter(&s.h, "proxy_normal_v2_header"), 2);
}

/// curl 7.60+ sends a v1 header with its real addresses (`--haproxy-protocol`).
#[test]
fn curl_haproxy_protocol() {
    let s = start("", false);
    let url = format!("http://127.0.0.1:{}/", s.h.http_addr.port());
    let out = match Command::new("curl")
        .args(["-sS", "--max-time", "5", "--haproxy-protocol", "-H"])
        .arg("Host: example.org")
        .arg(&url)
        .output()
    {
        Ok(o) => o,
        Err(e) => panic!("curl is needed for this test (apt-get install -y curl): {e}"),
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "c xff=127.0.0.1");
    assert_eq!(common::counter(&s.h, "proxy_normal_v1_header"), 1);
    assert_eq!(common::counter(&s.h, "proxy_err_no_proxy_protocol"), 0);
}

/// A free loopback port (bound, then released for HAProxy to take).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Haproxy(Child, std::path::PathBuf);

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_file(&self.1);
    }
}

/// HAProxy in TCP mode on 127.0.0.2 (HTTP) and 127.0.0.3 (TLS passed
/// through), sending PROXY v2 to ringfront. `None` when haproxy is not
/// installed.
fn haproxy(http: SocketAddr, https: SocketAddr) -> Option<(Haproxy, SocketAddr, SocketAddr)> {
    let (p1, p2) = (free_port(), free_port());
    let cfg = format!(
        "global\n  maxconn 100\ndefaults\n  mode tcp\n  timeout connect 2s\n  timeout client 5s\n  timeout server 5s\n\
         frontend plain\n  bind 127.0.0.2:{p1}\n  default_backend rf\n\
         backend rf\n  server s 127.0.0.1:{} send-proxy-v2\n\
         frontend tls\n  bind 127.0.0.3:{p2}\n  default_backend rfs\n\
         backend rfs\n  server s 127.0.0.1:{} send-proxy-v2\n",
        http.port(),
        https.port()
    );
    let path =
        std::env::temp_dir().join(format!("ringfront-pp-haproxy-{}.cfg", std::process::id()));
    std::fs::write(&path, cfg).unwrap();
    let child = match Command::new("haproxy")
        .args(["-db", "-f"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("SKIPPED: haproxy is not installed ({e}); apt-get install -y haproxy");
            return None;
        }
    };
    let hp = Haproxy(child, path);
    let a1 = SocketAddr::from((Ipv4Addr::new(127, 0, 0, 2), p1));
    let a2 = SocketAddr::from((Ipv4Addr::new(127, 0, 0, 3), p2));
    assert!(
        common::eventually(|| TcpStream::connect(a1).is_ok() && TcpStream::connect(a2).is_ok()),
        "haproxy did not start listening"
    );
    Some((hp, a1, a2))
}

/// A connection to `to` from source address `from` (any 127/8 address
/// works on Linux loopback): std cannot bind before connecting.
fn connect_from(from: Ipv4Addr, to: SocketAddr) -> std::io::Result<TcpStream> {
    FromAddr(from).connect(to)
}

struct FromAddr(Ipv4Addr);

impl FromAddr {
    fn connect(self, to: SocketAddr) -> std::io::Result<TcpStream> {
        use std::os::fd::FromRawFd;
        // SAFETY: plain socket calls on a fresh descriptor we own; the
        // sockaddr_in structs live for the calls that read them.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let s = TcpStream::from_raw_fd(fd);
            let sin = |ip: Ipv4Addr, port: u16| libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: port.to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(ip).to_be(),
                },
                sin_zero: [0; 8],
            };
            let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            let a = sin(self.0, 0);
            if libc::bind(fd, (&a as *const libc::sockaddr_in).cast(), len) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            let SocketAddr::V4(to) = to else {
                return Err(std::io::ErrorKind::InvalidInput.into());
            };
            let b = sin(*to.ip(), to.port());
            if libc::connect(fd, (&b as *const libc::sockaddr_in).cast(), len) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(s)
        }
    }
}

/// HAProxy's `send-proxy-v2` in front of both listeners: ringfront sees
/// the client's own address (here 127.0.0.5) and HAProxy's frontend
/// address as the VIP, and TLS passed through still gets its SNI cert.
#[test]
fn haproxy_send_proxy_v2_in_front() {
    let s = start("", true);
    let https = s.h.https_addr.expect("HTTPS listener");
    let Some((_hp, plain, tls)) = haproxy(s.h.http_addr, https) else {
        return;
    };
    let client_ip = Ipv4Addr::new(127, 0, 0, 5);
    let mut c = connect_from(client_ip, plain).expect("connect via haproxy");
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // An unknown host: HAProxy's frontend address, 127.0.0.2, is the VIP
    // that vip_rule.data gives to product v.
    c.write_all(b"GET / HTTP/1.1\r\nHost: unknown.example\r\nConnection: close\r\n\r\n")
        .unwrap();
    let raw = client::read_to_close(&mut c);
    let r = client::parse_response(&raw).expect("response via haproxy");
    assert_eq!(r.text(), "vc xff=127.0.0.5");
    let tcp = connect_from(client_ip, tls).expect("connect via haproxy (TLS)");
    let mut c = t::connect_verified_on(tcp, "other.test").expect("handshake via haproxy");
    assert_eq!(t::presented(&c), t::cert(t::OTHER_CRT));
    let raw = t::exchange(
        &mut c,
        b"GET / HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(
        client::parse_response(&raw)
            .expect("TLS response via haproxy")
            .text(),
        "c xff=127.0.0.5"
    );
    assert!(common::counter(&s.h, "proxy_normal_v2_header") >= 2);
    assert_eq!(common::counter(&s.h, "proxy_err_invalid_header"), 0);
}

/// mod_header's variables and default headers see the header's addresses:
/// client and VIP from the header, `%bfe_rip` the listener's own address,
/// `%bfe_bip` the balancer (the TCP peer), `unknown` on a direct connection.
#[test]
fn mod_header_variables_follow_the_header() {
    let o = Origin::start(|s| {
        Reply::text(&format!(
            "{} real={}",
            s.header("x-addrs").unwrap_or("-"),
            s.header("x-real-ip").unwrap_or("-")
        ))
    });
    let mut l = Layout::single(Cluster::simple("c", &[o.addr]));
    l.modules = vec!["mod_header".into()];
    l.server_extra = "Layer4LoadBalancer = PROXY\n".into();
    let d = l.write();
    d.write(
        "mod_header/mod_header.conf",
        "[Basic]\nDataPath = mod_header/header_rule.data\n",
    );
    d.write_json(
        "mod_header/header_rule.data",
        &json!({"Version": "t", "Config": {"global": [{"cond": "default_t()", "actions": [
            {"cmd": "REQ_HEADER_SET", "params": ["X-Addrs", "%bfe_client_ip:%bfe_client_port %bfe_vip %bfe_rip %bfe_bip"]}
        ], "last": true}]}}),
    );
    let h = common::start(d.path(), None);
    let hdr = b"PROXY TCP4 192.0.2.7 10.0.0.1 5555 80\r\n";
    assert_eq!(
        ask(&h, hdr, GET),
        "192.0.2.7:5555 10.0.0.1 127.0.0.1 127.0.0.1 real=192.0.2.7"
    );
    let direct = ask(&h, b"", GET);
    assert!(
        direct.starts_with("127.0.0.1:")
            && direct.ends_with(" 127.0.0.1 127.0.0.1 unknown real=127.0.0.1"),
        "{direct}"
    );
}

/// The access log (mod_access) records the header's source as the client
/// and its destination as the VIP, and the listener as `$server_addr`.
#[test]
fn access_log_records_the_header_addresses() {
    let o = origin("c");
    let mut l = Layout::single(Cluster::simple("c", &[o.addr]));
    l.modules = vec!["mod_access".into()];
    l.server_extra = "Layer4LoadBalancer = PROXY\n".into();
    let d = l.write();
    d.write(
        "mod_access/mod_access.conf",
        "[Log]\nLogFile = access.log\n\n[Template]\nRequestTemplate = \"REQ $remote_addr $vip $server_addr\"\nSessionTemplate = \"SES $ses_clientip\"\n",
    );
    let h = common::start(d.path(), None);
    let hdr = b"PROXY TCP4 192.0.2.7 10.0.0.1 5555 80\r\n";
    let mut c = Conn::open(h.http_addr);
    c.send(
        &[
            &hdr[..],
            b"GET / HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n",
        ]
        .concat(),
    );
    assert_eq!(
        c.response(false).expect("response").text(),
        "c xff=192.0.2.7"
    );
    drop(c);
    let want_req = format!("REQ 192.0.2.7 10.0.0.1 127.0.0.1:{}", h.http_addr.port());
    let log = d.path().join("access.log");
    // Workers flush every 200 ms; the session line follows the close.
    let deadline = Instant::now() + Duration::from_secs(4);
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains(&want_req) && text.contains("SES 192.0.2.7:5555") {
            break;
        }
        assert!(Instant::now() < deadline, "{text}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// mod_block's accept-time blocklist checks the header's source, as BFE's
/// (Session.RemoteAddr): a listed client is closed even though the
/// balancer's own address is not listed, and other clients of the same
/// balancer are served.
#[test]
fn mod_block_blocklist_checks_the_header_source() {
    let o = origin("c");
    let mut l = Layout::single(Cluster::simple("c", &[o.addr]));
    l.modules = vec!["mod_block".into()];
    l.server_extra = "Layer4LoadBalancer = PROXY\n".into();
    let d = l.write();
    d.write(
        "mod_block/mod_block.conf",
        "[Basic]\nProductRulePath = mod_block/block_rules.data\nIPBlocklistPath = mod_block/ip_blocklist.data\n",
    );
    d.write("mod_block/ip_blocklist.data", "192.0.2.66\n");
    d.write_json(
        "mod_block/block_rules.data",
        &json!({"Version": "t", "Config": {}}),
    );
    let h = common::start(d.path(), None);
    let mut c = TcpStream::connect(client::local(h.http_addr)).unwrap();
    c.write_all(&[&b"PROXY TCP4 192.0.2.66 10.0.0.1 5555 80\r\n"[..], GET].concat())
        .unwrap();
    assert!(closed_silently(&mut c, Duration::from_secs(3)));
    let hdr = b"PROXY TCP4 192.0.2.67 10.0.0.1 5555 80\r\n";
    assert_eq!(ask(&h, hdr, GET), "c xff=192.0.2.67");
    assert_eq!(common::counter(&h, "err_block"), 1);
}

/// A backend that requires a PROXY v2 header on every connection (as
/// nginx with `listen … proxy_protocol` does): it answers each request
/// with the header's addresses and the request's index on its connection,
/// and closes connections that do not start with a header.
struct PpBackend {
    addr: SocketAddr,
    conns: Arc<AtomicUsize>,
    /// One entry per connection: the header as text.
    headers: Arc<Mutex<Vec<String>>>,
}

impl PpBackend {
    fn start_on(addr: SocketAddr) -> PpBackend {
        let l = std::net::TcpListener::bind(addr).expect("bind pp backend");
        let addr = l.local_addr().unwrap();
        let conns = Arc::new(AtomicUsize::new(0));
        let headers = Arc::new(Mutex::new(Vec::new()));
        let (c2, h2) = (conns.clone(), headers.clone());
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(s) = s else { continue };
                c2.fetch_add(1, Ordering::SeqCst);
                let h = h2.clone();
                std::thread::spawn(move || pp_serve(s, h));
            }
        });
        PpBackend {
            addr,
            conns,
            headers,
        }
    }
}

/// Parse a v2 header off `s`: "src dst", "LOCAL", or None when absent or bad.
fn read_v2(s: &mut TcpStream) -> Option<String> {
    let mut fixed = [0u8; 16];
    s.read_exact(&mut fixed).ok()?;
    if &fixed[..12] != b"\r\n\r\n\0\r\nQUIT\n" {
        return None;
    }
    let len = u16::from_be_bytes([fixed[14], fixed[15]]) as usize;
    let mut rest = vec![0u8; len];
    s.read_exact(&mut rest).ok()?;
    let port = |b: &[u8]| u16::from_be_bytes([b[0], b[1]]);
    match (fixed[12], fixed[13]) {
        (0x20, _) => Some("LOCAL".into()),
        (0x21, 0x11) if len >= 12 => {
            let ip = |b: &[u8]| Ipv4Addr::new(b[0], b[1], b[2], b[3]);
            Some(format!(
                "{}:{} {}:{}",
                ip(&rest[0..4]),
                port(&rest[8..10]),
                ip(&rest[4..8]),
                port(&rest[10..12])
            ))
        }
        (0x21, 0x21) if len >= 36 => {
            let ip = |b: &[u8]| std::net::Ipv6Addr::from(<[u8; 16]>::try_from(b).unwrap());
            Some(format!(
                "[{}]:{} [{}]:{}",
                ip(&rest[0..16]),
                port(&rest[32..34]),
                ip(&rest[16..32]),
                port(&rest[34..36])
            ))
        }
        _ => None,
    }
}

fn pp_serve(mut s: TcpStream, headers: Arc<Mutex<Vec<String>>>) {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let Some(hdr) = read_v2(&mut s) else {
        headers.lock().unwrap().push("none".into());
        return;
    };
    headers.lock().unwrap().push(hdr.clone());
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    for nth in 0.. {
        let end = loop {
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            match s.read(&mut tmp) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&tmp[..n]),
            }
        };
        buf.drain(..end);
        let body = format!("{hdr} nth={nth}");
        let res = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if s.write_all(res.as_bytes()).is_err() {
            return;
        }
    }
}

fn send_proxy_layout(backend: SocketAddr, check: serde_json::Value) -> Layout {
    let cluster = Cluster::simple("c", &[backend]).with_conf(json!({
        "BackendConf": {"SendProxyV2": true, "MaxIdleConnsPerHost": 16},
        "CheckConf": check,
    }));
    let mut l = Layout::single(cluster);
    l.server_extra = "Layer4LoadBalancer = PROXY\n".into();
    l
}

/// `SendProxyV2` (a ringfront key in `BackendConf`): each backend
/// connection starts with a v2 header naming the client and the VIP, the
/// ones ringfront got from its own balancer or the socket; such
/// connections are not reused for another request.
#[test]
fn send_proxy_v2_to_backends() {
    let b = PpBackend::start_on("127.0.0.1:0".parse().unwrap());
    let d = send_proxy_layout(b.addr, json!({})).write();
    let h = common::start(d.path(), None);
    let hdr = b"PROXY TCP4 192.0.2.7 10.0.0.1 5555 80\r\n";
    let mut c = Conn::open(h.http_addr);
    c.send(&[&hdr[..], GET].concat());
    let want = "192.0.2.7:5555 10.0.0.1:80 nth=0";
    assert_eq!(c.response(false).expect("first").text(), want);
    c.send(GET);
    assert_eq!(c.response(false).expect("second").text(), want);
    assert_eq!(b.conns.load(Ordering::SeqCst), 2, "one connection each");
    // A direct client: the socket's addresses.
    let r = ask(&h, b"", GET);
    let want = format!(" 127.0.0.1:{} nth=0", h.http_addr.port());
    assert!(r.starts_with("127.0.0.1:") && r.ends_with(&want), "{r}");
    let v6 = b"PROXY TCP6 2001:db8::1 2001:db8::2 1 443\r\n";
    assert_eq!(ask(&h, v6, GET), "[2001:db8::1]:1 [2001:db8::2]:443 nth=0");
    assert_eq!(common::counter(&h, "upstream_reuse"), 0);
}

/// Health checks of a `SendProxyV2` cluster start with a `LOCAL` header,
/// or a backend that requires the header could never come back.
#[test]
fn send_proxy_v2_health_checks_send_local() {
    let at = common::origin::refused_addr();
    let check = json!({"FailNum": 1, "CheckInterval": 50, "Uri": "/health"});
    let d = send_proxy_layout(at, check).write();
    let h = common::start(d.path(), None);
    // Nothing listens yet: the backend fails and is taken out.
    let mut c = Conn::open(h.http_addr);
    c.send(GET);
    assert_eq!(c.response(false).expect("502").status, 502);
    assert!(common::eventually(
        || common::counter(&h, "backend_down") == 1
    ));
    let b = PpBackend::start_on(at);
    assert!(
        common::eventually(|| common::counter(&h, "backend_up") == 1),
        "the probe did not bring it back; the backend saw {:?}",
        b.headers.lock().unwrap()
    );
    assert_eq!(b.headers.lock().unwrap()[0], "LOCAL");
    let r = ask(&h, b"PROXY TCP4 192.0.2.7 10.0.0.1 5555 80\r\n", GET);
    assert_eq!(r, "192.0.2.7:5555 10.0.0.1:80 nth=0");
}

/// HAProxy, as a backend with `accept-proxy`, reads ringfront's header: an
/// independent parser agrees on the addresses.
#[test]
fn haproxy_accept_proxy_behind_ringfront() {
    let port = free_port();
    let cfg = format!(
        "global\n  maxconn 100\ndefaults\n  mode http\n  timeout connect 2s\n  timeout client 5s\n  timeout server 5s\n\
         frontend be\n  bind 127.0.0.1:{port} accept-proxy\n\
         \x20 http-request return status 200 content-type text/plain lf-string \"%[src]:%[src_port] %[dst]:%[dst_port]\"\n"
    );
    let path = std::env::temp_dir().join(format!(
        "ringfront-pp-haproxy-be-{}.cfg",
        std::process::id()
    ));
    std::fs::write(&path, cfg).unwrap();
    let child = match Command::new("haproxy")
        .args(["-db", "-f"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("SKIPPED: haproxy is not installed ({e}); apt-get install -y haproxy");
            return;
        }
    };
    let _hp = Haproxy(child, path);
    let be = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    assert!(
        common::eventually(|| TcpStream::connect(be).is_ok()),
        "haproxy did not start listening"
    );
    let d = send_proxy_layout(be, json!({})).write();
    let h = common::start(d.path(), None);
    let r = ask(&h, b"PROXY TCP4 192.0.2.7 10.0.0.1 5555 80\r\n", GET);
    assert_eq!(r, "192.0.2.7:5555 10.0.0.1:80");
}
