//! mod_session_sticky: keeps a client on one backend (BFE #34).
//!
//! - HandleAfterLocation (decode, always `GoOn`): the first rule of the
//!   product (of `global` when the product has no entry) whose condition
//!   holds is remembered for the response. A `Cookie` rule reads cookie
//!   `CookieKey`, a masked and base64-encoded JSON naming the backend
//!   ([`codec`]); a `Sticky` rule takes a sticky id from cookie
//!   `CookieKey`, else header `Header`, else query `URIParam`, and looks it
//!   up in the worker's cache ([`cache`]). A backend found is put in the
//!   request context as [`StickyBackend`] (BFE's
//!   `SessionStickyBackendKey`), which the balancer tries first: its
//!   sub-cluster (GSLB weight > 0) and backend (weighted, not down). A
//!   backend that is gone or down is ignored and the request is balanced
//!   as usual, as in BFE.
//! - HandleReadResponse (encode, always `GoOn`), on backend responses: a
//!   `Cookie` rule sets `Set-Cookie: <CookieKey>=<backend used>` (with
//!   `Path`, `Domain`, `Max-Age`, `HttpOnly`, `Secure`) when the request
//!   had no valid cookie, the backend changed or the cookie's renew time
//!   passed; a `Sticky` rule stores the sticky id the response sets in
//!   cookie `CookieKey` → the backend used.
//!
//! Reload: `/reload/mod_session_sticky` (`?path=`), re-reading the data
//! file named at start. `CacheType = redis` is refused until ringfront has
//! a Redis client.

pub mod cache;
pub mod codec;
pub mod conf;

use crate::basic::{Request, Response, StickyBackend};
use crate::module::conf::{ProductRules, Rule};
use crate::module::{
    joined, InitCtx, Module, ModuleConf, ModuleError, Reloaded, RequestPoint, ResponsePoint, Ret,
    Tables, WebHandlers,
};
use crate::route::bytes::decoded_query;
use crate::route::condition::params::query_value;
use crate::route::RequestFacts;
use cache::StickyCache;
use codec::CookieBackend;
use conf::{RuleType, StickyRule};
use std::cell::RefCell;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

pub const NAME: &str = "mod_session_sticky";

/// The table every worker holds a copy of.
#[derive(Debug, Clone)]
pub struct StickyTable {
    pub rules: ProductRules<StickyRule>,
    pub version: String,
    /// The data file read at start; a reload reads it again (BFE keeps
    /// the path from start too).
    pub data_path: PathBuf,
    pub cache_size: usize,
    pub open_debug: bool,
    /// Tells loads apart, so a response is encoded with the rule its
    /// request was decoded with, or not at all after a reload.
    pub load_id: u64,
    /// No product (`global` included) has a rule: decode returns at once.
    pub empty: bool,
}

/// What decode leaves for encode, in the request's context.
#[derive(Debug)]
pub struct StickyState {
    load_id: u64,
    /// Index into the rules that applied (product's, else `global`).
    rule: usize,
    /// The backend the request's cookie named (`Cookie` rules).
    decoded: Option<CookieBackend>,
}

/// Each load gets its own id (control thread only).
static LOADS: AtomicU64 = AtomicU64::new(1);

pub struct ModSessionSticky;

impl Module for ModSessionSticky {
    fn name(&self) -> &'static str {
        NAME
    }

    fn check(&self, root: &Path) -> Result<ModuleConf, Vec<ModuleError>> {
        let c = conf::read_conf(root)?;
        let table = load_table(root, &c.data_path, c.cache_size, c.open_debug)?;
        Ok(ModuleConf::new(table))
    }

    fn web(&self, web: &mut WebHandlers) {
        web.reload(NAME, |ctx| {
            let cur = ctx.table::<StickyTable>(NAME)?;
            let path = ctx.data_path(&cur.data_path);
            let mut t =
                load_table(ctx.conf_root, path, cur.cache_size, cur.open_debug).map_err(joined)?;
            t.data_path = cur.data_path.clone();
            // BFE's reload answers without a version.
            Ok(Reloaded {
                conf: ModuleConf::new(t),
                version: None,
            })
        });
    }

    fn init(&self, ctx: &mut InitCtx<'_>) -> Result<(), ModuleError> {
        let table = ctx.conf::<StickyTable>()?;
        let size = table.borrow().cache_size;
        let cache = Rc::new(RefCell::new(StickyCache::new(size)));
        let (t, c) = (table.clone(), cache.clone());
        let cbs = ctx.callbacks();
        cbs.on_request(RequestPoint::AfterLocation, move |req| {
            (decode(&t, &c, req), None::<Response>)
        });
        cbs.on_response(ResponsePoint::ReadResponse, move |req, res| {
            encode(&table, &cache, req, res)
        });
        Ok(())
    }
}

fn load_table(
    root: &Path,
    path: &Path,
    cache_size: usize,
    open_debug: bool,
) -> Result<StickyTable, Vec<ModuleError>> {
    let v = conf::load_rules(root, path)?;
    let empty = v
        .value
        .products()
        .iter()
        .all(|p| v.value.product(p).is_empty());
    Ok(StickyTable {
        empty,
        rules: v.value,
        version: v.version,
        data_path: path.to_path_buf(),
        cache_size,
        open_debug,
        load_id: LOADS.fetch_add(1, Ordering::Relaxed),
    })
}

/// The rules for the request's product: its own, else `global`'s.
fn rules_for<'t>(t: &'t StickyTable, req: &Request) -> &'t [Rule<StickyRule>] {
    match req.product_name() {
        Some(p) => t.rules.product_or_global(p),
        None => t.rules.global(),
    }
}

/// HandleAfterLocation: find the rule, read what the request carries, and
/// ask the balancer for the backend it names.
pub fn decode(table: &Tables<StickyTable>, cache: &RefCell<StickyCache>, req: &mut Request) -> Ret {
    let t = table.borrow();
    if t.empty {
        return Ret::GoOn;
    }
    let rules = rules_for(&t, req);
    if rules.is_empty() {
        return Ret::GoOn;
    }
    let Some(idx) = rules.iter().position(|r| r.cond.eval(&*req)) else {
        return Ret::GoOn;
    };
    let rule = &rules[idx].rule;
    let (decoded, backend) = match rule.kind {
        RuleType::Cookie => {
            let d = req
                .cookie(&rule.cookie_key)
                .and_then(|v| codec::decode(v, &rule.mask, &rule.standby_mask));
            let b = d.as_ref().and_then(wanted);
            (d, b)
        }
        RuleType::Sticky => {
            let b = sticky_id(rule, req).and_then(|id| cache.borrow_mut().get(&id));
            (None, b)
        }
    };
    if t.open_debug {
        log::debug!("{NAME}: decode: rule {idx}, backend {backend:?}");
    }
    let state = StickyState {
        load_id: t.load_id,
        rule: idx,
        decoded,
    };
    drop(t);
    req.ctx.insert(state);
    if let Some(b) = backend {
        req.ctx.insert(b);
    }
    Ret::GoOn
}

/// The balancer's form of a decoded cookie; none when the address is not
/// an IP and port (no backend can have it).
fn wanted(d: &CookieBackend) -> Option<StickyBackend> {
    let ip: IpAddr = d.ip.parse().ok()?;
    let port = u16::try_from(d.port).ok()?;
    Some(StickyBackend {
        addr: SocketAddr::new(ip, port),
        subcluster: d.subcluster.clone(),
    })
}

/// A `Sticky` rule's id: cookie, else header, else query parameter.
fn sticky_id(rule: &StickyRule, req: &Request) -> Option<String> {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    if let Some(v) = req.cookie(&rule.cookie_key).filter(|v| !v.is_empty()) {
        return Some(text(v));
    }
    if !rule.header.is_empty() {
        let h = RequestFacts::header(req, rule.header.as_bytes());
        if let Some(v) = h.filter(|v| !v.is_empty()) {
            return Some(text(v));
        }
    }
    if !rule.uri_param.is_empty() {
        if let Some(raw) = query_value(req.query(), rule.uri_param.as_bytes()) {
            let v: Vec<u8> = decoded_query(raw).collect();
            if !v.is_empty() {
                return Some(text(&v));
            }
        }
    }
    None
}

/// HandleReadResponse: write down the backend that answered.
pub fn encode(
    table: &Tables<StickyTable>,
    cache: &RefCell<StickyCache>,
    req: &mut Request,
    res: &mut Response,
) -> Ret {
    let Some(state) = req.ctx.get::<StickyState>() else {
        return Ret::GoOn;
    };
    if !res.is_backend() {
        return Ret::GoOn;
    }
    let t = table.borrow();
    if state.load_id != t.load_id {
        return Ret::GoOn;
    }
    let Some(rule) = rules_for(&t, req).get(state.rule).map(|r| &r.rule) else {
        return Ret::GoOn;
    };
    let Some(used) = used_backend(req) else {
        return Ret::GoOn;
    };
    match rule.kind {
        RuleType::Cookie => {
            if let Some(cookie) = cookie_to_set(rule, state.decoded.as_ref(), &used, now()) {
                if t.open_debug {
                    log::debug!("{NAME}: encode: Set-Cookie {cookie}");
                }
                res.add_header("Set-Cookie", &cookie);
            }
        }
        RuleType::Sticky => {
            if let Some(id) = response_cookie(res, &rule.cookie_key) {
                cache.borrow_mut().insert(&id, used);
            }
        }
    }
    Ret::GoOn
}

/// The backend and sub-cluster the request went to.
fn used_backend(req: &Request) -> Option<StickyBackend> {
    let addr = req.route.backend?.addr;
    let sub = req.cluster_conf()?.subclusters.get(req.route.subcluster?)?;
    Some(StickyBackend {
        addr,
        subcluster: sub.name.clone(),
    })
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The `Set-Cookie` value when one is due (BFE's three cases: no valid
/// cookie, another backend, renew time passed), else None.
pub fn cookie_to_set(
    rule: &StickyRule,
    had: Option<&CookieBackend>,
    used: &StickyBackend,
    now: i64,
) -> Option<String> {
    let due = match had {
        None => true,
        Some(h) => wanted(h).as_ref() != Some(used) || h.renew_time.is_some_and(|r| now >= r),
    };
    if !due {
        return None;
    }
    let renew = (rule.renew_window > 0 && rule.max_age > 0)
        .then(|| now + rule.max_age - rule.renew_window)
        .filter(|&r| r > 0);
    let bk = CookieBackend {
        ip: used.addr.ip().to_string(),
        port: used.addr.port() as i64,
        subcluster: used.subcluster.clone(),
        renew_time: renew,
    };
    let mut c = format!("{}={}", rule.cookie_key, codec::encode(&bk, &rule.mask));
    if !rule.path.is_empty() {
        c.push_str("; Path=");
        c.push_str(&rule.path);
    }
    if !rule.domain.is_empty() {
        c.push_str("; Domain=");
        c.push_str(rule.domain.strip_prefix('.').unwrap_or(&rule.domain));
    }
    if rule.max_age > 0 {
        c.push_str(&format!("; Max-Age={}", rule.max_age));
    }
    if rule.http_only {
        c.push_str("; HttpOnly");
    }
    if rule.secure {
        c.push_str("; Secure");
    }
    Some(c)
}

/// The value of cookie `name` in the response's `Set-Cookie` headers.
fn response_cookie(res: &Response, name: &str) -> Option<String> {
    res.headers().find_map(|(k, v)| {
        if !k.eq_ignore_ascii_case(b"set-cookie") {
            return None;
        }
        let first = v.split(|&b| b == b';').next()?;
        let eq = first.iter().position(|&b| b == b'=')?;
        let (n, val) = (trim(&first[..eq]), trim(&first[eq + 1..]));
        let val = val
            .strip_prefix(b"\"")
            .and_then(|v| v.strip_suffix(b"\""))
            .unwrap_or(val);
        (n == name.as_bytes() && !val.is_empty()).then(|| String::from_utf8_lossy(val).into_owned())
    })
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &s[start..end]
}

#[cfg(test)]
mod tests;
