//! HTTP/1.1 as a [`Downstream`]: request bodies read from the client's
//! socket (after the bytes that came with the head), responses written as
//! HTTP/1.1 heads and bodies, re-framed for what the client understands
//! (chunked for 1.1 when the length is unknown, close-delimited for 1.0).
//!
//! Writes are gathered: a response head leaves in one `writev` with the
//! body bytes that arrived with the backend's head and the next read of the
//! body, so a small response costs one write.

use super::body::Pump;
use super::client::{ClientConn, ClientIo};
use super::downstream::{BodyError, Disposition, Downstream, Upstream};
use super::io::{read_more, write_all_in, write_from, write_parts, IoErr};
use super::tunnel::Spliced;
use crate::basic::{Body, ErrorKind, ProxyError, Request, Response};
use crate::http::chunked::ChunkError;
use crate::http::write::{self, ResponseFraming, CONTINUE_100};
use crate::http::{BodyKind, Version};
use crate::worker::{Lent, Worker};
use monoio::io::{AsyncReadRent, AsyncWriteRent};
use std::ops::Range;
use std::time::Duration;

impl<S: ClientIo> Downstream for ClientConn<S> {
    fn version(&self) -> Version {
        self.version
    }

    fn response_framing(&self, backend: BodyKind) -> BodyKind {
        match backend {
            BodyKind::None => BodyKind::None,
            BodyKind::Length(n) => BodyKind::Length(n),
            BodyKind::Chunked | BodyKind::UntilClose if self.version == Version::Http11 => {
                BodyKind::Chunked
            }
            _ => BodyKind::UntilClose,
        }
    }

    async fn send_continue(&mut self, w: &Worker) -> Result<(), IoErr> {
        let c = CONTINUE_100.to_vec();
        let n = c.len();
        let r = write_from(&mut self.stream, c, 0, w.conf.client_write_timeout)
            .await
            .0;
        if r.is_ok() {
            self.wrote(n, n);
        }
        r
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
        let n = read_more(&mut self.stream, buf, most, timeout)
            .await
            .map_err(|e| e.client_kind())?;
        self.read(n);
        Ok(n)
    }

    async fn read_body<U: AsyncWriteRent>(
        &mut self,
        w: &Worker,
        req: &mut Request,
        body: &mut Pump,
        up: &mut U,
        (read_timeout, write_timeout): (Duration, Duration),
    ) -> Result<(), BodyError> {
        // Everything in the request buffer belongs to this body now.
        req.consumed = req.buf.len();
        let mut scratch = w.lend_body(body.wanted());
        let mut out = framing_buf(w, body);
        let result = loop {
            if body.is_done() {
                break Ok(());
            }
            scratch.clear();
            match read_more(&mut self.stream, &mut scratch, body.wanted(), read_timeout).await {
                Ok(n) => self.read(n),
                Err(IoErr::Timeout) => {
                    self.fail(w, ErrorKind::ClientTimeout);
                    break Err(BodyError::Client(ErrorKind::ClientTimeout.into()));
                }
                Err(_) => {
                    self.fail(w, ErrorKind::ClientClose);
                    break Err(BodyError::Client(ErrorKind::ClientClose.into()));
                }
            }
            match relay(body, &mut scratch, &mut out, up, write_timeout).await {
                Relayed::Sent { used, .. } => {
                    // Bytes past a chunked body's end: the next request's.
                    if used < scratch.len() {
                        req.carry.extend_from_slice(&scratch[used..]);
                    }
                }
                Relayed::BadFraming(e) => {
                    self.fail(w, ErrorKind::ClientBadRequest);
                    let e = ProxyError::with_status(ErrorKind::ClientBadRequest, e.status());
                    break Err(BodyError::Client(e));
                }
                Relayed::WriteFailed => {
                    w.stats.error(ErrorKind::BackendBroken);
                    break Err(BodyError::Upstream);
                }
            }
        };
        req.body_done = body.is_done();
        // Before the response and HandleRequestFinish: `$req_body_len`.
        req.stat.body_len_in = body.seen;
        result
    }

    async fn send_local(
        &mut self,
        w: &Worker,
        req: &mut Request,
        res: &Response,
        keep: bool,
    ) -> Disposition {
        let mut out = w.lend();
        let head = write_local(&mut out, res, self.version, keep, req.is_head());
        req.status = res.status();
        w.stats.count_status(res.status());
        let timeout = w.conf.client_write_timeout;
        let n = out.len();
        match write_all_in(&mut self.stream, &mut out, timeout).await {
            Ok(()) => {
                self.wrote(n, head);
                Disposition::from_keep(keep)
            }
            Err(IoErr::Timeout) => {
                self.fail(w, ErrorKind::ClientTimeout);
                Disposition::Reset
            }
            Err(_) => {
                self.fail(w, ErrorKind::ClientClose);
                Disposition::Reset
            }
        }
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
        local_head(&mut out, res, self.version, body, keep);
        req.status = res.status();
        w.stats.count_status(res.status());
        let n = out.len();
        let r = write_all_in(&mut self.stream, &mut out, w.conf.client_write_timeout).await;
        if r.is_ok() {
            self.wrote(n, n);
        }
        r
    }

    async fn send_data(&mut self, data: Vec<u8>, body: BodyKind) -> (Result<(), IoErr>, Vec<u8>) {
        let timeout = self.write_timeout;
        if data.is_empty() {
            return (Ok(()), data);
        }
        if body != BodyKind::Chunked {
            let n = data.len();
            let (r, data) = write_from(&mut self.stream, data, 0, timeout).await;
            if r.is_ok() {
                self.wrote(n, 0);
            }
            return (r, data);
        }
        let mut size = Vec::with_capacity(18);
        crate::http::chunked::write_chunk_header(&mut size, data.len());
        let len = data.len();
        let n = size.len() + len + crate::http::chunked::CHUNK_END.len();
        let parts = [
            (size, None),
            (data, Some(0..len)),
            (crate::http::chunked::CHUNK_END.to_vec(), None),
        ];
        let (r, [_, data, _]) = write_parts(&mut self.stream, parts, timeout).await;
        if r.is_ok() {
            self.wrote(n, 0);
        }
        (r, data)
    }

    async fn finish_body(&mut self, body: BodyKind) -> Result<(), IoErr> {
        if body != BodyKind::Chunked {
            return Ok(());
        }
        let mut end = crate::http::chunked::LAST_CHUNK.to_vec();
        end.extend_from_slice(crate::http::chunked::CHUNK_END);
        let timeout = self.write_timeout;
        let n = end.len();
        let r = write_from(&mut self.stream, end, 0, timeout).await.0;
        if r.is_ok() {
            self.wrote(n, 0);
        }
        r
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
        let timeout = self.write_timeout;
        let head = out.len();
        let n = head + inline.len() + first.len();
        let (r, first) = if !inline.is_empty() || !first.is_empty() {
            let first_len = first.len();
            let parts = [
                (out.take(), None),
                (std::mem::take(res.backend_buf_mut()), Some(inline)),
                (first, Some(0..first_len)),
            ];
            let (r, [o, buf, first]) = write_parts(&mut self.stream, parts, timeout).await;
            out.put(o);
            *res.backend_buf_mut() = buf;
            (r, first)
        } else {
            let r = write_all_in(&mut self.stream, &mut out, timeout).await;
            (r, first)
        };
        if r.is_ok() {
            self.wrote(n, head);
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
        let mut scratch = match scratch.capacity() {
            0 => w.lend_body(pump.wanted()),
            _ => w.lend_none().with(scratch),
        };
        let mut out = framing_buf(w, pump);
        self.pump_response(w, up, pump, &mut scratch, &mut out, backend_timeout)
            .await
    }

    async fn tunnel(
        &mut self,
        w: &Worker,
        first: Vec<u8>,
        head_len: usize,
        early: Vec<u8>,
        up: Upstream,
        idle: Duration,
    ) -> Spliced {
        super::tunnel::splice(
            w,
            &mut self.stream,
            &self.ses,
            first,
            head_len,
            early,
            up,
            idle,
        )
        .await
    }
}

impl<S: ClientIo> ClientConn<S> {
    async fn pump_response<U: AsyncReadRent>(
        &mut self,
        w: &Worker,
        up: &mut U,
        pump: &mut Pump,
        scratch: &mut Vec<u8>,
        out: &mut Vec<u8>,
        backend_timeout: Duration,
    ) -> Result<bool, ()> {
        let write_timeout = self.write_timeout;
        let mut clean = true;
        while !pump.is_done() {
            scratch.clear();
            match read_more(up, scratch, pump.wanted(), backend_timeout).await {
                Ok(_) => {}
                Err(IoErr::Closed) => {
                    out.clear();
                    if !pump.source_closed(out) {
                        w.stats.error(ErrorKind::BackendBroken);
                        return Err(());
                    }
                    clean = false;
                    let n = out.len();
                    let (r, o) =
                        write_from(&mut self.stream, std::mem::take(out), 0, write_timeout).await;
                    *out = o;
                    if r.is_err() {
                        self.fail(w, ErrorKind::ClientClose);
                        return Err(());
                    }
                    self.wrote(n, 0);
                    break;
                }
                Err(IoErr::Timeout) => {
                    w.stats.error(ErrorKind::BackendTimeout);
                    return Err(());
                }
                Err(_) => {
                    w.stats.error(ErrorKind::BackendBroken);
                    return Err(());
                }
            }
            match relay(pump, scratch, out, &mut self.stream, write_timeout).await {
                Relayed::Sent { used, wrote } => {
                    self.wrote(wrote, 0);
                    clean &= used == scratch.len()
                }
                Relayed::BadFraming(_) => {
                    w.stats.error(ErrorKind::BackendBroken);
                    return Err(());
                }
                Relayed::WriteFailed => {
                    self.fail(w, ErrorKind::ClientClose);
                    return Err(());
                }
            }
        }
        Ok(clean)
    }
}

/// The buffer a body is re-framed into; none for one forwarded as it came.
fn framing_buf<'w>(w: &'w Worker, pump: &Pump) -> Lent<'w> {
    match pump.is_direct() {
        true => w.lend_none(),
        false => w.lend_body(pump.wanted()),
    }
}

/// What sending on one read's worth of body did.
enum Relayed {
    /// Sent; `used` bytes of the read belonged to the body, `wrote`
    /// bytes went to the sink.
    Sent { used: usize, wrote: usize },
    /// The incoming chunked framing is broken.
    BadFraming(ChunkError),
    /// The sink failed or timed out.
    WriteFailed,
}

/// Send the body bytes in `scratch` on to `sink`: as they are when the
/// body goes out as it came, else re-framed through `out`. Both buffers
/// come back in place.
async fn relay<W: AsyncWriteRent>(
    pump: &mut Pump,
    scratch: &mut Vec<u8>,
    out: &mut Vec<u8>,
    sink: &mut W,
    timeout: Duration,
) -> Relayed {
    let (used, buf) = if pump.is_direct() {
        pump.advance_direct(scratch.len());
        (scratch.len(), scratch)
    } else {
        out.clear();
        match pump.feed(scratch, out) {
            Ok(n) => (n, out),
            Err(e) => return Relayed::BadFraming(e),
        }
    };
    let wrote = buf.len();
    let (r, back) = write_from(sink, std::mem::take(buf), 0, timeout).await;
    *buf = back;
    match r {
        Ok(()) => Relayed::Sent { used, wrote },
        Err(_) => Relayed::WriteFailed,
    }
}

/// A response made in the proxy whose body is in memory, as HTTP/1.1
/// bytes: head, then the body unless the request was HEAD. Returns the
/// length of the head.
pub(crate) fn write_local(
    out: &mut Vec<u8>,
    res: &Response,
    client_version: Version,
    keep_alive: bool,
    head_only: bool,
) -> usize {
    let has_body = crate::http::framing::response_has_body(false, res.status());
    let body = match has_body {
        true => BodyKind::Length(res.body.len().unwrap_or(0)),
        false => BodyKind::None,
    };
    let start = out.len();
    local_head(out, res, client_version, body, keep_alive);
    let head = out.len() - start;
    if let (false, true, Body::Bytes(b)) = (head_only, has_body, &res.body) {
        out.extend_from_slice(b);
    }
    head
}

/// The head of a response made in the proxy, framed as `body`.
fn local_head(
    out: &mut Vec<u8>,
    res: &Response,
    client_version: Version,
    body: BodyKind,
    keep_alive: bool,
) {
    let status = res.status();
    write::status_line(out, status, res.reason().as_bytes());
    for (n, v) in res.headers() {
        write::end_to_end_header(out, n, v);
    }
    write::end_head(
        out,
        ResponseFraming {
            client_version,
            status,
            body,
            relay_length: None,
            keep_alive,
        },
    );
}
