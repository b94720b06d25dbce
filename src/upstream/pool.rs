//! The per-worker idle pool. Most recently used first: the connection most
//! likely still open on the backend side is tried first, and the oldest
//! ones age out.

use monoio::net::TcpStream;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Idle connections older than this are closed instead of reused: backends
/// commonly time idle keep-alive connections out after a minute or so.
const MAX_IDLE_AGE: Duration = Duration::from_secs(30);

#[derive(Default)]
pub struct Pool {
    idle: HashMap<SocketAddr, Vec<(TcpStream, Instant)>>,
    count: usize,
}

impl Pool {
    /// A reusable connection to `addr`, if one is idle and fresh.
    pub fn take(&mut self, addr: SocketAddr) -> Option<TcpStream> {
        let list = self.idle.get_mut(&addr)?;
        while let Some((s, since)) = list.pop() {
            self.count -= 1;
            if since.elapsed() < MAX_IDLE_AGE {
                return Some(s);
            }
        }
        None
    }

    /// Keep `s` for reuse unless `addr` already has `cap` idle connections.
    pub fn put(&mut self, addr: SocketAddr, s: TcpStream, cap: usize) {
        let list = self.idle.entry(addr).or_default();
        if list.len() < cap {
            list.push((s, Instant::now()));
            self.count += 1;
        }
    }

    /// Idle connections held now.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Drop every idle connection (shutdown).
    pub fn clear(&mut self) {
        self.idle.clear();
        self.count = 0;
    }
}
