//! A worker's TLS acceptors: one rustls configuration per certificate,
//! chosen by the server name the client asked for.
//!
//! Each worker builds its own from its copy of [`TlsData`], so the
//! reference counts and session caches a handshake touches belong to that
//! worker alone.

use super::TlsData;
use monoio_rustls::TlsAcceptor;
use std::collections::HashMap;
use std::sync::Arc;

/// Session-id resumption entries kept per worker and certificate.
const SESSION_CACHE: usize = 1024;

pub(crate) struct Acceptors {
    by_cert: Vec<TlsAcceptor>,
    exact: HashMap<String, usize>,
    /// `*.example.org` stored as `example.org`.
    wildcard: HashMap<String, usize>,
    default: usize,
}

impl Acceptors {
    /// The error names the offending key and why.
    pub(crate) fn build(d: &TlsData) -> Result<Acceptors, (String, String)> {
        let provider = Arc::new(d.params.provider());
        let versions = d.params.versions();
        let mut by_cert = Vec::with_capacity(d.certs.len());
        for c in &d.certs {
            let mut conf = d.params.server_config(&provider, &versions, c)?;
            // Only HTTP/1.1 is spoken; offering h2 would break clients that
            // pick it.
            conf.alpn_protocols = vec![b"http/1.1".to_vec()];
            conf.session_storage = rustls::server::ServerSessionMemoryCache::new(SESSION_CACHE);
            by_cert.push(TlsAcceptor::from(Arc::new(conf)));
        }
        let mut exact = HashMap::new();
        let mut wildcard = HashMap::new();
        for (name, i) in &d.names {
            match name.strip_prefix("*.") {
                Some(suffix) => wildcard.entry(suffix.to_string()).or_insert(*i),
                None => exact.entry(name.clone()).or_insert(*i),
            };
        }
        Ok(Acceptors {
            by_cert,
            exact,
            wildcard,
            default: d.default,
        })
    }

    /// Exact name, then `*.` wildcard one label up, then the default.
    pub(crate) fn for_sni(&self, sni: Option<&str>) -> &TlsAcceptor {
        let i = sni
            .and_then(|n| {
                self.exact.get(n).or_else(|| {
                    n.split_once('.')
                        .and_then(|(_, parent)| self.wildcard.get(parent))
                })
            })
            .copied()
            .unwrap_or(self.default);
        &self.by_cert[i.min(self.by_cert.len() - 1)]
    }
}
