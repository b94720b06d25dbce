//! mod_redirect's configuration: `mod_redirect.conf` (INI) names the rule
//! file; `redirect.data` (JSON) holds product → rules, as BFE reads them.

use crate::config::data::json::{self, Obj, J};
use crate::module::conf::ProductMap;
use crate::module::conf::{read_data_conf, ProductRules};
use crate::module::ModuleError;
use crate::route::Cond;
use serde_json::Value;
use std::path::{Path, PathBuf};

pub const NAME: &str = "mod_redirect";
/// BFE's default when `[Basic] DataPath` is absent or empty.
const DEFAULT_DATA_PATH: &str = "mod_redirect/redirect.data";

/// How a rule makes the `Location` (BFE's exclusive actions; a rule has
/// exactly one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `URL_SET`: this URL.
    UrlSet(String),
    /// `URL_FROM_QUERY`: the decoded value of this query key.
    UrlFromQuery(String),
    /// `URL_PREFIX_ADD`: this prefix + the request's `path?query`.
    UrlPrefixAdd(String),
    /// `SCHEME_SET`: `<scheme>://<host><path?query>` (lower-case scheme).
    SchemeSet(String),
}

#[derive(Debug, Clone)]
pub struct RedirectRule {
    pub cond: Cond,
    pub action: Action,
    pub status: u16,
}

#[derive(Debug, Clone, Default)]
pub struct RedirectTable {
    /// The rule file, for reloads without `?path=`.
    pub data_path: PathBuf,
    /// `[Log] OpenDebug`: log each redirect decision at debug level.
    pub open_debug: bool,
    pub version: String,
    products: ProductMap<Vec<RedirectRule>>,
}

impl RedirectTable {
    /// The product's rules; `None` (without hashing) when the table is empty.
    #[inline]
    pub fn rules(&self, product: &str) -> Option<&[RedirectRule]> {
        if self.products.is_empty() {
            return None;
        }
        self.products.get(product).map(Vec::as_slice)
    }
}

pub fn load_all(root: &Path) -> Result<(RedirectTable, String), Vec<ModuleError>> {
    let (path, debug) = read_data_conf(root, NAME, DEFAULT_DATA_PATH)?;
    load_data(root, &path, debug)
}

/// Read a rule file; also returns BFE's reload version, `<file>=<Version>`.
pub fn load_data(
    root: &Path,
    path: &Path,
    debug: bool,
) -> Result<(RedirectTable, String), Vec<ModuleError>> {
    let v = ProductRules::load(root, path, parse_rule).map_err(|e| ModuleError::confs(NAME, &e))?;
    let label = v.label();
    let mut products = ProductMap::default();
    for name in v.value.products() {
        let rules = v
            .value
            .product(name)
            .iter()
            .map(|r| RedirectRule {
                cond: r.cond.clone(),
                action: r.rule.0.clone(),
                status: r.rule.1,
            })
            .collect();
        products.insert(name.to_string(), rules);
    }
    let t = RedirectTable {
        data_path: path.to_path_buf(),
        open_debug: debug,
        version: v.version,
        products,
    };
    Ok((t, label))
}

/// `Actions` (exactly one) and `Status` (required, non-zero) of a rule.
fn parse_rule(j: &mut J, o: &Obj, path: &str) -> Option<(Action, u16)> {
    let action = j.need(o, "Actions", path).and_then(|v| {
        let apath = json::join(path, "Actions");
        let arr = j.arr(v, &apath)?;
        match arr.len() {
            0 => {
                j.err(&apath, "no Actions");
                None
            }
            1 => parse_action(j, &arr[0], &json::index(&apath, 0)),
            _ => {
                j.err(&apath, "currently only support exclusive action");
                None
            }
        }
    });
    let spath = json::join(path, "Status");
    let status = j
        .need(o, "Status", path)
        .and_then(|v| j.int(v, &spath, i64::MIN, i64::MAX))
        .and_then(|s| match s {
            0 => {
                j.err(&spath, "redirect code not provided");
                None
            }
            // BFE sends any non-zero code; ringfront's redirect answer is
            // a 3xx, so a code it would not send is refused here.
            300..=399 => Some(s as u16),
            _ => {
                j.err(&spath, format!("{s} is not a redirect code (300-399)"));
                None
            }
        });
    Some((action?, status?))
}

/// One `{"Cmd", "Params"}`; `Cmd` is case-sensitive, `Params` has exactly
/// one element.
fn parse_action(j: &mut J, v: &Value, path: &str) -> Option<Action> {
    let o = j.obj(v, path)?;
    let cmd = j.need_str(o, "Cmd", path)?;
    if !matches!(
        cmd,
        "URL_SET" | "URL_FROM_QUERY" | "URL_PREFIX_ADD" | "SCHEME_SET"
    ) {
        j.err(&json::join(path, "Cmd"), format!("invalid cmd:{cmd}"));
        return None;
    }
    let ppath = json::join(path, "Params");
    let Some(pv) = json::field(o, "Params") else {
        j.err(&ppath, "no Params");
        return None;
    };
    let params = j.strings(pv, &ppath)?;
    if params.len() != 1 {
        j.err(
            &ppath,
            format!("num of params:[ok:1, now:{}]", params.len()),
        );
        return None;
    }
    let p = params[0].clone();
    Some(match cmd {
        "URL_SET" => Action::UrlSet(p),
        "URL_FROM_QUERY" => Action::UrlFromQuery(p),
        "URL_PREFIX_ADD" => Action::UrlPrefixAdd(p),
        _ => {
            let scheme = p.to_ascii_lowercase();
            if scheme != "http" && scheme != "https" {
                j.err(
                    &ppath,
                    format!("scheme {p} invalid, only http|https supported now"),
                );
                return None;
            }
            Action::SchemeSet(scheme)
        }
    })
}
