//! Readiness notification (systemd `Type=notify`): the real binary, started
//! with `NOTIFY_SOCKET` pointing at a datagram socket this test owns, as
//! systemd would start it. `READY=1` must arrive only once the listeners
//! accept, `STOPPING=1` at SIGTERM, and a notify socket that does not
//! work must not stop the server.

mod common;

use common::conf::{Cluster, ConfDir, Layout};
use common::origin::Origin;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::net::UnixDatagram;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A conf dir serving `origin` on fixed ports (the binary prints nothing
/// about port 0, so the test picks them).
fn conf(origin: &Origin) -> (ConfDir, SocketAddr, SocketAddr) {
    let (http, monitor) = (free_port(), free_port());
    let l = Layout::single(Cluster::simple("c", &[origin.addr]));
    let d = l.write();
    d.write(
        "bfe.conf",
        &l.bfe_conf()
            .replace("HttpPort = 0", &format!("HttpPort = {http}"))
            .replace("MonitorPort = 0", &format!("MonitorPort = {monitor}")),
    );
    (
        d,
        SocketAddr::from(([127, 0, 0, 1], http)),
        SocketAddr::from(([127, 0, 0, 1], monitor)),
    )
}

fn start(conf: &ConfDir, notify_socket: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ringfront"))
        .arg("-c")
        .arg(conf.path())
        .env("NOTIFY_SOCKET", notify_socket)
        .spawn()
        .expect("start ringfront")
}

/// The next datagram, within 20 s (start-up of a debug build included).
fn next_message(sock: &UnixDatagram) -> String {
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).expect("a notification within 20 s");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn lines(msg: &str) -> Vec<&str> {
    msg.split('\n').collect()
}

fn sigterm_and_wait(child: &mut Child) -> std::process::ExitStatus {
    // SAFETY: kill on the pid of a child we have not reaped yet.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(s) = child.try_wait().expect("wait") {
            return s;
        }
        assert!(Instant::now() < deadline, "ringfront did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether `addr` answers a request through ringfront with the origin's
/// text right now (no retrying: the point is that it already does).
fn serves_now(addr: SocketAddr) -> bool {
    common::client::get(addr, "example.org", "/").text() == "notified-origin"
}

#[test]
fn ready_after_listeners_accept_and_stopping_at_sigterm() {
    let origin = Origin::named("notified-origin");
    let (d, http, monitor) = conf(&origin);
    let sock_path = d.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).expect("bind notify socket");
    let mut child = start(&d, sock_path.to_str().expect("utf-8 path"));

    let ready = next_message(&sock);
    let l = lines(&ready);
    assert!(l.contains(&"READY=1"), "{ready:?}");
    assert!(
        l.contains(&format!("MAINPID={}", child.id()).as_str()),
        "{ready:?}"
    );
    assert!(
        l.iter()
            .any(|s| s.starts_with("STATUS=") && s.contains(&http.port().to_string())),
        "{ready:?}"
    );
    // Ready means ready: both ports answer at once, without a retry.
    assert!(serves_now(http), "READY=1 before the HTTP listener served");
    let (status, _) = monitor_get(monitor, "/monitor/config_state");
    assert_eq!(status, 200, "READY=1 before the monitor port served");

    let status = sigterm_and_wait(&mut child);
    let stopping = next_message(&sock);
    assert!(lines(&stopping).contains(&"STOPPING=1"), "{stopping:?}");
    assert!(status.success(), "{status:?}");
}

#[test]
fn abstract_namespace_socket() {
    use std::os::linux::net::SocketAddrExt;
    let origin = Origin::named("notified-origin");
    let (d, http, _) = conf(&origin);
    let name = format!("ringfront-notify-test-{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).expect("name");
    let sock = UnixDatagram::bind_addr(&addr).expect("bind abstract socket");
    let mut child = start(&d, &format!("@{name}"));
    let ready = next_message(&sock);
    assert!(lines(&ready).contains(&"READY=1"), "{ready:?}");
    assert!(serves_now(http));
    sigterm_and_wait(&mut child);
    assert!(lines(&next_message(&sock)).contains(&"STOPPING=1"));
}

#[test]
fn a_broken_notify_socket_does_not_stop_the_server() {
    let origin = Origin::named("notified-origin");
    let (d, http, _) = conf(&origin);
    let mut child = start(&d, "/nonexistent/ringfront/notify.sock");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(http).is_err() {
        assert!(Instant::now() < deadline, "did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(serves_now(http));
    let status = sigterm_and_wait(&mut child);
    assert!(status.success(), "{status:?}");
}

fn monitor_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let req = format!("GET {path} HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n");
    let raw = common::client::raw(addr, req.as_bytes());
    let r = common::client::parse_response(&raw).expect("monitor response");
    (r.status, r.text())
}
