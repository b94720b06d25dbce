//! `host_rule.data`: host tags per product and host names per tag.

use super::json::{field, index, join, sorted, J};
use serde_json::Value;

#[derive(Debug, Default)]
pub struct HostRule {
    pub version: String,
    pub default_product: Option<String>,
    /// (host pattern as written, tag, product), in file order per tag.
    pub hosts: Vec<(String, String, String)>,
    /// Every product named in `HostTags`.
    pub products: Vec<String>,
}

pub fn parse(j: &mut J, v: &Value) -> Option<HostRule> {
    let root = j.obj(v, "")?;
    let mut out = HostRule::default();
    let version = j.need_str(root, "Version", "");
    out.version = version.unwrap_or_default().to_string();
    let hosts = j.need_obj(root, "Hosts", "");
    let tags = j.need_obj(root, "HostTags", "");
    let (Some(hosts), Some(tags)) = (hosts, tags) else {
        return None;
    };

    // tag -> product
    let mut tag_product: Vec<(String, String)> = Vec::new();
    for (product, list) in sorted(tags) {
        let path = join("HostTags", product);
        out.products.push(product.clone());
        for tag in j.strings(list, &path).unwrap_or_default() {
            match tag_product.iter().find(|(t, _)| *t == tag) {
                Some((_, other)) if other != product => j.err(
                    &path,
                    format!("host tag {tag:?} already belongs to product {other:?}"),
                ),
                Some(_) => {}
                None => tag_product.push((tag, product.clone())),
            }
        }
    }
    for (tag, list) in sorted(hosts) {
        let path = join("Hosts", tag);
        let Some(product) = tag_product
            .iter()
            .find(|(t, _)| t == tag)
            .map(|(_, p)| p.clone())
        else {
            j.err(
                &path,
                format!("host tag {tag:?} does not appear in HostTags"),
            );
            continue;
        };
        let Some(list) = j.arr(list, &path) else {
            continue;
        };
        for (i, h) in list.iter().enumerate() {
            let hpath = index(&path, i);
            let Some(h) = j.str(h, &hpath) else { continue };
            if let Err(e) = check_host_pattern(h) {
                j.err(&hpath, e);
                continue;
            }
            let norm = normalize(h);
            if let Some((_, t, _)) = out.hosts.iter().find(|(o, _, _)| normalize(o) == norm) {
                j.err(
                    &hpath,
                    format!("host {h:?} is already listed under tag {t:?}"),
                );
                continue;
            }
            out.hosts
                .push((h.to_string(), tag.clone(), product.clone()));
        }
    }
    if let Some(d) = field(root, "DefaultProduct") {
        if let Some(d) = j.str(d, "DefaultProduct") {
            if !d.is_empty() {
                if !out.products.iter().any(|p| p == d) {
                    j.err(
                        "DefaultProduct",
                        format!("product {d:?} must exist in HostTags"),
                    );
                }
                out.default_product = Some(d.to_string());
            }
        }
    }
    Some(out)
}

/// Lower-cased, trailing dot dropped: the form the host table keys on.
pub fn normalize(h: &str) -> String {
    h.trim_end_matches('.').to_ascii_lowercase()
}

/// A host name, or `*.` followed by one, or a lone `*`.
pub fn check_host_pattern(h: &str) -> Result<(), String> {
    if h.is_empty() {
        return Err("empty host name".into());
    }
    let rest = if h == "*" {
        ""
    } else {
        h.strip_prefix("*.").unwrap_or(h)
    };
    if rest.contains('*') {
        return Err(format!(
            "{h:?}: '*' is only allowed as a leading \"*.\" label"
        ));
    }
    if rest.contains(':') || rest.contains('/') || rest.bytes().any(|b| b.is_ascii_whitespace()) {
        return Err(format!(
            "{h:?} is not a host name (no port, path or spaces)"
        ));
    }
    Ok(())
}
