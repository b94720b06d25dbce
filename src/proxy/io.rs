//! Owned-buffer I/O with deadlines. A buffer moves into the kernel and back;
//! when a timeout fires the operation is cancelled with its buffer, and the
//! caller always closes that stream, so a cancelled read is never followed
//! by another read on the same stream.

use monoio::buf::{IoBuf, IoBufMut};

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
