//! `route_rule.data`: per product, host+path `BasicRule`s and condition
//! `ProductRule`s, each naming a cluster.

use super::json::{field, index, join, J};
use serde_json::Value;

pub const ADVANCED_MODE: &str = "ADVANCED_MODE";

#[derive(Debug)]
pub struct BasicRuleFile {
    pub path: String,
    pub hostnames: Vec<String>,
    pub paths: Vec<String>,
    pub cluster: String,
}

#[derive(Debug)]
pub struct ProductRuleFile {
    /// JSON path of the rule, e.g. `ProductRule.p1[2]`.
    pub path: String,
    pub cond: String,
    pub cluster: String,
}

#[derive(Debug, Default)]
pub struct RouteRule {
    pub version: String,
    pub basic: Vec<(String, Vec<BasicRuleFile>)>,
    pub advanced: Vec<(String, Vec<ProductRuleFile>)>,
}

pub fn parse(j: &mut J, v: &Value) -> Option<RouteRule> {
    let root = j.obj(v, "")?;
    let version = j.version(root);
    let mut out = RouteRule {
        version,
        ..Default::default()
    };
    let basic = field(root, "BasicRule");
    let advanced = field(root, "ProductRule");
    if basic.is_none() && advanced.is_none() {
        j.err("", "neither BasicRule nor ProductRule is given");
    }
    if let Some(m) = basic.and_then(|b| j.obj(b, "BasicRule")) {
        for (product, ppath, rules) in j.keyed_arrays(m, "BasicRule") {
            let mut list = Vec::new();
            for (i, r) in rules.iter().enumerate() {
                let path = index(&ppath, i);
                let Some(r) = j.obj(r, &path) else { continue };
                let hostnames = opt_strings(j, r, "Hostname", &path);
                let paths = opt_strings(j, r, "Path", &path);
                let cluster = j.need_str(r, "ClusterName", &path);
                if hostnames.is_empty() && paths.is_empty() {
                    j.err(&path, "a basic rule needs a Hostname or a Path");
                }
                check_patterns(j, &path, &hostnames, &paths);
                if let Some(c) = cluster {
                    list.push(BasicRuleFile {
                        path,
                        hostnames,
                        paths,
                        cluster: c.to_string(),
                    });
                }
            }
            out.basic.push((product.clone(), list));
        }
    }
    if let Some(m) = advanced.and_then(|a| j.obj(a, "ProductRule")) {
        for (product, ppath, rules) in j.keyed_arrays(m, "ProductRule") {
            let mut list = Vec::new();
            for (i, r) in rules.iter().enumerate() {
                let path = index(&ppath, i);
                let Some(r) = j.obj(r, &path) else { continue };
                let cond = j.need_str(r, "Cond", &path);
                let cluster = j.need_str(r, "ClusterName", &path);
                if let (Some(cond), Some(cluster)) = (cond, cluster) {
                    list.push(ProductRuleFile {
                        path,
                        cond: cond.to_string(),
                        cluster: cluster.to_string(),
                    });
                }
            }
            out.advanced.push((product.clone(), list));
        }
    }
    Some(out)
}

fn opt_strings(j: &mut J, r: &super::json::Obj, key: &str, path: &str) -> Vec<String> {
    field(r, key)
        .and_then(|v| j.strings(v, &join(path, key)))
        .unwrap_or_default()
}

/// BFE's checks: one `*` per host, only as `*` or a leading `*.`; one `*`
/// per path, only at the end.
fn check_patterns(j: &mut J, path: &str, hosts: &[String], paths: &[String]) {
    for (i, h) in hosts.iter().enumerate() {
        let stars = h.matches('*').count();
        if h.is_empty() || stars > 1 || (stars == 1 && h != "*" && !h.starts_with("*.")) {
            j.err(
                &index(&join(path, "Hostname"), i),
                format!("invalid host pattern {h:?}"),
            );
        }
    }
    for (i, p) in paths.iter().enumerate() {
        let stars = p.matches('*').count();
        if p.is_empty() || stars > 1 || (stars == 1 && !p.ends_with('*')) {
            j.err(
                &index(&join(path, "Path"), i),
                format!("invalid path pattern {p:?} ('*' only at the end)"),
            );
        }
    }
}
