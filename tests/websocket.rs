//! WebSocket through the real server on loopback: a Python `websockets`
//! echo origin and a Python `websockets` client on either side of
//! ringfront (text, binary, 2 MiB and fragmented messages, ping/pong,
//! closes from either end), a backend refusing the upgrade, a mod_block
//! rule stopping a handshake, the idle timeout, half-close with raw
//! sockets, `h2c` forwarded without its upgrade, and the counters and
//! access-log line a tunnel leaves.
//!
//! Needs python3 with the `websockets` package (`pip install websockets`);
//! without it these tests fail saying so.

mod common;

use common::conf::{Cluster, ConfDir, Layout};
use common::origin::{Origin, Reply};
use ringfront::server::ServerHandle;
use serde_json::json;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The echo origin. `/echo` echoes every message; `/close` sends "bye" and
/// closes with code 4000; `/reject` answers 403; `/idle` waits. Each
/// handshake and each handler end is appended to the log file, so a test
/// can tell what reached the origin and that its side was closed.
const ORIGIN: &str = r#"
import asyncio, sys, http, logging
from websockets.asyncio.server import serve
# Clients that drop the connection without a close frame are expected.
logging.getLogger("websockets").setLevel(logging.CRITICAL)
LOG = sys.argv[1]
def log(line):
    with open(LOG, "a") as f:
        f.write(line + "\n")
async def handler(ws):
    path = ws.request.path
    log("open " + path + " " + ws.request.headers.get("X-Forwarded-For", "-"))
    try:
        if path == "/close":
            await ws.send("bye")
            await ws.close(4000, "server says bye")
        elif path == "/idle":
            await ws.wait_closed()
        else:
            async for m in ws:
                await ws.send(m)
    finally:
        log("closed " + path)
def process_request(conn, req):
    if req.path == "/reject":
        log("reject")
        return conn.respond(http.HTTPStatus.FORBIDDEN, "no websocket for you\n")
async def main():
    async with serve(handler, "127.0.0.1", 0, max_size=None, ping_interval=None,
                     process_request=process_request) as s:
        print(s.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()
asyncio.run(main())
"#;

/// The client: one scenario per run, "ok ..." on stdout when every
/// expectation held, a Python traceback otherwise.
const CLIENT: &str = r#"
import asyncio, sys, os
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus, ConnectionClosed
url, scenario = sys.argv[1], sys.argv[2]
kw = {}
if url.startswith("wss:"):
    import ssl
    ctx = ssl.create_default_context(cafile=sys.argv[3])
    kw = {"ssl": ctx, "server_hostname": "example.org"}
async def main():
    if scenario == "echo":
        async with connect(url + "/echo", max_size=None, ping_interval=None, **kw) as ws:
            await ws.send("hello")
            assert await ws.recv() == "hello"
            await ws.send(b"\x00\x01\xfe\xff")
            assert await ws.recv() == b"\x00\x01\xfe\xff"
            big = os.urandom(2 * 1024 * 1024)
            await ws.send(big)
            assert await ws.recv() == big, "2 MiB message altered"
            await ws.send(["frag-1 ", "frag-2 ", "frag-3"])
            assert await ws.recv() == "frag-1 frag-2 frag-3"
            pong = await ws.ping(b"are you there")
            await asyncio.wait_for(pong, 5)
        assert ws.close_code == 1000, ws.close_code
        print("ok echo", ws.close_code)
    elif scenario == "server-close":
        async with connect(url + "/close", ping_interval=None) as ws:
            assert await ws.recv() == "bye"
            try:
                await asyncio.wait_for(ws.recv(), 5)
                raise AssertionError("message after close")
            except ConnectionClosed:
                pass
        assert ws.close_code == 4000, ws.close_code
        print("ok server-close", ws.close_code, ws.close_reason)
    elif scenario == "reject":
        try:
            async with connect(url + "/reject", ping_interval=None):
                raise AssertionError("upgrade accepted")
        except InvalidStatus as e:
            body = e.response.body.decode()
            print("ok reject", e.response.status_code, body.strip())
    elif scenario == "blocked":
        try:
            async with connect(url + "/blocked", ping_interval=None, open_timeout=5):
                raise AssertionError("upgrade accepted")
        except (ConnectionClosed, EOFError, OSError) as e:
            print("ok blocked", type(e).__name__)
        except Exception as e:
            print("ok blocked", type(e).__name__)
    elif scenario == "idle":
        async with connect(url + "/idle", ping_interval=None) as ws:
            start = asyncio.get_running_loop().time()
            try:
                await asyncio.wait_for(ws.recv(), 10)
                raise AssertionError("message on an idle tunnel")
            except ConnectionClosed:
                pass
            print("ok idle %.1f" % (asyncio.get_running_loop().time() - start))
asyncio.run(main())
"#;

/// python3 with `websockets`, or a failure that says what to install.
fn python() -> &'static str {
    let ok = Command::new("python3")
        .args(["-c", "import websockets.asyncio.server"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "these tests need python3 with the websockets package (>= 13): pip install websockets"
    );
    "python3"
}

struct WsOrigin {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Drop for WsOrigin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

impl WsOrigin {
    fn start() -> WsOrigin {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let log = std::env::temp_dir().join(format!(
            "ringfront-ws-origin-{}-{n}.log",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&log);
        let mut child = Command::new(python())
            .args(["-c", ORIGIN])
            .arg(&log)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 starts");
        let mut line = String::new();
        let out = child.stdout.take().expect("stdout");
        BufReader::new(out).read_line(&mut line).expect("port line");
        let port: u16 = match line.trim().parse() {
            Ok(p) => p,
            Err(_) => panic!("the echo origin did not start: {line:?}"),
        };
        WsOrigin {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Wait up to 3 s for the log to contain `what`.
    fn wait_for(&self, what: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let l = self.log();
            if l.contains(what) || Instant::now() > deadline {
                return l;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Run one client scenario against ringfront; its stdout.
fn client(h: &ServerHandle, scenario: &str) -> String {
    client_at(&format!("ws://127.0.0.1:{}", h.http_addr.port()), scenario)
}

fn client_at(url: &str, scenario: &str) -> String {
    let ca = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tls/ca.crt");
    let out = Command::new(python())
        .args(["-c", CLIENT, url, scenario, ca])
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "client {scenario} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

struct Env {
    origin: WsOrigin,
    d: ConfDir,
    h: ServerHandle,
}

/// ringfront in front of the echo origin; `cluster` merges into the
/// cluster's conf, `modules` are enabled with their conf files written by
/// `files`.
fn start(cluster: serde_json::Value, modules: &[&str], files: &[(&str, String)]) -> Env {
    let origin = WsOrigin::start();
    let mut l = Layout::single(Cluster::simple("c", &[origin.addr]).with_conf(cluster));
    l.modules = modules.iter().map(|m| m.to_string()).collect();
    let d = l.write();
    for (rel, text) in files {
        d.write(rel, text);
    }
    let h = common::start(d.path(), None);
    Env { origin, d, h }
}

#[test]
fn messages_pings_and_client_close_go_through_and_are_counted() {
    let access = "[Log]\nLogFile = access.log\n\n[Template]\nRequestTemplate = \"REQ $status_code $req_body_len $res_body_len $request_line\"\nSessionTemplate = \"SES $ses_read_total $ses_write_total\"\n";
    let e = start(
        json!({}),
        &["mod_access"],
        &[("mod_access/mod_access.conf", access.to_string())],
    );
    let out = client(&e.h, "echo");
    assert!(out.contains("ok echo 1000"), "{out}");
    // The client's close reached the origin, whose handler ended.
    let log = e.origin.wait_for("closed /echo");
    assert!(log.contains("open /echo 127.0.0.1"), "{log}");
    assert!(log.contains("closed /echo"), "{log}");

    assert!(common::eventually(|| common::counter(
        &e.h,
        "web_socket_active"
    ) == 0));
    assert_eq!(common::counter(&e.h, "web_socket_upgrade"), 1);
    let big = 2 * 1024 * 1024;
    let recv = common::counter(&e.h, "web_socket_bytes_recv");
    let sent = common::counter(&e.h, "web_socket_bytes_sent");
    // Frame headers, client masks and permessage-deflate's stored-block
    // overhead on random bytes: a little more than the payloads.
    assert!(recv > big && recv < big + 64 * 1024, "recv {recv}");
    assert!(sent > big && sent < big + 64 * 1024, "sent {sent}");
    assert_eq!(common::counter(&e.h, "web_socket_err_transfer"), 0);
    assert_eq!(common::counter(&e.h, "web_socket_err_idle"), 0);
    assert_eq!(common::counter(&e.h, "resp_1xx"), 1);

    // One request line, written when the tunnel ended: the 101, with the
    // tunnel's bytes as the bodies.
    let path = e.d.path().join("access.log");
    let mut text = String::new();
    for _ in 0..300 {
        text = std::fs::read_to_string(&path).unwrap_or_default();
        if text.lines().count() >= 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let req = text
        .lines()
        .find(|l| l.starts_with("REQ "))
        .unwrap_or_else(|| panic!("no request line: {text}"));
    let f: Vec<&str> = req.split(' ').collect();
    assert_eq!(f[1], "101", "{req}");
    assert_eq!(f[2].parse::<u64>().unwrap(), recv, "{req}");
    assert_eq!(f[3].parse::<u64>().unwrap(), sent, "{req}");
    assert_eq!(&f[4..], ["GET", "/echo", "HTTP/1.1"], "{req}");
    assert_eq!(text.lines().filter(|l| l.starts_with("REQ ")).count(), 1);
    let ses = text.lines().find(|l| l.starts_with("SES ")).unwrap();
    let s: Vec<u64> = ses.split(' ').skip(1).map(|v| v.parse().unwrap()).collect();
    assert!(s[0] > recv && s[1] > sent, "{ses}");
}

#[test]
fn server_initiated_close_reaches_the_client() {
    let e = start(json!({}), &[], &[]);
    let out = client(&e.h, "server-close");
    assert!(
        out.contains("ok server-close 4000 server says bye"),
        "{out}"
    );
    assert!(e.origin.wait_for("closed /close").contains("closed /close"));
    assert!(common::eventually(|| common::counter(
        &e.h,
        "web_socket_active"
    ) == 0));
    assert_eq!(common::counter(&e.h, "web_socket_upgrade"), 1);
    assert_eq!(common::counter(&e.h, "web_socket_err_transfer"), 0);
}

#[test]
fn upgrade_refused_by_the_backend_is_relayed_as_a_response() {
    let e = start(json!({}), &[], &[]);
    let out = client(&e.h, "reject");
    assert!(out.contains("ok reject 403 no websocket for you"), "{out}");
    assert_eq!(common::counter(&e.h, "web_socket_err_backend_reject"), 1);
    assert_eq!(common::counter(&e.h, "web_socket_upgrade"), 0);
    assert_eq!(common::counter(&e.h, "resp_4xx"), 1);
}

#[test]
fn upgrade_blocked_by_a_rule_never_reaches_the_backend() {
    let rules = json!({"Version": "1", "Config": {"p": [
        {"Name": "ws", "Cond": "req_path_in(\"/blocked\", false)", "Action": {"Cmd": "CLOSE", "Params": []}}
    ]}});
    let e = start(
        json!({}),
        &["mod_block"],
        &[
            (
                "mod_block/mod_block.conf",
                "[Basic]\nProductRulePath = mod_block/block_rules.data\nIPBlocklistPath = mod_block/ip_blocklist.data\n".into(),
            ),
            ("mod_block/ip_blocklist.data", String::new()),
            ("mod_block/block_rules.data", rules.to_string()),
        ],
    );
    let out = client(&e.h, "blocked");
    assert!(out.contains("ok blocked"), "{out}");
    assert_eq!(common::counter(&e.h, "err_block"), 1);
    // The echo path still works, so the origin was up all along.
    assert!(client(&e.h, "echo").contains("ok echo"));
    let log = e.origin.wait_for("closed /echo");
    assert!(!log.contains("/blocked"), "{log}");
    assert_eq!(common::counter(&e.h, "web_socket_upgrade"), 1);
}

#[test]
fn idle_tunnel_is_closed_on_both_sides_after_timeout_read_client() {
    let e = start(
        json!({"ClusterBasic": {"TimeoutReadClient": 1000}}),
        &[],
        &[],
    );
    let out = client(&e.h, "idle");
    let took: f64 = out
        .trim()
        .strip_prefix("ok idle ")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    assert!((0.8..5.0).contains(&took), "closed after {took} s");
    let log = e.origin.wait_for("closed /idle");
    assert!(
        log.contains("closed /idle"),
        "the origin's side closed too: {log}"
    );
    assert_eq!(common::counter(&e.h, "web_socket_err_idle"), 1);
    assert!(common::eventually(|| common::counter(
        &e.h,
        "web_socket_active"
    ) == 0));
}

#[test]
fn wss_over_the_https_listener() {
    let origin = WsOrigin::start();
    let mut l = Layout::single(Cluster::simple("c", &[origin.addr]));
    l.server_extra
        .push_str("HttpsPort = 0\nTlsHandshakeTimeout = 1\n");
    let d = l.write();
    common::tls::write_files(&d);
    let h = common::start(d.path(), None);
    let port = h.https_addr.expect("HTTPS listener").port();
    let out = client_at(&format!("wss://127.0.0.1:{port}"), "echo");
    assert!(out.contains("ok echo 1000"), "{out}");
    assert!(origin.wait_for("closed /echo").contains("closed /echo"));
    assert_eq!(common::counter(&h, "web_socket_upgrade"), 1);
    assert_eq!(common::counter(&h, "web_socket_err_transfer"), 0);
    assert!(common::eventually(|| common::counter(
        &h,
        "web_socket_active"
    ) == 0));
}

/// A raw backend that accepts one handshake with 101, then reads to end
/// of stream and answers with what it read, then closes: only a
/// half-close passed on lets it answer.
fn half_close_backend() -> (SocketAddr, std::thread::JoinHandle<Vec<u8>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut got = Vec::new();
        let mut b = [0u8; 4096];
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = s.read(&mut b).unwrap();
            assert!(n > 0, "handshake cut short");
            got.extend_from_slice(&b[..n]);
        }
        let end = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let head = got[..end].to_vec();
        let mut data = got[end..].to_vec();
        s.write_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\nhi")
            .unwrap();
        loop {
            let n = s.read(&mut b).unwrap();
            if n == 0 {
                break;
            }
            data.extend_from_slice(&b[..n]);
        }
        s.write_all(format!("read {} bytes", data.len()).as_bytes())
            .unwrap();
        head
    });
    (addr, t)
}

#[test]
fn half_close_is_passed_on_and_the_other_direction_keeps_going() {
    let (addr, backend) = half_close_backend();
    // Header rules apply to the handshake and to the 101 (HandleReadResponse).
    let mut l = Layout::single(Cluster::simple("c", &[addr]));
    l.modules = vec!["mod_header".into()];
    let d = l.write();
    d.write(
        "mod_header/mod_header.conf",
        "[Basic]\nDataPath = mod_header/header_rule.data\n",
    );
    let rules = json!({"Version": "1", "Config": {"p": [
        {"cond": "default_t()", "actions": [
            {"cmd": "REQ_HEADER_SET", "params": ["X-Ws-Req", "yes"]},
            {"cmd": "RSP_HEADER_SET", "params": ["X-Proxied-By", "ringfront"]}
        ], "last": true}
    ]}});
    d.write_json("mod_header/header_rule.data", &rules);
    let h = common::start(d.path(), None);
    let mut c = TcpStream::connect(common::client::local(h.http_addr)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // Frames right behind the handshake are forwarded after the 101.
    c.write_all(b"GET /chat HTTP/1.1\r\nHost: example.org\r\nConnection: keep-alive, Upgrade\r\nUpgrade: WebSocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\nearly")
        .unwrap();
    let mut got = Vec::new();
    let mut b = [0u8; 4096];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = c.read(&mut b).unwrap();
        assert!(n > 0, "no 101: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&b[..n]);
    }
    let text = String::from_utf8_lossy(&got).into_owned();
    assert!(
        text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{text}"
    );
    assert!(text.contains("\r\nUpgrade: websocket\r\n"), "{text}");
    assert!(text.contains("\r\nConnection: Upgrade\r\n"), "{text}");
    assert!(text.contains("\r\nSec-WebSocket-Accept: x\r\n"), "{text}");
    assert!(text.contains("\r\nX-Proxied-By: ringfront\r\n"), "{text}");
    assert!(
        !text.to_ascii_lowercase().contains("content-length"),
        "{text}"
    );
    let payload = vec![b'x'; 300_000];
    c.write_all(&payload).unwrap();
    c.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).unwrap();
    got.extend_from_slice(&rest);
    let text = String::from_utf8_lossy(&got).into_owned();
    let body = &text[text.find("\r\n\r\n").unwrap() + 4..];
    assert_eq!(body, format!("hiread {} bytes", 5 + payload.len()));

    let head = String::from_utf8(backend.join().unwrap()).unwrap();
    assert!(head.starts_with("GET /chat HTTP/1.1\r\n"), "{head}");
    assert!(
        head.contains("\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"),
        "{head}"
    );
    assert!(
        head.contains("\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"),
        "{head}"
    );
    assert!(
        head.contains("\r\nX-Forwarded-For: 127.0.0.1\r\n"),
        "{head}"
    );
    assert_eq!(common::counter(&h, "web_socket_err_transfer"), 0);
    assert!(common::eventually(|| common::counter(
        &h,
        "web_socket_active"
    ) == 0));
}

#[test]
fn other_upgrades_are_forwarded_without_the_upgrade() {
    let o = Origin::start(|_| Reply::text("plain"));
    let d = Layout::single(Cluster::simple("c", &[o.addr])).write();
    let h = common::start(d.path(), None);
    let mut c = common::client::Conn::open(h.http_addr);
    c.send(b"GET / HTTP/1.1\r\nHost: example.org\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n");
    let r = c.response(false).expect("a response");
    assert_eq!((r.status, r.text()), (200, "plain".to_string()));
    // A POST asking for websocket is no handshake either (BFE: GET only).
    c.send(b"POST / HTTP/1.1\r\nHost: example.org\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 0\r\n\r\n");
    let r = c
        .response(false)
        .expect("a second response on the connection");
    assert_eq!(r.status, 200);
    let seen = o.requests();
    assert_eq!(seen.len(), 2);
    for s in &seen {
        assert!(!s.has_header("upgrade"), "{:?}", s.header("upgrade"));
        assert!(!s.has_header("http2-settings"));
        assert!(s
            .header("connection")
            .is_none_or(|v| !v.to_ascii_lowercase().contains("upgrade")));
    }
    assert_eq!(common::counter(&h, "web_socket_upgrade"), 0);
}

#[test]
fn a_101_that_does_not_switch_to_websocket_is_a_502() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let backend = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut got = Vec::new();
        let mut b = [0u8; 4096];
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = s.read(&mut b).unwrap();
            assert!(n > 0);
            got.extend_from_slice(&b[..n]);
        }
        s.write_all(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
        )
        .unwrap();
    });
    let d = Layout::single(Cluster::simple("c", &[addr])).write();
    let h = common::start(d.path(), None);
    let mut c = common::client::Conn::open(h.http_addr);
    c.send(b"GET /chat HTTP/1.1\r\nHost: example.org\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    let r = c.response(false).expect("a response");
    assert_eq!(r.status, 502);
    backend.join().unwrap();
    assert_eq!(common::counter(&h, "web_socket_upgrade"), 0);
    assert_eq!(common::counter(&h, "err_backend_broken"), 1);
}

/// Read from `c` until a head's blank line has arrived; returns the head
/// and whatever came after it.
fn read_head(c: &mut TcpStream) -> (String, Vec<u8>) {
    let mut got = Vec::new();
    let mut b = [0u8; 4096];
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = got[end + 4..].to_vec();
            return (String::from_utf8_lossy(&got[..end + 4]).into_owned(), rest);
        }
        let n = c.read(&mut b).unwrap();
        assert!(
            n > 0,
            "closed before a head: {}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&b[..n]);
    }
}

#[test]
fn a_handshake_later_on_a_kept_alive_connection_is_tunnelled_too() {
    let e = start(json!({}), &[], &[]);
    let mut c = TcpStream::connect(e.h.http_addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // First a plain request (the origin wants an upgrade: 426), with a
    // length, so the connection stays open.
    c.write_all(b"GET /echo HTTP/1.1\r\nHost: example.org\r\n\r\n")
        .unwrap();
    let (head, mut rest) = read_head(&mut c);
    assert!(head.starts_with("HTTP/1.1 426 "), "{head}");
    assert!(!head.contains("Connection: close"), "{head}");
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{head}"));
    while rest.len() < len {
        let mut b = [0u8; 1024];
        let n = c.read(&mut b).unwrap();
        assert!(n > 0);
        rest.extend_from_slice(&b[..n]);
    }
    // Then the handshake, on the same connection.
    c.write_all(b"GET /echo HTTP/1.1\r\nHost: example.org\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        .unwrap();
    let (head, mut rest) = read_head(&mut c);
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    // RFC 6455's sample key and its accept value.
    assert!(
        head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        "{head}"
    );
    // A masked text frame "hi"; the echo comes back unmasked.
    let mask = [1u8, 2, 3, 4];
    let mut frame = vec![0x81, 0x80 | 2];
    frame.extend_from_slice(&mask);
    frame.extend(b"hi".iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    c.write_all(&frame).unwrap();
    while rest.len() < 4 {
        let mut b = [0u8; 64];
        let n = c.read(&mut b).unwrap();
        assert!(n > 0, "tunnel closed: {rest:?}");
        rest.extend_from_slice(&b[..n]);
    }
    assert_eq!(&rest[..4], &[0x81, 2, b'h', b'i']);
    drop(c);
    assert!(e.origin.wait_for("closed /echo").contains("closed /echo"));
    assert_eq!(common::counter(&e.h, "web_socket_upgrade"), 1);
}

#[test]
fn a_handshake_body_is_forwarded_as_bfe_does() {
    let (addr, backend) = half_close_backend();
    let d = Layout::single(Cluster::simple("c", &[addr])).write();
    let h = common::start(d.path(), None);
    let mut c = TcpStream::connect(common::client::local(h.http_addr)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(b"GET /chat HTTP/1.1\r\nHost: example.org\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 5\r\n\r\nhelloearly")
        .unwrap();
    let (head, rest) = read_head(&mut c);
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    c.shutdown(std::net::Shutdown::Write).unwrap();
    let mut all = rest;
    c.read_to_end(&mut all).unwrap();
    // The backend read the body and the early bytes behind it.
    assert_eq!(String::from_utf8_lossy(&all), "hiread 10 bytes");
    let head = String::from_utf8(backend.join().unwrap()).unwrap();
    assert!(head.contains("\r\nContent-Length: 5\r\n"), "{head}");
}

/// A client that completes the handshake with raw bytes and then resets
/// its connection (SO_LINGER 0).
const RESETTER: &str = r#"
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /echo HTTP/1.1\r\nHost: example.org\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
got = b""
while b"\r\n\r\n" not in got:
    b = s.recv(4096)
    assert b, got
    got += b
assert got.startswith(b"HTTP/1.1 101 "), got
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()
print("ok reset")
"#;

#[test]
fn a_client_reset_ends_the_tunnel_and_is_counted() {
    let e = start(json!({}), &[], &[]);
    let out = Command::new(python())
        .args(["-c", RESETTER, &e.h.http_addr.port().to_string()])
        .output()
        .expect("python3 runs");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ok reset"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The backend's side is closed with it.
    assert!(e.origin.wait_for("closed /echo").contains("closed /echo"));
    assert!(common::eventually(|| common::counter(
        &e.h,
        "web_socket_err_transfer"
    ) == 1));
    assert_eq!(common::counter(&e.h, "web_socket_active"), 0);
    assert_eq!(common::counter(&e.h, "web_socket_upgrade"), 1);
}
