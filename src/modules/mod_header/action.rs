//! Applying mod_header's actions to a request or a response.

use super::conf::{Action, CookieValue, Seg};
use super::cookie;
use super::vars;
use super::Scratch;
use crate::basic::{Request, Response};

/// Expand a value's segments for `req` into `out` (cleared first).
pub fn expand(segs: &[Seg], req: &Request, server_name: &str, out: &mut String) {
    out.clear();
    for s in segs {
        match s {
            Seg::Lit(l) => out.push_str(l),
            Seg::Var(v) => vars::expand(*v, req, server_name, out),
        }
    }
}

fn cookie_value(v: &CookieValue, req: &Request, server_name: &str, out: &mut String) {
    out.clear();
    match v {
        CookieValue::Lit(l) => out.push_str(l),
        CookieValue::Var(v) => vars::expand(*v, req, server_name, out),
    }
}

/// `scheme_set`: a value starting `http://` or `https://` gets `scheme`.
pub fn scheme_set(value: &str, scheme: &str, out: &mut String) {
    out.clear();
    match value.split_once(':') {
        Some((_, rest)) if value.starts_with("http://") || value.starts_with("https://") => {
            out.push_str(scheme);
            out.push(':');
            out.push_str(rest);
        }
        _ => out.push_str(value),
    }
}

/// `query_add`: `key=value` appended (raw, `&`-joined) to the URL's query,
/// before any fragment.
pub fn query_add(value: &str, key: &str, val: &str, out: &mut String) {
    out.clear();
    let (base, frag) = match value.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (value, None),
    };
    out.push_str(base);
    match base.split_once('?') {
        Some((_, q)) if !q.is_empty() => out.push('&'),
        Some(_) => {}
        None => out.push('?'),
    }
    out.push_str(key);
    out.push('=');
    out.push_str(val);
    if let Some(f) = frag {
        out.push('#');
        out.push_str(f);
    }
}

/// A header's first value, as text ("" when absent).
fn first(v: Option<&[u8]>, out: &mut String) {
    out.clear();
    if let Some(v) = v {
        out.push_str(&String::from_utf8_lossy(v));
    }
}

/// Apply a request-side action.
pub fn apply_req(a: &Action, req: &mut Request, server_name: &str, s: &mut Scratch) {
    use crate::route::RequestFacts;
    match a {
        Action::Set(n, segs) => {
            expand(segs, req, server_name, &mut s.value);
            req.set_header(n, &s.value);
        }
        Action::Add(n, segs) => {
            expand(segs, req, server_name, &mut s.value);
            req.add_header(n, &s.value);
        }
        Action::Del(n) => req.del_header(n),
        Action::Rename(old, new) => {
            first(req.header(old.as_bytes()), &mut s.value);
            let new_empty = req.header(new.as_bytes()).is_none_or(<[u8]>::is_empty);
            if !s.value.is_empty() && new_empty {
                req.set_header(new, &s.value);
                req.del_header(old);
            }
        }
        Action::SchemeSet(h, scheme) => {
            first(req.header(h.as_bytes()), &mut s.other);
            if !s.other.is_empty() {
                scheme_set(&s.other, scheme, &mut s.value);
                req.set_header(h, &s.value);
            }
        }
        Action::QueryAdd(h, k, v) => {
            first(req.header(h.as_bytes()), &mut s.other);
            if !s.other.is_empty() {
                query_add(&s.other, k, v, &mut s.value);
                req.set_header(h, &s.value);
            }
        }
        Action::ReqCookieSet(name, v) => {
            cookie_value(v, req, server_name, &mut s.value);
            cookie::req_set(req, name, &s.value);
        }
        Action::ReqCookieDel(name) => cookie::req_del(req, name),
        // Response actions are never in a request-side list.
        Action::RspCookieSet(_) | Action::RspCookieDel(..) => {}
    }
}

/// Apply a response-side action.
pub fn apply_rsp(
    a: &Action,
    req: &Request,
    res: &mut Response,
    server_name: &str,
    s: &mut Scratch,
) {
    match a {
        Action::Set(n, segs) => {
            expand(segs, req, server_name, &mut s.value);
            res.set_header(n, &s.value);
        }
        Action::Add(n, segs) => {
            expand(segs, req, server_name, &mut s.value);
            res.add_header(n, &s.value);
        }
        Action::Del(n) => res.del_header(n),
        Action::Rename(old, new) => {
            first(res.header(old), &mut s.value);
            let new_empty = res.header(new).is_none_or(<[u8]>::is_empty);
            if !s.value.is_empty() && new_empty {
                res.set_header(new, &s.value);
                res.del_header(old);
            }
        }
        Action::SchemeSet(h, scheme) => {
            first(res.header(h), &mut s.other);
            if !s.other.is_empty() {
                scheme_set(&s.other, scheme, &mut s.value);
                res.set_header(h, &s.value);
            }
        }
        Action::QueryAdd(h, k, v) => {
            first(res.header(h), &mut s.other);
            if !s.other.is_empty() {
                query_add(&s.other, k, v, &mut s.value);
                res.set_header(h, &s.value);
            }
        }
        Action::RspCookieSet(c) => {
            cookie_value(&c.value, req, server_name, &mut s.value);
            let value = std::mem::take(&mut s.value);
            cookie::rsp_set(res, c, &value, &mut s.other);
            s.value = value;
        }
        Action::RspCookieDel(name, domain, path) => cookie::rsp_del(res, name, domain, path),
        Action::ReqCookieSet(..) | Action::ReqCookieDel(_) => {}
    }
}
