//! mod_tag's files, in BFE's formats: `mod_tag/mod_tag.conf` (`[Basic]
//! DataPath`, `[Log] OpenDebug`) and the rule file it names
//! (`{"Version": …, "Config": {"<product>": [{"Cond", "Param": {"TagName",
//! "TagValue"}, "Last"}]}}`).

use crate::module::conf::{field, read_data_conf, JsonReader, ProductRules, Versioned};
use crate::module::ModuleError;
use std::path::{Path, PathBuf};

use super::NAME;

/// BFE's default when `DataPath` is not set.
const DEFAULT_DATA_PATH: &str = "mod_tag/tag_rule.data";

/// `mod_tag.conf`.
#[derive(Debug, Clone)]
pub struct TagConf {
    pub data_path: PathBuf,
    /// `[Log] OpenDebug`: log every tag added, as BFE does.
    pub open_debug: bool,
}

/// What one rule adds when its condition holds.
#[derive(Debug, Clone)]
pub struct TagParam {
    pub name: String,
    pub value: String,
    /// Stop at this rule when it matches.
    pub last: bool,
}

/// The table every worker holds a copy of.
#[derive(Debug, Clone)]
pub struct TagTable {
    pub rules: ProductRules<TagParam>,
    pub open_debug: bool,
    /// The rule file read at start; a reload reads it again (BFE keeps the
    /// path from start too).
    pub data_path: PathBuf,
    /// No product has a rule: the handler returns at once.
    pub empty: bool,
}

pub fn read_conf(root: &Path) -> Result<TagConf, Vec<ModuleError>> {
    let (data_path, open_debug) = read_data_conf(root, NAME, DEFAULT_DATA_PATH)?;
    Ok(TagConf {
        data_path,
        open_debug,
    })
}

/// Reads and checks the rule file: `Version` non-empty, `Config`
/// required, every rule's `Cond` compiled, `TagName` and `TagValue`
/// non-empty (BFE's checks).
pub fn load_rules(
    root: &Path,
    path: &Path,
) -> Result<Versioned<ProductRules<TagParam>>, Vec<ModuleError>> {
    let v = ProductRules::load(root, path, parse_rule).map_err(|e| ModuleError::confs(NAME, &e))?;
    if v.version.is_empty() {
        return Err(vec![ModuleError {
            module: NAME.to_string(),
            file: crate::module::conf::label(root, path),
            reason: "Version: must not be empty".to_string(),
        }]);
    }
    Ok(v)
}

fn parse_rule(
    j: &mut JsonReader,
    obj: &crate::config::data::json::Obj,
    path: &str,
) -> Option<TagParam> {
    let ppath = format!("{path}.Param");
    let param = j.need_obj(obj, "Param", path)?;
    let name = non_empty(j, param, "TagName", &ppath);
    let value = non_empty(j, param, "TagValue", &ppath);
    let last = match field(obj, "Last") {
        Some(v) => j.bool(v, &format!("{path}.Last"))?,
        None => false,
    };
    Some(TagParam {
        name: name?,
        value: value?,
        last,
    })
}

fn non_empty(
    j: &mut JsonReader,
    obj: &crate::config::data::json::Obj,
    key: &str,
    path: &str,
) -> Option<String> {
    let s = match field(obj, key) {
        Some(v) => j.str(v, &format!("{path}.{key}"))?,
        None => "",
    };
    if s.is_empty() {
        j.err(&format!("{path}.{key}"), "must not be empty");
        return None;
    }
    Some(s.to_string())
}
