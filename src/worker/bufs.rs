//! A per-worker free list of I/O buffers, so requests do not allocate and
//! idle connections hold no buffer.

use crate::http::{RequestHead, ResponseHead};

/// Capacity of a buffer made when the pool is empty and the read is the
/// first of a request.
const SMALL: usize = 1024;

/// Buffers of one size class, recycled within a worker.
pub(crate) struct BufPool {
    free: Vec<Vec<u8>>,
    size: usize,
    max_free: usize,
}

impl BufPool {
    pub(crate) fn new(size: usize, max_free: usize) -> Self {
        BufPool {
            free: Vec::new(),
            size,
            max_free,
        }
    }

    /// An empty buffer with at least the pool's capacity.
    pub(crate) fn take(&mut self) -> Vec<u8> {
        self.free
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(self.size))
    }

    /// A pooled buffer, or else a small new one: for a read whose size is
    /// unknown (most request heads are a few hundred bytes; the reader grows
    /// the buffer when one is not).
    pub(crate) fn take_or_small(&mut self) -> Vec<u8> {
        self.free.pop().unwrap_or_else(|| Vec::with_capacity(SMALL))
    }

    /// Return a buffer; oversized ones (grown for a big head) are dropped so
    /// the pool does not pin memory.
    pub(crate) fn give(&mut self, mut b: Vec<u8>) {
        if self.free.len() < self.max_free
            && b.capacity() >= self.size
            && b.capacity() <= self.size * 2
        {
            b.clear();
            self.free.push(b);
        }
    }
}

/// Header indexes (request and backend response heads) lent to active
/// connections, so an idle connection holds none and a request allocates
/// none once the worker is warm.
pub(crate) struct HeadPool {
    free: Vec<(RequestHead, Box<ResponseHead>)>,
    max_free: usize,
}

impl HeadPool {
    pub(crate) fn new(max_free: usize) -> Self {
        HeadPool {
            free: Vec::new(),
            max_free,
        }
    }

    pub(crate) fn take(&mut self) -> (RequestHead, Box<ResponseHead>) {
        self.free.pop().unwrap_or_default()
    }

    pub(crate) fn give(&mut self, req: RequestHead, res: Box<ResponseHead>) {
        if self.free.len() < self.max_free {
            self.free.push((req, res));
        }
    }
}
