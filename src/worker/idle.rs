//! The worker's idle keep-alive connections and their deadlines.
//!
//! A connection waiting for its next request registers its socket and
//! deadline here instead of arming a timer of its own: a timer would make
//! every idle connection's task several hundred bytes larger. A sweeper
//! task shuts down the sockets whose deadline passed, which completes
//! their pending wait; the connection then sees it expired and closes.

use std::cell::{Cell, RefCell};
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

/// How often expired idle connections are looked for.
pub(super) const SWEEP_EVERY: Duration = Duration::from_millis(50);

enum Slot {
    Free,
    Waiting {
        fd: RawFd,
        deadline: Instant,
    },
    /// The sweeper shut the socket down; the connection has not looked yet.
    Expired,
}

/// A slab of idle connections: O(1) register and release, no allocation
/// once it has grown to the worker's peak of idle connections.
#[derive(Default)]
pub(crate) struct IdleList {
    slots: RefCell<Vec<Slot>>,
    free: RefCell<Vec<usize>>,
    waiting: Cell<usize>,
}

/// A registration, released when dropped (also if the waiting task is
/// dropped), so the sweeper never touches a descriptor that was closed.
pub(crate) struct IdleSlot<'a> {
    list: &'a IdleList,
    i: usize,
}

impl IdleSlot<'_> {
    /// Whether the sweeper expired the connection (the slot stays
    /// registered until dropped).
    pub(crate) fn expired(&self) -> bool {
        matches!(self.list.slots.borrow()[self.i], Slot::Expired)
    }
}

impl Drop for IdleSlot<'_> {
    fn drop(&mut self) {
        let mut slots = self.list.slots.borrow_mut();
        if matches!(slots[self.i], Slot::Waiting { .. }) {
            self.list.waiting.set(self.list.waiting.get() - 1);
        }
        slots[self.i] = Slot::Free;
        self.list.free.borrow_mut().push(self.i);
    }
}

impl IdleList {
    pub(crate) fn register(&self, fd: RawFd, deadline: Instant) -> IdleSlot<'_> {
        let slot = Slot::Waiting { fd, deadline };
        let mut slots = self.slots.borrow_mut();
        let i = match self.free.borrow_mut().pop() {
            Some(i) => {
                slots[i] = slot;
                i
            }
            None => {
                slots.push(slot);
                slots.len() - 1
            }
        };
        self.waiting.set(self.waiting.get() + 1);
        IdleSlot { list: self, i }
    }

    /// Connections waiting now (not yet expired).
    pub(crate) fn len(&self) -> usize {
        self.waiting.get()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Shut down every socket whose deadline is before `now` (all of them
    /// when `all`), so their waits complete. Returns how many.
    pub(crate) fn sweep(&self, now: Instant, all: bool) -> usize {
        let mut n = 0;
        for slot in self.slots.borrow_mut().iter_mut() {
            let Slot::Waiting { fd, deadline } = *slot else {
                continue;
            };
            // At shutdown a connection whose request has already arrived
            // is left to its task, which answers it with `Connection:
            // close`: closing it would lose a request the client sent
            // (after an upgrade hand-over, one accepted just before the
            // old process stopped accepting).
            if deadline <= now || (all && !request_waiting(fd)) {
                // The descriptor is still open: a connection releases its
                // slot before it closes its socket, and the sweeper runs on
                // the same thread.
                crate::sys::shutdown(fd);
                *slot = Slot::Expired;
                n += 1;
            }
        }
        self.waiting.set(self.waiting.get() - n);
        n
    }
}

/// Whether bytes wait on `fd` (a request that arrived while idle).
fn request_waiting(fd: std::os::fd::RawFd) -> bool {
    let mut b = [0u8; 1];
    matches!(crate::sys::peek(fd, &mut b), Ok(n) if n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_reused_and_expiry_is_reported() {
        let l = IdleList::default();
        let now = Instant::now();
        let a = l.register(-1, now + Duration::from_secs(60));
        let b = l.register(-1, now);
        assert_eq!(l.len(), 2);
        assert_eq!(l.sweep(now, false), 1);
        assert!(b.expired());
        assert!(!a.expired());
        drop((a, b));
        assert!(l.is_empty());
        let c = l.register(-1, now);
        assert!(c.i < 2, "a freed slot is reused");
        drop(l.register(-1, now));
        assert_eq!(l.len(), 1, "dropping a slot releases it");
        assert_eq!(l.sweep(now, true), 1);
        assert!(c.expired());
        drop(c);
        assert_eq!(l.len(), 0);
    }
}
