//! mod_rewrite's configuration: `mod_rewrite.conf` (INI) names the rule
//! file; `rewrite.data` (JSON) holds product → rules, as BFE reads them.

use super::action::{parse_action, Action};
use crate::config::data::json::{self, Obj, J};
use crate::module::conf::ProductMap;
use crate::module::conf::{read_data_conf, ProductRules};
use crate::module::ModuleError;
use crate::route::Cond;
use std::path::{Path, PathBuf};

pub const NAME: &str = "mod_rewrite";
/// BFE's default when `[Basic] DataPath` is absent or empty.
const DEFAULT_DATA_PATH: &str = "mod_rewrite/rewrite.data";

/// One rule: when `cond` holds, apply `actions` in order; `last` stops the
/// product's list after a match.
#[derive(Debug, Clone)]
pub struct RewriteRule {
    pub cond: Cond,
    pub actions: Vec<Action>,
    pub last: bool,
}

/// The module's table: what the conf file says and the loaded rules.
#[derive(Debug, Clone, Default)]
pub struct RewriteTable {
    /// The rule file, for reloads without `?path=`.
    pub data_path: PathBuf,
    /// `[Log] OpenDebug`: log each request's rewrite at debug level.
    pub open_debug: bool,
    pub version: String,
    products: ProductMap<Vec<RewriteRule>>,
}

impl RewriteTable {
    /// The product's rules; `None` (without hashing) when the table is empty.
    #[inline]
    pub fn rules(&self, product: &str) -> Option<&[RewriteRule]> {
        if self.products.is_empty() {
            return None;
        }
        self.products.get(product).map(Vec::as_slice)
    }
}

/// Read the conf and the rule file it names.
pub fn load_all(root: &Path) -> Result<RewriteTable, Vec<ModuleError>> {
    let (path, debug) = read_data_conf(root, NAME, DEFAULT_DATA_PATH)?;
    load_data(root, &path, debug)
}

/// Read a rule file (`rewrite.data` format).
pub fn load_data(root: &Path, path: &Path, debug: bool) -> Result<RewriteTable, Vec<ModuleError>> {
    let v = ProductRules::load(root, path, parse_rule).map_err(|e| ModuleError::confs(NAME, &e))?;
    let mut products = ProductMap::default();
    for name in v.value.products() {
        let rules = v
            .value
            .product(name)
            .iter()
            .map(|r| RewriteRule {
                cond: r.cond.clone(),
                actions: r.rule.0.clone(),
                last: r.rule.1,
            })
            .collect();
        products.insert(name.to_string(), rules);
    }
    Ok(RewriteTable {
        data_path: path.to_path_buf(),
        open_debug: debug,
        version: v.version,
        products,
    })
}

/// `Actions` (required, may be empty) and `Last` (required) of one rule.
fn parse_rule(j: &mut J, o: &Obj, path: &str) -> Option<(Vec<Action>, bool)> {
    let actions = j.need(o, "Actions", path).and_then(|v| {
        let apath = json::join(path, "Actions");
        let arr = j.arr(v, &apath)?;
        let mut out = Vec::with_capacity(arr.len());
        let mut ok = true;
        for (i, a) in arr.iter().enumerate() {
            match parse_action(j, a, &json::index(&apath, i)) {
                Some(a) => out.push(a),
                None => ok = false,
            }
        }
        ok.then_some(out)
    });
    let last = j
        .need(o, "Last", path)
        .and_then(|v| j.bool(v, &json::join(path, "Last")));
    Some((actions?, last?))
}
