//! Every direct `libc` call outside the proxy, as small safe wrappers.
//!
//! Keeping the `unsafe` blocks here means each one is written, reviewed and
//! tested once, next to the reason it exists, and callers deal only in
//! slices, `io::Result` and plain values. A call is here only when neither
//! std nor monoio offers it: non-blocking peeks and reads on a socket that
//! monoio owns, a shutdown by raw descriptor, and the signal mask.
//!
//! None of these functions can break memory safety whatever descriptor is
//! passed: a wrong one gives an error (`EBADF`, `ENOTSOCK`) or acts on the
//! wrong socket, which is a logic error for the caller to avoid.

use std::io;
use std::os::fd::RawFd;

/// Copy up to `buf.len()` bytes waiting on socket `fd` into `buf` without
/// consuming them and without blocking (`MSG_PEEK | MSG_DONTWAIT`).
///
/// Why: the TLS listener reads the ClientHello's server name before the
/// handshake, which must then read the same bytes; and an idle upstream
/// connection is checked for stray bytes or end of stream before reuse.
/// `Ok(0)` is end of stream; nothing waiting is `WouldBlock`.
pub fn peek(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the whole
    // call, and recv writes at most that many.
    let n = unsafe {
        libc::recv(
            fd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// Read what socket `fd` holds now, without blocking, into the spare
/// capacity of `buf` (at most `want` bytes), extending its length by what
/// was read. Retries when interrupted by a signal.
///
/// Why: a socket that just polled readable has its bytes already there; a
/// plain `recv` gets them without a round through the io_uring ring. (The
/// proxy's client read path does this today with its own call; it is meant
/// to use this one.)
pub fn recv_now(fd: RawFd, buf: &mut Vec<u8>, want: usize) -> io::Result<usize> {
    let len = buf.len();
    let want = want.min(buf.capacity() - len);
    loop {
        // SAFETY: writes at most `want` bytes into the vector's spare
        // capacity, which holds at least `want` bytes past `len`.
        let n = unsafe {
            libc::recv(
                fd,
                buf.as_mut_ptr().add(len).cast(),
                want,
                libc::MSG_DONTWAIT,
            )
        };
        if n >= 0 {
            // SAFETY: the kernel initialised `n <= want` bytes past `len`.
            unsafe { buf.set_len(len + n as usize) };
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Shut down both directions of socket `fd`, by descriptor.
///
/// Why: the idle sweeper holds only the descriptors of connections parked
/// in a read (their streams are owned by those tasks); shutting a socket
/// down makes that read complete, so the task ends and closes it. The
/// result is ignored: a socket the peer already reset has nothing left to
/// shut down.
pub fn shutdown(fd: RawFd) {
    // SAFETY: a plain syscall on an integer; it touches no memory of ours.
    unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
}

/// The process stop signals (SIGTERM, SIGINT, SIGQUIT), blocked on the
/// thread that made this value. See [`block_stop_signals`].
pub struct StopSignals(libc::sigset_t);

/// Block SIGTERM, SIGINT and SIGQUIT on the calling thread.
///
/// Why: called in `main` before any other thread starts, so every thread
/// inherits the mask and the default action (killing the process at once)
/// never runs; the main thread then takes them in [`StopSignals::wait`] and
/// shuts down gracefully.
pub fn block_stop_signals() -> StopSignals {
    // SAFETY: sigset_t is plain data, initialised by sigemptyset before
    // any other use; pthread_sigmask only reads it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in [libc::SIGTERM, libc::SIGINT, libc::SIGQUIT] {
            libc::sigaddset(&mut set, s);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        StopSignals(set)
    }
}

impl StopSignals {
    /// Wait for one of the stop signals; returns its number.
    pub fn wait(&self) -> i32 {
        let mut sig = 0;
        // SAFETY: the set was initialised by block_stop_signals; sigwait
        // only reads it and writes `sig`.
        unsafe {
            libc::sigwait(&self.0, &mut sig);
        }
        sig
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn peek_leaves_bytes_and_reports_empty_and_eof() {
        let (mut a, b) = UnixStream::pair().expect("socketpair");
        let mut buf = [0u8; 8];
        let empty = peek(b.as_raw_fd(), &mut buf).unwrap_err();
        assert_eq!(empty.kind(), io::ErrorKind::WouldBlock);
        a.write_all(b"hello").expect("write");
        assert_eq!(peek(b.as_raw_fd(), &mut buf).expect("peek"), 5);
        assert_eq!(peek(b.as_raw_fd(), &mut buf).expect("again"), 5);
        assert_eq!(&buf[..5], b"hello");
        shutdown(a.as_raw_fd());
        let mut v = Vec::with_capacity(16);
        assert_eq!(recv_now(b.as_raw_fd(), &mut v, 3).expect("recv"), 3);
        assert_eq!(v, b"hel");
        assert_eq!(recv_now(b.as_raw_fd(), &mut v, 100).expect("rest"), 2);
        assert_eq!(v, b"hello");
        assert_eq!(peek(b.as_raw_fd(), &mut buf).expect("eof"), 0);
    }

    #[test]
    fn bad_descriptor_is_an_error() {
        let mut buf = [0u8; 1];
        assert!(peek(-1, &mut buf).is_err());
        assert!(recv_now(-1, &mut Vec::with_capacity(4), 4).is_err());
    }
}
