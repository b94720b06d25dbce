//! HTTP/2 as a [`Downstream`]: one client connection carries many streams,
//! and each stream runs the same lifecycle as an HTTP/1.1 request.
//!
//! The framing, HPACK, flow control, SETTINGS/PING handling and the flood
//! defences (rapid reset, CONTINUATION, reset floods) are the `h2` crate's,
//! running over monoio's readiness IO (`poll-io`): its types implement
//! tokio's IO traits, and no tokio runtime is involved. What `h2` leaves to
//! the application is here:
//!
//! - Accept/Handshake/Finish callbacks run once per connection (by the
//!   caller and [`serve`]), the request points once per stream, each stream
//!   in its own task on the worker.
//! - A stream's head becomes a [`Request`] the way an HTTP/1.1 head does:
//!   it is rendered as an HTTP/1.1 head into the request buffer
//!   ([`render_head`]) and parsed by the same parser, so every module,
//!   variable and limit sees exactly what it sees on HTTP/1.1. The RFC 9113
//!   §8 checks that have no HTTP/1.1 equivalent (connection-specific
//!   fields, `:authority` vs `Host`, whitespace around values) come first;
//!   a malformed stream is reset with PROTOCOL_ERROR and counted.
//! - A request body without `content-length` is described to the parser
//!   as chunked and its DATA frames fed through the same [`Pump`] as
//!   chunks, so the backend gets the framing HTTP/1.1 clients would give it.
//! - Responses are rendered as HTTP/1.1 heads by the same writers (so
//!   header edits, reasons and framing rules are shared) and converted to
//!   an HTTP/2 HEADERS frame, dropping connection-specific fields.
//!
//! Upstream stays HTTP/1.1 over the worker's pools.

use super::body::Pump;
use super::downstream::{BodyError, Disposition, Downstream};
use super::guard::{catch_panic, GaugeGuard};
use super::io::{read_more, IoErr};
use super::lifecycle;
use crate::basic::{Body, ErrorKind, ProxyError, Request, Response, Session};
use crate::http::write::{self, ResponseFraming};
use crate::http::{parse_request, BodyKind, Version};
use crate::worker::{Stats, Worker};
use bytes::{Buf, Bytes, BytesMut};
use h2::server::SendResponse;
use h2::{Reason, RecvStream, SendStream};
use monoio::io::poll_io::{AsyncRead, AsyncWrite, ReadBuf};
use monoio::io::{AsyncReadRent, AsyncWriteRent};
use std::cell::Cell;
use std::future::poll_fn;
use std::ops::Range;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// The connection preface an HTTP/2 client with prior knowledge starts
/// with (RFC 9113 §3.4).
pub(crate) const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Per-connection HTTP/2 settings, from the TLS rule's `NextProtos` item
/// `h2;mcs=..;isw=..` (BFE's defaults for h2c and rules without them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct H2Settings {
    /// SETTINGS_MAX_CONCURRENT_STREAMS (BFE `mcs`, default 200).
    pub max_concurrent_streams: u32,
    /// SETTINGS_INITIAL_WINDOW_SIZE (BFE `isw`, default 65535).
    pub initial_window: u32,
}

impl Default for H2Settings {
    fn default() -> Self {
        H2Settings {
            max_concurrent_streams: 200,
            initial_window: 65535,
        }
    }
}

/// Streams reset by the client before they were accepted, allowed pending
/// at once (rapid-reset defence; h2's default is 20).
const MAX_PENDING_ACCEPT_RESET: usize = 20;
/// Streams this side may reset for a client's errors before the
/// connection is closed with ENHANCE_YOUR_CALM (h2's default is 1024).
const MAX_LOCAL_ERROR_RESETS: usize = 256;
/// Stream tasks one connection may have running, as a multiple of its
/// SETTINGS_MAX_CONCURRENT_STREAMS. `h2` frees a stream's slot the moment
/// the client resets it, but ringfront's task for that stream goes on
/// until its backend answers: without this bound a client that opens and
/// resets streams as fast as it likes (rapid reset, paced to dodge `h2`'s
/// pending-reset limit) would keep that many backend requests in flight.
/// Past it a new stream is refused with REFUSED_STREAM, which clients
/// retry safely (RFC 9113 §8.7).
const LIVE_STREAMS_PER_SLOT: usize = 2;
/// Bytes buffered per stream for sending before flow control holds the
/// writer back.
const MAX_SEND_BUFFER: usize = 256 * 1024;
/// How often the connection task looks at shutdown and idleness.
const TICK: Duration = Duration::from_secs(1);

/// A stream with unread bytes in front: the bytes the HTTP/1.1 reader took
/// before it saw the HTTP/2 preface are replayed to `h2` first.
pub(crate) struct Rewind<T> {
    pre: Vec<u8>,
    pos: usize,
    io: T,
}

impl<T> Rewind<T> {
    pub(crate) fn new(pre: Vec<u8>, io: T) -> Self {
        Rewind { pre, pos: 0, io }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Rewind<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let me = self.get_mut();
        if me.pos < me.pre.len() {
            let n = (me.pre.len() - me.pos).min(buf.remaining());
            buf.put_slice(&me.pre[me.pos..me.pos + n]);
            me.pos += n;
            if me.pos == me.pre.len() {
                me.pre = Vec::new();
                me.pos = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut me.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Rewind<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// The streams of one connection still running, so that HandleFinish runs
/// after the last of them.
#[derive(Default)]
struct Streams {
    active: Cell<usize>,
    waiter: Cell<Option<Waker>>,
}

/// Held by a stream task; its drop lets the connection finish.
struct StreamGuard(Rc<Streams>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let s = &self.0;
        s.active.set(s.active.get() - 1);
        if s.active.get() == 0 {
            if let Some(wk) = s.waiter.take() {
                wk.wake();
            }
        }
    }
}

impl Streams {
    fn start(self: &Rc<Self>) -> StreamGuard {
        self.active.set(self.active.get() + 1);
        StreamGuard(self.clone())
    }

    async fn all_done(&self) {
        poll_fn(|cx| {
            if self.active.get() == 0 {
                Poll::Ready(())
            } else {
                self.waiter.set(Some(cx.waker().clone()));
                Poll::Pending
            }
        })
        .await
    }
}

/// Serve an HTTP/2 connection whose Accept (and Handshake) callbacks have
/// run: read the client preface and SETTINGS within ClientReadTimeout,
/// run each stream in its own task, close an idle connection after
/// ClientReadTimeout with GOAWAY, send GOAWAY as soon as the worker starts
/// shutting down (it wakes this task), drop a connection that has not
/// ended GracefulShutdownTimeout after its GOAWAY, and run HandleFinish
/// once the last stream is done.
pub(crate) async fn serve<T>(w: &Rc<Worker>, io: T, ses: Rc<Session>, settings: H2Settings)
where
    T: AsyncRead + AsyncWrite + Unpin + 'static,
{
    let mut b = h2::server::Builder::new();
    b.max_concurrent_streams(settings.max_concurrent_streams)
        .initial_window_size(settings.initial_window)
        .max_header_list_size(w.limits.max_header_bytes.min(u32::MAX as usize) as u32)
        .max_pending_accept_reset_streams(MAX_PENDING_ACCEPT_RESET)
        .max_local_error_reset_streams(Some(MAX_LOCAL_ERROR_RESETS))
        .max_send_buffer_size(MAX_SEND_BUFFER);
    let mut conn = match monoio::time::timeout(
        w.conf.client_read_timeout,
        b.handshake::<_, Bytes>(io),
    )
    .await
    {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            log::debug!("worker {}: h2 preface from {}: {e}", w.id, ses.peer);
            w.stats.error(ErrorKind::ClientBadRequest);
            ses.set_error(ErrorKind::ClientBadRequest.into());
            w.cbs.run_finish(&ses);
            return;
        }
        Err(_) => {
            w.stats.error(ErrorKind::ClientTimeout);
            ses.set_error(ErrorKind::ClientTimeout.into());
            w.cbs.run_finish(&ses);
            return;
        }
    };
    Stats::inc(&w.stats.h2_conns);
    let streams = Rc::new(Streams::default());
    let live_max = (settings.max_concurrent_streams as usize).saturating_mul(LIVE_STREAMS_PER_SLOT);
    let idle_ticks = w.conf.client_read_timeout.as_secs().max(1);
    let mut idle = 0u64;
    let mut closing: Option<std::time::Instant> = None;
    let mut served = false;
    let _wakeup = ShutdownWakeup(w, ses.id);
    loop {
        let shutdown_seen = closing.is_some();
        let next = poll_fn(|cx| {
            if w.shutting_down.get() && !shutdown_seen {
                return Poll::Ready(None);
            }
            let mut wakers = w.shutdown_wakers.borrow_mut();
            match wakers.get(&ses.id) {
                Some(wk) if wk.will_wake(cx.waker()) => {}
                _ => {
                    wakers.insert(ses.id, cx.waker().clone());
                }
            }
            drop(wakers);
            conn.poll_accept(cx).map(Some)
        });
        match monoio::time::timeout(TICK, next).await {
            // Shutdown began: GOAWAY now.
            Ok(None) => {
                conn.graceful_shutdown();
                closing = Some(std::time::Instant::now());
            }
            Ok(Some(Some(Ok((_, mut respond))))) if streams.active.get() >= live_max => {
                Stats::inc(&w.stats.h2_refused_streams);
                respond.send_reset(Reason::REFUSED_STREAM);
            }
            Ok(Some(Some(Ok((req, respond))))) => {
                idle = 0;
                served = true;
                let guard = streams.start();
                monoio::spawn(stream(w.clone(), ses.clone(), req, respond, guard));
            }
            Ok(Some(Some(Err(e)))) => {
                log::debug!("worker {}: h2 connection from {}: {e}", w.id, ses.peer);
                if e.is_go_away() || e.is_reset() {
                    Stats::inc(&w.stats.h2_conn_errors);
                }
                if !e.is_io() && !e.is_remote() {
                    ses.set_error(ErrorKind::ClientBadRequest.into());
                    w.stats.error(ErrorKind::ClientBadRequest);
                }
                break;
            }
            Ok(Some(None)) => break,
            Err(_) => {
                if streams.active.get() == 0 {
                    idle += 1;
                }
                match closing {
                    None if w.shutting_down.get() || idle >= idle_ticks => {
                        conn.graceful_shutdown();
                        closing = Some(std::time::Instant::now());
                    }
                    // GOAWAY went out but the connection did not end in
                    // GracefulShutdownTimeout: open streams are cut, and
                    // a client that never finished its preface (h2 waits
                    // for it before anything else) is dropped.
                    Some(t) if t.elapsed() > w.conf.graceful_shutdown_timeout => {
                        if !served {
                            w.stats.error(ErrorKind::ClientTimeout);
                            ses.set_error(ErrorKind::ClientTimeout.into());
                        }
                        break;
                    }
                    _ => {}
                }
            }
        }
    }
    // The connection is gone; streams still running fail their next send.
    drop(conn);
    streams.all_done().await;
    w.cbs.run_finish(&ses);
}

/// Takes a connection's entry out of the worker's shutdown wake-up list
/// when the connection ends.
struct ShutdownWakeup<'w>(&'w Worker, u64);

impl Drop for ShutdownWakeup<'_> {
    fn drop(&mut self) {
        self.0.shutdown_wakers.borrow_mut().remove(&self.1);
    }
}

/// One stream through the lifecycle.
async fn stream(
    w: Rc<Worker>,
    ses: Rc<Session>,
    req: http::Request<RecvStream>,
    mut respond: SendResponse<Bytes>,
    _guard: StreamGuard,
) {
    let wr = &*w;
    let run = async {
        let (parts, body) = req.into_parts();
        let mut buf = wr.bufs.borrow_mut().take();
        buf.clear();
        if let Err(why) = render_head(&parts, body.is_end_stream(), &mut buf) {
            log::debug!("worker {}: h2 stream from {}: {why}", wr.id, ses.peer);
            wr.stats.error(ErrorKind::ClientBadRequest);
            Stats::inc(&wr.stats.h2_malformed);
            respond.send_reset(Reason::PROTOCOL_ERROR);
            wr.bufs.borrow_mut().give(buf);
            return;
        }
        ses.add_bytes_in(buf.len() as u64);
        let (mut head, rhead) = wr.heads.borrow_mut().take();
        let mut d = H2Stream {
            ses: ses.clone(),
            body,
            respond,
            send: None,
            left: None,
            ended: false,
            write_timeout: wr.conf.client_write_timeout,
        };
        match parse_request(&buf, &wr.limits, &mut head) {
            Ok(true) => {}
            other => {
                // Too large, a bad URI or a head HTTP/1.1 would refuse:
                // answered with the same status.
                let status = match other {
                    Err(e) => e.status(),
                    _ => 400,
                };
                wr.stats.error(ErrorKind::ClientBadRequest);
                let mut r = Request::new(ses.clone(), buf, head, Some(rhead), wr.current());
                let res = Response::error(status);
                let disp = d.send_local(wr, &mut r, &res, false).await;
                d.end(disp);
                recycle(wr, r);
                return;
            }
        }
        Stats::inc(&wr.stats.req_total);
        Stats::inc(&wr.stats.req_h2);
        Stats::inc(&wr.stats.req_active);
        let active = GaugeGuard(&wr.stats.req_active);
        let mut r = Request::new(ses.clone(), buf, head, Some(rhead), wr.current());
        r.stat.header_len_in = r.head_len() as u64;
        let disp = lifecycle::run(wr, &mut d, &mut r).await;
        drop(active);
        d.end(disp);
        ses.count_request();
        recycle(wr, r);
    };
    if let Err(p) = catch_panic(run).await {
        w.stats.error(ErrorKind::ConnPanic);
        log::error!(
            "worker {}: h2 stream of connection {} panicked: {}",
            w.id,
            ses.id,
            crate::module::panic_message(p.as_ref())
        );
    }
}

/// Connection-specific fields, malformed in HTTP/2 (RFC 9113 §8.2.2).
const CONNECTION_SPECIFIC: [&str; 5] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
];

/// Render a stream's request head as the HTTP/1.1 head the parser reads,
/// after the RFC 9113 §8 checks `h2` leaves to the application. `h2` has
/// already checked the pseudo-header set (present, known, once, before the
/// regular fields) and lower-case names. Pure, and fuzzed through
/// [`crate::fuzzing`].
pub fn render_head(
    p: &http::request::Parts,
    end_stream: bool,
    out: &mut Vec<u8>,
) -> Result<(), &'static str> {
    let authority = p.uri.authority().map(|a| a.as_str());
    let connect = p.method == http::Method::CONNECT;
    if connect && authority.is_none() {
        return Err("CONNECT without :authority");
    }
    out.extend_from_slice(p.method.as_str().as_bytes());
    out.push(b' ');
    match (connect, p.uri.path_and_query()) {
        (true, _) => out.extend_from_slice(authority.unwrap_or("").as_bytes()),
        (false, Some(pq)) if !pq.as_str().is_empty() => {
            out.extend_from_slice(pq.as_str().as_bytes())
        }
        _ => return Err("empty :path"),
    }
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let mut host = authority;
    if let Some(h) = p.headers.get(http::header::HOST) {
        let h = h.to_str().map_err(|_| "bad host")?;
        match authority {
            // RFC 9113 §8.3.1: a Host that differs from :authority.
            Some(a) if !a.eq_ignore_ascii_case(h) => return Err(":authority and host differ"),
            Some(_) => {}
            None => host = Some(h),
        }
    }
    if let Some(h) = host {
        out.extend_from_slice(b"Host: ");
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let mut cookies = 0;
    for (name, value) in &p.headers {
        let n = name.as_str();
        if CONNECTION_SPECIFIC.contains(&n) {
            return Err("connection-specific header field");
        }
        if n == "te" && value.as_bytes() != b"trailers" {
            return Err("te other than trailers");
        }
        let v = value.as_bytes();
        if v.iter().any(|&b| b == 0 || b == b'\r' || b == b'\n') {
            return Err("NUL, CR or LF in a field value");
        }
        if matches!(v.first(), Some(b' ' | b'\t')) || matches!(v.last(), Some(b' ' | b'\t')) {
            return Err("whitespace around a field value");
        }
        if name == http::header::HOST {
            continue;
        }
        if name == http::header::COOKIE {
            // RFC 9113 §8.2.3: crumbs are joined for HTTP/1.1.
            cookies += 1;
            if cookies > 1 {
                continue;
            }
            out.extend_from_slice(b"cookie: ");
            let mut first = true;
            for c in p.headers.get_all(http::header::COOKIE) {
                // An empty crumb would leave "; " dangling: a value with
                // trailing whitespace, which no sender may generate.
                if c.is_empty() {
                    continue;
                }
                if !first {
                    out.extend_from_slice(b"; ");
                }
                first = false;
                out.extend_from_slice(c.as_bytes());
            }
            out.extend_from_slice(b"\r\n");
            continue;
        }
        out.extend_from_slice(n.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v);
        out.extend_from_slice(b"\r\n");
    }
    if !end_stream && !p.headers.contains_key(http::header::CONTENT_LENGTH) {
        // A body of unknown length: the parser and the backend see it
        // chunked, and read_body frames each DATA frame as a chunk.
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
    }
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// One HTTP/2 stream, as the lifecycle sees a client.
struct H2Stream {
    ses: Rc<Session>,
    body: RecvStream,
    respond: SendResponse<Bytes>,
    /// The response body's stream once its head went out.
    send: Option<SendStream<Bytes>>,
    /// For a length-framed response body, the bytes still due: the last
    /// of them carries END_STREAM.
    left: Option<u64>,
    /// END_STREAM (or a reset) went out.
    ended: bool,
    /// How long each send of a relayed response may wait on the client
    /// (the cluster's `TimeoutWriteClient`).
    write_timeout: Duration,
}

impl H2Stream {
    /// After the lifecycle: end the stream cleanly, or reset it.
    fn end(&mut self, disp: Disposition) {
        if self.ended {
            return;
        }
        self.ended = true;
        match (&mut self.send, disp) {
            (Some(s), Disposition::Reset) => s.send_reset(Reason::INTERNAL_ERROR),
            (Some(s), _) => {
                let _ = s.send_data(Bytes::new(), true);
            }
            (None, _) => self.respond.send_reset(Reason::INTERNAL_ERROR),
        }
    }

    /// Send a response head; `end` when no body follows.
    fn head(&mut self, res: http::Response<()>, end: bool) -> Result<(), IoErr> {
        match self.respond.send_response(res, end) {
            Ok(s) => {
                self.ended = end;
                self.send = Some(s);
                Ok(())
            }
            Err(_) => Err(IoErr::Io),
        }
    }

    /// Send a copy of `data` (see [`H2Stream::send`]).
    async fn data(&mut self, data: &[u8], timeout: Duration) -> Result<(), IoErr> {
        if data.is_empty() || self.ended {
            return Ok(());
        }
        self.send(copied(data), timeout).await
    }

    /// Send body bytes under flow control within `timeout`, ending the
    /// stream when a length-framed body is complete.
    async fn send(&mut self, mut data: Bytes, timeout: Duration) -> Result<(), IoErr> {
        if data.is_empty() || self.ended {
            return Ok(());
        }
        let Some(send) = self.send.as_mut() else {
            return Err(IoErr::Io);
        };
        let end = match &mut self.left {
            Some(left) => {
                *left = left.saturating_sub(data.len() as u64);
                *left == 0
            }
            None => false,
        };
        let all = async {
            while !data.is_empty() {
                send.reserve_capacity(data.len());
                match poll_fn(|cx| send.poll_capacity(cx)).await {
                    Some(Ok(0)) => {}
                    Some(Ok(n)) => {
                        let part = data.split_to(n.min(data.len()));
                        send.send_data(part, end && data.is_empty())
                            .map_err(|_| IoErr::Io)?;
                    }
                    _ => return Err(IoErr::Io),
                }
            }
            Ok(())
        };
        let r = match monoio::time::timeout(timeout, all).await {
            Ok(r) => r,
            Err(_) => Err(IoErr::Timeout),
        };
        if r.is_ok() {
            self.ended |= end;
        }
        r
    }
}

impl H2Stream {
    /// A length-framed body: each read from the backend goes to the
    /// client as it is, in its own payload buffer (no copy).
    async fn send_direct<U: AsyncReadRent>(
        &mut self,
        w: &Worker,
        up: &mut U,
        pump: &mut Pump,
        backend_timeout: Duration,
    ) -> Result<bool, ()> {
        let timeout = self.write_timeout;
        let most = w.conf.tuning.body_buffer_size.max(1);
        while !pump.is_done() {
            let cap = pump.wanted().min(most);
            let chunk = match read_payload(up, cap, backend_timeout).await {
                Ok(c) => c,
                Err(IoErr::Closed) if pump.source_closed(&mut Vec::new()) => return Ok(false),
                Err(e) => return backend_failed(w, e),
            };
            let n = chunk.len();
            pump.advance_direct(n);
            self.deliver(w, chunk.freeze(), timeout).await?;
        }
        Ok(true)
    }

    /// Send decoded body bytes (a copy) to the client.
    async fn forward(&mut self, w: &Worker, out: &[u8], timeout: Duration) -> Result<(), ()> {
        if out.is_empty() {
            return Ok(());
        }
        self.deliver(w, copied(out), timeout).await
    }

    /// Send body bytes to the client, counting them; a failure is the
    /// client's (closed or too slow), recorded on the session.
    async fn deliver(&mut self, w: &Worker, data: Bytes, timeout: Duration) -> Result<(), ()> {
        let n = data.len();
        if self.send(data, timeout).await.is_err() {
            w.stats.error(ErrorKind::ClientClose);
            self.ses.set_error(ErrorKind::ClientClose.into());
            return Err(());
        }
        self.ses.add_bytes_out(n as u64);
        Ok(())
    }
}

/// Count a backend read that failed mid-body; the body's relay fails.
fn backend_failed<T>(w: &Worker, e: IoErr) -> Result<T, ()> {
    w.stats.error(e.backend_kind());
    Err(())
}

/// Where a DATA payload starts inside its allocation.
///
/// rustls copies each record's plaintext into a new buffer, 5 bytes (the
/// record header) plus the HTTP/2 frame headers past that buffer's start.
/// When the payload also starts on a page boundary, as a fresh allocation
/// of this size does, the copy's destination runs a few bytes ahead of its
/// source modulo 4 KiB, and glibc's `rep movsb` memcpy crawls there on
/// some x86 cores (measured on the AMD EPYC these benchmarks run on:
/// 0.5 GB/s, against 80 GB/s with the distance half a page; at 64 KiB
/// bodies that copy was a sixth of ringfront's CPU). Payloads start half a
/// page into their buffer, far from that window whatever the allocator
/// does with rustls's buffers.
const PAYLOAD_LEAD: usize = 2048;

/// An empty payload buffer with room for `cap` bytes, starting
/// [`PAYLOAD_LEAD`] bytes into its allocation.
fn payload(cap: usize) -> BytesMut {
    let mut b = BytesMut::with_capacity(PAYLOAD_LEAD + cap);
    b.resize(PAYLOAD_LEAD, 0);
    b.advance(PAYLOAD_LEAD);
    b
}

/// A payload buffer holding a copy of `b`.
fn copied(b: &[u8]) -> Bytes {
    let mut c = payload(b.len());
    c.extend_from_slice(b);
    c.freeze()
}

/// Read up to `cap` bytes of a backend's body into a fresh payload buffer
/// within `timeout`: the buffer goes to `h2` as it is, uncopied.
async fn read_payload<U: AsyncReadRent>(
    up: &mut U,
    cap: usize,
    timeout: Duration,
) -> Result<BytesMut, IoErr> {
    match monoio::time::timeout(timeout, up.read(payload(cap))).await {
        Ok((Ok(0), _)) => Err(IoErr::Closed),
        Ok((Ok(_), b)) => Ok(b),
        Ok((Err(_), _)) => Err(IoErr::Io),
        Err(_) => Err(IoErr::Timeout),
    }
}

/// A finished stream's request buffer and head indexes back to the
/// worker's pools, for the next stream.
fn recycle(w: &Worker, r: Request) {
    let Request {
        buf, head, rhead, ..
    } = r;
    w.bufs.borrow_mut().give(buf);
    if let Some(rh) = rhead {
        w.heads.borrow_mut().give(head, rh);
    }
}

/// Connection-specific response fields an HTTP/1.1 head may carry and an
/// HTTP/2 one must not (RFC 9113 §8.2.2).
fn h2_forbidden(name: &[u8]) -> bool {
    CONNECTION_SPECIFIC
        .iter()
        .any(|c| c.as_bytes().eq_ignore_ascii_case(name))
}

/// An HTTP/1.1 response head, as ringfront's writers render it, as an
/// HTTP/2 response head.
fn to_h2_head(h1: &[u8]) -> Option<http::Response<()>> {
    // Room for every line of the head: on the stack for usual heads.
    let lines = h1.windows(2).filter(|w| w == b"\r\n").count();
    let mut stack = [httparse::EMPTY_HEADER; 64];
    let mut heap = Vec::new();
    let headers: &mut [httparse::Header] = if lines <= stack.len() {
        &mut stack
    } else {
        heap.resize(lines, httparse::EMPTY_HEADER);
        &mut heap
    };
    let mut parsed = httparse::Response::new(headers);
    match parsed.parse(h1) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return None,
    }
    let mut b = http::Response::builder().status(parsed.code?);
    for h in parsed.headers.iter() {
        if h2_forbidden(h.name.as_bytes()) {
            continue;
        }
        let name = http::HeaderName::from_bytes(h.name.as_bytes()).ok()?;
        let value = http::HeaderValue::from_bytes(h.value).ok()?;
        b = b.header(name, value);
    }
    b.body(()).ok()
}

impl Downstream for H2Stream {
    fn version(&self) -> Version {
        Version::Http11
    }

    fn response_framing(&self, backend: BodyKind) -> BodyKind {
        // HTTP/2 frames bodies itself: known lengths are kept as
        // content-length, anything else is sent as it is decoded.
        match backend {
            BodyKind::None => BodyKind::None,
            BodyKind::Length(n) => BodyKind::Length(n),
            _ => BodyKind::UntilClose,
        }
    }

    async fn send_continue(&mut self, _w: &Worker) -> Result<(), IoErr> {
        let mut r = http::Response::new(());
        *r.status_mut() = http::StatusCode::CONTINUE;
        self.respond.send_informational(r).map_err(|_| IoErr::Io)
    }

    fn set_write_timeout(&mut self, t: Duration) {
        self.write_timeout = t;
    }

    async fn read_body_into(
        &mut self,
        buf: &mut Vec<u8>,
        most: usize,
        timeout: Duration,
    ) -> Result<usize, ErrorKind> {
        let next = monoio::time::timeout(timeout, poll_fn(|cx| self.body.poll_data(cx)));
        match next.await {
            Ok(Some(Ok(data))) => {
                let _ = self.body.flow_control().release_capacity(data.len());
                self.ses.add_bytes_in(data.len() as u64);
                if data.len() > most {
                    // More DATA than content-length said.
                    return Err(ErrorKind::ClientBadRequest);
                }
                buf.extend_from_slice(&data);
                Ok(data.len())
            }
            // Shorter than its content-length.
            Ok(None) => Err(ErrorKind::ClientBadRequest),
            Ok(Some(Err(_))) => Err(ErrorKind::ClientClose),
            Err(_) => Err(ErrorKind::ClientTimeout),
        }
    }

    async fn read_body<U: AsyncWriteRent>(
        &mut self,
        w: &Worker,
        req: &mut Request,
        pump: &mut Pump,
        up: &mut U,
        (read_timeout, write_timeout): (Duration, Duration),
    ) -> Result<(), BodyError> {
        let chunked = req.head.body == BodyKind::Chunked;
        let mut framed = w.lend();
        let mut out = w.lend();
        let result = loop {
            if pump.is_done() {
                break Ok(());
            }
            let next = monoio::time::timeout(read_timeout, poll_fn(|cx| self.body.poll_data(cx)));
            framed.clear();
            match next.await {
                Ok(Some(Ok(data))) => {
                    let _ = self.body.flow_control().release_capacity(data.len());
                    self.ses.add_bytes_in(data.len() as u64);
                    if data.is_empty() {
                        continue;
                    }
                    if chunked {
                        crate::http::chunked::write_chunk_header(&mut framed, data.len());
                        framed.extend_from_slice(&data);
                        framed.extend_from_slice(crate::http::chunked::CHUNK_END);
                    } else {
                        framed.extend_from_slice(&data);
                    }
                }
                Ok(None) if chunked => {
                    framed.extend_from_slice(crate::http::chunked::LAST_CHUNK);
                    framed.extend_from_slice(crate::http::chunked::CHUNK_END);
                }
                Ok(None) => {
                    // Shorter than its content-length (h2 resets such a
                    // stream itself; this is the backstop).
                    w.stats.error(ErrorKind::ClientBadRequest);
                    break Err(BodyError::Client(ProxyError::with_status(
                        ErrorKind::ClientBadRequest,
                        400,
                    )));
                }
                Ok(Some(Err(_))) => {
                    w.stats.error(ErrorKind::ClientClose);
                    break Err(BodyError::Client(ErrorKind::ClientClose.into()));
                }
                Err(_) => {
                    w.stats.error(ErrorKind::ClientTimeout);
                    break Err(BodyError::Client(ErrorKind::ClientTimeout.into()));
                }
            }
            out.clear();
            match pump.feed(&framed, &mut out) {
                Ok(used) if used == framed.len() => {}
                // More DATA than content-length said.
                Ok(_) | Err(_) => {
                    w.stats.error(ErrorKind::ClientBadRequest);
                    break Err(BodyError::Client(ProxyError::with_status(
                        ErrorKind::ClientBadRequest,
                        400,
                    )));
                }
            }
            let (r, back) =
                super::io::write_from(up, std::mem::take(&mut *out), 0, write_timeout).await;
            *out = back;
            if r.is_err() {
                w.stats.error(ErrorKind::BackendBroken);
                break Err(BodyError::Upstream);
            }
        };
        req.body_done = pump.is_done();
        req.stat.body_len_in = pump.seen;
        result
    }

    async fn send_local(
        &mut self,
        w: &Worker,
        req: &mut Request,
        res: &Response,
        _keep: bool,
    ) -> Disposition {
        req.status = res.status();
        w.stats.count_status(res.status());
        let has_body = crate::http::framing::response_has_body(false, res.status());
        let body: &[u8] = match (&res.body, has_body) {
            (Body::Bytes(b), true) => b,
            _ => &[],
        };
        let mut b = http::Response::builder().status(res.status());
        for (n, v) in res.headers() {
            if crate::http::is_hop_by_hop(n) {
                continue;
            }
            if let (Ok(n), Ok(v)) = (
                http::HeaderName::from_bytes(n),
                http::HeaderValue::from_bytes(v),
            ) {
                b = b.header(n, v);
            }
        }
        if has_body {
            b = b.header(http::header::CONTENT_LENGTH, body.len());
        }
        let Ok(head) = b.body(()) else {
            return Disposition::Reset;
        };
        let send_body = !body.is_empty() && !req.is_head();
        if self.head(head, !send_body).is_err() {
            return Disposition::Reset;
        }
        if send_body {
            self.left = Some(body.len() as u64);
            if let Err(e) = self.data(body, w.conf.client_write_timeout).await {
                let kind = e.client_kind();
                w.stats.error(kind);
                self.ses.set_error(kind.into());
                return Disposition::Reset;
            }
            self.ses.add_bytes_out(body.len() as u64);
        }
        Disposition::Close
    }

    async fn send_local_head(
        &mut self,
        w: &Worker,
        req: &mut Request,
        res: &Response,
        body: BodyKind,
        keep: bool,
    ) -> Result<(), IoErr> {
        let mut out = w.lend();
        let framing = ResponseFraming {
            client_version: Version::Http11,
            status: res.status(),
            body,
            relay_length: None,
            keep_alive: keep,
        };
        write::status_line(&mut out, res.status(), res.reason().as_bytes());
        for (n, v) in res.headers() {
            write::end_to_end_header(&mut out, n, v);
        }
        write::end_head(&mut out, framing);
        req.status = res.status();
        w.stats.count_status(res.status());
        let head = to_h2_head(&out).ok_or(IoErr::Io)?;
        self.ses.add_head_out(out.len() as u64);
        self.left = match body {
            BodyKind::Length(n) => Some(n),
            _ => None,
        };
        let end = body == BodyKind::None || req.is_head() || body == BodyKind::Length(0);
        self.head(head, end)
    }

    async fn send_data(&mut self, data: Vec<u8>, _body: BodyKind) -> (Result<(), IoErr>, Vec<u8>) {
        let r = self.data(&data, self.write_timeout).await;
        if r.is_ok() {
            self.ses.add_bytes_out(data.len() as u64);
        }
        (r, data)
    }

    async fn finish_body(&mut self, _body: BodyKind) -> Result<(), IoErr> {
        if self.ended {
            return Ok(());
        }
        self.ended = true;
        match self.send.as_mut() {
            Some(s) => s.send_data(Bytes::new(), true).map_err(|_| IoErr::Io),
            None => Err(IoErr::Io),
        }
    }

    async fn send_head(
        &mut self,
        w: &Worker,
        res: &mut Response,
        framing: ResponseFraming,
        inline: Range<usize>,
        first: Vec<u8>,
    ) -> (Result<(), IoErr>, Vec<u8>) {
        let mut out = w.lend();
        if let Some((buf, head)) = res.backend_head() {
            let reason = res.reason_override().map(str::as_bytes);
            write::response_head(&mut out, buf, head, &res.edits, reason, framing);
        }
        let Some(head) = to_h2_head(&out) else {
            return (Err(IoErr::Io), first);
        };
        self.ses.add_head_out(out.len() as u64);
        self.left = match framing.body {
            BodyKind::Length(n) => Some(n),
            _ => None,
        };
        let end = matches!(framing.body, BodyKind::None | BodyKind::Length(0));
        if let Err(e) = self.head(head, end) {
            return (Err(e), first);
        }
        let timeout = self.write_timeout;
        if !inline.is_empty() {
            let buf = std::mem::take(res.backend_buf_mut());
            let r = self.data(&buf[inline.clone()], timeout).await;
            *res.backend_buf_mut() = buf;
            if let Err(e) = r {
                return (Err(e), first);
            }
            self.ses.add_bytes_out(inline.len() as u64);
        }
        let r = self.data(&first, timeout).await;
        if r.is_ok() {
            self.ses.add_bytes_out(first.len() as u64);
        }
        (r, first)
    }

    async fn send_body<U: AsyncReadRent>(
        &mut self,
        w: &Worker,
        up: &mut U,
        pump: &mut Pump,
        scratch: Vec<u8>,
        backend_timeout: Duration,
    ) -> Result<bool, ()> {
        if pump.is_direct() {
            w.give_buf(scratch);
            return self.send_direct(w, up, pump, backend_timeout).await;
        }
        let mut scratch = match scratch.capacity() {
            0 => w.lend_body(pump.wanted()),
            _ => w.lend_none().with(scratch),
        };
        let mut out = w.lend();
        let timeout = self.write_timeout;
        let mut clean = true;
        while !pump.is_done() {
            scratch.clear();
            out.clear();
            if let Err(e) = read_more(up, &mut scratch, pump.wanted(), backend_timeout).await {
                if matches!(e, IoErr::Closed) && pump.source_closed(&mut out) {
                    clean = false;
                    break;
                }
                return backend_failed(w, e);
            }
            match pump.feed(&scratch, &mut out) {
                Ok(used) => clean &= used == scratch.len(),
                Err(_) => return backend_failed(w, IoErr::Io),
            }
            self.forward(w, &out, timeout).await?;
        }
        Ok(clean)
    }
    /// HTTP/2 has no `Upgrade` (RFC 9113 §8.6): connection-specific
    /// fields are refused before the lifecycle, so a stream's request is
    /// never a WebSocket handshake and nothing is spliced. Answered as a
    /// broken tunnel, should that ever change without this.
    async fn tunnel(
        &mut self,
        _w: &Worker,
        _first: Vec<u8>,
        _head_len: usize,
        _early: Vec<u8>,
        _up: super::downstream::Upstream,
        _idle: Duration,
    ) -> super::tunnel::Spliced {
        super::tunnel::Spliced {
            recv: 0,
            sent: 0,
            end: super::tunnel::End::Broken,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(req: http::Request<()>) -> http::request::Parts {
        req.into_parts().0
    }

    fn render(req: http::Request<()>, end: bool) -> Result<String, &'static str> {
        let mut out = Vec::new();
        render_head(&parts(req), end, &mut out)?;
        Ok(String::from_utf8(out).expect("ascii"))
    }

    #[test]
    fn renders_an_h2_head_as_http11() {
        let r = http::Request::get("https://example.org/a?b=1")
            .header("cookie", "a=1")
            .header("x-y", "z")
            .header("cookie", "b=2")
            .body(())
            .expect("request");
        assert_eq!(
            render(r, true).expect("valid"),
            "GET /a?b=1 HTTP/1.1\r\nHost: example.org\r\ncookie: a=1; b=2\r\nx-y: z\r\n\r\n"
        );
        let r = http::Request::post("https://example.org/")
            .body(())
            .expect("request");
        assert!(render(r, false)
            .expect("valid")
            .ends_with("transfer-encoding: chunked\r\n\r\n"));
        let r = http::Request::post("https://example.org/")
            .header("content-length", "3")
            .body(())
            .expect("request");
        assert!(!render(r, false).expect("valid").contains("chunked"));
    }

    #[test]
    fn refuses_what_rfc9113_calls_malformed() {
        let bad = [
            ("connection", "close"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("te", "gzip"),
            ("host", "other.example"),
            ("x-a", " lead"),
            ("x-a", "trail\t"),
        ];
        for (n, v) in bad {
            let r = http::Request::get("https://example.org/")
                .header(n, v)
                .body(())
                .expect("request");
            assert!(render(r, true).is_err(), "{n}: {v:?} accepted");
        }
        let r = http::Request::get("https://example.org/")
            .header("te", "trailers")
            .header("host", "EXAMPLE.org")
            .body(())
            .expect("request");
        assert!(render(r, true).is_ok());
    }

    /// Fuzzing found this (h2_request): an empty cookie crumb was joined
    /// as "a=1; ", a value with trailing whitespace.
    #[test]
    fn empty_cookie_crumbs_are_dropped() {
        let r = http::Request::get("https://example.org/")
            .header("cookie", "a=1")
            .header("cookie", "")
            .header("cookie", "b=2")
            .header("cookie", "")
            .body(())
            .expect("request");
        assert_eq!(
            render(r, true).expect("valid"),
            "GET / HTTP/1.1\r\nHost: example.org\r\ncookie: a=1; b=2\r\n\r\n"
        );
    }

    #[test]
    fn converts_a_rendered_response_head() {
        let h1 = b"HTTP/1.1 200 OK\r\nX-A: 1\r\nContent-Length: 2\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n";
        let r = to_h2_head(h1).expect("converted");
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers().get("x-a").map(|v| v.as_bytes()),
            Some(&b"1"[..])
        );
        assert!(r.headers().get("connection").is_none());
        assert!(r.headers().get("transfer-encoding").is_none());
        assert_eq!(r.headers().len(), 2);
        // More lines than the stack array holds.
        let mut big = b"HTTP/1.1 204 No Content\r\n".to_vec();
        for i in 0..100 {
            big.extend_from_slice(format!("x-{i}: {i}\r\n").as_bytes());
        }
        big.extend_from_slice(b"\r\n");
        let r = to_h2_head(&big).expect("converted");
        assert_eq!(r.status(), 204);
        assert_eq!(r.headers().len(), 100);
    }
}
