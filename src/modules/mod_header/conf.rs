//! mod_header's configuration: `mod_header.conf` (INI) and the rule file
//! (`header_rule.data`), read and checked as BFE does. Each rule is split
//! at load into its request-side (`REQ_*`) and response-side (`RSP_*`)
//! actions, so each phase walks only the rules it can apply.

use super::cookie::SetCookie;
use super::vars::{self, Var};
use crate::config::data::json::{self, Obj, J};
use crate::module::conf::ProductMap;
use crate::module::conf::{conf_path, resolve, IniConf, ProductRules, GLOBAL_PRODUCT};
use crate::module::ModuleError;
use crate::route::Cond;
use serde_json::Value;
use std::path::{Path, PathBuf};

pub const NAME: &str = "mod_header";
/// BFE's default when `[Basic] DataPath` is absent or empty.
const DEFAULT_DATA_PATH: &str = "mod_header/mod_header.data";

/// One piece of a header value: text, or a variable expanded per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Lit(String),
    Var(Var),
}

/// A cookie value: exactly one known `%variable`, or literal text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CookieValue {
    Lit(String),
    Var(Var),
}

/// One action, on the request's or the response's headers (the side is
/// the rule list it sits in). Header names are canonical (`X-Foo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Set(String, Vec<Seg>),
    Add(String, Vec<Seg>),
    Del(String),
    Rename(String, String),
    /// `*_HEADER_MOD scheme_set`: header, scheme.
    SchemeSet(String, String),
    /// `*_HEADER_MOD query_add`: header, key, value.
    QueryAdd(String, String, String),
    ReqCookieSet(String, CookieValue),
    ReqCookieDel(String),
    RspCookieSet(Box<SetCookie>),
    /// Name, domain, path.
    RspCookieDel(String, String, String),
}

#[derive(Debug, Clone)]
pub struct HeaderRule {
    pub cond: Cond,
    pub actions: Vec<Action>,
    pub last: bool,
}

/// A product's rules, split by phase.
#[derive(Debug, Clone, Default)]
pub struct Sides {
    pub req: Vec<HeaderRule>,
    pub rsp: Vec<HeaderRule>,
}

#[derive(Debug, Clone, Default)]
pub struct HeaderTable {
    /// The rule file, for reloads without `?path=`.
    pub data_path: PathBuf,
    /// `[Basic] DisableDefaultHeader`.
    pub disable_default: bool,
    /// `[Log] OpenDebug`: log headers before and after each phase.
    pub open_debug: bool,
    /// This machine's name, for `%bfe_server_name`.
    pub server_name: String,
    pub version: String,
    products: ProductMap<Sides>,
}

impl HeaderTable {
    /// The product's rules; `None` (without hashing) when the table is empty.
    #[inline]
    pub fn rules(&self, product: &str) -> Option<&Sides> {
        if self.products.is_empty() {
            return None;
        }
        self.products.get(product)
    }

    pub fn global(&self) -> Option<&Sides> {
        self.rules(GLOBAL_PRODUCT)
    }

    pub fn is_empty(&self) -> bool {
        self.products.is_empty()
    }
}

/// What `mod_header.conf` says.
pub struct ModConf {
    pub data_path: PathBuf,
    pub disable_default: bool,
    pub open_debug: bool,
}

pub fn read_conf(root: &Path) -> Result<ModConf, Vec<ModuleError>> {
    let mut ini =
        IniConf::read(root, &conf_path(root, NAME)).map_err(|e| ModuleError::confs(NAME, &e))?;
    let data = ini.string("Basic", "DataPath").unwrap_or_default();
    let disable_default = ini.bool("Basic", "DisableDefaultHeader").unwrap_or(false);
    let open_debug = ini.bool("Log", "OpenDebug").unwrap_or(false);
    ini.finish().map_err(|e| ModuleError::confs(NAME, &e))?;
    let data = if data.is_empty() {
        DEFAULT_DATA_PATH
    } else {
        &data
    };
    Ok(ModConf {
        data_path: resolve(root, data),
        disable_default,
        open_debug,
    })
}

pub fn load_all(root: &Path) -> Result<HeaderTable, Vec<ModuleError>> {
    let c = read_conf(root)?;
    let mut t = load_data(root, &c.data_path)?;
    t.data_path = c.data_path;
    t.disable_default = c.disable_default;
    t.open_debug = c.open_debug;
    t.server_name = vars::hostname();
    Ok(t)
}

/// Read a rule file into a table (conf fields left at their defaults).
pub fn load_data(root: &Path, path: &Path) -> Result<HeaderTable, Vec<ModuleError>> {
    let v = ProductRules::load(root, path, parse_rule).map_err(|e| ModuleError::confs(NAME, &e))?;
    let mut products = ProductMap::default();
    for name in v.value.products() {
        let mut sides = Sides::default();
        for r in v.value.product(name) {
            let (actions, last) = &r.rule;
            let side = |want: bool| {
                actions
                    .iter()
                    .filter(|(is_req, _)| *is_req == want)
                    .map(|(_, a)| a.clone())
                    .collect::<Vec<Action>>()
            };
            let (req, rsp) = (side(true), side(false));
            if !req.is_empty() {
                sides.req.push(HeaderRule {
                    cond: r.cond.clone(),
                    actions: req,
                    last: *last,
                });
            }
            if !rsp.is_empty() {
                sides.rsp.push(HeaderRule {
                    cond: r.cond.clone(),
                    actions: rsp,
                    last: *last,
                });
            }
        }
        products.insert(name.to_string(), sides);
    }
    Ok(HeaderTable {
        version: v.version,
        products,
        ..HeaderTable::default()
    })
}

type Parsed = (Vec<(bool, Action)>, bool);

/// `Actions` (required, non-empty) and `Last` (required) of one rule.
fn parse_rule(j: &mut J, o: &Obj, path: &str) -> Option<Parsed> {
    let actions = j.need(o, "Actions", path).and_then(|v| {
        let apath = json::join(path, "Actions");
        let arr = j.arr(v, &apath)?;
        if arr.is_empty() {
            j.err(&apath, "no Actions");
            return None;
        }
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

/// Go's `textproto.CanonicalMIMEHeaderKey`: `x-foo` → `X-Foo`; a name
/// with a byte that is not a token character is kept as written.
pub fn canonical(name: &str) -> String {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if !name.bytes().all(token) {
        return name.to_string();
    }
    let mut upper = true;
    name.bytes()
        .map(|b| {
            let c = if upper {
                b.to_ascii_uppercase()
            } else {
                b.to_ascii_lowercase()
            };
            upper = b == b'-';
            c as char
        })
        .collect()
}

/// A header value split as BFE's `splitParam` does: text, `%name`
/// variables (`[a-z0-9_]`), and `%%` for a literal `%`. An unknown
/// variable is an error.
pub fn split_value(v: &str) -> Result<Vec<Seg>, String> {
    let b = v.as_bytes();
    let mut out: Vec<Seg> = Vec::new();
    let lit = |out: &mut Vec<Seg>, s: &str| match out.last_mut() {
        Some(Seg::Lit(prev)) => prev.push_str(s),
        _ => out.push(Seg::Lit(s.to_string())),
    };
    let until_percent = |from: usize| {
        b[from..]
            .iter()
            .position(|&c| c == b'%')
            .map_or(b.len(), |p| from + p)
    };
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'%' {
            let end = until_percent(i + 1);
            lit(&mut out, &v[i..end]);
            i = end;
        } else if b.get(i + 1) == Some(&b'%') {
            // `%%text`: BFE drops the first `%`.
            let end = until_percent(i + 2);
            lit(&mut out, &v[i + 1..end]);
            i = end;
        } else {
            let start = i + 1;
            let end = b[start..]
                .iter()
                .position(|&c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_'))
                .map_or(b.len(), |p| start + p);
            let name = &v[start..end];
            match vars::lookup(name) {
                Some(var) => out.push(Seg::Var(var)),
                None => return Err(format!("command's second param is not valid: %{name}")),
            }
            i = end;
        }
    }
    Ok(out)
}

/// Go's `strconv.ParseBool`.
fn go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// One `{"Cmd", "Params"}`; returns whether it is a request-side action.
fn parse_action(j: &mut J, v: &Value, path: &str) -> Option<(bool, Action)> {
    let o = j.obj(v, path)?;
    let cmd = j.need_str(o, "Cmd", path)?;
    let ppath = json::join(path, "Params");
    let params = match json::field(o, "Params") {
        Some(p) => j.strings(p, &ppath)?,
        None => Vec::new(),
    };
    match check_action(cmd, &params) {
        Ok(a) => Some((cmd.starts_with("REQ_"), a)),
        Err(e) => {
            j.err(path, e);
            None
        }
    }
}

fn count(params: &[String], n: usize) -> Result<(), String> {
    if params.len() == n {
        Ok(())
    } else {
        Err(format!("num of params:[ok:{n}, now:{}]", params.len()))
    }
}

/// BFE's `ActionFileCheck` and `actionConvert` in one.
fn check_action(cmd: &str, p: &[String]) -> Result<Action, String> {
    match cmd {
        "REQ_HEADER_SET" | "REQ_HEADER_ADD" | "REQ_HEADER_RENAME" | "RSP_HEADER_SET"
        | "RSP_HEADER_ADD" | "RSP_HEADER_RENAME" | "REQ_COOKIE_SET" => count(p, 2)?,
        "REQ_HEADER_DEL" | "RSP_HEADER_DEL" | "REQ_COOKIE_DEL" => count(p, 1)?,
        "RSP_COOKIE_DEL" => count(p, 3)?,
        "RSP_COOKIE_SET" => count(p, 8)?,
        "REQ_HEADER_MOD" | "RSP_HEADER_MOD" => {
            if p.len() != 3 && p.len() != 4 {
                return Err(format!("num of params:[ok:3 or 4, now:{}]", p.len()));
            }
        }
        _ => return Err(format!("invalid cmd:{cmd}")),
    }
    if p.iter().any(String::is_empty) {
        return Err("empty Params".into());
    }
    let cookie_value = |s: &str| match s.strip_prefix('%').and_then(vars::lookup) {
        Some(v) => CookieValue::Var(v),
        None => CookieValue::Lit(s.to_string()),
    };
    Ok(match &cmd[4..] {
        "HEADER_SET" => Action::Set(canonical(&p[0]), split_value(&p[1])?),
        "HEADER_ADD" => Action::Add(canonical(&p[0]), split_value(&p[1])?),
        "HEADER_DEL" => Action::Del(canonical(&p[0])),
        "HEADER_RENAME" => Action::Rename(canonical(&p[0]), canonical(&p[1])),
        "HEADER_MOD" => header_mod(p)?,
        "COOKIE_SET" if cmd.starts_with("REQ_") => {
            Action::ReqCookieSet(p[0].clone(), cookie_value(&p[1]))
        }
        "COOKIE_DEL" if cmd.starts_with("REQ_") => Action::ReqCookieDel(p[0].clone()),
        "COOKIE_DEL" => Action::RspCookieDel(p[0].clone(), p[1].clone(), p[2].clone()),
        _ => {
            let expires = super::cookie::parse_rfc1123(&p[4])
                .ok_or("expires format error, should be RFC1123 format")?;
            let max_age: i64 = p[5].parse().map_err(|_| "type of max age should be int")?;
            let http_only = go_bool(&p[6]).ok_or("type of http only should be bool")?;
            let secure = go_bool(&p[7]).ok_or("type of secure should be bool")?;
            Action::RspCookieSet(Box::new(SetCookie {
                name: p[0].clone(),
                value: cookie_value(&p[1]),
                domain: p[2].clone(),
                path: p[3].clone(),
                expires,
                max_age,
                http_only,
                secure,
            }))
        }
    })
}

/// `[scheme_set, Referer|Location, http|https]` or
/// `[query_add, Referer|Location, key, value]`.
fn header_mod(p: &[String]) -> Result<Action, String> {
    let sub = p[0].to_ascii_uppercase();
    let header = canonical(&p[1]);
    let allowed = header == "Referer" || header == "Location";
    match sub.as_str() {
        "SCHEME_SET" => {
            count(p, 3)
                .map_err(|_| format!("scheme_set should have 3 params, now: {}", p.len()))?;
            if !allowed {
                return Err(format!(
                    "scheme_set only support referer/location, now: {header}"
                ));
            }
            if p[2] != "http" && p[2] != "https" {
                return Err(format!("scheme_set only support http/https, now: {}", p[2]));
            }
            Ok(Action::SchemeSet(header, p[2].clone()))
        }
        "QUERY_ADD" => {
            count(p, 4).map_err(|_| format!("query_add should have 4 params, now: {}", p.len()))?;
            if !allowed {
                return Err(format!(
                    "query_add only support referer/location, now: {header}"
                ));
            }
            Ok(Action::QueryAdd(header, p[2].clone(), p[3].clone()))
        }
        _ => Err(format!("invalid headerModCmd:{sub}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_split_as_bfe() {
        assert_eq!(
            split_value("a%bfe_vip-%%x%bfe_log_id").unwrap(),
            vec![
                Seg::Lit("a".into()),
                Seg::Var(Var::Vip),
                Seg::Lit("-%x".into()),
                Seg::Var(Var::LogId)
            ]
        );
        assert!(split_value("%bfe_nope").is_err());
        assert!(split_value("%BFE_VIP").is_err());
        assert!(split_value("50%").is_err());
        assert_eq!(split_value("100%%").unwrap(), vec![Seg::Lit("100%".into())]);
        assert_eq!(canonical("x-foo-BAR"), "X-Foo-Bar");
    }

    #[test]
    fn checks_actions() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(check_action("REQ_HEADER_SET", &s(&["a"])).is_err());
        assert!(check_action("req_header_set", &s(&["a", "b"])).is_err());
        assert!(check_action("REQ_HEADER_SET", &s(&["a", ""])).is_err());
        assert!(check_action("RSP_HEADER_MOD", &s(&["scheme_set", "Host", "http"])).is_err());
        assert!(check_action("RSP_HEADER_MOD", &s(&["scheme_set", "location", "ftp"])).is_err());
        assert_eq!(
            check_action("RSP_HEADER_MOD", &s(&["Scheme_Set", "location", "https"])),
            Ok(Action::SchemeSet("Location".into(), "https".into()))
        );
        let c = [
            "n",
            "v",
            "example.org",
            "/",
            "Mon, 02 Jan 2006 15:04:05 MST",
            "10",
            "true",
            "f",
        ];
        assert!(check_action("RSP_COOKIE_SET", &s(&c)).is_ok());
        let mut bad = c;
        bad[4] = "2006-01-02";
        assert!(check_action("RSP_COOKIE_SET", &s(&bad)).is_err());
        let mut bad = c;
        bad[6] = "yes";
        assert!(check_action("RSP_COOKIE_SET", &s(&bad)).is_err());
    }
}
