//! BFE's configuration pages: `host_table_version`, `host_table_status`,
//! `cluster_table_version`, `bal_table_version`, `bal_table_status`, in
//! the shapes BFE's structs marshal to (JSON, or go-lib's `kv_encode`
//! lines `Name:value`), and ringfront's `config_state`: every file's
//! version, the content hash and the load time of the running snapshot.

use super::monitor::json_str;
use crate::config::Snapshot;
use crate::module::Format;
use std::fmt::Write;

/// A value of a flat struct field.
enum V<'a> {
    S(&'a str),
    N(u64),
}

/// A flat Go struct: JSON object in field order, or `Name:value` lines.
/// Prometheus is not one of its formats (BFE answers such pages with an
/// error too).
fn flat(fields: &[(&str, V)], format: Format) -> Result<String, String> {
    let mut o = String::new();
    match format {
        Format::Json => {
            o.push('{');
            for (i, (k, v)) in fields.iter().enumerate() {
                let sep = if i > 0 { "," } else { "" };
                let _ = match v {
                    V::S(s) => write!(o, "{sep}\"{k}\":{}", json_str(s)),
                    V::N(n) => write!(o, "{sep}\"{k}\":{n}"),
                };
            }
            o.push_str("}\n");
        }
        Format::Kv => {
            for (k, v) in fields {
                let _ = match v {
                    V::S(s) => writeln!(o, "{k}:{s}"),
                    V::N(n) => writeln!(o, "{k}:{n}"),
                };
            }
        }
        Format::Prometheus => return Err("invalid format: prometheus".into()),
    }
    Ok(o)
}

/// The page names this module serves.
pub(super) const NAMES: [&str; 6] = [
    "host_table_status",
    "host_table_version",
    "cluster_table_version",
    "bal_table_status",
    "bal_table_version",
    "config_state",
];

/// Render page `name` of the running snapshot (`reloads`: successful core
/// reloads so far, for `config_state`).
pub(super) fn render(
    name: &str,
    s: &Snapshot,
    reloads: u64,
    format: Format,
) -> Option<Result<String, String>> {
    let v = &s.versions;
    let st = &s.host_status;
    Some(match name {
        "host_table_status" => flat(
            &[
                ("HostTableSize", V::N(st.host_table_size as u64)),
                ("HostTagTableSize", V::N(st.host_tag_table_size as u64)),
                ("VipTableSize", V::N(st.vip_table_size as u64)),
                (
                    "ProductRouteTableSize",
                    V::N(st.product_route_table_size as u64),
                ),
                (
                    "ProductBasicRouteTableSize",
                    V::N(st.product_basic_route_table_size as u64),
                ),
            ],
            format,
        ),
        "host_table_version" => flat(
            &[
                ("HostTag", V::S(&v.host_tag)),
                ("Vip", V::S(&v.vip)),
                ("ProductRoute", V::S(&v.product_route)),
            ],
            format,
        ),
        "cluster_table_version" => flat(&[("ClusterConfVer", V::S(&v.cluster_conf))], format),
        "bal_table_version" => flat(
            &[
                ("ClusterTableConfVer", V::S(&v.cluster_table)),
                ("GslbConfTimeStamp", V::S(&v.gslb_ts)),
                ("GslbConfSrc", V::S(&v.gslb_src)),
            ],
            format,
        ),
        "bal_table_status" => Ok(bal_table_status(s)),
        "config_state" => flat(
            &[
                ("HostTag", V::S(&v.host_tag)),
                ("Vip", V::S(&v.vip)),
                ("ProductRoute", V::S(&v.product_route)),
                ("ClusterConfVer", V::S(&v.cluster_conf)),
                ("ClusterTableConfVer", V::S(&v.cluster_table)),
                ("GslbConfTimeStamp", V::S(&v.gslb_ts)),
                ("GslbConfSrc", V::S(&v.gslb_src)),
                ("TlsConfVer", V::S(&v.tls)),
                ("ContentHash", V::S(&v.content_hash)),
                ("LoadedAt", V::N(v.loaded_at)),
                ("Reloads", V::N(reloads)),
            ],
            format,
        ),
        _ => return None,
    })
}

/// BFE's `BalTableState`: backends per sub-cluster and cluster (JSON
/// only, as in BFE), keys sorted as Go writes maps.
fn bal_table_status(s: &Snapshot) -> String {
    let mut clusters: Vec<&crate::config::Cluster> = s.clusters.clusters.iter().collect();
    clusters.sort_by(|a, b| a.name.cmp(&b.name));
    let mut total = 0;
    let mut o = String::from("{\"Balancers\":{");
    for (i, c) in clusters.iter().enumerate() {
        let mut subs: Vec<(&str, usize)> = c
            .subclusters
            .iter()
            .map(|sc| (sc.name.as_str(), sc.backends.len()))
            .collect();
        subs.sort_unstable();
        let n: usize = subs.iter().map(|(_, n)| n).sum();
        total += n;
        let subs: Vec<String> = subs
            .iter()
            .map(|(name, n)| format!("{}:{{\"BackendNum\":{n}}}", json_str(name)))
            .collect();
        let sep = if i > 0 { "," } else { "" };
        let _ = write!(
            o,
            "{sep}{}:{{\"SubClusters\":{{{}}},\"BackendNum\":{n}}}",
            json_str(&c.name),
            subs.join(",")
        );
    }
    let _ = writeln!(o, "}},\"BackendNum\":{total}}}");
    o
}
