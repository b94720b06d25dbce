//! `gslb.data`: sub-cluster weights per cluster (no `Version`; BFE requires
//! `Hostname` and `Ts` instead, and uses `Ts` as the version).

use super::json::{join, sorted, J};
use serde_json::Value;

pub const BLACKHOLE: &str = "GSLB_BLACKHOLE";

#[derive(Debug, Default)]
pub struct Gslb {
    pub ts: String,
    /// `Hostname`: where the scheduler that wrote the file runs.
    pub hostname: String,
    /// cluster -> (sub-cluster, weight), sub-clusters in name order.
    pub clusters: Vec<(String, Vec<(String, u32)>)>,
}

pub fn parse(j: &mut J, v: &Value) -> Option<Gslb> {
    let root = j.obj(v, "")?;
    let hostname = j.need_str(root, "Hostname", "").unwrap_or_default();
    let mut out = Gslb {
        hostname: hostname.to_string(),
        ..Gslb::default()
    };
    out.ts = j.need_str(root, "Ts", "").unwrap_or_default().to_string();
    let clusters = j.need_obj(root, "Clusters", "")?;
    for (name, subs) in sorted(clusters) {
        let path = join("Clusters", name);
        let Some(subs) = j.obj(subs, &path) else {
            continue;
        };
        let mut list = Vec::new();
        let mut total: u64 = 0;
        for (sub, w) in sorted(subs) {
            if let Some(w) = j.int(w, &join(&path, sub), 0, u32::MAX as i64) {
                total += w as u64;
                list.push((sub.clone(), w as u32));
            }
        }
        if total == 0 {
            j.err(&path, "total weight must be positive");
        }
        out.clusters.push((name.clone(), list));
    }
    Some(out)
}
