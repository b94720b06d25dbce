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
    /// 0..=100 (default 100): at level 0, the share of clients (by a hash
    /// of their address, as BFE) that are offered h2.
    pub rate: u8,
}

impl Default for H2Proto {
    fn default() -> Self {
        H2Proto {
            level: 0,
            mcs: 200,
            isw: 65535,
            rate: 100,
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

/// One NextProtos item, `proto[;level=N;mcs=N;isw=N;rate=N;pp=N]`, parsed
/// and checked as BFE does (`tls_rule_conf_load.go`): `;` or `&`
/// separators, known names only, each once, values in range.
fn parse_item(item: &str) -> Result<(&str, H2Proto), String> {
    let mut parts = item.split([';', '&']);
    let name = parts.next().unwrap_or("");
    if !NEXT_PROTOS.contains(&name) {
        return Err(format!("unknown protocol {item:?}"));
    }
    let mut p = H2Proto::default();
    let mut seen: Vec<&str> = Vec::new();
    for kv in parts {
        let Some((k, v)) = kv.split_once('=') else {
            return Err(format!("{item:?}: {kv:?} is not key=value"));
        };
        if seen.contains(&k) {
            return Err(format!("{item:?}: {k} given twice"));
        }
        seen.push(k);
        let Ok(n) = v.parse::<i64>() else {
            return Err(format!("{item:?}: {k}={v:?} is not a number"));
        };
        let ok = match k {
            "level" => (0..=2).contains(&n),
            "mcs" => n > 0 && n <= u32::MAX as i64,
            "isw" => (65535..=262144).contains(&n),
            "rate" => (0..=100).contains(&n),
            // PROXY protocol towards the backend, for BFE's `stream` only.
            "pp" => return Err(format!("{item:?}: pp is only for the stream protocol")),
            _ => return Err(format!("{item:?}: unknown parameter {k:?}")),
        };
        if !ok {
            return Err(format!("{item:?}: {k}={n} out of range"));
        }
        // In range, so the casts are exact.
        match k {
            "level" => p.level = n as u8,
            "mcs" => p.mcs = n as u32,
            "isw" => p.isw = n as u32,
            _ => p.rate = n as u8,
        }
    }
    if p.level > 0 && p.rate != 100 {
        return Err(format!("{item:?}: rate must be 100 when level > 0"));
    }
    if name == "http/1.1" && p.rate != 100 {
        return Err(format!("{item:?}: rate for http/1.1 must be 100"));
    }
    Ok((name, p))
}

/// Check a NextProtos list as BFE does and return its `h2` item's
/// parameters, if it has one. A mandatory (level=2) item must be the only
/// one; otherwise a non-empty list must contain `http/1.1`.
fn h2_item(j: &mut J, list: &[String], path: &str) -> Option<H2Proto> {
    let mut h2 = None;
    let mut names: Vec<&str> = Vec::new();
    let mut mandatory = false;
    for item in list {
        match parse_item(item) {
            Ok((name, p)) => {
                if names.contains(&name) {
                    j.err(path, format!("{name} listed twice"));
                    return None;
                }
                names.push(name);
                mandatory |= p.level == 2;
                if name == "h2" {
                    h2 = Some(p);
                }
            }
            Err(e) => {
                j.err(path, e);
                return None;
            }
        }
    }
    if mandatory && list.len() != 1 {
        j.err(path, "a mandatory (level=2) protocol must be the only one");
        return None;
    }
    if !mandatory && !list.is_empty() && !names.contains(&"http/1.1") {
        j.err(
            path,
            "a non-empty list without a mandatory protocol must contain http/1.1",
        );
        return None;
    }
    h2
}

fn protos(j: &mut J, v: &Value, path: &str) -> Vec<String> {
    j.strings(v, path).unwrap_or_default()
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
