//! The byte-for-byte splice behind a WebSocket handshake the backend
//! accepted ([`super::upgrade`] decides that and runs the callbacks).
//!
//! Two copy loops on the connection's own task, one per direction, each
//! with one pooled read buffer; an end of stream on one side is passed on
//! as a write shutdown to the other (half-close) and the other direction
//! keeps going until it ends too. A read or write error on either side
//! ends both. A watchdog closes the tunnel when no byte moved either way
//! for the idle timeout. The backend connection is closed with the tunnel,
//! never pooled again. No thread is crossed: the client's stream is split
//! in place (it stays the connection's), the backend's is owned.

use super::client::ClientIo;
use super::io::write_from;
use crate::basic::Session;
use crate::worker::Worker;
use monoio::buf::{IoBuf, IoBufMut, IoVecBuf, IoVecBufMut};
use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt, Split, Splitable};
use monoio::net::TcpStream;
use monoio::BufResult;
use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::task::Poll;
use std::time::{Duration, Instant};
/// How a tunnel ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// Both sides closed their write halves.
    Closed,
    /// A read or write failed on either side (or the 101 could not be
    /// sent to the client).
    Broken,
    /// Nothing moved either way for the idle timeout.
    Idle,
}

/// What a tunnel moved and how it ended.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spliced {
    /// Bytes from the client to the backend.
    pub recv: u64,
    /// Bytes from the backend to the client, the 101 head not included.
    pub sent: u64,
    pub end: End,
}

/// Send `first` (the 101 head, `head_len` bytes, and any bytes the backend
/// sent behind it) to the client and `early` to the backend, then copy
/// bytes both ways until both sides closed, either failed, or nothing
/// moved for `idle` (zero: no limit). Bytes are counted in `ses` as they
/// move.
#[allow(clippy::too_many_arguments)]
pub(super) async fn splice<C: ClientIo>(
    w: &Worker,
    client: &mut C,
    ses: &Session,
    first: Vec<u8>,
    head_len: usize,
    early: Vec<u8>,
    mut up: TcpStream,
    idle: Duration,
) -> Spliced {
    let mut s = Spliced {
        recv: 0,
        sent: 0,
        end: End::Broken,
    };
    let n = first.len();
    let (r, first) = write_from(client, first, 0, w.conf.client_write_timeout).await;
    w.give_buf(first);
    if r.is_err() {
        return s;
    }
    ses.add_bytes_out(n as u64);
    ses.add_head_out(head_len as u64);
    s.sent = (n - head_len) as u64;
    if !early.is_empty() {
        let n = early.len();
        let timeout = w.conf.client_write_timeout;
        if write_from(&mut up, early, 0, timeout).await.0.is_err() {
            return s;
        }
        s.recv = n as u64;
    }
    let last = Cell::new(Instant::now());
    let recv = Cell::new(0u64);
    let sent = Cell::new(0u64);
    let (mut cr, mut cw) = Shared(client).into_split();
    let (mut br, mut bw) = up.into_split();
    let mut to_backend = w.lend();
    let mut to_client = w.lend();
    s.end = {
        let mut upward = pin!(pipe(&mut cr, &mut bw, &mut to_backend, &last, &recv));
        let mut downward = pin!(pipe(&mut br, &mut cw, &mut to_client, &last, &sent));
        let mut dog = pin!(watchdog(&last, idle));
        let (mut up_end, mut down_end) = (None, None);
        std::future::poll_fn(|cx| {
            if up_end.is_none() {
                if let Poll::Ready(r) = upward.as_mut().poll(cx) {
                    up_end = Some(r);
                }
            }
            if down_end.is_none() {
                if let Poll::Ready(r) = downward.as_mut().poll(cx) {
                    down_end = Some(r);
                }
            }
            match (up_end, down_end) {
                (Some(Err(())), _) | (_, Some(Err(()))) => return Poll::Ready(End::Broken),
                (Some(Ok(())), Some(Ok(()))) => return Poll::Ready(End::Closed),
                _ => {}
            }
            match dog.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(End::Idle),
                Poll::Pending => Poll::Pending,
            }
        })
        .await
    };
    ses.add_bytes_in(recv.get());
    ses.add_bytes_out(sent.get());
    s.recv += recv.get();
    s.sent += sent.get();
    s
}

/// Copy from `from` to `to` until `from` ends, then shut down `to`'s write
/// half (the half-close passed on). `Err` when a read or write fails.
/// Every completed read and write counts as activity in `last`; bytes
/// written are added to `moved`.
async fn pipe<R: AsyncReadRent, W: AsyncWriteRent>(
    from: &mut R,
    to: &mut W,
    buf: &mut Vec<u8>,
    last: &Cell<Instant>,
    moved: &Cell<u64>,
) -> Result<(), ()> {
    if buf.capacity() == 0 {
        buf.reserve_exact(16 * 1024);
    }
    loop {
        buf.clear();
        let (r, b) = from.read(std::mem::take(buf)).await;
        *buf = b;
        match r {
            Ok(0) => {
                // The peer may be gone already; the other direction finds
                // out on its own.
                let _ = to.shutdown().await;
                return Ok(());
            }
            Ok(_) => last.set(Instant::now()),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return Err(()),
        }
        let n = buf.len();
        let (r, b) = to.write_all(std::mem::take(buf)).await;
        *buf = b;
        if r.is_err() {
            return Err(());
        }
        last.set(Instant::now());
        moved.set(moved.get() + n as u64);
    }
}

/// Return once nothing moved for `idle` (never when `idle` is zero).
async fn watchdog(last: &Cell<Instant>, idle: Duration) {
    if idle.is_zero() {
        return std::future::pending().await;
    }
    loop {
        let due = last.get() + idle;
        let now = Instant::now();
        if now >= due {
            return;
        }
        monoio::time::sleep(due - now).await;
    }
}

/// The client stream, borrowed, as something monoio can split into a read
/// half and a write half for the two copy loops (the connection keeps
/// owning the stream; the halves live only as long as the tunnel).
struct Shared<'a, S>(&'a mut S);

// SAFETY: `S: Split` says its reads and writes may run concurrently;
// `Shared` only forwards to it.
unsafe impl<S: Split> Split for Shared<'_, S> {}

impl<S: AsyncReadRent> AsyncReadRent for Shared<'_, S> {
    fn read<T: IoBufMut>(&mut self, buf: T) -> impl Future<Output = BufResult<usize, T>> {
        self.0.read(buf)
    }

    fn readv<T: IoVecBufMut>(&mut self, buf: T) -> impl Future<Output = BufResult<usize, T>> {
        self.0.readv(buf)
    }
}

impl<S: AsyncWriteRent> AsyncWriteRent for Shared<'_, S> {
    fn write<T: IoBuf>(&mut self, buf: T) -> impl Future<Output = BufResult<usize, T>> {
        self.0.write(buf)
    }

    fn writev<T: IoVecBuf>(&mut self, buf: T) -> impl Future<Output = BufResult<usize, T>> {
        self.0.writev(buf)
    }

    fn flush(&mut self) -> impl Future<Output = std::io::Result<()>> {
        self.0.flush()
    }

    fn shutdown(&mut self) -> impl Future<Output = std::io::Result<()>> {
        self.0.shutdown()
    }
}
