//! The seam between the lifecycle and the client's protocol.
//!
//! The lifecycle ([`super::lifecycle`], [`super::forward`],
//! [`super::relay`]) decides *what* is sent: which response, with which
//! status and headers, whether the connection may stay. A [`Downstream`]
//! decides *how*: HTTP/1.1 bytes on a socket today ([`super::h1`]), HTTP/2
//! frames on a stream tomorrow. Nothing above this trait writes wire bytes
//! to the client, so a second protocol arrives as a second implementation
//! with no change to routing, balancing, retries or modules.

use super::body::Pump;
use super::io::IoErr;
use crate::basic::{ErrorKind, ProxyError, Request, Response};
use crate::http::chunked::ChunkError;
use crate::http::write::ResponseFraming;
use crate::http::{BodyKind, Version};
use crate::worker::Worker;
use monoio::io::{AsyncReadRent, AsyncWriteRent};
use monoio::net::TcpStream;
use std::ops::Range;
use std::time::Duration;

/// What becomes of the client connection (or, on HTTP/2, the stream) once
/// a request is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Disposition {
    /// The connection may serve another request.
    Keep,
    /// The response was sent whole; close the connection after it.
    Close,
    /// The response could not be completed, or nothing is to be sent:
    /// drop the connection at once (HTTP/2: reset the stream).
    Reset,
}

impl Disposition {
    pub(crate) fn keep(self) -> bool {
        self == Disposition::Keep
    }

    /// `Keep` only while `still` holds; a close or reset stays.
    pub(crate) fn keep_if(self, still: bool) -> Disposition {
        match self {
            Disposition::Keep if !still => Disposition::Close,
            d => d,
        }
    }

    pub(crate) fn from_keep(keep: bool) -> Disposition {
        if keep {
            Disposition::Keep
        } else {
            Disposition::Close
        }
    }
}

/// Why streaming the request body stopped short.
pub(crate) enum BodyError {
    /// The client failed (closed, stalled, broke the framing); the
    /// lifecycle answers it with the error's status where one is sent.
    Client(ProxyError),
    /// Writing to the backend failed.
    Upstream,
}

/// One client connection's protocol, as the lifecycle uses it: read the
/// request body, send 100-continue, send a response head and body.
pub(crate) trait Downstream {
    /// The protocol version the client speaks (decides framing).
    fn version(&self) -> Version;

    /// How a backend body framed as `backend` goes out to this client.
    fn response_framing(&self, backend: BodyKind) -> BodyKind;

    /// The request-body bytes that arrived with the head (in the request's
    /// buffer past what it used), framed by `body` for the backend and
    /// appended to `out`. Both protocols keep them there, so one body.
    fn body_with_head(
        &mut self,
        req: &mut Request,
        body: &mut Pump,
        out: &mut Vec<u8>,
    ) -> Result<(), ChunkError> {
        let n = body.feed(&req.buf[req.consumed..], out)?;
        req.consumed += n;
        req.body_done = body.is_done();
        // Known at HandleRequestFinish, which runs inside the attempt.
        req.stat.body_len_in = body.seen;
        Ok(())
    }

    /// Read the `missing` rest of a request body of known length (see
    /// [`body_missing`]) into the request's buffer, where
    /// [`Downstream::body_with_head`] takes it from, within `timeout` per
    /// read, before any backend connection is taken: a client that sends
    /// its body slowly then holds no backend.
    async fn prefetch_body(
        &mut self,
        w: &Worker,
        req: &mut Request,
        mut missing: usize,
        timeout: Duration,
    ) -> Result<(), ProxyError> {
        req.buf.reserve_exact(missing);
        while missing > 0 {
            match self.read_body_into(&mut req.buf, missing, timeout).await {
                Ok(n) => missing -= n.min(missing),
                Err(kind) => {
                    w.stats.error(kind);
                    return Err(match kind {
                        ErrorKind::ClientBadRequest => ProxyError::with_status(kind, 400),
                        _ => kind.into(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Append to `buf` request-body bytes the client sends, at most
    /// `most`, within `timeout`: how many, or what went wrong (the client
    /// closed or stalled, or sent more or less than its length).
    async fn read_body_into(
        &mut self,
        buf: &mut Vec<u8>,
        most: usize,
        timeout: Duration,
    ) -> Result<usize, ErrorKind>;

    /// The write timeout for the relayed response that follows: the
    /// cluster's `TimeoutWriteClient` (BFE sets it per cluster for the
    /// response phase), each write waiting at most this long.
    fn set_write_timeout(&mut self, t: Duration);

    /// Tell a client waiting on `Expect: 100-continue` to send its body.
    async fn send_continue(&mut self, w: &Worker) -> Result<(), IoErr>;

    /// Stream the rest of the request body to the backend.
    async fn read_body<U: AsyncWriteRent>(
        &mut self,
        w: &Worker,
        req: &mut Request,
        body: &mut Pump,
        up: &mut U,
        timeouts: (Duration, Duration),
    ) -> Result<(), BodyError>;

    /// Send a whole response made in the proxy.
    async fn send_local(
        &mut self,
        w: &Worker,
        req: &mut Request,
        res: &Response,
        keep: bool,
    ) -> Disposition;

    /// Send the head of a response made in the proxy whose body follows
    /// through [`Downstream::send_data`], framed as `body`.
    async fn send_local_head(
        &mut self,
        w: &Worker,
        req: &mut Request,
        res: &Response,
        body: BodyKind,
        keep: bool,
    ) -> Result<(), IoErr>;

    /// Send the next piece of a body whose head went out framed as `body`
    /// (the bytes as the body has them; the downstream frames them).
    async fn send_data(&mut self, data: Vec<u8>, body: BodyKind) -> (Result<(), IoErr>, Vec<u8>);

    /// End a body sent with [`Downstream::send_data`].
    async fn finish_body(&mut self, body: BodyKind) -> Result<(), IoErr>;

    /// Send a backend response's head with the body bytes that are already
    /// here: `inline` of the response's own buffer, then all of `first`.
    /// Both go out with the head where the protocol allows.
    async fn send_head(
        &mut self,
        w: &Worker,
        res: &mut Response,
        framing: ResponseFraming,
        inline: Range<usize>,
        first: Vec<u8>,
    ) -> (Result<(), IoErr>, Vec<u8>);

    /// Stream the rest of a backend response body to the client. `Ok`:
    /// done, and whether the backend sent nothing past the body.
    async fn send_body<U: AsyncReadRent>(
        &mut self,
        w: &Worker,
        up: &mut U,
        pump: &mut Pump,
        scratch: Vec<u8>,
        backend_timeout: Duration,
    ) -> Result<bool, ()>;

    /// The backend switched protocols: send `first` (the 101 head,
    /// `head_len` bytes of it, and what the backend sent behind it), send
    /// `early` to the backend, then splice the client and `up` byte for
    /// byte until the tunnel ends ([`super::tunnel`]). The client
    /// connection serves no further request.
    async fn tunnel(
        &mut self,
        w: &Worker,
        first: Vec<u8>,
        head_len: usize,
        early: Vec<u8>,
        up: Upstream,
        idle: Duration,
    ) -> super::tunnel::Spliced;
}

/// The upstream side of a request is HTTP/1.1 over TCP for every
/// downstream.
pub(crate) type Upstream = TcpStream;

/// How many bytes of a request body of known length are still to be read
/// when the whole body fits in `limit` and the client is not waiting on
/// `Expect: 100-continue` (it sends nothing until told to); `None` when
/// there is nothing to prefetch (other bodies stream through
/// [`Downstream::read_body`]).
pub(crate) fn body_missing(req: &Request, limit: usize) -> Option<usize> {
    let BodyKind::Length(n) = req.head.body else {
        return None;
    };
    let have = req.buf.len().saturating_sub(req.consumed) as u64;
    if req.head.expect_continue || n <= have || n > limit as u64 {
        return None;
    }
    usize::try_from(n - have).ok()
}
