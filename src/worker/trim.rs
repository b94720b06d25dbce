//! Giving freed memory back to the OS once a burst is over.
//!
//! mimalloc keeps the pages a burst of requests used (request state,
//! buffers, header indexes) for the thread that freed them, and purges them
//! only when that thread allocates again. A worker left holding ten thousand
//! idle keep-alive connections after a burst allocates nothing, so those
//! pages would stay resident for as long as the connections do. The idle
//! sweeper asks [`Trim`] each tick whether a burst just ended, and then
//! collects this thread's heap once.

/// Tracks whether requests arrived since the worker last went quiet.
#[derive(Default)]
pub(crate) struct Trim {
    last_total: u64,
    busy: bool,
}

impl Trim {
    /// Called every sweep tick with the worker's request counters. True
    /// once after a busy period, at the first tick that saw no new request
    /// and none in flight; never under steady load, where every tick sees
    /// new requests.
    pub(super) fn tick(&mut self, req_total: u64, req_active: u64) -> bool {
        if req_total != self.last_total {
            self.last_total = req_total;
            self.busy = true;
            return false;
        }
        if self.busy && req_active == 0 {
            self.busy = false;
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
        assert!(!t.tick(0, 0), "nothing happened yet");
        assert!(!t.tick(5, 3), "busy");
        assert!(!t.tick(5, 2), "quiet, but requests still in flight");
        assert!(t.tick(5, 0), "the burst is over");
        assert!(!t.tick(5, 0), "only once");
        for n in 6..100 {
            assert!(!t.tick(n, 0), "steady load never collects");
        }
        assert!(t.tick(99, 0));
    }
}
