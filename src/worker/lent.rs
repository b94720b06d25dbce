//! Buffers lent by a worker's pools for the length of one step of a
//! request. A [`Lent`] goes back to the pool that fits it when it is
//! dropped, so every way out of a request (an error, an early return, a
//! panic unwinding) returns it; no path has to remember to.

use super::Worker;
use std::ops::{Deref, DerefMut};

pub(crate) struct Lent<'w> {
    buf: Vec<u8>,
    w: &'w Worker,
}

impl<'w> Lent<'w> {
    pub(super) fn new(w: &'w Worker, buf: Vec<u8>) -> Self {
        Lent { buf, w }
    }

    /// The vector itself, for an owned-buffer I/O call; [`Lent::put`] it
    /// back when the call returns it. Left empty meanwhile.
    pub(crate) fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    pub(crate) fn put(&mut self, buf: Vec<u8>) {
        self.buf = buf;
    }

    /// This lent buffer holding `buf` instead (a buffer lent earlier and
    /// passed along as a plain vector).
    pub(crate) fn with(mut self, buf: Vec<u8>) -> Self {
        self.buf = buf;
        self
    }
}

impl Deref for Lent<'_> {
    type Target = Vec<u8>;

    fn deref(&self) -> &Vec<u8> {
        &self.buf
    }
}

impl DerefMut for Lent<'_> {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        if self.buf.capacity() > 0 {
            self.w.give_buf(std::mem::take(&mut self.buf));
        }
    }
}
