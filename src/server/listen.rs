//! Listening sockets: which address each listener binds, binding it, and
//! refusing to start on a port another live process holds.
//!
//! Every worker binds its own HTTP and HTTPS socket with `SO_REUSEPORT`,
//! so the kernel spreads connections over them. The same option would let
//! a second ringfront (same user) bind the same port and silently take
//! half the traffic. So before the first worker binds, [`ensure_free`]
//! probe-binds each configured port *without* `SO_REUSEPORT`: Linux
//! refuses that bind (`EADDRINUSE`) while any socket listens there, with
//! or without the option, on the same address, a wildcard covering it, or
//! a dual-stack `[::]`. `SO_REUSEADDR` on the probe lets connections of a
//! stopped instance in `TIME_WAIT` not count. A probe is robust where a
//! pid or lock file is not: it asks the kernel, sees every process and
//! container in this network namespace, and leaves nothing stale behind
//! a crash. The holder is then named from `/proc/net/tcp{,6}` (the
//! listening socket's inode) and `/proc/*/fd` (the process holding it).
//!
//! The check runs in [`super::start`] for every non-zero port. A
//! zero-downtime binary upgrade (SIGUSR2, not yet supported) will inherit
//! the old process's sockets instead of binding, and skip it there.

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The address a listener binds: `addr` from bfe.conf, or every interface
/// (dual-stack `[::]`, or `0.0.0.0` when the host has no IPv6).
pub(super) fn socket_addr(addr: Option<IpAddr>, port: u16) -> SocketAddr {
    let ip = addr.unwrap_or_else(|| {
        if ipv6_available() {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        } else {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        }
    });
    SocketAddr::new(ip, port)
}

fn ipv6_available() -> bool {
    Socket::new(Domain::IPV6, Type::STREAM, Some(Protocol::TCP))
        .and_then(|s| s.bind(&SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)).into()))
        .is_ok()
}

/// A TCP socket on `addr` with `SO_REUSEADDR`, `SO_REUSEPORT` when
/// `reuse_port`, and for an IPv6 wildcard IPv4 too (`IPV6_V6ONLY` off,
/// whatever the host's `bindv6only` default), bound but not listening.
fn socket(addr: SocketAddr, reuse_port: bool) -> io::Result<Socket> {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    s.set_reuse_address(true)?;
    if reuse_port {
        s.set_reuse_port(true)?;
    }
    if addr.is_ipv6() {
        s.set_only_v6(!addr.ip().is_unspecified())?;
    }
    s.bind(&SockAddr::from(addr))?;
    Ok(s)
}

/// A worker's listener on `addr`, joining the other workers' with
/// `SO_REUSEPORT`.
pub(super) fn bind_shared(addr: SocketAddr, backlog: i32) -> io::Result<std::net::TcpListener> {
    let s = socket(addr, true)?;
    s.listen(backlog)?;
    Ok(s.into())
}

/// The monitor listener: one socket, no `SO_REUSEPORT`.
pub(super) fn bind_single(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let s = socket(addr, false)?;
    s.listen(128)?;
    Ok(s.into())
}

/// Fail when a live socket listens on `addr`'s port (see the module
/// docs), naming the port and its holder. Port 0 is always free.
pub(super) fn ensure_free(what: &str, addr: SocketAddr) -> Result<(), String> {
    if addr.port() == 0 {
        return Ok(());
    }
    match socket(addr, false) {
        Ok(_) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EADDRINUSE) => Err(format!(
            "cannot listen on {what} port {} ({addr}): it is in use by {}",
            addr.port(),
            holder(addr.port())
        )),
        Err(e) => Err(format!(
            "cannot listen on {what} port {} ({addr}): {e}",
            addr.port()
        )),
    }
}

/// Who listens on `port`: `pid 1234 (ringfront -c conf)`, or what
/// `/proc` tells when the process cannot be seen (another user's).
pub(super) fn holder(port: u16) -> String {
    let Some((inode, uid)) = listening_inode(port) else {
        return "another socket (no listener found in /proc/net/tcp)".into();
    };
    match pid_of_inode(inode) {
        Some(pid) => format!("pid {pid} ({})", cmdline(pid)),
        None => format!("a process of uid {uid} that this user cannot see (socket inode {inode})"),
    }
}

/// The inode and owner uid of a socket listening on `port`, from
/// `/proc/net/tcp` and `/proc/net/tcp6`.
fn listening_inode(port: u16) -> Option<(u64, u32)> {
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .find_map(|text| text.lines().skip(1).find_map(|l| listener_line(l, port)))
}

/// One `/proc/net/tcp` line: `sl local rem st tx:rx tr:when retrnsmt uid
/// timeout inode …`, addresses as `HEX:PORT`; state `0A` is LISTEN.
fn listener_line(line: &str, port: u16) -> Option<(u64, u32)> {
    let f: Vec<&str> = line.split_whitespace().collect();
    let local_port = f.get(1)?.rsplit_once(':')?.1;
    if u16::from_str_radix(local_port, 16).ok()? != port || *f.get(3)? != "0A" {
        return None;
    }
    Some((f.get(9)?.parse().ok()?, f.get(7)?.parse().ok()?))
}

/// The process holding socket `inode` open, by `/proc/*/fd` links.
fn pid_of_inode(inode: u64) -> Option<u32> {
    let want = format!("socket:[{inode}]");
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let fds = std::fs::read_dir(e.path().join("fd")).ok()?;
        fds.flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == want.as_str()))
            .then_some(pid)
    })
}

/// A process's command line, arguments joined by spaces (at most 200
/// bytes), or `?`.
fn cmdline(pid: u32) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let s: String = String::from_utf8_lossy(&raw)
        .split('\0')
        .filter(|a| !a.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    match s.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None if s.is_empty() => "?".into(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_port_is_refused_naming_this_process() {
        let held = bind_shared(SocketAddr::from(([127, 0, 0, 1], 0)), 16).expect("bind");
        let addr = held.local_addr().expect("addr");
        let err = ensure_free("HTTP", addr).unwrap_err();
        let pid = std::process::id();
        assert!(err.contains(&format!("HTTP port {}", addr.port())), "{err}");
        assert!(err.contains(&format!("pid {pid} (")), "{err}");
        // A wildcard on the same port conflicts as well.
        assert!(ensure_free("HTTP", socket_addr(None, addr.port())).is_err());
        drop(held);
        assert!(ensure_free("HTTP", addr).is_ok());
        assert!(ensure_free("HTTP", SocketAddr::from(([127, 0, 0, 1], 0))).is_ok());
    }

    #[test]
    fn proc_net_tcp_lines() {
        let l = "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0000000000000000 100 0 0 10 0";
        assert_eq!(listener_line(l, 8080), Some((4242, 1000)));
        assert_eq!(listener_line(l, 8081), None);
        let established = l.replace(" 0A ", " 01 ");
        assert_eq!(listener_line(&established, 8080), None);
        assert_eq!(listener_line("garbage", 8080), None);
    }
}
