//! mod_rewrite's actions (BFE's `bfe_basic/action` as mod_rewrite allows
//! them): parsed and checked once at load, applied to the request's host,
//! path and raw query.

use crate::basic::Request;
use crate::config::data::json::{self, J};
use crate::route::RequestFacts;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    HostSet(String),
    HostSetFromPathPrefix,
    /// The path, already escaped for the request line.
    PathSet(String),
    PathPrefixAdd(String),
    PathPrefixTrim(String),
    QueryAdd(String, String),
    QueryRename(String, String),
    QueryDel(Vec<String>),
    QueryDelAllExcept(Vec<String>),
}

/// Commands BFE's shared action parser knows but mod_rewrite refuses
/// ("not allowed Cmd").
const NOT_ALLOWED: &[&str] = &[
    "REQ_HEADER_ADD",
    "REQ_HEADER_SET",
    "REQ_HEADER_DEL",
    "CLOSE",
    "PASS",
    "FINISH",
];

/// One `{"Cmd": …, "Params": […]}`; `Cmd` is matched upper-cased, as BFE
/// does. Problems are reported at `path`.
pub fn parse_action(j: &mut J, v: &Value, path: &str) -> Option<Action> {
    let o = j.obj(v, path)?;
    let cmd = j.need_str(o, "Cmd", path)?.to_ascii_uppercase();
    let params = match json::field(o, "Params") {
        Some(p) => j.strings(p, &json::join(path, "Params"))?,
        None => Vec::new(),
    };
    let cpath = json::join(path, "Cmd");
    let want: Option<usize> = match cmd.as_str() {
        "HOST_SET_FROM_PATH_PREFIX" => Some(0),
        "HOST_SET" | "PATH_SET" | "PATH_PREFIX_ADD" | "PATH_PREFIX_TRIM" => Some(1),
        "QUERY_ADD" | "QUERY_RENAME" => Some(2),
        "QUERY_DEL" | "QUERY_DEL_ALL_EXCEPT" => None,
        c if NOT_ALLOWED.contains(&c) => {
            j.err(&cpath, format!("not allowed Cmd: {c}"));
            return None;
        }
        // HOST_SUFFIX_REPLACE included: BFE lists it for mod_rewrite, but
        // its action parser refuses it, so no BFE rule file can use it.
        c => {
            j.err(&cpath, format!("invalid cmd:{c}"));
            return None;
        }
    };
    let ppath = json::join(path, "Params");
    if let Some(n) = want {
        if params.len() != n {
            j.err(
                &ppath,
                format!("num of params:[ok:{n}, now:{}]", params.len()),
            );
            return None;
        }
    }
    if params.iter().any(String::is_empty) {
        j.err(&ppath, "empty Params");
        return None;
    }
    let p = |i: usize| params[i].clone();
    Some(match cmd.as_str() {
        "HOST_SET_FROM_PATH_PREFIX" => Action::HostSetFromPathPrefix,
        "HOST_SET" => Action::HostSet(p(0)),
        "PATH_SET" => Action::PathSet(escape_path(&params[0])),
        "PATH_PREFIX_ADD" => Action::PathPrefixAdd(p(0)),
        "PATH_PREFIX_TRIM" => Action::PathPrefixTrim(p(0)),
        "QUERY_ADD" => Action::QueryAdd(p(0), p(1)),
        "QUERY_RENAME" => Action::QueryRename(p(0), p(1)),
        "QUERY_DEL" => Action::QueryDel(params),
        _ => Action::QueryDelAllExcept(params),
    })
}

/// Percent-encode what may not appear raw in a request-line path (Go
/// escapes a `URL.Path` it forwards the same way; `%` is kept so an
/// already-escaped path stays as written).
pub fn escape_path(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    for &b in p.as_bytes() {
        let raw = b > 0x20
            && b < 0x7f
            && !matches!(
                b,
                b'"' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}' | b'?' | b'#'
            );
        if raw {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Action {
    pub fn apply(&self, req: &mut Request) {
        match self {
            Action::HostSet(h) => req.set_host(h),
            Action::HostSetFromPathPrefix => host_from_path(req),
            Action::PathSet(p) => req.set_path(p),
            Action::PathPrefixAdd(prefix) => {
                let path = lossy(req.path());
                let rest = path.strip_prefix('/').unwrap_or(&path);
                let mut new = String::with_capacity(prefix.len() + rest.len() + 1);
                if !prefix.starts_with('/') {
                    new.push('/');
                }
                new.push_str(prefix);
                new.push_str(rest);
                req.set_path(&new);
            }
            Action::PathPrefixTrim(prefix) => {
                let path = lossy(req.path());
                let rest = path.strip_prefix(prefix.as_str()).unwrap_or(&path);
                if rest.starts_with('/') {
                    let rest = rest.to_string();
                    req.set_path(&rest);
                } else {
                    let new = format!("/{rest}");
                    req.set_path(&new);
                }
            }
            Action::QueryAdd(k, v) => {
                let q = lossy(req.query());
                let new = if q.is_empty() {
                    format!("{k}={v}")
                } else {
                    format!("{q}&{k}={v}")
                };
                req.set_query(&new);
            }
            Action::QueryRename(old, new) => {
                let q = lossy(req.query()).into_owned();
                if let Some(out) = query_rename(&q, old, new) {
                    req.set_query(&out);
                }
            }
            Action::QueryDel(keys) => {
                let q = lossy(req.query()).into_owned();
                let out = query_filter(&q, |pair| !keys.iter().any(|k| pair_has_key(pair, k)));
                req.set_query(&out);
            }
            Action::QueryDelAllExcept(keys) => {
                let q = lossy(req.query()).into_owned();
                let out = query_filter(&q, |pair| match pair.split_once('=') {
                    Some((k, _)) => keys.iter().any(|w| w == k),
                    // BFE looks for `&key=`: a pair without `=` stays.
                    None => true,
                });
                req.set_query(&out);
            }
        }
    }
}

fn lossy(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b)
}

/// `/<seg1>/<rest>` → Host `seg1`, path `/<rest>`; fewer segments: nothing.
fn host_from_path(req: &mut Request) {
    let path = lossy(req.path()).into_owned();
    let mut segs = path.splitn(3, '/');
    let (Some(_), Some(host), Some(rest)) = (segs.next(), segs.next(), segs.next()) else {
        return;
    };
    let new_path = format!("/{rest}");
    req.set_host(host);
    req.set_path(&new_path);
}

/// Whether a raw `key=value` pair has this key (BFE matches `&key=`).
fn pair_has_key(pair: &str, key: &str) -> bool {
    pair.len() > key.len() && pair.starts_with(key) && pair.as_bytes()[key.len()] == b'='
}

/// The pairs of a raw query that `keep` accepts, `&`-joined.
fn query_filter(q: &str, keep: impl Fn(&str) -> bool) -> String {
    let mut out = String::with_capacity(q.len());
    let mut first = true;
    for pair in q.split('&') {
        if keep(pair) {
            if !first {
                out.push('&');
            }
            out.push_str(pair);
            first = false;
        }
    }
    out
}

/// Every `old=` pair renamed `new=`; `None` when the query has no `old` key
/// (a bare `old` counts as present, as Go's query parser sees it, but only
/// `old=` pairs are renamed).
fn query_rename(q: &str, old: &str, new: &str) -> Option<String> {
    let present = q
        .split('&')
        .any(|p| p.split_once('=').map_or(p, |(k, _)| k) == old);
    if !present {
        return None;
    }
    let pairs: Vec<String> = q
        .split('&')
        .map(|p| {
            if pair_has_key(p, old) {
                format!("{new}{}", &p[old.len()..])
            } else {
                p.to_string()
            }
        })
        .collect();
    Some(pairs.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_helpers() {
        assert_eq!(
            query_filter("a=1&b=2&a=3", |p| !pair_has_key(p, "a")),
            "b=2"
        );
        assert_eq!(query_filter("a=1", |p| !pair_has_key(p, "a")), "");
        assert_eq!(
            query_rename("a=1&ab=2&a=3", "a", "z").as_deref(),
            Some("z=1&ab=2&z=3")
        );
        assert_eq!(query_rename("b=1", "a", "z"), None);
        assert_eq!(query_rename("a&b=1", "a", "z").as_deref(), Some("a&b=1"));
        assert_eq!(escape_path("/a b?c"), "/a%20b%3Fc");
    }
}
