//! `tls_conf/server_cert_conf.data` (which certificates exist) and
//! `tls_conf/tls_rule_conf.data` (which names and products use them).
//! Only the JSON is read here; the PEM files are read by [`crate::config::tls`].

use super::json::{field, join, sorted, J};
use serde_json::Value;

/// One `CertConf` entry; paths as written, relative to the conf dir.
#[derive(Debug, Clone)]
pub struct CertEntry {
    pub name: String,
    pub cert_file: String,
    pub key_file: String,
}

#[derive(Debug, Default)]
pub struct ServerCertConf {
    pub version: String,
    /// Name of the certificate used when no other matches.
    pub default: String,
    pub certs: Vec<CertEntry>,
}

pub fn parse_certs(j: &mut J, v: &Value) -> Option<ServerCertConf> {
    let root = j.obj(v, "")?;
    let mut out = ServerCertConf {
        version: j.version(root),
        ..Default::default()
    };
    let conf = j.need_obj(root, "Config", "")?;
    if let Some(d) = j.need_str(conf, "Default", "Config") {
        out.default = d.to_string();
    }
    let certs = j.need_obj(conf, "CertConf", "Config")?;
    for (name, entry) in sorted(certs) {
        let path = join("Config.CertConf", name);
        let Some(e) = j.obj(entry, &path) else {
            continue;
        };
        let cert = j.need_str(e, "ServerCertFile", &path);
        let key = j.need_str(e, "ServerKeyFile", &path);
        if let (Some(cert), Some(key)) = (cert, key) {
            out.certs.push(CertEntry {
                name: name.clone(),
                cert_file: cert.to_string(),
                key_file: key.to_string(),
            });
        }
    }
    if out.certs.is_empty() {
        j.err("Config.CertConf", "no certificate configured");
    } else if !out.default.is_empty() && !out.certs.iter().any(|c| c.name == out.default) {
        j.err(
            "Config.Default",
            format!("{:?} is not a certificate in CertConf", out.default),
        );
    }
    Some(out)
}

/// One product's TLS rule: the server names it answers and its certificate.
#[derive(Debug, Clone)]
pub struct TlsRule {
    pub product: String,
    pub sni: Vec<String>,
    pub cert_name: String,
    pub next_protos: Vec<String>,
    /// The `h2` item of `NextProtos`, when it has one.
    pub h2: Option<H2Proto>,
}

/// BFE's `h2[;level=N;mcs=N;isw=N;rate=N]` NextProtos item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct H2Proto {
    /// 0: optional (the `/reload/tls_conf?enable=-h2` switch turns it
    /// off), 1: negotiable and never switched off, 2: mandatory.
    pub level: u8,
    /// SETTINGS_MAX_CONCURRENT_STREAMS (default 200).
    pub mcs: u32,
    /// Initial stream receive window, 65535..=262144 (default 65535).
    pub isw: u32,
}

impl Default for H2Proto {
    fn default() -> Self {
        H2Proto {
            level: 0,
            mcs: 200,
            isw: 65535,
        }
    }
}

#[derive(Debug, Default)]
pub struct TlsRuleConf {
    pub version: String,
    pub default_next_protos: Vec<String>,
    /// The `h2` item of `DefaultNextProtos`, when it has one.
    pub default_h2: Option<H2Proto>,
    pub rules: Vec<TlsRule>,
}

/// Application protocols ringfront speaks over TLS.
pub const NEXT_PROTOS: &[&str] = &["http/1.1", "h2", "spdy/3.1"];

pub fn parse_rules(j: &mut J, v: &Value) -> Option<TlsRuleConf> {
    let root = j.obj(v, "")?;
    let mut out = TlsRuleConf {
        version: j.version(root),
        ..Default::default()
    };
    if let Some(p) = field(root, "DefaultNextProtos") {
        out.default_next_protos = protos(j, p, "DefaultNextProtos");
        out.default_h2 = h2_item(j, &out.default_next_protos, "DefaultNextProtos");
    }
    let Some(conf) = field(root, "Config") else {
        return Some(out);
    };
    let conf = j.obj(conf, "Config")?;
    for (product, rule) in sorted(conf) {
        let path = join("Config", product);
        let Some(r) = j.obj(rule, &path) else {
            continue;
        };
        let sni = match field(r, "SniConf") {
            Some(v) => j.strings(v, &join(&path, "SniConf")).unwrap_or_default(),
            None => Vec::new(),
        };
        let cert_name = j
            .need_str(r, "CertName", &path)
            .unwrap_or_default()
            .to_string();
        let (next_protos, h2) = match field(r, "NextProtos") {
            Some(v) => {
                let p = protos(j, v, &join(&path, "NextProtos"));
                let h2 = h2_item(j, &p, &join(&path, "NextProtos"));
                (p, h2)
            }
            None => (Vec::new(), None),
        };
        if let Some(v) = field(r, "ClientAuth") {
            if j.bool(v, &join(&path, "ClientAuth")) == Some(true) {
                j.err(
                    &join(&path, "ClientAuth"),
                    "client certificate authentication is not supported by ringfront",
                );
            }
        }
        out.rules.push(TlsRule {
            product: product.clone(),
            sni: sni.into_iter().map(|s| s.to_ascii_lowercase()).collect(),
            cert_name,
            next_protos,
            h2,
        });
    }
    Some(out)
}

/// The parameters of the `h2` item in a NextProtos list, checked as BFE
/// checks them (`tls_rule_conf_load.go`): `;` or `&` separated, known
/// names only, each once, in range. `rate` (BFE's per-client-IP share of
/// connections offered h2) is refused unless 100: ringfront offers h2 to
/// every client of a rule or to none.
fn h2_item(j: &mut J, list: &[String], path: &str) -> Option<H2Proto> {
    let item = list
        .iter()
        .find(|p| p.split([';', '&']).next() == Some("h2"))?;
    let mut h2 = H2Proto::default();
    let mut seen: Vec<&str> = Vec::new();
    for kv in item.split([';', '&']).skip(1) {
        let Some((k, v)) = kv.split_once('=') else {
            j.err(path, format!("{item:?}: {kv:?} is not key=value"));
            return None;
        };
        if seen.contains(&k) {
            j.err(path, format!("{item:?}: {k} given twice"));
            return None;
        }
        seen.push(k);
        let Ok(n) = v.parse::<u32>() else {
            j.err(path, format!("{item:?}: {k}={v:?} is not a number"));
            return None;
        };
        let ok = match k {
            "level" => {
                h2.level = n.min(255) as u8;
                n <= 2
            }
            "mcs" => {
                h2.mcs = n;
                n > 0
            }
            "isw" => {
                h2.isw = n;
                (65535..=262144).contains(&n)
            }
            "rate" if n == 100 => true,
            "rate" if n <= 100 => {
                j.err(
                    path,
                    format!("{item:?}: rate below 100 (h2 for a share of clients) is not supported by ringfront"),
                );
                return None;
            }
            "rate" => false,
            _ => {
                j.err(path, format!("{item:?}: unknown parameter {k:?}"));
                return None;
            }
        };
        if !ok {
            j.err(path, format!("{item:?}: {k}={n} out of range"));
            return None;
        }
    }
    if h2.level == 2 && list.len() != 1 {
        j.err(path, "a mandatory (level=2) protocol must be the only one");
        return None;
    }
    Some(h2)
}

fn protos(j: &mut J, v: &Value, path: &str) -> Vec<String> {
    let list = j.strings(v, path).unwrap_or_default();
    for p in &list {
        // BFE writes a protocol with an optional ";level=N" suffix.
        let name = p.split([';', '&']).next().unwrap_or("");
        if !NEXT_PROTOS.contains(&name) {
            j.err(path, format!("unknown protocol {p:?}"));
        }
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfError;

    fn run<T>(f: fn(&mut J, &Value) -> Option<T>, text: &str) -> (Option<T>, Vec<ConfError>) {
        let mut errs = Vec::new();
        let mut j = J {
            file: "f".into(),
            errs: &mut errs,
        };
        let v: Value = serde_json::from_str(text).expect("test JSON");
        let out = f(&mut j, &v);
        (out, errs)
    }

    #[test]
    fn reads_bfe_example_cert_conf() {
        let (c, errs) = run(
            parse_certs,
            r#"{"Version":"v1","Config":{"Default":"example.org","CertConf":{"example.org":{"ServerCertFile":"tls_conf/example.org.crt","ServerKeyFile":"tls_conf/example.org.key"}}}}"#,
        );
        assert!(errs.is_empty(), "{errs:?}");
        let c = c.expect("parsed");
        assert_eq!(c.default, "example.org");
        assert_eq!(c.certs.len(), 1);
        assert_eq!(c.certs[0].key_file, "tls_conf/example.org.key");
    }

    #[test]
    fn default_must_name_a_cert() {
        let (_, errs) = run(
            parse_certs,
            r#"{"Version":"v1","Config":{"Default":"nope","CertConf":{"a":{"ServerCertFile":"a.crt","ServerKeyFile":"a.key"}}}}"#,
        );
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].key, "Config.Default");
    }

    #[test]
    fn rules_reject_client_auth_and_unknown_protocols() {
        let (r, errs) = run(
            parse_rules,
            r#"{"Version":"v1","DefaultNextProtos":["http/1.1"],"Config":{"p":{"SniConf":["Example.ORG"],"CertName":"a","NextProtos":["h9"],"ClientAuth":true}}}"#,
        );
        let keys: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["Config.p.NextProtos", "Config.p.ClientAuth"]);
        assert_eq!(r.expect("parsed").rules[0].sni, ["example.org"]);
    }
}
