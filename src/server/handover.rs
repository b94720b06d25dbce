//! Zero-downtime binary upgrade: the running process hands its listening
//! sockets to a freshly started binary, which serves from the same sockets,
//! and only then does the old process stop accepting and drain.
//!
//! Why pass descriptors instead of letting the new binary bind its own
//! `SO_REUSEPORT` sockets: every reuseport socket has its own accept queue,
//! and connections the kernel already queued on a socket are reset when its
//! last descriptor closes. A descriptor passed with `SCM_RIGHTS` is the
//! *same* socket, so the new process accepts from the very queues the old
//! one was accepting from; when the old process closes its copies nothing
//! is lost (the same approach as Pingora, sozu and Envoy; spec
//! protocols.md §4).
//!
//! The sequence (old side [`hand_over`], new side [`Inherited`]):
//! 1. SIGUSR2 reaches the old process. It makes a Unix socket pair and
//!    starts the binary at the path it was itself started from (replaced
//!    on disk by now), with the same arguments and `RINGFRONT_HANDOVER_FD`
//!    naming the child's end.
//! 2. It sends one message: a header line counting the descriptors, and
//!    duplicates of every worker's HTTP listener, every HTTPS listener and
//!    the monitor listener, as `SCM_RIGHTS`.
//! 3. The new process checks its configuration and starts its workers on
//!    those sockets (worker `i` takes inherited sockets `j` with
//!    `j % workers == i`, so none is left unaccepted; workers beyond the
//!    inherited count bind fresh sockets that join the reuseport group). It
//!    tells systemd `MAINPID=`+`READY=1`, then writes `READY <pid>` back.
//! 4. Only on that line does the old process stop accepting and drain
//!    (within GracefulShutdownTimeout), without `STOPPING=1`, and exit. If
//!    the new process fails, exits, or says nothing within
//!    [`READY_TIMEOUT`], the old one kills it (if still running), logs why
//!    and keeps serving as before.

use super::ServerHandle;
use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

/// Names the descriptor of the new process's end of the hand-over socket.
pub const ENV: &str = "RINGFRONT_HANDOVER_FD";

/// How long the old process waits for the new one to say it serves.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The kernel's limit on descriptors in one `SCM_RIGHTS` message.
const MAX_FDS: usize = 253;

/// Listening sockets, in hand-over order.
#[derive(Default)]
pub struct Listeners {
    /// One per worker (HTTP).
    pub http: Vec<OwnedFd>,
    /// One per worker, when HTTPS is configured.
    pub https: Vec<OwnedFd>,
    /// The monitor port, when enabled.
    pub monitor: Option<OwnedFd>,
}

/// How this process was started, captured at start-up: after a binary is
/// replaced on disk, `/proc/self/exe` names the old (deleted) file, while
/// the path captured here names whatever is at that path now. The path is
/// `argv[0]` made absolute (so a symlink switched to a new release is
/// followed at upgrade time); a bare name found on `$PATH` falls back to
/// the resolved executable.
pub struct Launch {
    exe: PathBuf,
    args: Vec<OsString>,
}

impl Launch {
    /// The running binary's path and this process's arguments.
    pub fn capture() -> io::Result<Launch> {
        let argv0 = std::env::args_os().next().map(PathBuf::from);
        let exe = match argv0 {
            Some(p) if p.is_absolute() => p,
            Some(p) if p.components().count() > 1 => std::env::current_dir()?.join(p),
            _ => std::env::current_exe()?,
        };
        Ok(Launch {
            exe,
            args: std::env::args_os().skip(1).collect(),
        })
    }
}

/// Old side: start the new binary, hand it the listeners, and wait for it
/// to serve. `Ok(pid)`: the new process serves; stop accepting and drain
/// (without `STOPPING=1`). `Err`: it did not take over (the error says
/// why); nothing changed here, keep serving.
pub fn hand_over(h: &ServerHandle, launch: &Launch) -> Result<u32, String> {
    let fds = &h.listeners;
    let count = fds.http.len() + fds.https.len() + usize::from(fds.monitor.is_some());
    if count > MAX_FDS {
        return Err(format!(
            "{count} listeners: more than {MAX_FDS} cannot be handed over"
        ));
    }
    let (ours, theirs) = UnixStream::pair().map_err(|e| format!("socketpair: {e}"))?;
    let mut child = spawn(launch, &theirs)
        .map_err(|e| format!("cannot start {}: {e}", launch.exe.display()))?;
    drop(theirs);
    match send_and_wait(&ours, fds) {
        Ok(pid) => Ok(pid),
        Err(e) => {
            give_up(&mut child);
            Err(e)
        }
    }
}

/// Start the new binary with `sock` inherited and named in [`ENV`].
fn spawn(launch: &Launch, sock: &UnixStream) -> io::Result<Child> {
    let fd = sock.as_raw_fd();
    let mut cmd = Command::new(&launch.exe);
    cmd.args(&launch.args).env(ENV, fd.to_string());
    // SAFETY: runs in the forked child before exec; fcntl is
    // async-signal-safe and touches no memory of ours.
    unsafe {
        cmd.pre_exec(move || {
            if libc::fcntl(fd, libc::F_SETFD, 0) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.spawn()
}

/// Send the listeners over `sock`, then wait for `READY <pid>`.
fn send_and_wait(sock: &UnixStream, fds: &Listeners) -> Result<u32, String> {
    let header = format!(
        "RFHO1 {} {} {}\n",
        fds.http.len(),
        fds.https.len(),
        usize::from(fds.monitor.is_some())
    );
    let raw: Vec<RawFd> = fds
        .http
        .iter()
        .chain(&fds.https)
        .chain(&fds.monitor)
        .map(|f| f.as_raw_fd())
        .collect();
    send_fds(sock, header.as_bytes(), &raw).map_err(|e| format!("sending listeners: {e}"))?;
    sock.set_read_timeout(Some(READY_TIMEOUT))
        .map_err(|e| format!("hand-over socket: {e}"))?;
    let mut line = String::new();
    BufReader::new(io::Read::take(sock, 128))
        .read_line(&mut line)
        .map_err(|e| format!("no word from the new process within {READY_TIMEOUT:?}: {e}"))?;
    let pid = line
        .strip_prefix("READY ")
        .and_then(|p| p.trim().parse::<u32>().ok());
    match (line.is_empty(), pid) {
        (true, _) => Err("the new process exited before serving (see its log)".into()),
        (false, Some(pid)) => Ok(pid),
        (false, None) => Err(format!("the new process said {:?}", line.trim())),
    }
}

/// A new process that did not take over: stop it if it still runs, reap it.
fn give_up(child: &mut Child) {
    if let Ok(None) = child.try_wait() {
        let _ = child.kill();
    }
    let _ = child.wait();
}

/// New side: the hand-over socket and what came over it.
pub struct Inherited {
    sock: UnixStream,
    listeners: Listeners,
}

impl Inherited {
    /// When [`ENV`] is set, take its socket and receive the listeners.
    /// `Ok(None)`: a plain start.
    pub fn receive() -> Result<Option<Inherited>, String> {
        let Some(v) = std::env::var_os(ENV) else {
            return Ok(None);
        };
        let fd: RawFd = v
            .to_str()
            .and_then(|s| s.parse().ok())
            .filter(|&fd| fd > 2)
            .ok_or_else(|| format!("{ENV}={v:?} is not a descriptor number"))?;
        // The descriptor must be an open Unix socket (not one of ours).
        // SAFETY: fstat-like probe: fcntl on an integer touches no memory.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
            return Err(format!("{ENV}={fd}: {}", io::Error::last_os_error()));
        }
        // SAFETY: the descriptor is open, named to us by the parent for
        // this purpose and not owned by anything else in this process.
        let sock = unsafe { UnixStream::from_raw_fd(fd) };
        sock.set_read_timeout(Some(READY_TIMEOUT))
            .map_err(|e| format!("hand-over socket: {e}"))?;
        let listeners = recv_listeners(&sock)?;
        Ok(Some(Inherited { sock, listeners }))
    }

    /// The listeners, once (later calls get none).
    pub fn take_listeners(&mut self) -> Listeners {
        std::mem::take(&mut self.listeners)
    }

    /// Tell the old process that this one serves: it stops accepting now.
    pub fn ready(mut self) -> io::Result<()> {
        writeln!(self.sock, "READY {}", std::process::id())
    }
}

/// Receive the header and descriptors; check the counts agree.
fn recv_listeners(sock: &UnixStream) -> Result<Listeners, String> {
    let (header, mut fds) = recv_fds(sock).map_err(|e| format!("receiving listeners: {e}"))?;
    let counts: Vec<usize> = header
        .strip_prefix("RFHO1 ")
        .map(|r| {
            r.split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let [http, https, monitor] = counts[..] else {
        return Err(format!("bad hand-over header {header:?}"));
    };
    if http + https + monitor != fds.len() || monitor > 1 {
        return Err(format!(
            "hand-over header {header:?} does not match {} descriptor(s)",
            fds.len()
        ));
    }
    let monitor = (monitor == 1).then(|| fds.pop()).flatten();
    let https = fds.split_off(http);
    Ok(Listeners {
        http: fds,
        https,
        monitor,
    })
}

/// Duplicate a descriptor another owner keeps (close-on-exec).
pub(super) fn dup(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: the caller's owner keeps `fd` open for the whole call.
    unsafe { BorrowedFd::borrow_raw(fd) }.try_clone_to_owned()
}

/// The local port of listening socket `fd`, if it is a bound TCP socket.
pub(super) fn local_port(fd: &OwnedFd) -> Option<u16> {
    let l = std::net::TcpListener::from(fd.try_clone().ok()?);
    l.local_addr().ok().map(|a| a.port())
}

/// `sendmsg` of `data` with `fds` as `SCM_RIGHTS`.
fn send_fds(sock: &UnixStream, data: &[u8], fds: &[RawFd]) -> io::Result<()> {
    let fd_bytes = std::mem::size_of_val(fds);
    // SAFETY: CMSG_SPACE is arithmetic on a length.
    let space = unsafe { libc::CMSG_SPACE(fd_bytes as u32) } as usize;
    let mut cbuf = vec![0u64; space.div_ceil(8)];
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: msghdr is plain data; every pointer set below points into
    // buffers that outlive the sendmsg call, with their true lengths.
    let n = unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        if !fds.is_empty() {
            msg.msg_control = cbuf.as_mut_ptr().cast();
            msg.msg_controllen = space as _;
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(fd_bytes as u32) as _;
            std::ptr::copy_nonoverlapping(fds.as_ptr(), libc::CMSG_DATA(c).cast(), fds.len());
        }
        libc::sendmsg(sock.as_raw_fd(), &msg, libc::MSG_NOSIGNAL)
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    if n as usize != data.len() {
        return Err(io::Error::other("short send"));
    }
    Ok(())
}

/// `recvmsg` of one header line (up to 256 bytes) and its descriptors,
/// received close-on-exec.
fn recv_fds(sock: &UnixStream) -> io::Result<(String, Vec<OwnedFd>)> {
    let mut data = [0u8; 256];
    // SAFETY: CMSG_SPACE is arithmetic on a length.
    let space = unsafe { libc::CMSG_SPACE((MAX_FDS * std::mem::size_of::<RawFd>()) as u32) };
    let mut cbuf = vec![0u64; (space as usize).div_ceil(8)];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    let mut fds = Vec::new();
    // SAFETY: every pointer in msghdr points into buffers that outlive the
    // call, with their true lengths; the control messages are read only
    // within msg_controllen as the kernel set it, through the CMSG macros.
    let (n, flags) = unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = (cbuf.len() * 8) as _;
        let n = libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC);
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let len = (*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                let p: *const RawFd = libc::CMSG_DATA(c).cast();
                for i in 0..len / std::mem::size_of::<RawFd>() {
                    fds.push(OwnedFd::from_raw_fd(p.add(i).read_unaligned()));
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
        (n as usize, msg.msg_flags)
    };
    if flags & libc::MSG_CTRUNC != 0 {
        return Err(io::Error::other("descriptors truncated"));
    }
    let header = String::from_utf8_lossy(&data[..n]).trim_end().to_string();
    Ok((header, fds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_cross_a_socket_pair_and_keep_their_queue() {
        let a = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let b = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = a.local_addr().expect("addr");
        // Queued before the hand-over: must be accepted from the copy.
        let _client = std::net::TcpStream::connect(addr).expect("connect");
        let fds = Listeners {
            http: vec![dup(a.as_raw_fd()).expect("dup")],
            https: vec![],
            monitor: Some(dup(b.as_raw_fd()).expect("dup")),
        };
        let (x, y) = UnixStream::pair().expect("pair");
        send_fds(
            &x,
            b"RFHO1 1 0 1\n",
            &[
                fds.http[0].as_raw_fd(),
                fds.monitor.as_ref().map(|f| f.as_raw_fd()).expect("m"),
            ],
        )
        .expect("send");
        let got = recv_listeners(&y).expect("recv");
        assert_eq!(got.http.len(), 1);
        assert_eq!(local_port(&got.http[0]), Some(addr.port()));
        assert_eq!(
            got.monitor.as_ref().and_then(local_port),
            Some(b.local_addr().expect("addr").port())
        );
        drop(a);
        drop(fds);
        let l = std::net::TcpListener::from(got.http.into_iter().next().expect("fd"));
        let (_s, peer) = l.accept().expect("the queued connection");
        assert_eq!(peer.ip(), addr.ip());
    }

    #[test]
    fn a_header_that_does_not_match_is_refused() {
        let a = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let (x, y) = UnixStream::pair().expect("pair");
        send_fds(&x, b"RFHO1 2 0 0\n", &[a.as_raw_fd()]).expect("send");
        let e = recv_listeners(&y).err().expect("refused");
        assert!(e.contains("does not match"), "{e}");
        send_fds(&x, b"HELLO\n", &[]).expect("send");
        let e = recv_listeners(&y).err().expect("refused");
        assert!(e.contains("bad hand-over header"), "{e}");
    }
}
