//! The worker's allowance for bodies held whole in memory.
//!
//! A request body is read before a backend is chosen, and a response body
//! before it is sent, so that a slow client holds memory rather than a
//! backend connection (see `proxy::relay` and `proxy::forward`). Each such
//! body first takes its size from this budget (`[Ringfront]
//! MaxBufferedBytes` per worker); when the budget is spent the body
//! streams as it always did, so memory stays bounded whatever clients do.

use std::cell::Cell;

/// Bytes this worker may still hold in buffered bodies.
pub(crate) struct Budget {
    left: Cell<usize>,
}

/// Bytes taken from a [`Budget`], given back when dropped.
pub(crate) struct Held<'b> {
    budget: &'b Budget,
    n: usize,
}

impl Budget {
    pub(crate) fn new(total: usize) -> Self {
        Budget {
            left: Cell::new(total),
        }
    }

    /// Take `n` bytes, or `None` when fewer are left.
    pub(crate) fn hold(&self, n: usize) -> Option<Held<'_>> {
        let left = self.left.get();
        if n > left {
            return None;
        }
        self.left.set(left - n);
        Some(Held { budget: self, n })
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        let b = self.budget;
        b.left.set(b.left.get() + self.n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_until_dropped_and_refuses_past_the_total() {
        let b = Budget::new(100);
        let a = b.hold(60).expect("60 of 100");
        assert!(b.hold(41).is_none());
        let c = b.hold(40).expect("the last 40");
        drop(a);
        assert!(b.hold(61).is_none());
        assert!(b.hold(60).is_some());
        drop(c);
        assert!(b.hold(100).is_some());
    }
}
