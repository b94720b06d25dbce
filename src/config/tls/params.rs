//! `[HttpsBasic]` protocol settings mapped onto what rustls implements.
//!
//! rustls implements TLS 1.2 and 1.3 with AEAD suites only. BFE's names for
//! older versions and for CBC, RC4 and 3DES suites are accepted (a BFE
//! bfe.conf must load unchanged) but cannot be offered: versions below 1.2
//! raise the floor to 1.2, and unimplemented suites are left out with a
//! warning. A setting that leaves nothing to offer is an error.

use super::CertKey;
use crate::config::HttpsBasic;
use rustls::crypto::ring::{cipher_suite as cs, kx_group};
use rustls::crypto::{CryptoProvider, SupportedKxGroup};
use rustls::{ServerConfig, SupportedCipherSuite, SupportedProtocolVersion};
use std::sync::Arc;

/// Resolved protocol parameters: which versions, TLS 1.2 suites and key
/// exchange groups to offer, in preference order.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    pub tls12: bool,
    pub tls13: bool,
    pub suites12: Vec<&'static str>,
    pub groups: Vec<&'static str>,
    /// Names configured but not implemented, for the warning.
    pub skipped: Vec<String>,
}

fn suite12(name: &str) -> Option<(&'static str, SupportedCipherSuite)> {
    Some(match name {
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" => (
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        ),
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" => (
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        ),
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256" => (
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
            cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ),
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256" => (
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
            cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        ),
        _ => return None,
    })
}

fn group(name: &str) -> Option<(&'static str, &'static dyn SupportedKxGroup)> {
    Some(match name {
        "CurveP256" => ("CurveP256", kx_group::SECP256R1),
        "CurveP384" => ("CurveP384", kx_group::SECP384R1),
        "X25519" => ("X25519", kx_group::X25519),
        _ => return None,
    })
}

/// Position of a BFE version name; names were checked by the INI reader.
fn rank(v: &str) -> usize {
    crate::config::server::TLS_VERSIONS
        .iter()
        .position(|x| *x == v)
        .unwrap_or(0)
}

impl Params {
    /// Resolve `[HttpsBasic]`; the error says which key leaves nothing.
    pub fn resolve(h: &HttpsBasic) -> Result<Params, (&'static str, String)> {
        let tls12_rank = rank("VersionTLS12");
        let tls12 = rank(&h.max_tls_version) >= tls12_rank;
        let tls13 = rank(&h.max_tls_version) > tls12_rank;
        if !tls12 {
            return Err((
                "MaxTlsVersion",
                format!(
                    "{} is below TLS 1.2, the oldest version ringfront implements",
                    h.max_tls_version
                ),
            ));
        }
        let tls12 = rank(&h.min_tls_version) <= tls12_rank;
        let mut skipped = Vec::new();
        let mut suites12 = Vec::new();
        for name in h.cipher_suites.iter().flat_map(|g| g.split('|')) {
            match suite12(name) {
                Some((n, _)) if !suites12.contains(&n) => suites12.push(n),
                Some(_) => {}
                None => skipped.push(name.to_string()),
            }
        }
        if tls12 && !tls13 && suites12.is_empty() {
            return Err((
                "CipherSuites",
                "none of the listed suites is implemented (ringfront offers ECDHE with AES-GCM or CHACHA20-POLY1305)".into(),
            ));
        }
        let mut groups = Vec::new();
        for name in &h.curve_preferences {
            match group(name) {
                Some((n, _)) if !groups.contains(&n) => groups.push(n),
                Some(_) => {}
                None => skipped.push(name.clone()),
            }
        }
        if groups.is_empty() {
            return Err((
                "CurvePreferences",
                "none of the listed curves is implemented (CurveP256, CurveP384, X25519)".into(),
            ));
        }
        Ok(Params {
            tls12: tls12 && !suites12.is_empty(),
            tls13,
            suites12,
            groups,
            skipped,
        })
    }

    /// A ring provider restricted to these suites and groups.
    pub fn provider(&self) -> CryptoProvider {
        let mut p = rustls::crypto::ring::default_provider();
        let mut suites: Vec<SupportedCipherSuite> = Vec::new();
        if self.tls13 {
            suites.extend([
                cs::TLS13_AES_128_GCM_SHA256,
                cs::TLS13_AES_256_GCM_SHA384,
                cs::TLS13_CHACHA20_POLY1305_SHA256,
            ]);
        }
        if self.tls12 {
            suites.extend(self.suites12.iter().filter_map(|n| suite12(n)).map(|x| x.1));
        }
        p.cipher_suites = suites;
        p.kx_groups = self
            .groups
            .iter()
            .filter_map(|n| group(n))
            .map(|x| x.1)
            .collect();
        p
    }

    pub fn versions(&self) -> Vec<&'static SupportedProtocolVersion> {
        let mut v = Vec::new();
        if self.tls13 {
            v.push(&rustls::version::TLS13);
        }
        if self.tls12 {
            v.push(&rustls::version::TLS12);
        }
        v
    }

    /// One certificate's rustls configuration with these parameters. The
    /// loader builds it to prove that the key matches the certificate and
    /// that rustls can use both; a worker builds it again for its own
    /// acceptors. The error names the certificate's key in
    /// `server_cert_conf.data` and says why.
    pub fn server_config(
        &self,
        provider: &Arc<CryptoProvider>,
        versions: &[&'static SupportedProtocolVersion],
        c: &CertKey,
    ) -> Result<ServerConfig, (String, String)> {
        let key = format!("Config.CertConf.{}", c.name);
        ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions)
            .map_err(|e| (key.clone(), e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(c.chain.clone(), c.key.clone_key())
            .map_err(|e| (key, format!("certificate and key: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(min: &str, max: &str, suites: &[&str], curves: &[&str]) -> HttpsBasic {
        HttpsBasic {
            enabled: true,
            tls_rule_explicit: false,
            server_cert_conf: "a".into(),
            tls_rule_conf: "b".into(),
            cipher_suites: suites.iter().map(|s| s.to_string()).collect(),
            curve_preferences: curves.iter().map(|s| s.to_string()).collect(),
            max_tls_version: max.into(),
            min_tls_version: min.into(),
        }
    }

    #[test]
    fn bfe_defaults_offer_tls12_aead_and_skip_cbc() {
        let p = Params::resolve(&basic(
            "VersionSSL30",
            "VersionTLS12",
            &[
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256|TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
                "TLS_RSA_WITH_AES_128_CBC_SHA",
            ],
            &["CurveP256", "CurveP521"],
        ))
        .expect("resolves");
        assert!(p.tls12 && !p.tls13);
        assert_eq!(p.suites12.len(), 2);
        assert_eq!(p.groups, ["CurveP256"]);
        assert_eq!(p.skipped, ["TLS_RSA_WITH_AES_128_CBC_SHA", "CurveP521"]);
        assert_eq!(p.versions().len(), 1);
        assert_eq!(p.provider().cipher_suites.len(), 2);
    }

    #[test]
    fn tls13_only_when_min_is_13() {
        let p = Params::resolve(&basic("VersionTLS13", "VersionTLS13", &[], &["X25519"]))
            .expect("resolves");
        assert!(p.tls13 && !p.tls12);
        assert_eq!(p.provider().cipher_suites.len(), 3);
    }

    #[test]
    fn nothing_to_offer_is_an_error() {
        let e = Params::resolve(&basic(
            "VersionTLS12",
            "VersionTLS12",
            &["TLS_RSA_WITH_RC4_128_SHA"],
            &["CurveP256"],
        ))
        .unwrap_err();
        assert_eq!(e.0, "CipherSuites");
        let e = Params::resolve(&basic("VersionTLS10", "VersionTLS11", &[], &["CurveP256"]))
            .unwrap_err();
        assert_eq!(e.0, "MaxTlsVersion");
    }
}
