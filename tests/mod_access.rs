//! mod_access through the real server on loopback: the lines real clients
//! (curl) cause, JSON lines read by python3, the session log, `-t`, the
//! monitor counters, and SIGUSR1 reopening the file under the real binary.

mod common;

use common::conf::{Cluster, ConfDir, Layout};
use common::origin::{Origin, Reply};
use ringfront::server::ServerHandle;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

fn conf_text(req: &str, ses: &str, extra: &str) -> String {
    format!(
        "[Log]\nLogFile = access.log\n\n[Template]\nRequestTemplate = \"{}\"\nSessionTemplate = \"{}\"\n{extra}",
        req.replace('"', "\\\""),
        ses.replace('"', "\\\"")
    )
}

fn layout(origin: SocketAddr) -> Layout {
    let mut l = Layout::single(Cluster::simple("c", &[origin]));
    l.modules = vec!["mod_access".into()];
    l
}

struct Env {
    _origin: Origin,
    d: ConfDir,
    h: ServerHandle,
}

impl Env {
    fn log(&self) -> PathBuf {
        self.d.path().join("access.log")
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.h.http_addr.port())
    }
}

fn start(req: &str, ses: &str, extra: &str) -> Env {
    let origin = Origin::start(|_| Reply::text("hello from origin"));
    let d = layout(origin.addr).write();
    d.write("mod_access/mod_access.conf", &conf_text(req, ses, extra));
    let h = common::start(d.path(), None);
    Env {
        _origin: origin,
        d,
        h,
    }
}

/// The file's lines once it has at least `n` (waits up to 3 s: workers
/// flush every 200 ms).
fn lines(path: &Path, n: usize) -> Vec<String> {
    let mut got = Vec::new();
    for _ in 0..300 {
        got = std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect();
        if got.len() >= n {
            return got;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("wanted {n} lines in {}, got {got:?}", path.display());
}

/// curl's own count of what it sent and received:
/// (header bytes, body bytes, request bytes).
fn curl(args: &[&str]) -> (u64, u64, u64) {
    let out = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{size_header} %{size_download} %{size_request}",
        ])
        .args(args)
        .output()
        .expect("curl runs");
    let s = String::from_utf8_lossy(&out.stdout).to_string();
    let v: Vec<u64> = s.split(' ').map(|x| x.parse().unwrap()).collect();
    (v[0], v[1], v[2])
}

#[test]
fn custom_request_line_and_session_line_carry_real_values() {
    let e = start(
        "REQ $remote_addr $status_code $res_len $res_body_len ${User-Agent}req_header ${Content-Type}res_header $product $cluster_name $req_nth $host \"$request_line\" $error $all_time",
        "SES $ses_clientip $ses_keepalive_num $ses_read_total $ses_write_total $ses_error $ses_is_secure",
        "",
    );
    let (head, body, sent) = curl(&[
        "-A",
        "agent/1.0",
        "-H",
        "Host: example.org",
        &e.url("/a?b=1"),
    ]);
    assert_eq!(body, "hello from origin".len() as u64);
    let got = lines(&e.log(), 2);
    let req: Vec<&str> = got[0].split(' ').collect();
    assert_eq!(req[0], "REQ", "{got:?}");
    assert_eq!(req[1], "127.0.0.1");
    assert_eq!(req[2], "200");
    assert_eq!(
        req[3],
        (head + body).to_string(),
        "res_len = what curl received"
    );
    assert_eq!(req[4], body.to_string());
    assert_eq!(req[5], "agent/1.0");
    assert_eq!(req[6], "text/plain");
    assert_eq!(&req[7..11], ["p", "c", "1", "example.org"]);
    assert_eq!(&req[11..14], ["\"GET", "/a?b=1", "HTTP/1.1\""]);
    assert_eq!(req[14], "-");
    assert!(
        req[15].parse::<u64>().is_ok(),
        "all_time is a number: {got:?}"
    );
    let ses: Vec<&str> = got[1].split(' ').collect();
    assert_eq!(ses[0], "SES");
    assert!(ses[1].starts_with("127.0.0.1:"), "{got:?}");
    assert_eq!(ses[2], "1");
    assert_eq!(ses[3], sent.to_string(), "read_total = what curl sent");
    assert_eq!(ses[4], (head + body).to_string());
    assert_eq!(&ses[5..], ["-", "false"]);
}

#[test]
fn request_body_and_100_continue_are_counted() {
    let e = start(
        "REQ $req_body_len $status_code",
        "SES $ses_use100 $ses_read_total",
        "",
    );
    let body = "x".repeat(3000);
    let (_, _, sent) = curl(&[
        "-H",
        "Expect: 100-continue",
        "--data-binary",
        &body,
        &e.url("/up"),
    ]);
    let got = lines(&e.log(), 2);
    assert_eq!(got[0], "REQ 3000 200");
    // curl counts the head it sent; the body follows it.
    assert_eq!(got[1], format!("SES true {}", sent + 3000));
}

#[test]
fn a_client_gone_mid_body_is_the_session_error() {
    let e = start("REQ $req_body_len", "SES $ses_error $ses_read_total", "");
    let head = "POST /up HTTP/1.1\r\nHost: example.org\r\nContent-Length: 100\r\n\r\n";
    {
        use std::io::Write;
        let mut s = std::net::TcpStream::connect(common::client::local(e.h.http_addr)).unwrap();
        s.write_all(head.as_bytes()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(100));
        s.write_all(b"0123456789").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let got = lines(&e.log(), 2);
    assert_eq!(
        got[1],
        format!("SES CLIENT_CLOSE {}", head.len() + 10),
        "{got:?}"
    );
}

#[test]
fn combined_and_keep_alive_numbering() {
    let e = start("COMBINED", "SES $ses_keepalive_num", "");
    // Two requests on one connection (curl reuses it).
    let out = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-o",
            "/dev/null",
            "-A",
            "ua",
            "-e",
            "http://ref/",
        ])
        .arg(e.url("/one"))
        .arg(e.url("/two"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let got = lines(&e.log(), 3);
    let n = "hello from origin".len();
    for (line, path) in got[..2].iter().zip(["/one", "/two"]) {
        // 127.0.0.1:PORT - - [02/Jan/2026:15:04:05 +0000] "GET /one HTTP/1.1" 200 N "http://ref/" "ua"
        let (left, right) = line.split_once(" - - [").expect(line);
        assert!(left.starts_with("127.0.0.1:"), "{line}");
        let (when, rest) = right.split_once("] ").expect(line);
        assert_eq!(when.len(), "02/Jan/2026:15:04:05 +0000".len(), "{line}");
        let (status_len, tail) = rest
            .strip_prefix(&format!("\"GET {path} HTTP/1.1\" "))
            .expect(line)
            .split_once(" \"")
            .expect(line);
        let (status, len) = status_len.split_once(' ').unwrap();
        assert_eq!(status, "200");
        assert!(len.parse::<usize>().unwrap() > n, "{line}");
        assert_eq!(tail, "http://ref/\" \"ua\"");
    }
    assert_eq!(got[2], "SES 2");
}

#[test]
fn common_template_on_a_failed_backend_and_a_bad_request() {
    let d = layout(common::origin::refused_addr()).write();
    d.write(
        "mod_access/mod_access.conf",
        &conf_text("COMMON", "SES $ses_error", ""),
    );
    let h = common::start(d.path(), None);
    let r = common::client::get(h.http_addr, "example.org", "/x");
    assert_eq!(r.status, 502);
    let got = lines(&d.path().join("access.log"), 2);
    // example.org - - [02/Jan/2026:15:04:05 +0000] "GET /x HTTP/1.1" 502 N
    assert!(got[0].starts_with("example.org - - ["), "{got:?}");
    let len = got[0]
        .split_once("\"GET /x HTTP/1.1\" 502 ")
        .map(|(_, n)| n.parse::<u64>().unwrap());
    assert!(len.is_some_and(|n| n > 0), "{got:?}");
    assert_eq!(got[1], "SES -");
    // A head that does not parse: no request line, a session error.
    let raw = common::client::raw(h.http_addr, b"BAD\r\n\r\n");
    assert!(String::from_utf8_lossy(&raw).starts_with("HTTP/1.1 400"));
    let got = lines(&d.path().join("access.log"), 3);
    assert_eq!(got[2], "SES CLIENT_BAD_REQUEST");
}

#[test]
fn json_lines_parse_with_python_and_serde() {
    let e = start(
        "$host $status_code $res_len ${User-Agent}req_header $request_line",
        "$ses_keepalive_num $ses_clientip",
        "Format = json\n",
    );
    curl(&[
        "-A",
        "quote\" back\\slash",
        "-H",
        "Host: example.org",
        &e.url("/j"),
    ]);
    let got = lines(&e.log(), 2);
    let v: serde_json::Value = serde_json::from_str(&got[0]).unwrap();
    assert_eq!(v["host"], "example.org");
    assert_eq!(v["status_code"], 200);
    assert!(v["res_len"].as_u64().unwrap() > 17);
    assert_eq!(v["req_header.User-Agent"], "quote\" back\\slash");
    assert_eq!(v["request_line"], "GET /j HTTP/1.1");
    let out = Command::new("python3")
        .arg("-c")
        .arg("import json,sys\nfor l in open(sys.argv[1]):\n  o=json.loads(l)\n  print(sorted(o.keys()))")
        .arg(e.log())
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let py: Vec<&str> = text.lines().collect();
    assert_eq!(
        py[0],
        "['host', 'req_header.User-Agent', 'request_line', 'res_len', 'status_code']"
    );
    assert_eq!(py[1], "['ses_clientip', 'ses_keepalive_num']");
}

#[test]
fn monitor_counts_lines_and_there_is_no_reload() {
    let e = start("$status_code", "$ses_keepalive_num", "");
    for _ in 0..3 {
        common::client::get(e.h.http_addr, "example.org", "/");
    }
    lines(&e.log(), 6);
    let (status, body) = common::monitor_get(&e.h, "/monitor/mod_access?format=kv");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("mod_access_ALL_REQ_LOG_COUNT: 3"), "{body}");
    assert!(body.contains("mod_access_ALL_SES_LOG_COUNT: 3"), "{body}");
    assert!(body.contains("mod_access_DROPPED_LOG_LINES: 0"), "{body}");
    // BFE reads mod_access.conf only at start-up.
    let r = common::reload(&e.h, "mod_access");
    assert!(!r["error"].is_null(), "{r}");
}

#[test]
fn a_redirect_is_logged_with_its_url_and_code() {
    use common::probe::{Probe, Script, Shared};
    use ringfront::module::{Point, Ret};
    use std::sync::{Arc, Mutex};
    let origin = Origin::start(|_| Reply::text("unused"));
    let mut l = layout(origin.addr);
    l.modules.push("mod_probe".into());
    let d = l.write();
    d.write(
        "mod_access/mod_access.conf",
        &conf_text("$status_code $redirect $res_len", "SES", ""),
    );
    let script: Shared = Arc::new(Mutex::new(Script::default()));
    script
        .lock()
        .unwrap()
        .returns
        .insert(Point::FoundProduct, Ret::Redirect);
    let h = common::start(d.path(), Some(Probe::registry(script)));
    let r = common::client::get(h.http_addr, "example.org", "/old");
    assert_eq!(r.status, 302);
    let got = lines(&d.path().join("access.log"), 1);
    let (head, len) = got[0].rsplit_once(' ').unwrap();
    assert_eq!(head, "302 http://elsewhere.example/,302", "{got:?}");
    assert!(len.parse::<u64>().unwrap() > 0, "{got:?}");
}

#[test]
fn tls_sessions_and_failed_handshakes() {
    let origin = Origin::start(|_| Reply::text("over tls"));
    let mut l = layout(origin.addr);
    l.server_extra
        .push_str("HttpsPort = 0\nTlsHandshakeTimeout = 1\n");
    let d = l.write();
    common::tls::write_files(&d);
    d.write(
        "mod_access/mod_access.conf",
        &conf_text(
            "REQ $status_code $res_len",
            "SES $ses_is_secure $ses_error $ses_keepalive_num",
            "",
        ),
    );
    let h = common::start(d.path(), None);
    let https = h.https_addr.expect("https listener");
    let mut t = common::tls::connect_any(https, Some("example.org")).expect("handshake");
    let raw = common::tls::exchange(
        &mut t,
        b"GET / HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n",
    );
    let got = lines(&d.path().join("access.log"), 2);
    assert_eq!(got[0], format!("REQ 200 {}", raw.len()));
    assert_eq!(got[1], "SES true - 1");
    // Not TLS at all: the handshake fails, the session says so.
    let mut s = std::net::TcpStream::connect(common::client::local(https)).unwrap();
    use std::io::Write;
    s.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    let _ = common::client::read_to_close(&mut s);
    let got = lines(&d.path().join("access.log"), 3);
    assert_eq!(got[2], "SES false CLIENT_TLS_HANDSHAKE 0");
}

#[test]
fn rotated_log_dir_is_made_under_the_conf_root() {
    let origin = Origin::start(|_| Reply::text("x"));
    let d = layout(origin.addr).write();
    d.write(
        "mod_access/mod_access.conf",
        "[Log]\nLogPrefix = front\nLogDir = logs/here\nRotateWhen = M\nBackupCount = 3\n[Template]\nRequestTemplate = COMMON\nSessionTemplate = $time\n",
    );
    let h = common::start(d.path(), None);
    common::client::get(h.http_addr, "example.org", "/r");
    let got = lines(&d.path().join("logs/here/front.log"), 1);
    assert!(got[0].contains("\"GET /r HTTP/1.1\" 200 "), "{got:?}");
}

#[test]
fn a_connection_closed_at_accept_still_has_its_session_line() {
    use common::probe::{Probe, Script, Shared};
    use ringfront::module::{Point, Ret};
    use std::sync::{Arc, Mutex};
    let origin = Origin::start(|_| Reply::text("unused"));
    let mut l = layout(origin.addr);
    l.modules.push("mod_probe".into());
    let d = l.write();
    d.write(
        "mod_access/mod_access.conf",
        &conf_text("REQ", "SES $ses_keepalive_num $ses_write_total", ""),
    );
    let script: Shared = Arc::new(Mutex::new(Script::default()));
    script
        .lock()
        .unwrap()
        .returns
        .insert(Point::Accept, Ret::Close);
    let h = common::start(d.path(), Some(Probe::registry(script)));
    let raw = common::client::raw(h.http_addr, b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n");
    assert!(raw.is_empty(), "nothing is sent");
    let got = lines(&d.path().join("access.log"), 1);
    assert_eq!(got, ["SES 0 0"]);
}

fn ringfront() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ringfront"))
}

#[test]
fn check_refuses_an_item_in_the_wrong_template_and_accepts_bfe_sample() {
    let d = layout(common::origin::refused_addr()).write();
    d.write(
        "mod_access/mod_access.conf",
        &conf_text("$host $ses_overhead", "$time", ""),
    );
    let out = ringfront()
        .arg("-t")
        .arg("-c")
        .arg(d.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("mod_access/mod_access.conf"), "{err}");
    assert!(err.contains("Template.RequestTemplate"), "{err}");
    assert!(err.contains("ses_overhead"), "{err}");
    // -t opens nothing: a rotated log's directory is not made.
    d.write(
        "mod_access/mod_access.conf",
        "[Log]\nLogPrefix = a\nLogDir = not-yet\nRotateWhen = H\nBackupCount = 1\n[Template]\nRequestTemplate = COMMON\nSessionTemplate = $time\n",
    );
    let out = ringfront()
        .arg("-t")
        .arg("-c")
        .arg(d.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!d.path().join("not-yet").exists());
    // BFE's shipped file, unchanged.
    let sample = include_str!("../conf/mod_access/mod_access.conf");
    d.write("mod_access/mod_access.conf", sample);
    let out = ringfront()
        .arg("-t")
        .arg("-c")
        .arg(d.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn sigusr1_reopens_the_log_after_it_was_moved() {
    let o = Origin::start(|_| Reply::text("ok"));
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let l = layout(o.addr);
    let d = l.write();
    d.write(
        "bfe.conf",
        &l.bfe_conf()
            .replace("HttpPort = 0", &format!("HttpPort = {port}"))
            .replace("MonitorEnabled = true", "MonitorEnabled = false"),
    );
    d.write(
        "mod_access/mod_access.conf",
        &conf_text("REQ $req_uri", "SES", ""),
    );
    let mut child = ringfront().arg("-c").arg(d.path()).spawn().unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    assert!(common::eventually(
        || std::net::TcpStream::connect(addr).is_ok()
    ));
    // The probe connection above logs a session line too: count REQ lines.
    common::client::get(addr, "example.org", "/before");
    let log = d.path().join("access.log");
    let moved = d.path().join("access.log.1");
    assert!(common::eventually(|| std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("REQ /before")));
    std::fs::rename(&log, &moved).unwrap();
    unsafe {
        libc::kill(child.id() as i32, libc::SIGUSR1);
    }
    assert!(
        common::eventually(|| log.exists()),
        "SIGUSR1 made a new file"
    );
    common::client::get(addr, "example.org", "/after");
    assert!(common::eventually(|| std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("REQ /after")));
    let old = std::fs::read_to_string(&moved).unwrap();
    assert!(
        old.contains("REQ /before") && !old.contains("/after"),
        "{old}"
    );
    // A line still in a worker's buffer at SIGTERM is written before exit.
    common::client::get(addr, "example.org", "/last");
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    assert!(child.wait().unwrap().success());
    let new = std::fs::read_to_string(&log).unwrap();
    assert!(new.contains("REQ /last"), "{new}");
}
