//! The TLS part of the configuration: `tls_conf/` and `[HttpsBasic]`, read
//! and validated into a [`TlsData`] as part of the snapshot.
//!
//! It lives under `config` because it is loading and validation like every
//! other data file: the control thread does it once per reload, and `-t`
//! does it without starting anything. The runtime half (a worker's
//! acceptors, SNI peeking) is `crate::tls`, which builds on this and is
//! never needed here.

mod load;
mod params;

pub use crate::config::data::tls_conf::H2Proto;
pub use load::load;
pub use params::Params;

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
    /// For each of `names`, whether it offers h2 over ALPN and with which
    /// settings (`NextProtos`).
    pub h2: Vec<Option<H2Proto>>,
    /// The same for a client that sent no known name (`DefaultNextProtos`).
    pub default_h2: Option<H2Proto>,
    /// BFE's global h2 switch (`/reload/tls_conf?enable=-h2` / `+h2`):
    /// off, h2 items of level 0 are not offered. Not from a file: the
    /// control thread keeps it across reloads.
    pub h2_enabled: bool,
    pub params: Params,
    /// Versions of the two files, for the monitor.
    pub version: String,
}
