//! Giving freed memory back to the OS once a burst is over.
//!
//! mimalloc keeps the pages a burst of requests used (request state,
//! buffers, header indexes) for the thread that freed them, and purges them
//! only when that thread allocates again. A worker left holding ten thousand
//! idle keep-alive connections after a burst allocates nothing, so those
//! pages would stay resident for as long as the connections do. The idle
//! sweeper asks [`Trim`] each tick whether a burst just ended, and then
//! collects this thread's heap once. Many connections closing while no
//! request arrives (ten thousand idle clients leaving) frees their state
//! the same way, with nothing after it to purge the pages: that collects
//! too.

/// Tracks whether requests arrived since the worker last went quiet, and
/// the most connections open since the heap was last collected.
#[derive(Default)]
pub(crate) struct Trim {
    last_total: u64,
    busy: bool,
    conns_high: u64,
}

/// Connections that must have closed (and at least half of those open at
/// the high point) before a quiet worker collects for them: a collection
/// walks the whole heap, so a few closing clients are not worth one.
const CLOSED_WORTH_COLLECTING: u64 = 1024;

impl Trim {
    /// Called every sweep tick with the worker's request counters and its
    /// open connections. True once after a busy period, at the first tick
    /// that saw no new request and none in flight, and when, quiet, the
    /// worker has lost most of its connections since it last collected;
    /// never under steady load, where every tick sees new requests.
    pub(super) fn tick(&mut self, req_total: u64, req_active: u64, conns: u64) -> bool {
        self.conns_high = self.conns_high.max(conns);
        if req_total != self.last_total {
            self.last_total = req_total;
            self.busy = true;
            return false;
        }
        if req_active != 0 {
            return false;
        }
        let closed = self.conns_high - conns;
        if self.busy || (closed >= CLOSED_WORTH_COLLECTING && conns * 2 <= self.conns_high) {
            self.busy = false;
            self.conns_high = conns;
            return true;
        }
        false
    }
}

/// Return this thread's free pages to the OS.
pub(crate) fn release() {
    // SAFETY: mi_collect only walks and purges the calling thread's own
    // mimalloc heap; it takes no pointers from us.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_once_when_a_burst_ends() {
        let mut t = Trim::default();
        assert!(!t.tick(0, 0, 0), "nothing happened yet");
        assert!(!t.tick(5, 3, 3), "busy");
        assert!(!t.tick(5, 2, 3), "quiet, but requests still in flight");
        assert!(t.tick(5, 0, 3), "the burst is over");
        assert!(!t.tick(5, 0, 3), "only once");
        for n in 6..100 {
            assert!(!t.tick(n, 0, 3), "steady load never collects");
        }
        assert!(t.tick(99, 0, 3));
    }

    #[test]
    fn collects_once_when_most_connections_have_left() {
        let mut t = Trim::default();
        assert!(!t.tick(10_000, 0, 10_000), "a burst of clients");
        assert!(t.tick(10_000, 0, 10_000), "its end");
        assert!(!t.tick(10_000, 0, 9_000), "a few left");
        assert!(!t.tick(10_000, 0, 5_100), "not yet half");
        assert!(t.tick(10_000, 0, 4_000), "most of them left");
        assert!(!t.tick(10_000, 0, 3_500), "only once");
        assert!(t.tick(10_000, 0, 100), "most of the 4,000 since");
        assert!(!t.tick(10_000, 0, 100), "nothing new");
        assert!(!t.tick(10_000, 0, 0), "too few to be worth it");
    }
}
