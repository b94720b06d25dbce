//! mod_trust_clientip's files: `mod_trust_clientip.conf` (`[Basic]
//! DataPath`, `[Log] OpenDebug`) and the JSON table of trusted ranges it
//! names (`{"Version", "Config": {"<source>": [{"Begin", "End"}]}}`).

use crate::module::conf::{conf_path, read_json, resolve, IniConf};
use crate::module::ModuleError;
use crate::modules::ip_table::{IpTable, IpTableBuilder};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const NAME: &str = "mod_trust_clientip";
const DEFAULT_DATA: &str = "mod_trust_clientip/trust_client_ip.data";

/// The module's table: what every worker holds a copy of.
#[derive(Debug, Clone)]
pub struct TrustConf {
    /// The configured data file, re-read by a reload without `?path=`.
    pub data_path: PathBuf,
    /// `[Log] OpenDebug`: log every decision at debug level.
    pub open_debug: bool,
    pub table: Arc<IpTable>,
    pub version: String,
}

/// Read the module conf and its data file.
pub fn load(root: &Path) -> Result<TrustConf, Vec<ModuleError>> {
    let file = conf_path(root, NAME);
    let errs = |e: Vec<crate::config::ConfError>| ModuleError::confs(NAME, &e);
    let mut ini = IniConf::read(root, &file).map_err(errs)?;
    let data = ini
        .string("Basic", "DataPath")
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| DEFAULT_DATA.to_string());
    let open_debug = ini.bool("Log", "OpenDebug").unwrap_or(false);
    ini.finish().map_err(errs)?;
    let data_path = resolve(root, &data);
    let (table, version) = load_data(root, &data_path)?;
    Ok(TrustConf {
        data_path,
        open_debug,
        table: Arc::new(table),
        version,
    })
}

/// Read a trusted-ranges file: every source's ranges in one table.
pub fn load_data(root: &Path, path: &Path) -> Result<(IpTable, String), Vec<ModuleError>> {
    let v = read_json(root, path, |j, obj| {
        let config = j.need_obj(obj, "Config", "")?;
        let mut b = IpTableBuilder::default();
        let mut ok = true;
        for (_src, spath, list) in j.keyed_arrays(config, "Config") {
            for (i, item) in list.iter().enumerate() {
                let ipath = format!("{spath}[{i}]");
                let Some(o) = j.obj(item, &ipath) else {
                    ok = false;
                    continue;
                };
                let begin = addr(j, o, "Begin", &ipath);
                let end = addr(j, o, "End", &ipath);
                match (begin, end) {
                    (Some(b0), Some(e0)) => {
                        if let Err(e) = b.insert(b0, e0) {
                            j.err(&ipath, e);
                            ok = false;
                        }
                    }
                    _ => ok = false,
                }
            }
        }
        ok.then(|| b.build())
    })
    .map_err(|e| ModuleError::confs(NAME, &e))?;
    Ok((v.value, v.version))
}

/// A required address field.
fn addr(
    j: &mut crate::module::conf::JsonReader<'_>,
    o: &crate::config::data::json::Obj,
    key: &str,
    path: &str,
) -> Option<IpAddr> {
    let s = j.need_str(o, key, path)?;
    match s.trim().parse() {
        Ok(ip) => Some(ip),
        Err(_) => {
            j.err(&format!("{path}.{key}"), format!("illegal address {s:?}"));
            None
        }
    }
}
