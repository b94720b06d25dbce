//! Reading `tls_conf/`: the two JSON files, then every PEM file they name.

use super::{CertKey, Params, TlsData};
use crate::config::data::json::{label, J};
use crate::config::data::tls_conf::{self, ServerCertConf, TlsRuleConf};
use crate::config::{ConfError, ServerConf};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;

/// Load the TLS configuration when the HTTPS listener is on; problems are
/// added to `errs`, each naming its file and key.
pub fn load(conf_dir: &Path, server: &ServerConf, errs: &mut Vec<ConfError>) -> Option<TlsData> {
    let h = &server.https;
    if !h.enabled {
        return None;
    }
    let before = errs.len();
    if !server.session_ticket.session_tickets_disabled {
        errs.push(ConfError::new(
            "bfe.conf",
            "SessionTicket.SessionTicketsDisabled",
            "session tickets are not implemented yet; set it to true (session-id resumption still works)",
        ));
    }
    let params = match Params::resolve(h) {
        Ok(p) => Some(p),
        Err((key, reason)) => {
            errs.push(ConfError::new(
                "bfe.conf",
                format!("HttpsBasic.{key}"),
                reason,
            ));
            None
        }
    };
    let cert_file = label(conf_dir, &h.server_cert_conf);
    let certs = {
        let mut j = J {
            file: cert_file.clone(),
            errs,
        };
        j.read(&h.server_cert_conf)
            .and_then(|v| tls_conf::parse_certs(&mut j, &v))
    };
    let rules = if h.tls_rule_conf.exists() || h.tls_rule_explicit {
        let mut j = J {
            file: label(conf_dir, &h.tls_rule_conf),
            errs,
        };
        j.read(&h.tls_rule_conf)
            .and_then(|v| tls_conf::parse_rules(&mut j, &v))
    } else {
        Some(TlsRuleConf::default())
    };
    let (Some(certs), Some(rules), Some(params)) = (certs, rules, params) else {
        return None;
    };
    let loaded = read_pems(conf_dir, &cert_file, &certs, errs);
    if errs.len() > before {
        return None;
    }
    let default = loaded
        .iter()
        .position(|c| c.name == certs.default)
        .unwrap_or(0);
    let mut names: Vec<(String, usize)> = loaded
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.to_ascii_lowercase(), i))
        .collect();
    // Names answered with a certificate alone offer DefaultNextProtos; a
    // rule's names offer its NextProtos (DefaultNextProtos when it has none).
    let mut h2 = vec![rules.default_h2; names.len()];
    let rule_file = label(conf_dir, &h.tls_rule_conf);
    for r in &rules.rules {
        let Some(i) = loaded.iter().position(|c| c.name == r.cert_name) else {
            errs.push(ConfError::new(
                rule_file.clone(),
                format!("Config.{}.CertName", r.product),
                format!("{:?} is not a certificate in {cert_file}", r.cert_name),
            ));
            continue;
        };
        let offer = match r.next_protos.is_empty() {
            true => rules.default_h2,
            false => r.h2,
        };
        // A rule's name that is also a certificate's own name (BFE's sample:
        // `example.org` both ways) takes the rule's protocols: an appended
        // duplicate would never be looked up.
        for s in &r.sni {
            match names.iter().position(|(n, _)| n == s) {
                Some(at) => {
                    names[at].1 = i;
                    h2[at] = offer;
                }
                None => {
                    names.push((s.clone(), i));
                    h2.push(offer);
                }
            }
        }
    }
    if !params.skipped.is_empty() {
        log::warn!(
            "bfe.conf [HttpsBasic]: not implemented by rustls, not offered: {}",
            params.skipped.join(", ")
        );
    }
    let data = TlsData {
        certs: loaded,
        default,
        names,
        h2,
        default_h2: rules.default_h2,
        h2_enabled: true,
        params,
        version: format!(
            "server_cert_conf={} tls_rule_conf={}",
            certs.version, rules.version
        ),
    };
    if let Err(e) = check_certs(&data) {
        errs.push(ConfError::new(cert_file, e.0, e.1));
    }
    (errs.len() == before).then_some(data)
}

/// Build every certificate's rustls configuration once here, so that a key
/// that does not match its certificate, or one rustls cannot use, is a load
/// error and never a worker's surprise.
fn check_certs(d: &TlsData) -> Result<(), (String, String)> {
    let provider = Arc::new(d.params.provider());
    let versions = d.params.versions();
    d.certs
        .iter()
        .try_for_each(|c| d.params.server_config(&provider, &versions, c).map(drop))
}

fn read_pems(
    conf_dir: &Path,
    file: &str,
    conf: &ServerCertConf,
    errs: &mut Vec<ConfError>,
) -> Vec<CertKey> {
    let mut out = Vec::new();
    for c in &conf.certs {
        let key_path = format!("Config.CertConf.{}", c.name);
        let chain: Result<Vec<_>, _> =
            CertificateDer::pem_file_iter(conf_dir.join(&c.cert_file)).and_then(|i| i.collect());
        let chain = match chain {
            Ok(ch) if !ch.is_empty() => Some(ch),
            Ok(_) => {
                errs.push(ConfError::new(
                    file,
                    format!("{key_path}.ServerCertFile"),
                    format!("{}: no certificate in PEM file", c.cert_file),
                ));
                None
            }
            Err(e) => {
                errs.push(ConfError::new(
                    file,
                    format!("{key_path}.ServerCertFile"),
                    format!("{}: {e}", c.cert_file),
                ));
                None
            }
        };
        let key = match PrivateKeyDer::from_pem_file(conf_dir.join(&c.key_file)) {
            Ok(k) => Some(k),
            Err(e) => {
                errs.push(ConfError::new(
                    file,
                    format!("{key_path}.ServerKeyFile"),
                    format!("{}: {e}", c.key_file),
                ));
                None
            }
        };
        if let (Some(chain), Some(key)) = (chain, key) {
            out.push(CertKey {
                name: c.name.clone(),
                chain,
                key,
            });
        }
    }
    out
}
