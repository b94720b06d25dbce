//! The per-worker idle pool. Most recently used first: the connection most
//! likely still open on the backend side is tried first, and the oldest
//! ones age out.

use monoio::net::TcpStream;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Idle connections older than this are closed instead of reused: backends
/// commonly time idle keep-alive connections out after a minute or so.
const MAX_IDLE_AGE: Duration = Duration::from_secs(30);

/// What a check of an idle connection found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Nothing to read: reusable.
    Quiet,
    /// End of stream, a reset or another socket error: the backend closed
    /// it (or half-closed it, which makes it as useless).
    PeerClosed,
    /// Bytes arrived while idle: the tail of a response that ran past its
    /// declared length, or garbage. Reusing the connection would hand them
    /// to the next client as its response.
    StrayBytes,
}

/// An idle connection must have nothing to read; one non-blocking peek
/// tells apart the quiet, the closed and the talkative.
fn check(s: &TcpStream) -> Check {
    use std::os::fd::AsRawFd;
    let mut b = [0u8; 1];
    match crate::sys::peek(s.as_raw_fd(), &mut b) {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Check::Quiet,
        Ok(n) if n > 0 => Check::StrayBytes,
        _ => Check::PeerClosed,
    }
}

/// What `poll(2)` reported for an idle connection.
fn check_revents(revents: libc::c_short) -> Check {
    if revents & (libc::POLLHUP | libc::POLLERR | libc::POLLRDHUP | libc::POLLNVAL) != 0 {
        Check::PeerClosed
    } else if revents & libc::POLLIN != 0 {
        Check::StrayBytes
    } else {
        Check::Quiet
    }
}

/// Idle connections the pool closed because of what the backend did,
/// since the worker started.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Losses {
    /// The backend closed (or half-closed, or reset) the connection.
    pub(crate) peer_closed: u64,
    /// The backend sent bytes on it while it was idle.
    pub(crate) stray_bytes: u64,
}

impl Losses {
    fn count(&mut self, c: Check) {
        match c {
            Check::Quiet => {}
            Check::PeerClosed => self.peer_closed += 1,
            Check::StrayBytes => self.stray_bytes += 1,
        }
    }
}

/// A multiply-rotate hash for backend addresses. The keys come from the
/// configuration, never from clients, so SipHash's protection against
/// chosen keys buys nothing here, and it cost two hashes per request.
#[derive(Default)]
struct AddrHasher(u64);

impl Hasher for AddrHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_ne_bytes(w));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[derive(Default)]
pub(crate) struct Pool {
    idle: HashMap<SocketAddr, Vec<(TcpStream, Instant)>, BuildHasherDefault<AddrHasher>>,
    count: usize,
    losses: Losses,
    /// [`Pool::sweep`]'s poll set, kept to spare an allocation per sweep.
    polls: Vec<libc::pollfd>,
}

impl Pool {
    /// A reusable connection to `addr`, if one is idle and fresh. `now`
    /// may be a coarse clock: ages are compared with [`MAX_IDLE_AGE`].
    pub(crate) fn take(&mut self, addr: SocketAddr, now: Instant) -> Option<TcpStream> {
        let list = self.idle.get_mut(&addr)?;
        while let Some((s, since)) = list.pop() {
            self.count -= 1;
            if now.saturating_duration_since(since) >= MAX_IDLE_AGE {
                continue;
            }
            match check(&s) {
                Check::Quiet => return Some(s),
                c => self.losses.count(c),
            }
        }
        None
    }

    /// Keep `s` for reuse unless `addr` already has `cap` idle connections.
    pub(crate) fn put(&mut self, addr: SocketAddr, s: TcpStream, cap: usize, now: Instant) {
        let list = self.idle.entry(addr).or_default();
        if list.len() < cap {
            list.push((s, now));
            self.count += 1;
        }
    }

    /// Close the idle connections whose backend closed them or sent bytes
    /// on them (one `poll(2)` for all), and those past [`MAX_IDLE_AGE`].
    /// Returns how many were closed.
    ///
    /// Run every sweeper tick, this is what keeps a backend's close from
    /// leaving our side in `CLOSE_WAIT` until a request happens to pick
    /// the connection; [`Pool::take`]'s own check still covers a close
    /// that lands between two sweeps.
    pub(crate) fn sweep(&mut self, now: Instant) -> usize {
        use std::os::fd::AsRawFd;
        if self.count == 0 {
            return 0;
        }
        let events = libc::POLLIN | libc::POLLRDHUP;
        self.polls.clear();
        for list in self.idle.values() {
            self.polls.extend(list.iter().map(|(s, _)| libc::pollfd {
                fd: s.as_raw_fd(),
                events,
                revents: 0,
            }));
        }
        if crate::sys::poll_now(&mut self.polls).is_err() {
            // Out of memory in the kernel, at worst: the checks on take
            // still keep a dead connection from a request.
            return 0;
        }
        let (polls, losses) = (&self.polls, &mut self.losses);
        let mut i = 0;
        let mut closed = 0;
        for list in self.idle.values_mut() {
            list.retain(|(_, since)| {
                let c = check_revents(polls[i].revents);
                i += 1;
                losses.count(c);
                let keep =
                    c == Check::Quiet && now.saturating_duration_since(*since) < MAX_IDLE_AGE;
                closed += usize::from(!keep);
                keep
            });
        }
        self.count -= closed;
        closed
    }

    /// Idle connections closed because of what their backend did.
    pub(crate) fn losses(&self) -> Losses {
        self.losses
    }

    /// Idle connections held now.
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// Drop every idle connection (shutdown).
    pub(crate) fn clear(&mut self) {
        self.idle.clear();
        self.count = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A pooled-to-be connection and the backend's end of it.
    async fn pair(l: &std::net::TcpListener) -> (TcpStream, std::net::TcpStream) {
        let ours = TcpStream::connect_addr(l.local_addr().unwrap())
            .await
            .expect("connect");
        let (theirs, _) = l.accept().expect("accept");
        (ours, theirs)
    }

    fn settle() {
        std::thread::sleep(Duration::from_millis(20));
    }

    async fn dead_connections_are_never_taken() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let now = Instant::now();
        let mut p = Pool::default();

        // Closed between two sweeps: the check on take catches it.
        let (s, peer) = pair(&l).await;
        p.put(addr, s, 8, now);
        drop(peer);
        settle();
        assert!(p.take(addr, now).is_none());
        assert_eq!(p.losses().peer_closed, 1);

        // Half-closed, talkative, quiet, too old: the sweep closes all but
        // the quiet one, which is then taken.
        let (s, half) = pair(&l).await;
        p.put(addr, s, 8, now);
        half.shutdown(std::net::Shutdown::Write).unwrap();
        let (s, mut talk) = pair(&l).await;
        p.put(addr, s, 8, now);
        talk.write_all(b"HTTP/1.1 200 OK\r\n").unwrap();
        let (s, _quiet) = pair(&l).await;
        p.put(addr, s, 8, now);
        let (s, _old) = pair(&l).await;
        p.put(addr, s, 8, now - MAX_IDLE_AGE);
        settle();
        assert_eq!(p.sweep(now), 3);
        assert_eq!(p.len(), 1);
        assert_eq!(
            p.losses(),
            Losses {
                peer_closed: 2,
                stray_bytes: 1
            }
        );
        assert!(p.take(addr, now).is_some());
        assert_eq!(p.len(), 0);
        assert_eq!(p.sweep(now), 0);
    }

    #[test]
    fn dead_connections_are_never_taken_epoll() {
        monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .build()
            .unwrap()
            .block_on(dead_connections_are_never_taken());
    }

    #[test]
    fn dead_connections_are_never_taken_io_uring() {
        let Ok(mut rt) = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new().build() else {
            return; // no io_uring here: the epoll test covers the logic
        };
        rt.block_on(dead_connections_are_never_taken());
    }
}
