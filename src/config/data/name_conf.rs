//! `name_conf.data`: service names to instances. Optional in BFE; a missing
//! file reads as an empty table.

use super::cluster_table::{backend_fields, BackendEntry};
use super::json::{index, J};
use serde_json::Value;

#[derive(Debug, Default)]
pub struct NameConf {
    pub version: String,
    pub names: Vec<(String, Vec<BackendEntry>)>,
}

pub fn parse(j: &mut J, v: &Value) -> Option<NameConf> {
    let root = j.obj(v, "")?;
    let version = j.version(root);
    let mut out = NameConf {
        version,
        ..Default::default()
    };
    let config = j.need_obj(root, "Config", "")?;
    for (name, path, list) in j.keyed_arrays(config, "Config") {
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
