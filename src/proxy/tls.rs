//! The HTTPS listener's part of a connection's life: the TLS handshake,
//! bounded by `TlsHandshakeTimeout`, then HandleHandshake, then the same
//! request loop as plain HTTP over the decrypted stream.

use super::client::ClientIo;
use crate::basic::{ErrorKind, Session, TlsInfo};
use crate::module::{Point, Ret};
use crate::worker::Worker;
use monoio::net::TcpStream;
use monoio_rustls::ServerTlsStream;

impl ClientIo for ServerTlsStream<TcpStream> {
    /// rustls may already hold decrypted bytes the socket no longer shows,
    /// so waiting for the socket could wait forever: read at once.
    async fn wait_readable(&self) -> std::io::Result<()> {
        Ok(())
    }

    fn idle_fd(&self) -> Option<std::os::fd::RawFd> {
        None
    }
}

/// The TLS handshake, bounded by `TlsHandshakeTimeout`, then
/// HandleHandshake. `None` when the connection ends here (handshake failed
/// or a handler closed it); the caller then runs HandleFinish.
pub(crate) async fn handshake(
    w: &Worker,
    stream: TcpStream,
    ses: &Session,
) -> Option<ServerTlsStream<TcpStream>> {
    let handshake = async {
        let acceptors = w
            .tls()
            .ok_or_else(|| std::io::Error::other("no TLS configuration"))?;
        let sni = crate::tls::peek_sni(&stream).await?;
        let tls = acceptors
            .for_sni(sni.as_deref())
            .accept(stream)
            .await
            .map_err(std::io::Error::from)?;
        Ok::<_, std::io::Error>((tls, sni))
    };
    match monoio::time::timeout(w.conf.tls_handshake_timeout, handshake).await {
        Ok(Ok((tls, sni))) => {
            ses.set_tls(TlsInfo {
                sni,
                alpn: tls.alpn_protocol(),
                version: "",
            });
            if w.cbs.run_accept(Point::Handshake, ses) == Ret::Close {
                w.stats.error(ErrorKind::HandlerAbort);
                return None;
            }
            Some(tls)
        }
        Ok(Err(e)) => {
            log::debug!("worker {}: TLS handshake with {}: {e}", w.id, ses.peer);
            w.stats.error(ErrorKind::ClientTlsHandshake);
            None
        }
        Err(_) => {
            w.stats.error(ErrorKind::ClientTlsHandshake);
            None
        }
    }
}
