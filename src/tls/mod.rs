//! TLS termination for the HTTPS listener.
//!
//! The control thread reads `tls_conf/` into a [`TlsData`] (certificates as
//! DER, the server-name table and the protocol parameters from
//! `[HttpsBasic]`) as part of the configuration snapshot. Each worker turns
//! its own copy into rustls configurations ([`Acceptors`]), so a handshake
//! touches nothing another worker owns. The server name a client asks for
//! is peeked from its ClientHello before the handshake ([`peek_sni`]), which
//! both picks the certificate and gives the session its SNI for
//! `ses_tls_sni_in` and for modules.

mod acceptor;
mod load;
mod params;
mod sni;

pub use acceptor::Acceptors;
pub use load::load;
pub use params::Params;
pub use sni::peek_sni;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// One certificate from `server_cert_conf.data`, read and parsed.
pub struct CertKey {
    pub name: String,
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl Clone for CertKey {
    fn clone(&self) -> Self {
        CertKey {
            name: self.name.clone(),
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl PartialEq for CertKey {
    fn eq(&self, o: &Self) -> bool {
        self.name == o.name && self.chain == o.chain && self.key.secret_der() == o.key.secret_der()
    }
}

impl std::fmt::Debug for CertKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("CertKey")
            .field("name", &self.name)
            .field("chain_len", &self.chain.len())
            .finish()
    }
}

/// Everything a worker needs to terminate TLS, as loaded from `tls_conf/`.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsData {
    pub certs: Vec<CertKey>,
    /// Index into `certs` of `Config.Default`.
    pub default: usize,
    /// Server names (`example.org` or `*.example.org`, lower case) and the
    /// certificate each is answered with.
    pub names: Vec<(String, usize)>,
    pub params: Params,
    /// Versions of the two files, for the monitor.
    pub version: String,
}
