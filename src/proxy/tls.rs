//! The HTTPS listener's part of a connection's life: the TLS handshake,
//! bounded by `TlsHandshakeTimeout`, then HandleHandshake, then the same
//! request loop as plain HTTP over the decrypted stream.

use super::client::ClientIo;
use super::h2::H2Settings;
use crate::basic::{ErrorKind, Session, TlsInfo};
use crate::module::{Point, Ret};
use crate::tls::Chosen;
use crate::worker::{Stats, Worker};
use monoio::net::tcp::stream_poll::TcpStreamPoll;
use monoio::net::TcpStream;
use monoio_rustls::ServerTlsStream;

impl ClientIo for ServerTlsStream<TcpStream> {
    const TLS: bool = true;

    /// rustls may already hold decrypted bytes the socket no longer shows,
    /// so waiting for the socket could wait forever: read at once.
    async fn wait_readable(&self) -> std::io::Result<()> {
        Ok(())
    }

    fn idle_fd(&self) -> Option<std::os::fd::RawFd> {
        None
    }

    fn into_plain(self) -> Option<TcpStream> {
        None
    }
}

/// What the handshake negotiated. The HTTP/1.1 stream is kept inline, as
/// before HTTP/2 existed: it moves straight into its boxed `Client`, and
/// boxing it here would add an allocation per HTTPS connection.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Negotiated {
    /// HTTP/1.1 (ALPN `http/1.1` or none) on completion IO.
    H1(ServerTlsStream<TcpStream>),
    /// `h2` by ALPN, on readiness IO, with the rule's settings.
    H2(Box<H2Tls>, H2Settings),
}

/// TLS over readiness IO, for HTTP/2.
pub(crate) type H2Tls = tokio_rustls::server::TlsStream<TcpStreamPoll>;

/// The TLS handshake, bounded by `TlsHandshakeTimeout`, then
/// HandleHandshake. `None` when the connection ends here (handshake failed
/// or a handler closed it); the caller then runs HandleFinish.
///
/// A server name whose rule offers only HTTP/1.1 keeps today's path
/// (monoio-rustls on completion IO). One whose rule offers h2 shakes hands
/// with tokio-rustls on readiness IO, because HTTP/2 runs there; when the
/// client picks HTTP/1.1 after all, the socket and the rustls connection
/// go back to completion IO (tokio-rustls keeps no bytes of its own, so
/// nothing is lost).
pub(crate) async fn handshake(w: &Worker, stream: TcpStream, ses: &Session) -> Option<Negotiated> {
    Stats::inc(&w.stats.tls_handshake_all);
    let handshake = async {
        let acceptors = w
            .tls()
            .ok_or_else(|| std::io::Error::other("no TLS configuration"))?;
        let sni = crate::tls::peek_sni(&stream).await?;
        let tls = match acceptors.for_sni(sni.as_deref(), ses.peer.ip()) {
            Chosen::H1(a) => Negotiated::H1(a.accept(stream).await.map_err(std::io::Error::from)?),
            Chosen::H2(conf, h2) => {
                let poll = stream.try_into_poll_io().map_err(|(e, _)| e)?;
                let tls = tokio_rustls::TlsAcceptor::from(conf).accept(poll).await?;
                let settings = H2Settings {
                    max_concurrent_streams: h2.mcs,
                    initial_window: h2.isw,
                };
                if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
                    Negotiated::H2(Box::new(tls), settings)
                } else {
                    let (poll, conn) = tls.into_inner();
                    let tcp = poll.try_into_comp_io().map_err(|(e, _)| e)?;
                    Negotiated::H1(ServerTlsStream::new(tcp, conn))
                }
            }
        };
        Ok::<_, std::io::Error>((tls, sni))
    };
    match monoio::time::timeout(w.conf.tls_handshake_timeout, handshake).await {
        Ok(Ok((tls, sni))) => {
            Stats::inc(&w.stats.tls_handshake_succ);
            let alpn = match &tls {
                Negotiated::H1(t) => t.alpn_protocol(),
                Negotiated::H2(..) => Some(b"h2".to_vec()),
            };
            ses.set_tls(TlsInfo {
                sni,
                alpn,
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
