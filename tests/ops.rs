//! Operating the real binary as an operator would: signals (SIGHUP
//! reload, SIGUSR1 log reopen, SIGTERM/SIGQUIT drain, a second SIGTERM,
//! SIGUSR2), one instance per port, listen addresses (IPv6, dual-stack,
//! `MonitorAddr`), the log's format and version line.

mod common;

use common::conf::{Cluster, ConfDir, Layout};
use common::origin::{Origin, Reply};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A running `ringfront -c DIR -l LOGDIR` on fixed ports.
struct Proc {
    child: Child,
    port: u16,
    monitor: u16,
    log_dir: PathBuf,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.log_dir);
    }
}

/// bfe.conf of `l` on fixed ports, plus `extra` `[Server]` lines (later
/// lines win over the layout's).
fn conf_text(l: &Layout, port: u16, monitor: u16, extra: &str) -> String {
    l.bfe_conf()
        .replace("HttpPort = 0", &format!("HttpPort = {port}"))
        .replace("MonitorPort = 0", &format!("MonitorPort = {monitor}"))
        .replace(
            "GracefulShutdownTimeout = 2\n",
            &format!("GracefulShutdownTimeout = 2\n{extra}"),
        )
}

impl Proc {
    fn start(d: &ConfDir, l: &Layout, extra: &str) -> Proc {
        let (port, monitor) = (free_port(), free_port());
        d.write("bfe.conf", &conf_text(l, port, monitor, extra));
        let log_dir = d.path().with_extension("log");
        let child = Command::new(env!("CARGO_BIN_EXE_ringfront"))
            .arg("-c")
            .arg(d.path())
            .arg("-l")
            .arg(&log_dir)
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ringfront");
        let p = Proc {
            child,
            port,
            monitor,
            log_dir,
        };
        assert!(
            wait_until(Duration::from_secs(10), || p.log().contains("listening on")),
            "did not start:\n{}",
            p.log()
        );
        p
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log_dir.join("ringfront.log")).unwrap_or_default()
    }

    fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(self.child.id() as i32, sig) };
        assert_eq!(rc, 0, "kill");
    }

    /// Wait up to `limit` for the process to exit.
    fn exit_within(&mut self, limit: Duration) -> Option<ExitStatus> {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    fn log_has(&self, what: &str) -> bool {
        wait_until(Duration::from_secs(5), || self.log().contains(what))
    }
}

fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn body(addr: SocketAddr) -> String {
    common::client::get(addr, "example.org", "/").text()
}

/// SIGHUP swaps in a changed route (requests go to the other cluster)
/// and logs a bfe.conf key that needs a restart; a broken data file on
/// the next SIGHUP changes nothing, not even the parts that were valid.
#[test]
fn sighup_reloads_whole_dir_and_a_broken_one_changes_nothing() {
    let (a, b) = (Origin::named("A"), Origin::named("B"));
    let mut l = Layout::single(Cluster::simple("ca", &[a.addr]));
    l.clusters.push(Cluster::simple("cb", &[b.addr]));
    let d = l.write();
    let p = Proc::start(&d, &l, "");
    assert_eq!(body(p.addr()), "A");

    let mut to_b = Layout::single(Cluster::simple("ca", &[a.addr]));
    to_b.rules = vec![("p".into(), vec![("default_t()".into(), "cb".into())])];
    d.write_json("server_data_conf/route_rule.data", &to_b.route_rule());
    d.write(
        "bfe.conf",
        &conf_text(&l, p.port, p.monitor, "ClientReadTimeout = 7\n"),
    );
    p.signal(libc::SIGHUP);
    assert!(
        wait_until(Duration::from_secs(5), || body(p.addr()) == "B"),
        "{}",
        p.log()
    );
    assert!(
        p.log_has(
            "bfe.conf Server.ClientReadTimeout changed; it takes effect only after a restart"
        ),
        "{}",
        p.log()
    );

    // Back to A in the route rules, but gslb.data broken: nothing moves.
    d.write_json("server_data_conf/route_rule.data", &l.route_rule());
    d.write("cluster_conf/gslb.data", "{\"Clusters\": ");
    p.signal(libc::SIGHUP);
    assert!(
        p.log_has("reload rejected, configuration unchanged"),
        "{}",
        p.log()
    );
    assert!(p.log().contains("gslb.data"), "{}", p.log());
    for _ in 0..5 {
        assert_eq!(body(p.addr()), "B");
    }
}

/// SIGUSR1 reopens ringfront's own `-l` log after logrotate moved it.
#[test]
fn sigusr1_reopens_own_log() {
    let o = Origin::named("A");
    let l = Layout::single(Cluster::simple("c", &[o.addr]));
    let d = l.write();
    let p = Proc::start(&d, &l, "");
    let log = p.log_dir.join("ringfront.log");
    std::fs::rename(&log, p.log_dir.join("ringfront.log.1")).expect("rotate");
    p.signal(libc::SIGUSR1);
    assert!(p.log_has("log file reopened"), "no new log file");
    let old = std::fs::read_to_string(p.log_dir.join("ringfront.log.1")).expect("old log");
    assert!(old.contains("SIGUSR1: reopening log files"), "{old}");
    assert_eq!(body(p.addr()), "A");
}

/// SIGTERM: new connections are refused, a slow request in flight still
/// gets its whole answer, the process exits 0. SIGQUIT the same.
#[test]
fn sigterm_and_sigquit_drain_a_slow_request() {
    for sig in [libc::SIGTERM, libc::SIGQUIT] {
        let o = Origin::start(|_| {
            std::thread::sleep(Duration::from_millis(1500));
            Reply::text("slow")
        });
        let l = Layout::single(Cluster::simple("c", &[o.addr]));
        let d = l.write();
        let mut p = Proc::start(&d, &l, "");
        let addr = p.addr();
        let slow = std::thread::spawn(move || common::client::get(addr, "example.org", "/"));
        assert!(wait_until(Duration::from_secs(5), || o.count() == 1));
        p.signal(sig);
        // Listeners close at once, while the slow request is still running.
        assert!(
            wait_until(Duration::from_millis(500), || TcpStream::connect(addr)
                .is_err()),
            "still accepting during the drain"
        );
        assert!(!slow.is_finished());
        let r = slow.join().expect("client");
        assert_eq!((r.status, r.text().as_str()), (200, "slow"), "signal {sig}");
        let status = p.exit_within(Duration::from_secs(5)).expect("exited");
        assert!(status.success(), "{status:?}");
        assert!(p.log().contains("shutting down gracefully"), "{}", p.log());
    }
}

/// A second SIGTERM during the drain exits at once (status 1) instead of
/// waiting out GracefulShutdownTimeout for a stalled backend.
#[test]
fn second_sigterm_exits_at_once() {
    let o = Origin::start(|_| {
        std::thread::sleep(Duration::from_secs(20));
        Reply::text("never")
    });
    let l = Layout::single(Cluster::simple("c", &[o.addr]));
    let d = l.write();
    let mut p = Proc::start(&d, &l, "GracefulShutdownTimeout = 60\n");
    let addr = p.addr();
    std::thread::spawn(move || {
        let _ = common::client::raw(addr, b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n");
    });
    assert!(wait_until(Duration::from_secs(5), || o.count() == 1));
    p.signal(libc::SIGTERM);
    assert!(p.log_has("shutting down gracefully"));
    // Still draining: the stalled request holds it.
    assert!(p.exit_within(Duration::from_millis(500)).is_none());
    let t = Instant::now();
    p.signal(libc::SIGTERM);
    let status = p
        .exit_within(Duration::from_secs(2))
        .expect("exited at once");
    assert_eq!(status.code(), Some(1));
    assert!(t.elapsed() < Duration::from_secs(2));
    assert!(p
        .log()
        .contains("SIGTERM during graceful shutdown: exiting now"));
}

/// A second instance on the same conf (same ports) refuses to start and
/// names the port and the process holding it; the first keeps serving.
#[test]
fn second_instance_names_port_and_holder() {
    let o = Origin::named("A");
    let l = Layout::single(Cluster::simple("c", &[o.addr]));
    let d = l.write();
    let p = Proc::start(&d, &l, "");
    let out = Command::new(env!("CARGO_BIN_EXE_ringfront"))
        .arg("-c")
        .arg(d.path())
        .output()
        .expect("second ringfront");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let want = format!(":{}): it is in use by pid {} (", p.port, p.child.id());
    assert!(
        err.contains(&format!("cannot listen on HTTP port {} (", p.port)),
        "{err}"
    );
    assert!(err.contains(&want), "{err}");
    assert!(err.contains(env!("CARGO_BIN_EXE_ringfront")), "{err}");
    assert_eq!(err.matches("start-up failed").count(), 1, "{err}");
    assert_eq!(body(p.addr()), "A");
}

/// The log: RFC 3339 UTC timestamps with milliseconds, the version and
/// build on the first line, the open-file limit, and one warn line per
/// failed request naming its error code.
#[test]
fn log_format_version_and_failed_requests() {
    let l = Layout::single(Cluster::simple("c", &[common::origin::refused_addr()]));
    let d = l.write();
    let p = Proc::start(&d, &l, "");
    let r = common::client::get(p.addr(), "example.org", "/x?y=1");
    assert_eq!(r.status, 502);
    assert!(
        p.log_has("BK_NO_BACKEND (err_backend_unavailable)"),
        "{}",
        p.log()
    );
    let log = p.log();
    let first = log.lines().next().expect("a line");
    assert!(
        first.contains(&format!(
            "INFO  ringfront {} (build ",
            env!("CARGO_PKG_VERSION")
        )),
        "{first}"
    );
    for line in log.lines() {
        let ts = line.split(' ').next().expect("timestamp");
        let b = ts.as_bytes();
        assert!(
            ts.len() == 24 && b[4] == b'-' && b[10] == b'T' && b[19] == b'.' && b[23] == b'Z',
            "{line}"
        );
    }
    assert!(log.contains("open files limit (RLIMIT_NOFILE): "), "{log}");
    let warn = log
        .lines()
        .find(|l| l.contains("BK_NO_BACKEND"))
        .expect("warn");
    assert!(
        warn.contains(" WARN ") && warn.contains("GET example.org /x?y=1: status 502"),
        "{warn}"
    );
}

/// `ringfront -v` and `--version` print the version and build.
#[test]
fn version_flag() {
    for flag in ["-v", "--version"] {
        let out = Command::new(env!("CARGO_BIN_EXE_ringfront"))
            .arg(flag)
            .output()
            .expect("run");
        assert!(out.status.success());
        let s = String::from_utf8_lossy(&out.stdout);
        assert!(
            s.starts_with(&format!("ringfront {} (build ", env!("CARGO_PKG_VERSION"))),
            "{s}"
        );
    }
}

/// GET / from `addr` exactly (no mapping to 127.0.0.1): the body.
fn get_at(addr: SocketAddr) -> std::io::Result<String> {
    use std::io::Write;
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(b"GET / HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n")?;
    let raw = common::client::read_to_close(&mut s);
    let r = common::client::parse_response(&raw).expect("response");
    Ok(r.text())
}

fn at(ip: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip.parse().expect("ip"), port)
}

/// No HttpAddr: one dual-stack socket on `[::]` serves IPv6 and IPv4
/// clients, and an IPv4 client is seen as IPv4 (not `::ffff:127.0.0.1`).
#[test]
fn dual_stack_by_default() {
    let o = Origin::named("A");
    let l = Layout::single(Cluster::simple("c", &[o.addr]));
    let d = l.write();
    let h = common::start(d.path(), None);
    assert_eq!(h.http_addr.ip().to_string(), "::");
    let port = h.http_addr.port();
    assert_eq!(get_at(at("::1", port)).expect("IPv6"), "A");
    assert_eq!(get_at(at("127.0.0.1", port)).expect("IPv4"), "A");
    let xff: Vec<String> = o
        .requests()
        .iter()
        .filter_map(|s| s.header("X-Forwarded-For").map(str::to_string))
        .collect();
    assert_eq!(xff, ["::1", "127.0.0.1"]);
}

/// `HttpAddr = [::1]` listens on IPv6 loopback only; `MonitorAddr =
/// 127.0.0.1` keeps the monitor on IPv4 loopback only.
#[test]
fn http_addr_ipv6_and_monitor_addr_loopback() {
    let o = Origin::named("A");
    let mut l = Layout::single(Cluster::simple("c", &[o.addr]));
    l.server_extra = "HttpAddr = [::1]\nMonitorAddr = 127.0.0.1\n".into();
    let d = l.write();
    let h = common::start(d.path(), None);
    let (port, mport) = (h.http_addr.port(), h.monitor_addr.expect("monitor").port());
    assert_eq!(h.http_addr, at("::1", port));
    assert_eq!(h.monitor_addr, Some(at("127.0.0.1", mport)));
    assert_eq!(get_at(at("::1", port)).expect("IPv6"), "A");
    assert!(TcpStream::connect(at("127.0.0.1", port)).is_err());
    assert!(TcpStream::connect(at("::1", mport)).is_err());
    let (status, body) = common::monitor_get(&h, "/monitor/proxy_state");
    assert_eq!(status, 200, "{body}");
}

/// SIGHUP is all or nothing across core and module data: a new header
/// rule with a broken route file, or a new cluster with a broken module
/// file, changes neither; once both are good, both apply together.
#[test]
fn sighup_is_all_or_nothing_across_core_and_module_data() {
    let (a, b) = (Origin::named("A"), Origin::named("B"));
    let mut l = Layout::single(Cluster::simple("c", &[a.addr]));
    l.modules = vec!["mod_header".into()];
    let d = l.write();
    d.write(
        "mod_header/mod_header.conf",
        "[Basic]\nDataPath = mod_header/header_rule.data\n",
    );
    let rule = |v: &str| {
        serde_json::json!({"Version": v, "Config": {"p": [{"cond": "default_t()", "actions": [
            {"cmd": "RSP_HEADER_SET", "params": ["X-Rule", v]}], "last": true}]}})
    };
    d.write_json("mod_header/header_rule.data", &rule("v1"));
    let p = Proc::start(&d, &l, "");
    let seen = || {
        let r = common::client::get(p.addr(), "example.org", "/");
        (r.text(), r.header("X-Rule").unwrap_or("").to_string())
    };
    let v1 = ("A".to_string(), "v1".to_string());
    assert_eq!(seen(), v1);

    d.write_json("mod_header/header_rule.data", &rule("v2"));
    d.write("server_data_conf/route_rule.data", "{\"Version\": ");
    p.signal(libc::SIGHUP);
    assert!(p.log_has("route_rule.data"), "{}", p.log());
    assert_eq!(seen(), v1);

    d.write_json("server_data_conf/route_rule.data", &l.route_rule());
    let to_b = Layout::single(Cluster::simple("c", &[b.addr]));
    d.write_json("cluster_conf/cluster_table.data", &to_b.cluster_table());
    d.write(
        "mod_header/header_rule.data",
        "{\"Version\": \"v3\", \"Config\": [",
    );
    p.signal(libc::SIGHUP);
    assert!(p.log_has("header_rule.data"), "{}", p.log());
    assert_eq!(seen(), v1);

    d.write_json("mod_header/header_rule.data", &rule("v2"));
    p.signal(libc::SIGHUP);
    let v2 = ("B".to_string(), "v2".to_string());
    assert!(
        wait_until(Duration::from_secs(5), || seen() == v2),
        "{}",
        p.log()
    );
    assert_eq!(
        p.log()
            .matches("reload rejected, configuration unchanged")
            .count(),
        2
    );
}

/// A flood of failed requests is logged at most 100 a second per worker;
/// the next line written says how many were left out.
#[test]
fn failed_request_lines_are_rate_limited() {
    let l = Layout::single(Cluster::simple("c", &[common::origin::refused_addr()]));
    let d = l.write();
    let p = Proc::start(&d, &l, "");
    let t = Instant::now();
    // 400 in under 2 s: whatever the windows, one gets more than 100.
    for _ in 0..400 {
        assert_eq!(
            common::client::get(p.addr(), "example.org", "/").status,
            502
        );
    }
    assert!(t.elapsed() < Duration::from_secs(2), "too slow to flood");
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(
        common::client::get(p.addr(), "example.org", "/").status,
        502
    );
    assert!(
        p.log_has("more failed request(s) not logged (over 100 a second)"),
        "{}",
        p.log()
    );
    let lines = p.log().matches("BK_NO_BACKEND").count();
    assert!((100..400).contains(&lines), "{lines} lines");
}
