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

/// An idle connection must have nothing to read: bytes there are the tail
/// of a response that ran past its declared length (reusing the connection
/// would hand them to the next client as its response), and end of stream
/// means the backend closed it. One non-blocking peek tells both.
fn is_quiet(s: &TcpStream) -> bool {
    use std::os::fd::AsRawFd;
    let mut b = [0u8; 1];
    matches!(crate::sys::peek(s.as_raw_fd(), &mut b),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
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
}

impl Pool {
    /// A reusable connection to `addr`, if one is idle and fresh. `now`
    /// may be a coarse clock: ages are compared with [`MAX_IDLE_AGE`].
    pub(crate) fn take(&mut self, addr: SocketAddr, now: Instant) -> Option<TcpStream> {
        let list = self.idle.get_mut(&addr)?;
        while let Some((s, since)) = list.pop() {
            self.count -= 1;
            if now.saturating_duration_since(since) < MAX_IDLE_AGE && is_quiet(&s) {
                return Some(s);
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
