//! A worker's TLS acceptors: one rustls configuration per certificate,
//! chosen by the server name the client asked for.
//!
//! Each worker builds its own from its copy of [`TlsData`], so the
//! reference counts and session caches a handshake touches belong to that
//! worker alone.

use super::TlsData;
use crate::config::tls::H2Proto;
use monoio_rustls::TlsAcceptor;
use rustls::ServerConfig;
use std::collections::HashMap;
use std::sync::Arc;

/// Session-id resumption entries kept per worker and certificate.
const SESSION_CACHE: usize = 1024;

pub(crate) struct Acceptors {
    by_cert: Vec<TlsAcceptor>,
    /// Per certificate, the configuration that offers `h2` by ALPN (built
    /// only when some name offers h2): its handshake runs on readiness IO.
    by_cert_h2: Vec<Option<Arc<ServerConfig>>>,
    /// Per certificate, the same with `h2` as the only protocol (level=2).
    by_cert_h2_only: Vec<Option<Arc<ServerConfig>>>,
    exact: HashMap<String, (usize, Option<H2Proto>)>,
    /// `*.example.org` stored as `example.org`.
    wildcard: HashMap<String, (usize, Option<H2Proto>)>,
    default: (usize, Option<H2Proto>),
    /// The global switch: off, level-0 h2 items are not offered.
    h2_on: bool,
}

/// What the server name chose: the certificate's HTTP/1.1-only acceptor,
/// or a configuration offering h2 with the rule's settings.
pub(crate) enum Chosen<'a> {
    H1(&'a TlsAcceptor),
    H2(Arc<ServerConfig>, H2Proto),
}

impl Acceptors {
    /// The error names the offending key and why.
    pub(crate) fn build(d: &TlsData) -> Result<Acceptors, (String, String)> {
        let provider = Arc::new(d.params.provider());
        let versions = d.params.versions();
        let mut by_cert = Vec::with_capacity(d.certs.len());
        let mut by_cert_h2 = Vec::with_capacity(d.certs.len());
        let mut by_cert_h2_only = Vec::with_capacity(d.certs.len());
        let h2_of = |i: usize| {
            let of_names = d.names.iter().zip(&d.h2).filter(move |((_, c), _)| *c == i);
            let it = of_names.map(|(_, h)| *h);
            let dflt = (i == d.default).then_some(d.default_h2);
            it.chain(dflt).flatten().collect::<Vec<H2Proto>>()
        };
        for (i, c) in d.certs.iter().enumerate() {
            let build = |alpn: &[&[u8]]| -> Result<Arc<ServerConfig>, (String, String)> {
                let mut conf = d.params.server_config(&provider, &versions, c)?;
                conf.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
                conf.session_storage = rustls::server::ServerSessionMemoryCache::new(SESSION_CACHE);
                Ok(Arc::new(conf))
            };
            by_cert.push(TlsAcceptor::from(build(&[b"http/1.1"])?));
            let offers = h2_of(i);
            by_cert_h2.push(match offers.iter().any(|h| h.level < 2) {
                true => Some(build(&[b"h2", b"http/1.1"])?),
                false => None,
            });
            by_cert_h2_only.push(match offers.iter().any(|h| h.level == 2) {
                true => Some(build(&[b"h2"])?),
                false => None,
            });
        }
        let mut exact = HashMap::new();
        let mut wildcard = HashMap::new();
        for ((name, i), h2) in d.names.iter().zip(&d.h2) {
            match name.strip_prefix("*.") {
                Some(suffix) => wildcard.entry(suffix.to_string()).or_insert((*i, *h2)),
                None => exact.entry(name.clone()).or_insert((*i, *h2)),
            };
        }
        Ok(Acceptors {
            by_cert,
            by_cert_h2,
            by_cert_h2_only,
            exact,
            wildcard,
            default: (d.default, d.default_h2),
            h2_on: d.h2_enabled,
        })
    }

    /// Exact name, then `*.` wildcard one label up, then the default.
    /// h2 is offered where the name's rule has it, unless it is optional
    /// (level 0) and the global switch is off.
    /// At level 0 a `rate` below 100 offers h2 to that share of clients,
    /// picked by a hash of `peer`'s address as BFE picks them.
    pub(crate) fn for_sni(&self, sni: Option<&str>, peer: std::net::IpAddr) -> Chosen<'_> {
        let (i, h2) = sni
            .and_then(|n| {
                self.exact.get(n).or_else(|| {
                    n.split_once('.')
                        .and_then(|(_, parent)| self.wildcard.get(parent))
                })
            })
            .copied()
            .unwrap_or(self.default);
        let i = i.min(self.by_cert.len() - 1);
        let h2_conf = match h2 {
            Some(h) if h.level == 2 => self.by_cert_h2_only[i].clone().map(|c| (c, h)),
            Some(h) if h.level == 1 => self.by_cert_h2[i].clone().map(|c| (c, h)),
            Some(h) if self.h2_on && (h.rate >= 100 || rate_bucket(peer) < h.rate) => {
                self.by_cert_h2[i].clone().map(|c| (c, h))
            }
            _ => None,
        };
        match h2_conf {
            Some((c, h)) => Chosen::H2(c, h),
            None => Chosen::H1(&self.by_cert[i]),
        }
    }
}

/// BFE's `getHashValue`: murmur3 (32-bit, seed 0) of the client's address
/// as Go holds it for a connection accepted on a dual-stack listener (16
/// bytes; IPv4 as `::ffff:a.b.c.d`), modulo 100.
fn rate_bucket(peer: std::net::IpAddr) -> u8 {
    let v6 = match peer {
        std::net::IpAddr::V4(a) => a.to_ipv6_mapped(),
        std::net::IpAddr::V6(a) => a,
    };
    (murmur3_32(&v6.octets()) % 100) as u8
}

/// MurmurHash3 x86_32 with seed 0 (what BFE's `murmur3.Sum32` computes).
fn murmur3_32(data: &[u8]) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let mut h: u32 = 0;
    let mut blocks = data.chunks_exact(4);
    for b in &mut blocks {
        let mut k = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h ^= k;
        h = h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        let mut k: u32 = 0;
        for (i, &b) in tail.iter().enumerate() {
            k |= u32::from(b) << (8 * i);
        }
        h ^= k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
    }
    h ^= data.len() as u32;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur3_matches_the_reference() {
        // Reference values of MurmurHash3_x86_32 with seed 0.
        assert_eq!(murmur3_32(b""), 0);
        assert_eq!(murmur3_32(b"hello"), 0x248b_fa47);
        assert_eq!(murmur3_32(b"Hello, world!"), 0xc036_3e43);
        assert_eq!(
            murmur3_32(b"The quick brown fox jumps over the lazy dog"),
            0x2e4f_f723
        );
    }

    #[test]
    fn rate_buckets_are_stable_and_spread() {
        let a: std::net::IpAddr = "127.0.0.1".parse().expect("ip");
        assert_eq!(rate_bucket(a), rate_bucket(a));
        let buckets: std::collections::HashSet<u8> = (0..=255u8)
            .map(|i| rate_bucket(std::net::IpAddr::from([10, 0, 0, i])))
            .collect();
        assert!(buckets.len() > 50, "{}", buckets.len());
        assert!(buckets.iter().all(|&b| b < 100));
    }
}
