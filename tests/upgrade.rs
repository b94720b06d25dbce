//! Zero-downtime binary upgrade (SIGUSR2): the real binary, copied to a
//! temporary path so that "the new binary at the same path" is that copy,
//! hands its listening sockets to a new process while wrk drives requests
//! through it. Bar: no socket error and no non-2xx answer across the
//! hand-over, the old process exits, the new one serves. A new binary that
//! fails (exits at once, or refuses its configuration) leaves the old one
//! serving.

mod common;

use common::conf::{Cluster, ConfDir, Layout};
use common::origin::Origin;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Ports of one instance.
struct Ports {
    http: SocketAddr,
    https: SocketAddr,
    monitor: SocketAddr,
}

/// A conf dir (two workers, fixed ports, HTTP and HTTPS) serving
/// `origin`, and a copy of the binary inside it.
fn setup(origin: &Origin) -> (ConfDir, PathBuf, Ports) {
    let (http, https, monitor) = (free_port(), free_port(), free_port());
    let mut l = Layout::single(Cluster::simple("c", &[origin.addr]));
    l.workers = 2;
    l.server_extra.push_str(&format!("HttpsPort = {https}\n"));
    let d = l.write();
    common::tls::write_files(&d);
    d.write(
        "bfe.conf",
        &l.bfe_conf()
            .replace("HttpPort = 0", &format!("HttpPort = {http}"))
            .replace("MonitorPort = 0", &format!("MonitorPort = {monitor}")),
    );
    let bin = d.path().join("ringfront-copy");
    std::fs::copy(env!("CARGO_BIN_EXE_ringfront"), &bin).expect("copy binary");
    let at = |p| SocketAddr::from(([127, 0, 0, 1], p));
    let ports = Ports {
        http: at(http),
        https: at(https),
        monitor: at(monitor),
    };
    (d, bin, ports)
}

/// An HTTPS request through ringfront gets the origin's answer.
fn serves_tls(addr: SocketAddr) -> bool {
    let Ok(mut t) = common::tls::connect_verified(addr, "example.org") else {
        return false;
    };
    let raw = common::tls::exchange(
        &mut t,
        b"GET / HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n",
    );
    common::client::parse_response(&raw).is_some_and(|r| r.text() == "upgrade-origin")
}

/// Starts the copied binary. A test on another thread may fork while our
/// copy's write descriptor is still open; its child holds that descriptor
/// until it execs, and exec of our copy meanwhile fails with ETXTBSY. So a
/// busy file is retried for a while.
fn start(bin: &Path, conf: &ConfDir) -> Child {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let log = std::fs::File::create(conf.path().join("stderr.log")).expect("log file");
        match Command::new(bin)
            .arg("-c")
            .arg(conf.path())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
        {
            Ok(child) => return child,
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                assert!(Instant::now() < deadline, "start ringfront: {e}");
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("start ringfront: {e}"),
        }
    }
}

fn serves(addr: SocketAddr) -> bool {
    common::client::get(addr, "example.org", "/").text() == "upgrade-origin"
}

fn wait_serving(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(serves(addr));
}

fn signal(pid: u32, sig: i32) {
    // SAFETY: kill on a pid; no memory involved.
    unsafe {
        libc::kill(pid as i32, sig);
    }
}

/// The monitor port answers 200 right now.
fn monitor_ok(addr: SocketAddr) -> bool {
    let req = b"GET /monitor/config_state HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n";
    let raw = common::client::raw(addr, req);
    common::client::parse_response(&raw).is_some_and(|r| r.status == 200)
}

/// Pids of running processes whose executable is `bin`.
fn pids_running(bin: &Path) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if std::fs::read_link(e.path().join("exe")).is_ok_and(|p| p == bin) {
            out.push(pid);
        }
    }
    out
}

fn log_of(conf: &ConfDir) -> String {
    std::fs::read_to_string(conf.path().join("stderr.log")).unwrap_or_default()
}

#[test]
fn sigusr2_hands_over_under_load_without_a_failed_request() {
    hand_over_under_load(None);
}

/// The new configuration runs one worker where the old ran two: the one
/// worker accepts on both passed sockets, so neither closes with
/// connections queued. And three: the third binds a fresh socket.
#[test]
fn a_changed_worker_count_loses_nothing() {
    hand_over_under_load(Some(1));
    hand_over_under_load(Some(3));
}

/// Start with two workers, run wrk, send SIGUSR2 after 2 s (with the
/// configuration changed to `workers_after` workers first, if given).
fn hand_over_under_load(workers_after: Option<usize>) {
    let origin = Origin::named("upgrade-origin");
    let (d, bin, ports) = setup(&origin);
    let Ports {
        http,
        https,
        monitor,
    } = ports;
    let mut old = start(&bin, &d);
    wait_serving(http);
    // Two loads: keep-alive connections (the drain path: the old process
    // must close them only after an answer) and a new connection per
    // request (the accept-queue path: connections queued on a socket that
    // closes are reset, so the sockets themselves must pass over).
    let wrks: Vec<_> = [None, Some("Connection: close")]
        .into_iter()
        .map(|extra| {
            let url = format!("http://{http}/");
            std::thread::spawn(move || {
                let mut c = Command::new("wrk");
                c.args(["-t1", "-c8", "-d6s", "-H", "Host: example.org"]);
                if let Some(h) = extra {
                    c.args(["-H", h]);
                }
                c.arg(&url).output().expect("run wrk (apt-get install wrk)")
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    if let Some(n) = workers_after {
        let conf = std::fs::read_to_string(d.path().join("bfe.conf")).expect("conf");
        d.write(
            "bfe.conf",
            &conf.replace("MaxCpus = 2", &format!("MaxCpus = {n}")),
        );
    }
    signal(old.id(), libc::SIGUSR2);

    // The old process drains and exits on its own.
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = old.try_wait().expect("wait") {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "old process did not exit\n{}",
            log_of(&d)
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}\n{}", log_of(&d));
    let reports: Vec<String> = wrks
        .into_iter()
        .map(|t| {
            let out = t.join().expect("wrk thread");
            assert!(out.status.success(), "wrk failed: {out:?}");
            String::from_utf8_lossy(&out.stdout).into_owned()
        })
        .collect();
    eprintln!("wrk through the hand-over:\n{}", reports.join("\n"));

    // Someone else serves now: the new process, from the same binary path.
    let new: Vec<u32> = pids_running(&bin)
        .into_iter()
        .filter(|&p| p != old.id())
        .collect();
    assert_eq!(new.len(), 1, "new process: {new:?}\n{}", log_of(&d));
    assert!(serves(http), "new process does not serve HTTP");
    assert!(serves_tls(https), "new process does not serve HTTPS");
    assert!(
        monitor_ok(monitor),
        "new process does not serve the monitor"
    );
    signal(new[0], libc::SIGTERM);

    for report in &reports {
        assert!(
            report.contains("requests in"),
            "wrk report unreadable: {report}"
        );
        assert!(
            !report.contains("Socket errors"),
            "socket errors across the hand-over:\n{report}\n{}",
            log_of(&d)
        );
        assert!(
            !report.contains("Non-2xx"),
            "non-2xx answers across the hand-over:\n{report}"
        );
    }
    if let Some(n) = workers_after {
        let started = format!("with {n} worker(s)");
        assert!(log_of(&d).contains(&started), "{}", log_of(&d));
    }
    assert!(
        log_of(&d).contains("serves on our listeners"),
        "{}",
        log_of(&d)
    );
}

#[test]
fn a_failed_upgrade_leaves_the_old_process_serving() {
    let origin = Origin::named("upgrade-origin");
    let (d, bin, ports) = setup(&origin);
    let Ports {
        http,
        https,
        monitor,
    } = ports;
    let mut old = start(&bin, &d);
    wait_serving(http);
    assert!(serves_tls(https));

    let wait_for_log = |what: &str, n: usize| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while log_of(&d).matches(what).count() < n {
            assert!(Instant::now() < deadline, "no {what:?}:\n{}", log_of(&d));
            std::thread::sleep(Duration::from_millis(20));
        }
    };

    // 1. The configuration no longer checks: the new process exits.
    let conf = std::fs::read_to_string(d.path().join("bfe.conf")).expect("conf");
    d.write(
        "bfe.conf",
        &conf.replace("MaxCpus", "NoSuchKey = 1\nMaxCpus"),
    );
    signal(old.id(), libc::SIGUSR2);
    wait_for_log("upgrade failed, still serving", 1);
    assert!(
        old.try_wait().expect("wait").is_none(),
        "old process exited"
    );
    assert!(serves(http) && serves_tls(https) && monitor_ok(monitor));
    d.write("bfe.conf", &conf);

    // 2. The file at the binary's path exits at once.
    std::fs::remove_file(&bin).expect("remove copy");
    std::fs::write(&bin, "#!/bin/sh\nexit 3\n").expect("script");
    std::fs::set_permissions(&bin, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    signal(old.id(), libc::SIGUSR2);
    wait_for_log("upgrade failed, still serving", 2);
    assert!(
        old.try_wait().expect("wait").is_none(),
        "old process exited"
    );
    assert!(serves(http) && monitor_ok(monitor));

    signal(old.id(), libc::SIGTERM);
    let status = old.wait().expect("wait");
    assert!(status.success(), "{status:?}");
}
