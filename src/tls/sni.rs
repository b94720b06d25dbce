//! Reading the server name from a ClientHello without consuming it.
//!
//! The bytes are peeked (`MSG_PEEK`) so the real handshake reads them
//! again from the socket untouched; parsing is rustls' own `Acceptor`.

use monoio::net::TcpStream;
use rustls::server::Acceptor;
use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

/// A ClientHello larger than this is let through without a name.
const MAX_HELLO: usize = 16 * 1024;

/// The SNI the client sent, lower-cased; `None` when it sent none or the
/// first bytes are not a ClientHello (the handshake then reports why).
/// Bounded by the caller's handshake timeout.
pub(crate) async fn peek_sni(stream: &TcpStream) -> io::Result<Option<String>> {
    let mut buf = vec![0u8; 2048];
    loop {
        stream.readable(false).await?;
        let n = match crate::sys::peek(stream.as_raw_fd(), &mut buf) {
            Ok(n) => n,
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock
                    || e.kind() == io::ErrorKind::Interrupted =>
            {
                continue
            }
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        match parse(&buf[..n]) {
            Hello::Name(n) => return Ok(n),
            Hello::Incomplete if n == buf.len() && buf.len() < MAX_HELLO => {
                buf.resize(buf.len() * 2, 0);
            }
            Hello::Incomplete if n == buf.len() => return Ok(None),
            // The rest of the hello is still in flight; the socket stays
            // readable, so wait a little rather than spin.
            Hello::Incomplete => monoio::time::sleep(Duration::from_millis(1)).await,
        }
    }
}

enum Hello {
    Name(Option<String>),
    Incomplete,
}

fn parse(mut bytes: &[u8]) -> Hello {
    let mut acc = Acceptor::default();
    while !bytes.is_empty() {
        match acc.read_tls(&mut bytes) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    match acc.accept() {
        Ok(Some(a)) => Hello::Name(a.client_hello().server_name().map(str::to_ascii_lowercase)),
        Ok(None) => Hello::Incomplete,
        Err(_) => Hello::Name(None),
    }
}
