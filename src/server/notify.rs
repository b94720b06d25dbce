//! Readiness and state notifications to the service manager: systemd's
//! `sd_notify` protocol, written out here instead of pulling in a crate.
//!
//! Why: with `Type=notify` (packaging/ringfront.service) systemd holds
//! `systemctl start`, and every unit ordered after ringfront, until the
//! process says `READY=1`. ringfront says it once every worker has bound
//! its listeners and the monitor port is open (what [`super::start`]
//! returns after), so "started" means "accepting", not "forked".
//!
//! The protocol: when `$NOTIFY_SOCKET` is set, send newline-separated
//! `KEY=value` lines as one datagram to that `AF_UNIX` socket; a value
//! starting with `@` names a socket in the abstract namespace. Without the
//! variable every call here does nothing, so running by hand or under
//! another supervisor costs nothing. A failure to notify is logged and
//! never stops the server (systemd's start timeout then says the rest).
//!
//! The variable is deliberately left in the environment: a new binary
//! started for a zero-downtime upgrade inherits it, and announces itself
//! with [`ready`], whose `MAINPID=` moves the unit's main process to the
//! new one (the unit sets `NotifyAccess=all` so that systemd accepts it from
//! a process that is not yet the main one). The old process, draining
//! after such a hand-over, must not call [`stopping`]: that would tell
//! systemd the whole service is going down.

use super::ServerHandle;
use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

/// The environment variable systemd sets for `Type=notify` services.
const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";

/// `READY=1`: every listener accepts and the monitor port is open. Also
/// sets `MAINPID=` to this process (a no-op on a first start; the
/// hand-over on an upgrade) and a `STATUS=` line naming the listeners.
pub fn ready(h: &ServerHandle) {
    let msg = format!(
        "READY=1\nMAINPID={}\nSTATUS={}",
        std::process::id(),
        status_line(h)
    );
    notify(&msg);
}

/// `RELOADING=1`: a full configuration reload (SIGHUP) has begun; call
/// [`reloaded`] when it has ended, whatever the outcome. `MONOTONIC_USEC`
/// is what systemd 253+ needs to match the two.
pub fn reloading() {
    notify(&format!(
        "RELOADING=1\nMONOTONIC_USEC={}\nSTATUS=reloading configuration",
        crate::sys::monotonic_usec()
    ));
}

/// `READY=1` after [`reloading`], with `status` (the reload's outcome).
pub fn reloaded(status: &str) {
    notify(&format!("READY=1\nSTATUS={}", one_line(status)));
}

/// `STOPPING=1`: a stop signal arrived and the workers are draining. Only
/// for a real stop, never after an upgrade hand-over (see the module doc).
pub fn stopping() {
    notify("STOPPING=1\nSTATUS=stopping: draining requests in flight");
}

/// What `systemctl status` shows on its `Status:` line.
fn status_line(h: &ServerHandle) -> String {
    let mut s = format!("{} worker(s), http {}", h.workers, h.http_addr);
    if let Some(a) = h.https_addr {
        s.push_str(&format!(", https {a}"));
    }
    if let Some(a) = h.monitor_addr {
        s.push_str(&format!(", monitor {a}"));
    }
    s
}

/// A `STATUS=` value must stay on its line: newlines would start new keys.
fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// Send `msg` to `$NOTIFY_SOCKET`, if set; log a failure.
fn notify(msg: &str) {
    let Some(target) = std::env::var_os(NOTIFY_SOCKET) else {
        return;
    };
    if let Err(e) = send_to(&target, msg) {
        log::warn!(
            "sd_notify to {}={:?} failed: {e}",
            NOTIFY_SOCKET,
            target.to_string_lossy()
        );
    }
}

/// Send one datagram holding `msg` to the socket `target` names.
fn send_to(target: &OsStr, msg: &str) -> io::Result<()> {
    let addr = socket_addr(target)?;
    let sock = UnixDatagram::unbound()?;
    let n = sock.send_to_addr(msg.as_bytes(), &addr)?;
    if n != msg.len() {
        return Err(io::Error::other(format!(
            "short send: {n} of {} bytes",
            msg.len()
        )));
    }
    Ok(())
}

/// `@name` is an abstract socket; anything else must be an absolute path
/// (systemd only ever sets those two forms; `vsock:` needs systemd 254+
/// inside VMs and is refused by name).
fn socket_addr(target: &OsStr) -> io::Result<SocketAddr> {
    let bytes = target.as_bytes();
    let invalid = |why: &str| io::Error::new(io::ErrorKind::InvalidInput, why.to_string());
    match bytes.first() {
        None => Err(invalid("empty socket name")),
        Some(b'@') => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(&bytes[1..])
        }
        Some(b'/') => SocketAddr::from_pathname(std::path::Path::new(target)),
        Some(_) if bytes.starts_with(b"vsock:") => {
            Err(invalid("vsock notify sockets are not supported"))
        }
        Some(_) => Err(invalid("not an absolute path or @abstract name")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn recv(sock: &UnixDatagram) -> String {
        sock.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut buf = [0u8; 512];
        let n = sock.recv(&mut buf).expect("datagram");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    #[test]
    fn sends_to_a_path_socket() {
        let dir = std::env::temp_dir().join(format!("rf-notify-unit-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("notify.sock");
        let _ = std::fs::remove_file(&path);
        let sock = UnixDatagram::bind(&path).expect("bind");
        send_to(path.as_os_str(), "READY=1\nSTATUS=x").expect("send");
        assert_eq!(recv(&sock), "READY=1\nSTATUS=x");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn sends_to_an_abstract_socket() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("ringfront-notify-unit-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).expect("addr");
        let sock = UnixDatagram::bind_addr(&addr).expect("bind");
        send_to(OsStr::new(&format!("@{name}")), "STOPPING=1").expect("send");
        assert_eq!(recv(&sock), "STOPPING=1");
    }

    #[test]
    fn refuses_names_it_cannot_use() {
        for bad in ["", "relative/notify.sock", "vsock:2:1234"] {
            let e = send_to(OsStr::new(bad), "READY=1").unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{bad:?}: {e}");
        }
        // A path nobody listens on is an error to log, not a panic.
        assert!(send_to(OsStr::new("/nonexistent/ringfront/notify"), "READY=1").is_err());
    }

    #[test]
    fn status_stays_on_one_line() {
        assert_eq!(one_line("a\nb\r\nc"), "a b  c");
    }
}
