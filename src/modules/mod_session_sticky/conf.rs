//! mod_session_sticky's files in BFE's formats: the INI conf
//! (`[Basic] DataPath, CacheSize, CacheType`, `[Redis] …`, `[Log]
//! OpenDebug`) and the product rule file.

use super::NAME;
use crate::config::data::json::Obj;
use crate::module::conf::{
    conf_path, field, resolve, IniConf, JsonReader, ProductRules, Versioned,
};
use crate::module::ModuleError;
use std::path::{Path, PathBuf};

/// BFE's default `DataPath` (its shipped conf names another file).
const DEFAULT_DATA_PATH: &str = "mod_session_sticky/session_sticky.data";
/// BFE's smallest cache: smaller `CacheSize` values are raised to it.
pub const MIN_CACHE_SIZE: usize = 10000;
const MIN_MASK_LEN: usize = 4;

/// `mod_session_sticky.conf`.
#[derive(Debug, Clone)]
pub struct StickyConf {
    pub data_path: PathBuf,
    /// Entries of each worker's sticky-id cache (`Sticky` rules).
    pub cache_size: usize,
    pub open_debug: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleType {
    /// The backend is encoded in the cookie itself.
    Cookie,
    /// A sticky id (cookie, header, query) maps to a backend in a cache.
    Sticky,
}

/// One rule, with BFE's defaults filled in.
#[derive(Debug, Clone)]
pub struct StickyRule {
    pub kind: RuleType,
    pub cookie_key: String,
    pub domain: String,
    pub path: String,
    pub max_age: i64,
    pub mask: Vec<u8>,
    pub standby_mask: Vec<u8>,
    pub header: String,
    pub uri_param: String,
    pub secure: bool,
    pub http_only: bool,
    pub renew_window: i64,
}

/// Reads the conf. `CacheType = redis` is refused: ringfront has no Redis
/// client yet. The `[Redis]` keys are accepted (BFE's shipped conf sets
/// them next to `CacheType = local`) and, as in BFE, unused in local mode.
pub fn read_conf(root: &Path) -> Result<StickyConf, Vec<ModuleError>> {
    let file = conf_path(root, NAME);
    let mut ini = IniConf::read(root, &file).map_err(|e| ModuleError::confs(NAME, &e))?;
    let path = ini.string("Basic", "DataPath").unwrap_or_default();
    let size = ini.int("Basic", "CacheSize").unwrap_or(0);
    let cache_type = ini.string("Basic", "CacheType").unwrap_or_default();
    match cache_type.as_str() {
        "" | "local" => {}
        "redis" => ini.error(
            "Basic",
            "CacheType",
            "redis is not supported by ringfront (no Redis client); use local",
        ),
        other => ini.error(
            "Basic",
            "CacheType",
            format!("must be 'local' or 'redis', got {other:?}"),
        ),
    }
    let _ = ini.string("Redis", "Bns");
    for key in [
        "ConnectTimeout",
        "ReadTimeout",
        "WriteTimeout",
        "MaxIdle",
        "MaxActive",
        "ExpireSeconds",
    ] {
        let _ = ini.int("Redis", key);
    }
    let _ = ini.string("Redis", "Password");
    let open_debug = ini.bool("Log", "OpenDebug").unwrap_or(false);
    ini.finish().map_err(|e| ModuleError::confs(NAME, &e))?;
    let path = if path.is_empty() {
        DEFAULT_DATA_PATH
    } else {
        &path
    };
    Ok(StickyConf {
        data_path: resolve(root, path),
        cache_size: usize::try_from(size).unwrap_or(0).max(MIN_CACHE_SIZE),
        open_debug,
    })
}

/// Reads the rule file with BFE's checks (`Version` and `Config`
/// required, per rule: `Cond` required, mask codes of at least 4 bytes, a
/// non-blank `CookieKey`, `MaxAge` ≥ 0, `Path` starting with `/`, `Type`
/// `Cookie` or `Sticky`, a `Sticky` rule naming its `CookieKey`).
/// `StickyRequestField`/`StickyResponseField` (sticky ids in JSON bodies)
/// are refused: ringfront does not read bodies for this.
pub fn load_rules(
    root: &Path,
    path: &Path,
) -> Result<Versioned<ProductRules<StickyRule>>, Vec<ModuleError>> {
    let v = crate::module::conf::read_json(root, path, |j, obj| {
        let config = j.need(obj, "Config", "")?;
        Some(ProductRules::parse(j, config, "Config", parse_rule))
    })
    .map_err(|e| ModuleError::confs(NAME, &e))?;
    Ok(v)
}

fn opt_str<'v>(j: &mut JsonReader, obj: &'v Obj, key: &str, path: &str) -> Option<Option<&'v str>> {
    match field(obj, key) {
        None | Some(serde_json::Value::Null) => Some(None),
        Some(v) => j.str(v, &format!("{path}.{key}")).map(Some),
    }
}

fn opt_bool(j: &mut JsonReader, obj: &Obj, key: &str, path: &str) -> Option<Option<bool>> {
    match field(obj, key) {
        None | Some(serde_json::Value::Null) => Some(None),
        Some(v) => j.bool(v, &format!("{path}.{key}")).map(Some),
    }
}

fn opt_int(j: &mut JsonReader, obj: &Obj, key: &str, path: &str) -> Option<Option<i64>> {
    match field(obj, key) {
        None | Some(serde_json::Value::Null) => Some(None),
        Some(v) => j
            .int(
                v,
                &format!("{path}.{key}"),
                i32::MIN as i64,
                i32::MAX as i64,
            )
            .map(Some),
    }
}

fn parse_rule(j: &mut JsonReader, obj: &Obj, path: &str) -> Option<StickyRule> {
    let at = |k: &str| format!("{path}.{k}");
    let kind = match opt_str(j, obj, "Type", path)? {
        None | Some("Cookie") => RuleType::Cookie,
        Some("Sticky") => RuleType::Sticky,
        Some(t) => {
            j.err(&at("Type"), format!("must be Cookie or Sticky, got {t:?}"));
            return None;
        }
    };
    let cookie_key = opt_str(j, obj, "CookieKey", path)?;
    if cookie_key.is_some_and(|k| k.trim_matches(' ').is_empty()) {
        j.err(&at("CookieKey"), "must not be empty");
        return None;
    }
    if kind == RuleType::Sticky && cookie_key.is_none() {
        j.err(&at("CookieKey"), "required for a Sticky rule");
        return None;
    }
    let mask = |j: &mut JsonReader, key: &str, default: &str| -> Option<Vec<u8>> {
        let m = opt_str(j, obj, key, path)?.unwrap_or(default);
        if m.len() < MIN_MASK_LEN {
            j.err(&at(key), format!("must be at least {MIN_MASK_LEN} bytes"));
            return None;
        }
        Some(m.as_bytes().to_vec())
    };
    let mask_code = mask(j, "MaskCode", "defaultmask")?;
    let standby_mask = mask(j, "StandbyMaskCode", "standbymask")?;
    let max_age = opt_int(j, obj, "MaxAge", path)?.unwrap_or(3600);
    if max_age < 0 {
        j.err(&at("MaxAge"), "must not be less than 0");
        return None;
    }
    let cookie_path = opt_str(j, obj, "Path", path)?.unwrap_or_default();
    if field(obj, "Path").is_some_and(|v| !v.is_null()) && !cookie_path.starts_with('/') {
        j.err(&at("Path"), "must start with /");
        return None;
    }
    // Go drops or rewrites bad bytes when it writes the cookie; a rule
    // that would be rewritten is refused here instead.
    let ck = cookie_key.unwrap_or("bfe_ssbl");
    if !ck.bytes().all(is_token) {
        j.err(&at("CookieKey"), format!("{ck:?} is not a cookie name"));
        return None;
    }
    if cookie_path
        .bytes()
        .any(|b| b < 0x20 || b == 0x7f || b == b';')
    {
        j.err(&at("Path"), "holds a control character or ';'");
        return None;
    }
    let domain = opt_str(j, obj, "Domain", path)?.unwrap_or_default();
    if !domain
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
    {
        j.err(&at("Domain"), format!("{domain:?} is not a cookie domain"));
        return None;
    }
    for key in ["StickyRequestField", "StickyResponseField"] {
        if opt_str(j, obj, key, path)?.is_some_and(|s| !s.is_empty()) {
            j.err(
                &at(key),
                "sticky ids in JSON bodies are not supported by ringfront",
            );
            return None;
        }
    }
    let renew_window = match opt_int(j, obj, "RenewWindow", path)? {
        Some(w) => w,
        None if max_age > 0 => max_age / 2,
        None => 0,
    };
    Some(StickyRule {
        kind,
        cookie_key: ck.to_string(),
        domain: domain.to_string(),
        path: cookie_path.to_string(),
        max_age,
        mask: mask_code,
        standby_mask,
        header: opt_str(j, obj, "Header", path)?
            .unwrap_or_default()
            .to_string(),
        uri_param: opt_str(j, obj, "URIParam", path)?
            .unwrap_or_default()
            .to_string(),
        secure: opt_bool(j, obj, "Secure", path)?.unwrap_or(false),
        http_only: opt_bool(j, obj, "HttpOnly", path)?.unwrap_or(false),
        renew_window,
    })
}

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}
