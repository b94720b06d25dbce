//! Owned-buffer I/O with deadlines. A buffer moves into the kernel and back;
//! when a timeout fires the operation is cancelled with its buffer, and the
//! caller always closes that stream, so a cancelled read is never followed
//! by another read on the same stream.

use monoio::buf::{IoBuf, IoBufMut, IoVecBuf};

use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt};
use std::time::Duration;

#[derive(Debug)]
pub(crate) enum IoErr {
    /// The peer closed its side (read returned 0).
    Closed,
    Timeout,
    Io,
}

/// Append up to `limit` bytes read from `s` to `buf` within `timeout`.
/// Grows `buf` when it is full, never by more than `limit`: a peer cannot
/// make a buffer allocate past the limit it is read under. `Closed` on end
/// of stream.
pub(crate) async fn read_more<S: AsyncReadRent>(
    s: &mut S,
    buf: &mut Vec<u8>,
    limit: usize,
    timeout: Duration,
) -> Result<usize, IoErr> {
    let len = buf.len();
    if len == buf.capacity() {
        buf.reserve_exact(len.max(4096).min(limit.max(1)));
    }
    let end = buf.capacity().min(len.saturating_add(limit.max(1)));
    let owned = std::mem::take(buf);
    let slice = owned.slice_mut(len..end);
    match monoio::time::timeout(timeout, s.read(slice)).await {
        Ok((res, slice)) => {
            *buf = slice.into_inner();
            match res {
                Ok(0) => Err(IoErr::Closed),
                Ok(n) => Ok(n),
                Err(_) => Err(IoErr::Io),
            }
        }
        Err(_) => Err(IoErr::Timeout),
    }
}

/// Write all of `buf[from..]` within `timeout`; the buffer comes back
/// (empty with no capacity if the write timed out).
pub(crate) async fn write_from<S: AsyncWriteRent>(
    s: &mut S,
    buf: Vec<u8>,
    from: usize,
    timeout: Duration,
) -> (Result<(), IoErr>, Vec<u8>) {
    if from >= buf.len() {
        return (Ok(()), buf);
    }
    let end = buf.len();
    match monoio::time::timeout(timeout, s.write_all(buf.slice(from..end))).await {
        Ok((res, slice)) => (res.map(|_| ()).map_err(|_| IoErr::Io), slice.into_inner()),
        Err(_) => (Err(IoErr::Timeout), Vec::new()),
    }
}

/// Two owned buffers written with one `writev`: a head built here and a
/// range of a buffer read from the peer, so body bytes that arrived with a
/// head are not copied next to the new head first.
struct Pair {
    head: Vec<u8>,
    body: Vec<u8>,
    /// On the heap: the kernel reads the array when the operation is
    /// submitted, after the `Pair` itself has moved into the driver.
    iov: Box<[libc::iovec; 2]>,
}

impl Pair {
    fn new(head: Vec<u8>, body: Vec<u8>, range: std::ops::Range<usize>) -> Pair {
        let body_part = &body[range];
        let iov = Box::new([
            libc::iovec {
                iov_base: head.as_ptr() as *mut libc::c_void,
                iov_len: head.len(),
            },
            libc::iovec {
                iov_base: body_part.as_ptr() as *mut libc::c_void,
                iov_len: body_part.len(),
            },
        ]);
        Pair { head, body, iov }
    }

    /// Index of the first iovec with bytes left (2 when all are written).
    /// Written-out iovecs are skipped: TLS streams write only the first.
    fn first(&self) -> usize {
        self.iov.iter().position(|v| v.iov_len > 0).unwrap_or(2)
    }

    /// `n` more bytes were written.
    fn advance(&mut self, mut n: usize) {
        for v in self.iov.iter_mut() {
            let k = n.min(v.iov_len);
            // SAFETY: `k` is within the iovec, which lies in a vector this
            // Pair owns.
            v.iov_base = unsafe { (v.iov_base as *mut u8).add(k) } as *mut libc::c_void;
            v.iov_len -= k;
            n -= k;
        }
    }
}

// SAFETY: the iovecs point into the two vectors' heap storage, which does
// not move or change while a `Pair` owns them, and the array itself is
// boxed, so the pointer stays valid while the runtime holds the Pair.
unsafe impl IoVecBuf for Pair {
    fn read_iovec_ptr(&self) -> *const libc::iovec {
        self.iov[self.first().min(1)..].as_ptr()
    }

    fn read_iovec_len(&self) -> usize {
        2 - self.first().min(2)
    }
}

/// Write all of `head` and then `body[range]` within `timeout`, in one
/// submission where the socket takes it all; both buffers come back (empty
/// with no capacity if the write timed out).
pub(crate) async fn write_pair<S: AsyncWriteRent>(
    s: &mut S,
    head: Vec<u8>,
    body: Vec<u8>,
    range: std::ops::Range<usize>,
    timeout: Duration,
) -> (Result<(), IoErr>, Vec<u8>, Vec<u8>) {
    let mut pair = Pair::new(head, body, range);
    // Own loop rather than `write_vectored_all`: a partial write must
    // continue exactly where the kernel stopped.
    let all = async move {
        while pair.first() < 2 {
            let (r, p) = s.writev(pair).await;
            pair = p;
            match r {
                Ok(0) => return (Err(IoErr::Io), pair),
                Ok(n) => pair.advance(n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return (Err(IoErr::Io), pair),
            }
        }
        (Ok(()), pair)
    };
    match monoio::time::timeout(timeout, all).await {
        Ok((r, pair)) => (r, pair.head, pair.body),
        Err(_) => (Err(IoErr::Timeout), Vec::new(), Vec::new()),
    }
}

/// Close politely after an error answer: stop sending, then drain what the
/// client still sends for a moment, so the kernel does not reset the
/// connection and destroy the answer before the client reads it.
pub(crate) async fn linger_close<S: AsyncReadRent + AsyncWriteRent>(
    mut s: S,
    mut scratch: Vec<u8>,
) -> Vec<u8> {
    let _ = s.shutdown().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(1);
    let mut drained = 0usize;
    while drained < 4 * 1024 * 1024 {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            break;
        }
        scratch.clear();
        match read_more(&mut s, &mut scratch, 16 * 1024, left).await {
            Ok(n) => drained += n,
            Err(_) => break,
        }
    }
    scratch.clear();
    scratch
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the iovecs still describe, as bytes.
    fn left(p: &Pair) -> Vec<u8> {
        let n = p.read_iovec_len();
        // SAFETY: the pointer and count come from the Pair, which is alive.
        let iov = unsafe { std::slice::from_raw_parts(p.read_iovec_ptr(), n) };
        iov.iter()
            .flat_map(|v| unsafe {
                std::slice::from_raw_parts(v.iov_base as *const u8, v.iov_len).to_vec()
            })
            .collect()
    }

    #[test]
    fn pair_continues_exactly_where_a_partial_write_stopped() {
        let p0 = Pair::new(b"HEAD".to_vec(), b"xxBODYyy".to_vec(), 2..6);
        assert_eq!(left(&p0), b"HEADBODY");
        for cut in 0..=8 {
            let mut p = Pair::new(b"HEAD".to_vec(), b"xxBODYyy".to_vec(), 2..6);
            p.advance(cut);
            assert_eq!(left(&p), &b"HEADBODY"[cut..], "after {cut} bytes");
            assert_eq!(p.first() == 2, cut == 8);
        }
        // A written-out head is skipped: the first iovec always has bytes.
        let mut p = Pair::new(b"HEAD".to_vec(), b"BODY".to_vec(), 0..4);
        p.advance(4);
        assert_eq!(p.read_iovec_len(), 1);
        assert_eq!(left(&p), b"BODY");
    }
}
