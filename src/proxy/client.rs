//! The client side of a connection as the HTTP/1.1 code reads and writes
//! it: a plain or TLS stream and the bytes read from it that no request has
//! consumed yet.

use crate::basic::Session;
use crate::http::Version;
use monoio::io::{AsyncReadRent, AsyncWriteRent, Split};
use monoio::net::TcpStream;
use std::os::fd::{AsRawFd, RawFd};
use std::rc::Rc;

/// The client side of a connection: the stream and the bytes read from it
/// that no request has consumed yet (pipelined requests live here).
pub(crate) struct ClientConn<S> {
    pub stream: S,
    pub buf: Vec<u8>,
    /// The version of the request being served (decides response framing).
    pub version: Version,
    /// The connection's session, where bytes read and written and the
    /// error that ends the connection are counted (`$ses_read_total`, …).
    pub ses: Rc<Session>,
    /// How long each write of a relayed response may wait on the client:
    /// the cluster's `TimeoutWriteClient` once a request was routed.
    pub write_timeout: std::time::Duration,
}

impl<S> ClientConn<S> {
    /// `n` bytes were read from the client.
    #[inline]
    pub(super) fn read(&self, n: usize) {
        self.ses.add_bytes_in(n as u64);
    }

    /// `n` bytes were written to the client, `head` of them a response head.
    #[inline]
    pub(super) fn wrote(&self, n: usize, head: usize) {
        self.ses.add_bytes_out(n as u64);
        if head > 0 {
            self.ses.add_head_out(head as u64);
        }
    }

    /// The connection ends on a client-side error: count it and keep it
    /// as the session's error (`$ses_error`).
    pub(super) fn fail(&self, w: &crate::worker::Worker, kind: crate::basic::ErrorKind) {
        w.stats.error(kind);
        self.ses.set_error(kind.into());
    }
}

/// A client stream: plain TCP, or TLS over it.
///
/// `Split`: its reads and writes may run at once, which a WebSocket tunnel
/// ([`super::tunnel`]) needs (plain TCP and rustls over TCP both are).
pub(crate) trait ClientIo: AsyncReadRent + AsyncWriteRent + Split + 'static {
    /// Whether the stream is TLS (requests are counted as HTTPS): a
    /// constant, so the plain path compiles without the branch.
    const TLS: bool;

    /// Wait until the client sends something, holding no buffer meanwhile.
    /// Streams that may already hold decoded bytes (TLS) return at once.
    fn wait_readable(&self) -> impl std::future::Future<Output = std::io::Result<()>>;

    /// The socket the worker's idle sweeper may shut down to end a wait
    /// past its deadline; `None` for streams whose wait returns at once.
    fn idle_fd(&self) -> Option<RawFd>;

    /// The plain TCP stream, for a connection that turns out to speak
    /// HTTP/2 with prior knowledge; `None` for TLS (ALPN decides there).
    fn into_plain(self) -> Option<TcpStream>;
}

impl ClientIo for TcpStream {
    const TLS: bool = false;

    fn wait_readable(&self) -> impl std::future::Future<Output = std::io::Result<()>> {
        self.readable(false)
    }

    fn idle_fd(&self) -> Option<RawFd> {
        Some(self.as_raw_fd())
    }

    fn into_plain(self) -> Option<TcpStream> {
        Some(self)
    }
}
