//! One backend's health as one worker sees it.
//!
//! A [`Health`] is shared (`Rc`) by every configuration generation that
//! keeps the backend: requests still running on an older generation, the
//! newest generation and the probe task all count on the same state, so a
//! reload that keeps a backend keeps its health without copying, and a
//! request that finishes after a reload still updates the live state.

use std::cell::Cell;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

#[derive(Default)]
pub(crate) struct Health {
    down: Cell<bool>,
    /// Consecutive failures of normal requests.
    fails: Cell<u32>,
    /// Requests in flight on the backend (what WLC balances on).
    active: Cell<u32>,
    /// A probe task runs for the backend on this worker.
    probing: Cell<bool>,
    /// The backend left the configuration, or the worker is stopping: a
    /// probe for it must end.
    released: Cell<bool>,
    /// The probe task waiting for `released`.
    waker: Cell<Option<Waker>>,
    /// When the backend came back (or joined on reload): slow start ramps
    /// its weight up from here.
    ramp_since: Cell<Option<Instant>>,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Health")
            .field("down", &self.down.get())
            .field("fails", &self.fails.get())
            .field("active", &self.active.get())
            .field("probing", &self.probing.get())
            .field("released", &self.released.get())
            .finish()
    }
}

impl Health {
    pub(crate) fn is_down(&self) -> bool {
        self.down.get()
    }

    pub(crate) fn fails(&self) -> u32 {
        self.fails.get()
    }

    pub(crate) fn active(&self) -> u32 {
        self.active.get()
    }

    pub(crate) fn is_probing(&self) -> bool {
        self.probing.get()
    }

    #[cfg(test)]
    pub(crate) fn is_released(&self) -> bool {
        self.released.get()
    }

    /// A request got a response: the failure streak ends. As in BFE this
    /// does not bring a down backend back; only the probe does.
    pub(crate) fn success(&self) {
        self.fails.set(0);
    }

    /// A request failed. True when this failure turned the backend down:
    /// BFE's `failNum >= FailNum`, so `FailNum` 0 acts like 1.
    pub(crate) fn failure(&self, fail_num: u32) -> bool {
        let fails = self.fails.get().saturating_add(1);
        self.fails.set(fails);
        if !self.down.get() && fails >= fail_num.max(1) {
            self.down.set(true);
            return true;
        }
        false
    }

    /// The probe saw enough successes: back in rotation, slow start from
    /// `now`.
    pub(crate) fn mark_up(&self, now: Instant) {
        self.down.set(false);
        self.fails.set(0);
        self.ramp_since.set(Some(now));
    }

    pub(crate) fn ramp_since(&self) -> Option<Instant> {
        self.ramp_since.get()
    }

    pub(crate) fn set_ramp_since(&self, t: Option<Instant>) {
        self.ramp_since.set(t);
    }

    /// Count a request on the backend until the guard drops (also when the
    /// request's task is dropped midway).
    pub(crate) fn in_flight(self: &Rc<Self>) -> InFlight {
        self.active.set(self.active.get().saturating_add(1));
        InFlight(self.clone())
    }

    /// Whether a new probe should start: the backend is down, still
    /// configured, and nobody probes it yet. Claims the probe if so.
    pub(crate) fn claim_probe(&self) -> bool {
        if !self.down.get() || self.released.get() || self.probing.get() {
            return false;
        }
        self.probing.set(true);
        true
    }

    pub(crate) fn probe_ended(&self) {
        self.probing.set(false);
        self.waker.set(None);
    }

    /// The backend is gone from the configuration (or the worker stops):
    /// wake its probe so it ends now rather than after its next interval.
    pub(crate) fn release(&self) {
        self.released.set(true);
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }

    /// Ready once [`Health::release`] was called.
    pub(crate) fn poll_released(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.released.get() {
            return Poll::Ready(());
        }
        self.waker.set(Some(cx.waker().clone()));
        Poll::Pending
    }
}

/// One request on a backend, counted while it lives.
pub(crate) struct InFlight(Rc<Health>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let a = &self.0.active;
        a.set(a.get().saturating_sub(1));
    }
}
