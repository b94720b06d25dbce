//! Helpers shared by the tests of mod_trust_clientip, mod_logid, mod_block,
//! mod_prison and mod_http_code: clients with a chosen loopback source
//! address (127.0.0.1 and 127.0.0.2 are two clients), and module counters
//! read from the monitor port.

#![allow(dead_code)]

use crate::common::{self, client};
use ringfront::server::ServerHandle;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::fd::FromRawFd;
use std::time::Duration;

/// A TCP connection to `to` (on 127.0.0.1) from `src` (a 127.x address).
pub fn connect_from(src: Ipv4Addr, to: SocketAddr) -> TcpStream {
    let to = client::local(to);
    let sin = |ip: Ipv4Addr, port: u16| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(ip).to_be(),
        },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: plain socket calls on a descriptor this function owns; the
    // addresses are valid sockaddr_in values on the stack.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0, "socket");
        let local = sin(src, 0);
        let rc = libc::bind(fd, &local as *const _ as *const libc::sockaddr, len);
        assert_eq!(rc, 0, "bind {src}");
        let SocketAddr::V4(v4) = to else {
            panic!("IPv4 only")
        };
        let remote = sin(*v4.ip(), v4.port());
        let rc = libc::connect(fd, &remote as *const _ as *const libc::sockaddr, len);
        assert_eq!(rc, 0, "connect {to} from {src}");
        TcpStream::from_raw_fd(fd)
    }
}

pub const ONE: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);
pub const TWO: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// GET `path` from `src` with extra header lines; `None` when the server
/// closed the connection without answering.
pub fn get_from(
    src: Ipv4Addr,
    h: &ServerHandle,
    path: &str,
    headers: &[(&str, &str)],
) -> Option<client::Resp> {
    let mut s = connect_from(src, h.http_addr);
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let _ = s.write_all(req.as_bytes());
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    client::parse_response(&out)
}

/// `/monitor/<module>`'s `CounterData`.
pub fn counters(h: &ServerHandle, module: &str) -> serde_json::Value {
    let (status, body) = common::monitor_get(h, &format!("/monitor/{module}"));
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("monitor json");
    v["CounterData"].clone()
}

/// The shipped BFE sample files of `module` (ringfront's `conf/<module>/`),
/// copied unchanged into the test's conf dir.
pub fn copy_samples(dir: &std::path::Path, module: &str) {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("conf")
        .join(module);
    let dst = dir.join(module);
    std::fs::create_dir_all(&dst).unwrap();
    for e in std::fs::read_dir(&src).expect("samples") {
        let e = e.unwrap();
        std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
    }
}

/// `ringfront -t -c <dir>`: (exit code, stderr and stdout).
pub fn check(dir: &std::path::Path) -> (Option<i32>, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ringfront"))
        .arg("-t")
        .arg("-c")
        .arg(dir)
        .output()
        .expect("run ringfront");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    (out.status.code(), text)
}
