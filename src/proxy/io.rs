//! Owned-buffer I/O with deadlines. A buffer moves into the kernel and back;
//! when a timeout fires the operation is cancelled with its buffer, and the
//! caller always closes that stream, so a cancelled read is never followed
//! by another read on the same stream.

use crate::basic::ErrorKind;
use monoio::buf::{IoBuf, IoBufMut, IoVecBuf, SliceMut};

use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt};
use std::ops::Range;
use std::time::Duration;

#[derive(Debug)]
pub(crate) enum IoErr {
    /// The peer closed its side (read returned 0).
    Closed,
    Timeout,
    Io,
}

impl IoErr {
    /// What a failed read from or write to a backend is counted as.
    pub(crate) fn backend_kind(&self) -> ErrorKind {
        match self {
            IoErr::Timeout => ErrorKind::BackendTimeout,
            _ => ErrorKind::BackendBroken,
        }
    }

    /// What a failed read from or write to a client is counted as.
    pub(crate) fn client_kind(&self) -> ErrorKind {
        match self {
            IoErr::Timeout => ErrorKind::ClientTimeout,
            _ => ErrorKind::ClientClose,
        }
    }
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
    let slice = read_slice(buf, limit);
    read_result(buf, monoio::time::timeout(timeout, s.read(slice)).await)
}

/// [`read_more`] by `deadline`: for a caller that read the clock already
/// (monoio's `timeout` would read it again).
pub(crate) async fn read_more_by<S: AsyncReadRent>(
    s: &mut S,
    buf: &mut Vec<u8>,
    limit: usize,
    deadline: std::time::Instant,
) -> Result<usize, IoErr> {
    let slice = read_slice(buf, limit);
    let deadline = monoio::time::Instant::from_std(deadline);
    read_result(buf, monoio::time::timeout_at(deadline, s.read(slice)).await)
}

/// The free part of `buf` to read up to `limit` bytes into (`buf` is
/// left empty until [`read_result`] puts it back).
fn read_slice(buf: &mut Vec<u8>, limit: usize) -> SliceMut<Vec<u8>> {
    let len = buf.len();
    if len == buf.capacity() {
        buf.reserve_exact(len.max(4096).min(limit.max(1)));
    }
    let end = buf.capacity().min(len.saturating_add(limit.max(1)));
    std::mem::take(buf).slice_mut(len..end)
}

fn read_result(
    buf: &mut Vec<u8>,
    r: Result<(std::io::Result<usize>, SliceMut<Vec<u8>>), monoio::time::error::Elapsed>,
) -> Result<usize, IoErr> {
    match r {
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

/// Write all of `buf` within `timeout`, the buffer lent to the write and
/// put back (empty if the write timed out).
pub(crate) async fn write_all_in<S: AsyncWriteRent>(
    s: &mut S,
    buf: &mut Vec<u8>,
    timeout: Duration,
) -> Result<(), IoErr> {
    let (r, back) = write_from(s, std::mem::take(buf), 0, timeout).await;
    *buf = back;
    r
}

/// Owned buffers written with one `writev`, each from its own range: a
/// head built here next to body bytes where they were read, so nothing is
/// copied to sit beside the head first.
struct Gather<const N: usize> {
    bufs: [Vec<u8>; N],
    /// On the heap: the kernel reads the array when the operation is
    /// submitted, after the `Gather` itself has moved into the driver.
    iov: Box<[libc::iovec; N]>,
}

impl<const N: usize> Gather<N> {
    /// `parts`: each buffer with the range of it to write (`None`: all).
    fn new(parts: [(Vec<u8>, Option<Range<usize>>); N]) -> Self {
        let iov = Box::new(std::array::from_fn(|i| {
            let (b, r) = &parts[i];
            let part = &b[r.clone().unwrap_or(0..b.len())];
            libc::iovec {
                iov_base: part.as_ptr() as *mut libc::c_void,
                iov_len: part.len(),
            }
        }));
        Gather {
            bufs: parts.map(|(b, _)| b),
            iov,
        }
    }

    /// Index of the first iovec with bytes left (N when all are written).
    /// Written-out iovecs are skipped: TLS streams write only the first.
    fn first(&self) -> usize {
        self.iov.iter().position(|v| v.iov_len > 0).unwrap_or(N)
    }

    /// `n` more bytes were written.
    fn advance(&mut self, mut n: usize) {
        for v in self.iov.iter_mut() {
            let k = n.min(v.iov_len);
            // SAFETY: `k` is within the iovec, which lies in a vector this
            // Gather owns.
            v.iov_base = unsafe { (v.iov_base as *mut u8).add(k) } as *mut libc::c_void;
            v.iov_len -= k;
            n -= k;
        }
    }
}

// SAFETY: the iovecs point into the vectors' heap storage, which does not
// move or change while a `Gather` owns them, and the array itself is
// boxed, so the pointer stays valid while the runtime holds the Gather.
unsafe impl<const N: usize> IoVecBuf for Gather<N> {
    fn read_iovec_ptr(&self) -> *const libc::iovec {
        self.iov[self.first().min(N.saturating_sub(1))..].as_ptr()
    }

    fn read_iovec_len(&self) -> usize {
        N - self.first()
    }
}

/// Write the given range of each buffer, in order, each write within
/// `timeout`, in one submission where the socket takes it all. The buffers come back
/// (empty with no capacity if the write timed out).
pub(crate) async fn write_parts<S: AsyncWriteRent, const N: usize>(
    s: &mut S,
    parts: [(Vec<u8>, Option<Range<usize>>); N],
    timeout: Duration,
) -> (Result<(), IoErr>, [Vec<u8>; N]) {
    let mut g = Gather::new(parts);
    // Own loop rather than `write_vectored_all`: a partial write must
    // continue exactly where the kernel stopped, which monoio 0.2's
    // `IoVecMeta::consume` does not do within an iovec. The timeout is
    // for each write, as nginx's send_timeout: a whole body held in memory
    // goes out in one call, and a client that keeps reading keeps it going.
    while g.first() < N {
        let (r, back) = match monoio::time::timeout(timeout, s.writev(g)).await {
            Ok(done) => done,
            Err(_) => return (Err(IoErr::Timeout), std::array::from_fn(|_| Vec::new())),
        };
        g = back;
        match r {
            Ok(0) => return (Err(IoErr::Io), g.bufs),
            Ok(n) => g.advance(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return (Err(IoErr::Io), g.bufs),
        }
    }
    (Ok(()), g.bufs)
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
    fn left<const N: usize>(g: &Gather<N>) -> Vec<u8> {
        let n = g.read_iovec_len();
        // SAFETY: the pointer and count come from the Gather, which is alive.
        let iov = unsafe { std::slice::from_raw_parts(g.read_iovec_ptr(), n) };
        iov.iter()
            .flat_map(|v| unsafe {
                std::slice::from_raw_parts(v.iov_base as *const u8, v.iov_len).to_vec()
            })
            .collect()
    }

    fn parts() -> [(Vec<u8>, Option<Range<usize>>); 3] {
        [
            (b"HEAD".to_vec(), None),
            (b"xxBODYyy".to_vec(), Some(2..6)),
            (b"MORE".to_vec(), None),
        ]
    }

    #[test]
    fn gather_continues_exactly_where_a_partial_write_stopped() {
        let all = b"HEADBODYMORE";
        assert_eq!(left(&Gather::new(parts())), all);
        for cut in 0..=all.len() {
            let mut g = Gather::new(parts());
            g.advance(cut);
            assert_eq!(left(&g), &all[cut..], "after {cut} bytes");
            assert_eq!(g.first() == 3, cut == all.len());
        }
        // Written-out and empty parts are skipped: the first iovec always
        // has bytes, for streams that write only the first.
        let mut g = Gather::new([
            (b"HEAD".to_vec(), None),
            (Vec::new(), None),
            (b"B".to_vec(), None),
        ]);
        g.advance(4);
        assert_eq!(g.read_iovec_len(), 1);
        assert_eq!(left(&g), b"B");
    }
}
