//! Cookie actions: the request's `Cookie` header (REQ_COOKIE_*) and the
//! response's `Set-Cookie` headers (RSP_COOKIE_*), as BFE's
//! `action_cookie.go` edits them.

use super::conf::CookieValue;
use crate::basic::{Request, Response};
use crate::route::condition::params::cookies;
use std::fmt::Write;

/// An `RSP_COOKIE_SET` cookie, checked at load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetCookie {
    pub name: String,
    pub value: CookieValue,
    pub domain: String,
    pub path: String,
    /// `Expires` as sent (`Mon, 02 Jan 2006 15:04:05 GMT`); `None` when
    /// Go would leave it out (a year before 1601).
    pub expires: Option<String>,
    pub max_age: i64,
    pub http_only: bool,
    pub secure: bool,
}

const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn num(s: &str) -> Option<u32> {
    s.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| s.parse().ok())
        .flatten()
}

/// Go's `time.Parse(time.RFC1123, s)` (`Mon, 02 Jan 2006 15:04:05 MST`),
/// zone taken as UTC, re-formatted as Go's cookie writer sends it. `None`
/// when it does not parse; `Some(None)` for a year Go would not send.
pub fn parse_rfc1123(s: &str) -> Option<Option<String>> {
    let (wd, rest) = s.split_once(", ")?;
    if !DAYS.contains(&wd) {
        return None;
    }
    let f: Vec<&str> = rest.split(' ').collect();
    let [day, mon, year, time, zone] = f.as_slice() else {
        return None;
    };
    let (day, year) = (num(day)?, num(year)?);
    if f[0].len() != 2 || f[2].len() != 4 {
        return None;
    }
    let month = MONTHS.iter().position(|m| m == mon)? as u32 + 1;
    let t: Vec<&str> = time.split(':').collect();
    let [h, m, sec] = t.as_slice() else {
        return None;
    };
    if [h, m, sec].iter().any(|x| x.len() != 2) {
        return None;
    }
    let (h, m, sec) = (num(h)?, num(m)?, num(sec)?);
    let zone_ok = (3..=5).contains(&zone.len()) && zone.bytes().all(|b| b.is_ascii_uppercase());
    if !zone_ok || h > 23 || m > 59 || sec > 59 || day == 0 || day > days_in(year, month) {
        return None;
    }
    if year < 1601 {
        return Some(None);
    }
    let wd = weekday(year as i64, month, day);
    Some(Some(format!(
        "{}, {day:02} {} {year:04} {h:02}:{m:02}:{sec:02} GMT",
        DAYS[wd],
        MONTHS[month as usize - 1]
    )))
}

fn days_in(y: u32, m: u32) -> u32 {
    match m {
        2 if (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Day of the week (0 = Sunday), Sakamoto's method.
fn weekday(mut y: i64, m: u32, d: u32) -> usize {
    const T: [i64; 12] = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4];
    if m < 3 {
        y -= 1;
    }
    ((y + y / 4 - y / 100 + y / 400 + T[m as usize - 1] + d as i64).rem_euclid(7)) as usize
}

/// Go's `sanitizeCookieValue`: bytes a cookie value may not hold are
/// dropped; a value with a space or comma is quoted.
fn push_value(out: &mut String, v: &str) {
    let ok = |b: u8| b == b' ' || b == b',' || (0x20 < b && b < 0x7f && !b"\";\\".contains(&b));
    let quote = v.bytes().any(|b| b == b' ' || b == b',');
    if quote {
        out.push('"');
    }
    out.extend(v.bytes().filter(|&b| ok(b)).map(char::from));
    if quote {
        out.push('"');
    }
}

impl SetCookie {
    /// The `Set-Cookie` value, as Go's `Cookie.String` writes it.
    pub fn write(&self, value: &str, out: &mut String) {
        out.push_str(&self.name);
        out.push('=');
        push_value(out, value);
        let _ = write!(out, "; Path={}", self.path);
        let d = self.domain.strip_prefix('.').unwrap_or(&self.domain);
        let _ = write!(out, "; Domain={d}");
        if let Some(e) = &self.expires {
            let _ = write!(out, "; Expires={e}");
        }
        if self.max_age > 0 {
            let _ = write!(out, "; Max-Age={}", self.max_age);
        } else if self.max_age < 0 {
            out.push_str("; Max-Age=0");
        }
        if self.http_only {
            out.push_str("; HttpOnly");
        }
        if self.secure {
            out.push_str("; Secure");
        }
    }
}

/// Every cookie the request sends, over all its `Cookie` headers.
fn req_cookies(req: &Request) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (n, v) in req.headers() {
        if n.eq_ignore_ascii_case(b"cookie") {
            for (cn, cv) in cookies(v) {
                out.push((
                    String::from_utf8_lossy(cn).into_owned(),
                    String::from_utf8_lossy(cv).into_owned(),
                ));
            }
        }
    }
    out
}

/// Replace the request's cookies by `list`, in one `Cookie` header.
fn put_req_cookies(req: &mut Request, list: &[(String, String)]) {
    req.del_header("Cookie");
    if list.is_empty() {
        return;
    }
    let mut line = String::new();
    for (n, v) in list {
        if !line.is_empty() {
            line.push_str("; ");
        }
        line.push_str(n);
        line.push('=');
        push_value(&mut line, v);
    }
    req.set_header("Cookie", &line);
}

/// REQ_COOKIE_SET: replace the cookie's value where sent, else append it
/// to the first `Cookie` header (Go's `AddCookie`).
pub fn req_set(req: &mut Request, name: &str, value: &str) {
    let mut list = req_cookies(req);
    if list.iter().any(|(n, _)| n == name) {
        for (n, v) in list.iter_mut() {
            if n == name {
                *v = value.to_string();
            }
        }
        put_req_cookies(req, &list);
        return;
    }
    let mut line = String::new();
    if let Some(first) = crate::route::RequestFacts::header(req, b"cookie") {
        if !first.is_empty() {
            line.push_str(&String::from_utf8_lossy(first));
            line.push_str("; ");
        }
    }
    line.push_str(name);
    line.push('=');
    push_value(&mut line, value);
    req.set_header("Cookie", &line);
}

/// REQ_COOKIE_DEL: drop the cookie, keeping the others.
pub fn req_del(req: &mut Request, name: &str) {
    let list = req_cookies(req);
    if list.iter().any(|(n, _)| n == name) {
        let kept: Vec<_> = list.into_iter().filter(|(n, _)| n != name).collect();
        put_req_cookies(req, &kept);
    }
}

/// Name, `Path` and `Domain` of one `Set-Cookie` value (as Go parses it).
fn set_cookie_id(v: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let mut parts = v.split(|&b| b == b';');
    let first = crate::http::trim(parts.next()?);
    let eq = first.iter().position(|&b| b == b'=')?;
    let name = crate::http::trim(&first[..eq]);
    if name.is_empty() {
        return None;
    }
    let (mut path, mut domain): (&[u8], &[u8]) = (b"", b"");
    for a in parts {
        let a = crate::http::trim(a);
        let (k, val) = match a.iter().position(|&b| b == b'=') {
            Some(i) => (&a[..i], &a[i + 1..]),
            None => (a, &b""[..]),
        };
        if k.eq_ignore_ascii_case(b"path") {
            path = val;
        } else if k.eq_ignore_ascii_case(b"domain") {
            domain = val;
        }
    }
    Some((name, path, domain))
}

fn rsp_cookie_exists(res: &Response, name: &str, domain: &str, path: &str) -> bool {
    res.header_values("set-cookie").any(|v| {
        set_cookie_id(v).is_some_and(|(n, p, d)| {
            n == name.as_bytes() && p == path.as_bytes() && d == domain.as_bytes()
        })
    })
}

/// Replace every `Set-Cookie` header: those named `name` by `with` (or
/// dropped when `None`), the others kept as they were.
fn rewrite_set_cookies(res: &mut Response, name: &str, with: Option<&str>) {
    let all: Vec<String> = res
        .header_values("set-cookie")
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect();
    res.del_header("Set-Cookie");
    for v in all {
        let named = set_cookie_id(v.as_bytes()).is_some_and(|(n, _, _)| n == name.as_bytes());
        match (named, with) {
            (false, _) => res.add_header("Set-Cookie", &v),
            (true, Some(w)) => res.add_header("Set-Cookie", w),
            (true, None) => {}
        }
    }
}

/// RSP_COOKIE_SET: add the cookie, or, when one with its name, path and
/// domain is set, replace every cookie of that name by it (as BFE does).
pub fn rsp_set(res: &mut Response, c: &SetCookie, value: &str, scratch: &mut String) {
    scratch.clear();
    c.write(value, scratch);
    if rsp_cookie_exists(res, &c.name, &c.domain, &c.path) {
        rewrite_set_cookies(res, &c.name, Some(scratch));
    } else {
        res.add_header("Set-Cookie", scratch);
    }
}

/// RSP_COOKIE_DEL: when a cookie with this name, path and domain is set,
/// remove every `Set-Cookie` of that name.
pub fn rsp_del(res: &mut Response, name: &str, domain: &str, path: &str) {
    if rsp_cookie_exists(res, name, domain, path) {
        rewrite_set_cookies(res, name, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1123_as_go_parses_and_writes_it() {
        assert_eq!(
            parse_rfc1123("Mon, 02 Jan 2006 15:04:05 MST"),
            Some(Some("Mon, 02 Jan 2006 15:04:05 GMT".into()))
        );
        // The weekday is recomputed, as Go's formatter does.
        assert_eq!(
            parse_rfc1123("Sun, 29 Feb 2028 00:00:00 GMT"),
            Some(Some("Tue, 29 Feb 2028 00:00:00 GMT".into()))
        );
        assert_eq!(parse_rfc1123("Mon, 30 Feb 2006 15:04:05 MST"), None);
        assert_eq!(parse_rfc1123("Mon, 2 Jan 2006 15:04:05 MST"), None);
        assert_eq!(parse_rfc1123("Mon, 02 Jan 1500 15:04:05 MST"), Some(None));
    }
}
