//! The client side of a connection as the HTTP/1.1 code reads and writes
//! it: a plain or TLS stream and the bytes read from it that no request has
//! consumed yet.

use crate::http::Version;
use monoio::io::{AsyncReadRent, AsyncWriteRent};
use monoio::net::TcpStream;
use std::os::fd::{AsRawFd, RawFd};

/// The client side of a connection: the stream and the bytes read from it
/// that no request has consumed yet (pipelined requests live here).
pub(crate) struct ClientConn<S> {
    pub stream: S,
    pub buf: Vec<u8>,
    /// The version of the request being served (decides response framing).
    pub version: Version,
}

/// A client stream: plain TCP, or TLS over it.
pub(crate) trait ClientIo: AsyncReadRent + AsyncWriteRent + 'static {
    /// Wait until the client sends something, holding no buffer meanwhile.
    /// Streams that may already hold decoded bytes (TLS) return at once.
    fn wait_readable(&self) -> impl std::future::Future<Output = std::io::Result<()>>;

    /// The socket the worker's idle sweeper may shut down to end a wait
    /// past its deadline; `None` for streams whose wait returns at once.
    fn idle_fd(&self) -> Option<RawFd>;
}

impl ClientIo for TcpStream {
    fn wait_readable(&self) -> impl std::future::Future<Output = std::io::Result<()>> {
        self.readable(false)
    }

    fn idle_fd(&self) -> Option<RawFd> {
        Some(self.as_raw_fd())
    }
}
