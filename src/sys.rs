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

/// SIGUSR1: reopen log files (logrotate's "move, then signal" convention).
pub const SIGUSR1: i32 = libc::SIGUSR1;

/// SIGUSR2: hand the listeners to a new binary (zero-downtime upgrade).
pub const SIGUSR2: i32 = libc::SIGUSR2;

/// The process stop signals (SIGTERM, SIGINT, SIGQUIT) and SIGUSR1,
/// blocked on the thread that made this value. See [`block_stop_signals`].
pub struct StopSignals(libc::sigset_t);

/// Block SIGTERM, SIGINT, SIGQUIT and SIGUSR1 on the calling thread.
///
/// Why: called in `main` before any other thread starts, so every thread
/// inherits the mask and the default action (killing the process at once)
/// never runs; the main thread then takes them in [`StopSignals::wait`]:
/// the stop signals shut down gracefully, SIGUSR1 reopens log files.
pub fn block_stop_signals() -> StopSignals {
    // SAFETY: sigset_t is plain data, initialised by sigemptyset before
    // any other use; pthread_sigmask only reads it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in [
            libc::SIGTERM,
            libc::SIGINT,
            libc::SIGQUIT,
            libc::SIGUSR1,
            libc::SIGUSR2,
        ] {
            libc::sigaddset(&mut set, s);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        StopSignals(set)
    }
}

impl StopSignals {
    /// Wait for one of the blocked signals; returns its number.
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

/// `CLOCK_MONOTONIC` now, in microseconds.
///
/// Why: systemd's `RELOADING=1` notification carries `MONOTONIC_USEC=`
/// on the same clock systemd reads; `std::time::Instant` has that clock
/// but no way to read its value.
pub fn monotonic_usec() -> u64 {
    // SAFETY: timespec is plain data that clock_gettime writes; on failure
    // (impossible for CLOCK_MONOTONIC) the zeroed value is used.
    let ts = unsafe {
        let mut ts: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
        ts
    };
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1_000
}

/// A wall-clock second broken down in the local time zone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LocalTime {
    pub year: i32,
    /// 1..=12
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub min: u8,
    pub sec: u8,
    /// Seconds east of UTC.
    pub utc_offset: i32,
    /// The zone's abbreviation (`CST`, `UTC`), at most 8 bytes.
    pub zone: [u8; 8],
    pub zone_len: u8,
}

impl LocalTime {
    pub fn zone(&self) -> &[u8] {
        &self.zone[..self.zone_len as usize]
    }
}

/// `secs` since the epoch in local time (`localtime_r`).
///
/// Why: access logs and rotated file names use local time, as BFE's do;
/// std has no time-zone support. Callers cache the result per second.
pub fn local_time(secs: i64) -> LocalTime {
    // SAFETY: tm is plain data; localtime_r writes it and returns null on
    // failure (then the zeroed value is used); tm_zone, when set, points
    // to a NUL-terminated static string owned by libc.
    unsafe {
        let t: libc::time_t = secs as libc::time_t;
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return LocalTime::default();
        }
        let mut zone = [0u8; 8];
        let mut zone_len = 0u8;
        if !tm.tm_zone.is_null() {
            let z = std::ffi::CStr::from_ptr(tm.tm_zone).to_bytes();
            let n = z.len().min(8);
            zone[..n].copy_from_slice(&z[..n]);
            zone_len = n as u8;
        }
        LocalTime {
            year: tm.tm_year + 1900,
            month: (tm.tm_mon + 1) as u8,
            day: tm.tm_mday as u8,
            hour: tm.tm_hour as u8,
            min: tm.tm_min as u8,
            sec: tm.tm_sec as u8,
            utc_offset: tm.tm_gmtoff as i32,
            zone,
            zone_len,
        }
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
    fn monotonic_clock_moves_forward() {
        let a = monotonic_usec();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = monotonic_usec();
        assert!(a > 0 && b >= a + 2_000, "{a} {b}");
    }

    #[test]
    fn bad_descriptor_is_an_error() {
        let mut buf = [0u8; 1];
        assert!(peek(-1, &mut buf).is_err());
        assert!(recv_now(-1, &mut Vec::with_capacity(4), 4).is_err());
    }
}
