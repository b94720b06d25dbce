//! `name_conf.data`: service names to instances. Optional in BFE; a missing
//! file reads as an empty table.

use super::cluster_table::{backend_fields, BackendEntry};
use super::json::{index, join, sorted, J};
use serde_json::Value;

#[derive(Debug, Default)]
pub struct NameConf {
    pub version: String,
    pub names: Vec<(String, Vec<BackendEntry>)>,
}

pub fn parse(j: &mut J, v: &Value) -> Option<NameConf> {
    let root = j.obj(v, "")?;
    let version = j
        .need(root, "Version", "")
        .and_then(|v| j.str(v, "Version"))
        .unwrap_or_default()
        .to_string();
    let mut out = NameConf {
        version,
        ..Default::default()
    };
    let config = j
        .need(root, "Config", "")
        .and_then(|v| j.obj(v, "Config"))?;
    for (name, list) in sorted(config) {
        let path = join("Config", name);
        let Some(list) = j.arr(list, &path) else {
            continue;
        };
        let mut inst = Vec::new();
        for (i, item) in list.iter().enumerate() {
            if let Some(b) = backend_fields(j, item, &index(&path, i), "Host", false) {
                inst.push(b);
            }
        }
        out.names.push((name.clone(), inst));
    }
    Some(out)
}
