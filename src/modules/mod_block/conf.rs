//! mod_block's files: `mod_block.conf` (`[Basic] ProductRulePath`,
//! `IPBlocklistPath`, `[Log] OpenDebug`), the JSON product rules
//! (`block_rules.data`) and the text IP blocklist (`ip_blocklist.data`).

use crate::config::data::json::Obj;
use crate::config::ConfError;
use crate::module::conf::{conf_path, field, label, resolve, IniConf, JsonReader, ProductRules};
use crate::module::ModuleError;
use crate::modules::ip_table::{parse_list_line, IpTable, IpTableBuilder};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const NAME: &str = "mod_block";
const DEFAULT_RULES: &str = "mod_block/block_rules.data";
const DEFAULT_IPS: &str = "mod_block/ip_blocklist.data";

/// What a matching rule does (`Cmd`, case-sensitive as in BFE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Close the connection, sending nothing.
    Close,
    /// Let the request through; later rules (and the product's, after a
    /// `global` rule) are not consulted.
    Allow,
}

#[derive(Debug, Clone)]
pub struct BlockRule {
    pub name: String,
    pub action: Action,
}

/// The module's table, one copy per worker.
#[derive(Debug, Clone)]
pub struct BlockConf {
    pub rule_path: PathBuf,
    pub ip_path: PathBuf,
    pub open_debug: bool,
    pub rules: Arc<ProductRules<BlockRule>>,
    /// Whether any product (`global` included) has rules: when none does,
    /// HandleFoundProduct costs a counter and a branch.
    pub any_rules: bool,
    /// Whether product `global` has rules (else its lookup is skipped).
    pub has_global: bool,
    pub ips: Arc<IpTable>,
}

/// Read the module conf and both data files.
pub fn load(root: &Path) -> Result<BlockConf, Vec<ModuleError>> {
    let errs = |e: Vec<ConfError>| ModuleError::confs(NAME, &e);
    let mut ini = IniConf::read(root, &conf_path(root, NAME)).map_err(errs)?;
    let path = |ini: &mut IniConf, key: &str, default: &str| {
        let p = ini
            .string("Basic", key)
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| default.to_string());
        resolve(root, &p)
    };
    let rule_path = path(&mut ini, "ProductRulePath", DEFAULT_RULES);
    let ip_path = path(&mut ini, "IPBlocklistPath", DEFAULT_IPS);
    let open_debug = ini.bool("Log", "OpenDebug").unwrap_or(false);
    ini.finish().map_err(errs)?;
    let rules = load_rules(root, &rule_path);
    let ips = load_ips(root, &ip_path);
    match (rules, ips) {
        (Ok(rules), Ok(ips)) => Ok(BlockConf {
            rule_path,
            ip_path,
            open_debug,
            any_rules: !rules.products().is_empty(),
            has_global: !rules.global().is_empty(),
            rules: Arc::new(rules),
            ips: Arc::new(ips),
        }),
        (r, i) => Err(r.err().into_iter().chain(i.err()).flatten().collect()),
    }
}

/// Read `block_rules.data`.
pub fn load_rules(root: &Path, path: &Path) -> Result<ProductRules<BlockRule>, Vec<ModuleError>> {
    let v = ProductRules::load(root, path, rule).map_err(|e| ModuleError::confs(NAME, &e))?;
    let mut errs = Vec::new();
    for product in v.value.products() {
        let mut seen = HashSet::new();
        for (i, r) in v.value.product(product).iter().enumerate() {
            if !seen.insert(r.rule.name.as_str()) {
                errs.push(ConfError::new(
                    label(root, path),
                    format!("Config.{product}[{i}].Name"),
                    format!("two rules have the same name {:?}", r.rule.name),
                ));
            }
        }
    }
    if errs.is_empty() {
        Ok(v.value)
    } else {
        Err(ModuleError::confs(NAME, &errs))
    }
}

/// One rule's `Name` and `Action` (the `Cond` is compiled by
/// `ProductRules`).
fn rule(j: &mut JsonReader<'_>, o: &Obj, path: &str) -> Option<BlockRule> {
    let name = j.need_str(o, "Name", path).map(String::from);
    let apath = format!("{path}.Action");
    let action = j.need_obj(o, "Action", path).and_then(|a| {
        let cmd = j.need_str(a, "Cmd", &apath)?;
        let action = match cmd {
            "CLOSE" => Action::Close,
            "ALLOW" => Action::Allow,
            other => {
                j.err(
                    &format!("{apath}.Cmd"),
                    format!("invalid cmd {other:?} (CLOSE or ALLOW)"),
                );
                return None;
            }
        };
        let ppath = format!("{apath}.Params");
        let Some(params) = field(a, "Params") else {
            j.err(&ppath, "no Params (an empty list is required)");
            return None;
        };
        let params = j.strings(params, &ppath)?;
        if !params.is_empty() {
            j.err(
                &ppath,
                format!("{cmd} takes no params, got {}", params.len()),
            );
            return None;
        }
        Some(action)
    });
    Some(BlockRule {
        name: name?,
        action: action?,
    })
}

/// Read the text blocklist; the first bad line fails the load.
pub fn load_ips(root: &Path, path: &Path) -> Result<IpTable, Vec<ModuleError>> {
    let file = label(root, path);
    let fail = |key: String, reason: String| {
        vec![ModuleError::conf(
            NAME,
            &ConfError::new(file.clone(), key, reason),
        )]
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| fail(String::new(), format!("cannot read: {e}")))?;
    let mut b = IpTableBuilder::default();
    for (n, line) in text.lines().enumerate() {
        let r = match parse_list_line(line) {
            None => continue,
            Some(r) => r.and_then(|(s, e)| b.insert(s, e)),
        };
        if let Err(e) = r {
            return Err(fail(format!("line {}", n + 1), e));
        }
    }
    Ok(b.build())
}
