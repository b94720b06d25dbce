//! `cluster_table.data`: backends per sub-cluster per cluster.

use super::json::{index, join, sorted, J};
use serde_json::Value;
use std::net::{IpAddr, SocketAddr};

#[derive(Debug, Clone)]
pub struct BackendEntry {
    pub name: String,
    pub addr: SocketAddr,
    pub weight: u32,
}

/// Sub-cluster name and its backends in file order.
pub type SubBackends = (String, Vec<BackendEntry>);

#[derive(Debug, Default)]
pub struct ClusterTable {
    pub version: String,
    /// cluster -> (sub-cluster -> backends in file order).
    pub clusters: Vec<(String, Vec<SubBackends>)>,
}

pub fn parse(j: &mut J, v: &Value) -> Option<ClusterTable> {
    let root = j.obj(v, "")?;
    let version = j.version(root);
    let mut out = ClusterTable {
        version,
        ..Default::default()
    };
    let config = j.need_obj(root, "Config", "")?;
    for (cluster, subs) in sorted(config) {
        let cpath = join("Config", cluster);
        let Some(subs) = j.obj(subs, &cpath) else {
            continue;
        };
        let mut sub_list = Vec::new();
        for (sub, spath, list) in j.keyed_arrays(subs, &cpath) {
            let mut out_b = Vec::new();
            for (i, b) in list.iter().enumerate() {
                if let Some(b) = backend(j, b, &index(&spath, i)) {
                    out_b.push(b);
                }
            }
            if !out_b.iter().any(|b| b.weight > 0) && out_b.len() == list.len() {
                j.err(&spath, "no backend with a positive weight");
            }
            sub_list.push((sub.clone(), out_b));
        }
        out.clusters.push((cluster.clone(), sub_list));
    }
    Some(out)
}

/// Shared with name_conf.data, whose instances use `Host` for the address.
pub fn backend_fields(
    j: &mut J,
    v: &Value,
    path: &str,
    addr_key: &str,
    need_name: bool,
) -> Option<BackendEntry> {
    let m = j.obj(v, path)?;
    let name = if need_name {
        j.need_str(m, "Name", path).map(str::to_string)
    } else {
        Some(String::new())
    };
    let addr = j.need_str(m, addr_key, path);
    let ip = addr.and_then(|a| match a.parse::<IpAddr>() {
        Ok(ip) => Some(ip),
        Err(_) => {
            j.err(&join(path, addr_key), format!("{a:?} is not an IP address"));
            None
        }
    });
    let port = j.need_int(m, "Port", path, 1, 65535);
    let weight = j.need_int(m, "Weight", path, 0, u32::MAX as i64);
    Some(BackendEntry {
        name: name?,
        addr: SocketAddr::new(ip?, port? as u16),
        weight: weight? as u32,
    })
}

fn backend(j: &mut J, v: &Value, path: &str) -> Option<BackendEntry> {
    backend_fields(j, v, path, "Addr", true)
}
