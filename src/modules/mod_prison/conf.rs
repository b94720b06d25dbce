//! mod_prison's files: `mod_prison.conf` (`[Basic] ProductRulePath`, `[Log]
//! OpenDebug`) and the JSON product rules (`prison.data`), with BFE's checks:
//! every rule field is required, `Name` is unique within a product, and the
//! action is one of `CLOSE`, `FINISH`, `PASS`, `REQ_HEADER_SET`.

use crate::config::data::json::Obj;
use crate::config::ConfError;
use crate::module::conf::{conf_path, field, label, resolve, IniConf, JsonReader, ProductRules};
use crate::module::ModuleError;
use regex::bytes::Regex;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub const NAME: &str = "mod_prison";
const DEFAULT_RULES: &str = "mod_prison/prison.data";

/// What a denied request gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Close the connection, sending nothing.
    Close,
    /// Answer 403 and close (BFE: an empty 200, see the module page).
    Finish,
    /// Nothing; the next rule is checked.
    Pass,
    /// Set a request header (`X-Bfe-…`), then check the next rule.
    ReqHeaderSet(String, String),
}

impl Action {
    /// BFE's command name, for `mod_prison.prison_info`.
    pub fn cmd(&self) -> &'static str {
        match self {
            Action::Close => "CLOSE",
            Action::Finish => "FINISH",
            Action::Pass => "PASS",
            Action::ReqHeaderSet(..) => "REQ_HEADER_SET",
        }
    }
}

/// What the access signature is made of (`AccessSignConf`).
#[derive(Debug, Clone, Default)]
pub struct SignConf {
    pub use_socket_ip: bool,
    pub use_client_ip: bool,
    pub use_connect_id: bool,
    pub use_url: bool,
    pub use_host: bool,
    pub use_path: bool,
    pub use_headers: bool,
    pub url_regexp: Option<Regex>,
    /// Each entry: the configured text (`q1|q2`) and its alternatives.
    pub query: Vec<(String, Vec<String>)>,
    pub header: Vec<String>,
    pub cookie: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct PrisonRule {
    pub name: String,
    /// The condition's text: part of the signature, as BFE's `label`.
    pub cond_text: String,
    pub sign: SignConf,
    pub action: Action,
    pub check_period_ns: u64,
    pub stay_period_ns: u64,
    pub threshold: u64,
    pub access_dict_size: usize,
    pub prison_dict_size: usize,
}

/// The module's table, one copy per worker.
#[derive(Debug, Clone)]
pub struct PrisonConf {
    pub rule_path: PathBuf,
    pub open_debug: bool,
    pub rules: Arc<ProductRules<PrisonRule>>,
    /// Whether any product has rules (else HandleFoundProduct is a branch).
    pub any_rules: bool,
    /// Whether product `global` has rules (else its lookup is skipped).
    pub has_global: bool,
    /// Changes with every load: a worker rebuilds its counters and prison
    /// tables (keeping those of rules whose product and name stay) when the
    /// table it sees has another generation.
    pub generation: u64,
    pub version: String,
}

static GENERATION: AtomicU64 = AtomicU64::new(1);

/// A generation no earlier load had (control thread, once per load).
pub fn next_generation() -> u64 {
    GENERATION.fetch_add(1, Ordering::Relaxed)
}

/// Read the module conf and the rule file.
pub fn load(root: &Path) -> Result<PrisonConf, Vec<ModuleError>> {
    let errs = |e: Vec<ConfError>| ModuleError::confs(NAME, &e);
    let mut ini = IniConf::read(root, &conf_path(root, NAME)).map_err(errs)?;
    let p = ini
        .string("Basic", "ProductRulePath")
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| DEFAULT_RULES.to_string());
    let open_debug = ini.bool("Log", "OpenDebug").unwrap_or(false);
    ini.finish().map_err(errs)?;
    let rule_path = resolve(root, &p);
    let (rules, version) = load_rules(root, &rule_path)?;
    Ok(PrisonConf {
        rule_path,
        open_debug,
        any_rules: !rules.products().is_empty(),
        has_global: !rules.global().is_empty(),
        rules: Arc::new(rules),
        generation: next_generation(),
        version,
    })
}

/// Read `prison.data`; the version is `<file name>=<Version>`.
pub fn load_rules(
    root: &Path,
    path: &Path,
) -> Result<(ProductRules<PrisonRule>, String), Vec<ModuleError>> {
    let v = ProductRules::load(root, path, rule).map_err(|e| ModuleError::confs(NAME, &e))?;
    let mut errs = Vec::new();
    for product in v.value.products() {
        let mut seen = HashSet::new();
        for (i, r) in v.value.product(product).iter().enumerate() {
            if !seen.insert(r.rule.name.as_str()) {
                errs.push(ConfError::new(
                    label(root, path),
                    format!("Config.{product}[{i}].Name"),
                    format!("duplicated rule name {:?}", r.rule.name),
                ));
            }
        }
    }
    if !errs.is_empty() {
        return Err(ModuleError::confs(NAME, &errs));
    }
    let version = v.label();
    Ok((v.value, version))
}

/// A required integer field within `min..=max`.
fn need_int(
    j: &mut JsonReader<'_>,
    o: &Obj,
    key: &str,
    path: &str,
    min: i64,
    max: i64,
) -> Option<i64> {
    j.need_int(o, key, path, min, max)
}

fn rule(j: &mut JsonReader<'_>, o: &Obj, path: &str) -> Option<PrisonRule> {
    let name = j.need_str(o, "Name", path).map(String::from);
    let cond_text = field(o, "Cond").and_then(|v| v.as_str()).map(String::from);
    let sign = j
        .need_obj(o, "AccessSignConf", path)
        .and_then(|s| sign_conf(j, s, &format!("{path}.AccessSignConf")));
    let action = j
        .need_obj(o, "Action", path)
        .and_then(|a| action(j, a, &format!("{path}.Action")));
    let check = need_int(j, o, "CheckPeriod", path, 1, i64::MAX / 1_000_000_000);
    let stay = need_int(j, o, "StayPeriod", path, 0, i64::MAX / 1_000_000_000);
    let threshold = need_int(j, o, "Threshold", path, 0, i64::from(i32::MAX));
    let access = need_int(j, o, "AccessDictSize", path, 1, i64::from(i32::MAX));
    let prison = need_int(j, o, "PrisonDictSize", path, 1, i64::from(i32::MAX));
    Some(PrisonRule {
        name: name?,
        cond_text: cond_text?,
        sign: sign?,
        action: action?,
        check_period_ns: check? as u64 * 1_000_000_000,
        stay_period_ns: stay? as u64 * 1_000_000_000,
        threshold: threshold? as u64,
        access_dict_size: access? as usize,
        prison_dict_size: prison? as usize,
    })
}

fn flag(j: &mut JsonReader<'_>, o: &Obj, key: &str, path: &str) -> Option<bool> {
    match field(o, key) {
        None => Some(false),
        Some(v) => j.bool(v, &format!("{path}.{key}")),
    }
}

fn list(j: &mut JsonReader<'_>, o: &Obj, key: &str, path: &str) -> Option<Vec<String>> {
    match field(o, key) {
        None => Some(Vec::new()),
        Some(v) => j.strings(v, &format!("{path}.{key}")),
    }
}

fn sign_conf(j: &mut JsonReader<'_>, o: &Obj, path: &str) -> Option<SignConf> {
    let mut s = SignConf {
        use_socket_ip: flag(j, o, "UseSocketIP", path)?,
        use_client_ip: flag(j, o, "UseClientIP", path)?,
        use_connect_id: flag(j, o, "UseConnectID", path)?,
        use_url: flag(j, o, "UseUrl", path)?,
        use_host: flag(j, o, "UseHost", path)?,
        use_path: flag(j, o, "UsePath", path)?,
        use_headers: flag(j, o, "UseHeaders", path)?,
        header: list(j, o, "Header", path)?,
        cookie: list(j, o, "Cookie", path)?,
        ..SignConf::default()
    };
    s.query = list(j, o, "Query", path)?
        .into_iter()
        .map(|q| {
            let alts = q.split('|').map(String::from).collect();
            (q, alts)
        })
        .collect();
    let re = match field(o, "UrlRegexp") {
        None => "",
        Some(v) => j.str(v, &format!("{path}.UrlRegexp"))?,
    };
    if !re.is_empty() {
        let rpath = format!("{path}.UrlRegexp");
        match Regex::new(re) {
            Err(e) => {
                j.err(&rpath, format!("{re:?} does not compile: {e}"));
                return None;
            }
            Ok(r) if r.captures_len() <= 1 => {
                j.err(&rpath, format!("{re:?} has no subexpression"));
                return None;
            }
            Ok(r) => s.url_regexp = Some(r),
        }
    }
    Some(s)
}

fn action(j: &mut JsonReader<'_>, o: &Obj, path: &str) -> Option<Action> {
    let cmd = j.need_str(o, "Cmd", path)?.to_ascii_uppercase();
    let ppath = format!("{path}.Params");
    let params = match field(o, "Params") {
        None => Vec::new(),
        Some(v) => j.strings(v, &ppath)?,
    };
    let want = match cmd.as_str() {
        "CLOSE" | "FINISH" | "PASS" => 0,
        "REQ_HEADER_SET" => 2,
        // Commands BFE's action package knows but mod_prison refuses.
        "REQ_HEADER_ADD"
        | "REQ_HEADER_DEL"
        | "HOST_SET"
        | "HOST_SET_FROM_PATH_PREFIX"
        | "HOST_SUFFIX_REPLACE"
        | "PATH_SET"
        | "PATH_PREFIX_ADD"
        | "PATH_PREFIX_TRIM"
        | "QUERY_ADD"
        | "QUERY_RENAME"
        | "QUERY_DEL"
        | "QUERY_DEL_ALL_EXCEPT" => {
            j.err(
                &format!("{path}.Cmd"),
                format!("mod_prison action {cmd} not allowed"),
            );
            return None;
        }
        _ => {
            j.err(&format!("{path}.Cmd"), format!("invalid cmd {cmd}"));
            return None;
        }
    };
    if params.len() != want {
        j.err(
            &ppath,
            format!("{cmd} takes {want} params, got {}", params.len()),
        );
        return None;
    }
    if params.iter().any(String::is_empty) {
        j.err(&ppath, "empty param");
        return None;
    }
    Some(match cmd.as_str() {
        "CLOSE" => Action::Close,
        "FINISH" => Action::Finish,
        "PASS" => Action::Pass,
        _ => {
            if !params[0].to_ascii_uppercase().starts_with("X-BFE-") {
                j.err(
                    &ppath,
                    format!("header must start with X-Bfe-, got {}", params[0]),
                );
                return None;
            }
            Action::ReqHeaderSet(params[0].clone(), params[1].clone())
        }
    })
}
