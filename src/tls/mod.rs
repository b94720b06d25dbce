//! TLS termination for the HTTPS listener.
//!
//! The control thread reads `tls_conf/` into a [`TlsData`] (certificates as
//! DER, the server-name table and the protocol parameters from
//! `[HttpsBasic]`) as part of the configuration snapshot; that loading is
//! [`crate::config::tls`], so this module only runs what it produced and
//! configuration never depends on it. Each worker turns
//! its own copy into rustls configurations ([`Acceptors`]), so a handshake
//! touches nothing another worker owns. The server name a client asks for
//! is peeked from its ClientHello before the handshake ([`peek_sni`]), which
//! both picks the certificate and gives the session its SNI for
//! `ses_tls_sni_in` and for modules.

use crate::config::tls::TlsData;

mod acceptor;
mod sni;

pub(crate) use acceptor::{Acceptors, Chosen};
pub(crate) use sni::peek_sni;
