//! Answers ringfront makes itself, and what a handler's return value at a
//! request point means for the connection.

use super::downstream::{Disposition, Downstream};
use crate::basic::{run_filters, Body, ErrorKind, ProxyError, Request, Response};
use crate::http::BodyKind;
use crate::module::{Point, Ret};
use crate::route::RequestFacts;
use crate::worker::Worker;

/// What to do after a request point's handlers ran.
pub(crate) enum Verdict {
    /// Keep going through the lifecycle.
    Continue,
    /// Send this response; then close if `close`. With `read`,
    /// HandleReadResponse runs on it first.
    Answer {
        res: Box<Response>,
        close: bool,
        read: bool,
    },
    /// Close at once, sending nothing.
    Close,
}

/// BeforeLocation, FoundProduct, AfterLocation: all five values.
pub(crate) fn verdict(ret: Ret, res: Option<Response>, req: &mut Request) -> Verdict {
    match ret {
        Ret::GoOn => Verdict::Continue,
        // BFE: Finish and Redirect skip HandleReadResponse; a module's
        // Response goes through it like a backend's.
        Ret::Finish => Verdict::Answer {
            res: Box::new(res.unwrap_or_else(|| Response::error(500))),
            close: true,
            read: false,
        },
        Ret::Redirect => Verdict::Answer {
            res: Box::new(redirect_response(req)),
            close: false,
            read: false,
        },
        Ret::Response => Verdict::Answer {
            res: Box::new(res.unwrap_or_else(|| Response::error(500))),
            close: false,
            read: true,
        },
        Ret::Close => Verdict::Close,
    }
}

/// The redirect a handler set on the request, written as BFE's
/// `bfe_server.Redirect` writes it; 500 if it set none. The redirect stays
/// on the request: the access log's `$redirect` reads it.
pub(crate) fn redirect_response(req: &mut Request) -> Response {
    match req.redirect.as_deref() {
        Some(r) => {
            let code = if (300..400).contains(&r.code) {
                r.code
            } else {
                302
            };
            let location = redirect_location(&r.url, req.path());
            let mut res = Response::new(code);
            for (n, v) in &r.headers {
                if !n.eq_ignore_ascii_case("location") && !n.eq_ignore_ascii_case("server") {
                    res = res.with_header(n, v);
                }
            }
            res = res
                .with_header("Location", &location)
                .with_header("Server", "bfe");
            // BFE (as Go's net/http) adds a short note for GET only; Go's
            // writer sniffs it as HTML.
            if req.method() == b"GET" {
                let mut body = String::with_capacity(location.len() + 40);
                body.push_str("<a href=\"");
                html_escape(&location, &mut body);
                body.push_str("\">");
                body.push_str(crate::http::status_reason(code));
                body.push_str("</a>.\n\n");
                res = res
                    .with_header("Content-Type", "text/html; charset=utf-8")
                    .with_body(body);
            }
            res
        }
        None => Response::error(500),
    }
}

/// Go's `url.Parse` finds a scheme: `[A-Za-z][A-Za-z0-9+.-]*:` first.
fn has_scheme(url: &str) -> bool {
    let b = url.as_bytes();
    if !b.first().is_some_and(u8::is_ascii_alphabetic) {
        return false;
    }
    for &c in &b[1..] {
        match c {
            b':' => return true,
            c if c.is_ascii_alphanumeric() || c == b'+' || c == b'-' || c == b'.' => {}
            _ => return false,
        }
    }
    false
}

/// Whether Go's `url.Parse` refuses the text (a control byte, a bad `%`
/// escape, a `:` in the first segment of a relative path): BFE then sends
/// it as it is.
fn unparsable(url: &str) -> bool {
    let b = url.as_bytes();
    let first_seg = url.split(['/', '?', '#']).next().unwrap_or("");
    (!url.starts_with('/') && first_seg.contains(':'))
        || b.iter().any(|&c| c < 0x20 || c == 0x7f)
        || b.iter().enumerate().any(|(i, &c)| {
            c == b'%'
                && !(b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                    && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
        })
}

/// The `Location` BFE sends: a URL without a scheme is made absolute
/// against the request path (relative ones joined to its directory),
/// cleaned as Go's `path.Clean` does, trailing slash and query kept.
pub(crate) fn redirect_location(url: &str, req_path: &[u8]) -> String {
    if has_scheme(url) || unparsable(url) {
        return url.to_string();
    }
    let mut full = String::new();
    if !url.starts_with('/') {
        let old = String::from_utf8_lossy(req_path);
        let old = if old.is_empty() { "/" } else { &old };
        let dir = &old[..old.rfind('/').map_or(0, |i| i + 1)];
        full.push_str(dir);
    }
    full.push_str(url);
    let (path, query) = match full.find('?') {
        Some(i) => full.split_at(i),
        None => (full.as_str(), ""),
    };
    let mut out = clean_path(path);
    if path.ends_with('/') && !out.ends_with('/') {
        out.push('/');
    }
    out.push_str(query);
    out
}

/// Go's `path.Clean`.
fn clean_path(p: &str) -> String {
    if p.is_empty() {
        return ".".to_string();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

fn html_escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// A failure of the request: recorded on it (the access log's `$error`),
/// answered with the status the error table gives (nothing for kinds that
/// send nothing). The failure site has counted it.
pub(crate) async fn fail<D: Downstream>(
    w: &Worker,
    d: &mut D,
    req: &mut Request,
    e: ProxyError,
    msg: &'static str,
    close: bool,
) -> Disposition {
    req.fail(e, msg);
    if e.status == 0 {
        return Disposition::Reset;
    }
    answer(w, d, req, Response::error(e.status), close, true).await
}

/// What HandleReadResponse decided about a response.
pub(crate) enum AfterRead {
    /// Send it; close the connection afterwards if `close`.
    Send { close: bool },
    /// Send this one instead (a redirect, or the handler's reply).
    Replace(Response),
    /// Send nothing and drop the connection.
    Drop,
}

/// Run HandleReadResponse on `res`: a backend's response, a module's
/// answer (`Ret::Response` at a request point) or ringfront's own error
/// page, as in BFE.
pub(crate) fn read_response(w: &Worker, req: &mut Request, res: &mut Response) -> AfterRead {
    match w.cbs.run_response(Point::ReadResponse, req, res) {
        Ret::GoOn => AfterRead::Send { close: false },
        Ret::Finish => AfterRead::Send { close: true },
        Ret::Close => {
            w.stats.error(ErrorKind::HandlerAbort);
            req.fail(ErrorKind::HandlerAbort, "HandleReadResponse returned Close");
            AfterRead::Drop
        }
        Ret::Redirect => AfterRead::Replace(redirect_response(req)),
        Ret::Response => match req.reply.take() {
            Some(r) => AfterRead::Replace(*r),
            None => AfterRead::Send { close: false },
        },
    }
}

/// Answer `res` (made in the proxy) and run HandleRequestFinish on it.
/// With `read`, HandleReadResponse runs on it first.
pub(crate) async fn answer<D: Downstream>(
    w: &Worker,
    d: &mut D,
    req: &mut Request,
    mut res: Response,
    close: bool,
    read: bool,
) -> Disposition {
    let mut close = close;
    if read {
        match read_response(w, req, &mut res) {
            AfterRead::Send { close: c } => close |= c,
            AfterRead::Replace(r) => res = r,
            AfterRead::Drop => return Disposition::Reset,
        }
    }
    let keep = !close && req.head.keep_alive && req.body_done;
    let disp = send_answer(w, d, req, &mut res, keep).await;
    finish_local(w, req, &mut res, disp)
}

/// Send a response made in the proxy: at once when its body is in memory
/// (filtered there first), streamed when it is a file.
pub(crate) async fn send_answer<D: Downstream>(
    w: &Worker,
    d: &mut D,
    req: &mut Request,
    res: &mut Response,
    keep: bool,
) -> Disposition {
    if matches!(res.body, Body::File { .. }) {
        // Boxed: a rare path whose state would otherwise enlarge every
        // request's future (each active period copies that future once).
        return Box::pin(stream_file(w, d, req, res, keep)).await;
    }
    if res.has_body_filters() {
        let input = match std::mem::take(&mut res.body) {
            Body::Bytes(b) => b,
            _ => Vec::new(),
        };
        let mut out = Vec::with_capacity(input.len());
        run_filters(res.filters_mut(), &input, true, &mut out);
        res.clear_filters();
        res.body = Body::Bytes(out);
    }
    d.send_local(w, req, res, keep).await
}

/// Stream a file body: read a buffer at a time, so memory stays bounded
/// whatever the file's size. Reads are positional (`pread`) on the worker
/// thread: fine for files in the page cache, which is what a proxy serves
/// (error pages, small static files).
async fn stream_file<D: Downstream>(
    w: &Worker,
    d: &mut D,
    req: &mut Request,
    res: &mut Response,
    keep: bool,
) -> Disposition {
    let Body::File { file, offset, len } = std::mem::take(&mut res.body) else {
        return Disposition::Reset;
    };
    let framing = if !crate::http::framing::response_has_body(false, res.status()) {
        BodyKind::None
    } else if res.has_body_filters() {
        d.response_framing(BodyKind::UntilClose)
    } else {
        BodyKind::Length(len)
    };
    let keep = keep && framing != BodyKind::UntilClose;
    if d.send_local_head(w, req, res, framing, keep).await.is_err() {
        w.stats.error(ErrorKind::ClientClose);
        req.ses.set_error(ErrorKind::ClientClose.into());
        return Disposition::Reset;
    }
    if req.is_head() || framing == BodyKind::None {
        return Disposition::from_keep(keep);
    }
    let mut buf = w.lend_body(len.min(usize::MAX as u64) as usize);
    let r = pump_file(
        d,
        &file,
        (offset, len),
        res.filters_mut(),
        framing,
        &mut buf,
    )
    .await;
    match r {
        Ok(()) => Disposition::from_keep(keep),
        Err(kind) => {
            w.stats.error(kind);
            req.fail(kind, "file body cut short");
            Disposition::Reset
        }
    }
}

/// The file's bytes through the filters to the client.
async fn pump_file<D: Downstream>(
    d: &mut D,
    file: &std::fs::File,
    (offset, len): (u64, u64),
    filters: &mut [Box<dyn crate::basic::BodyFilter>],
    framing: BodyKind,
    buf: &mut Vec<u8>,
) -> Result<(), ErrorKind> {
    use std::os::unix::fs::FileExt;
    let (mut pos, end) = (offset, offset.saturating_add(len));
    let mut filtered = Vec::new();
    while pos < end {
        let want = (buf.capacity() as u64).min(end - pos) as usize;
        buf.resize(want, 0);
        let n = match file.read_at(buf, pos) {
            Ok(0) | Err(_) => return Err(ErrorKind::BackendBroken),
            Ok(n) => n,
        };
        buf.truncate(n);
        pos += n as u64;
        let out = if filters.is_empty() {
            std::mem::take(buf)
        } else {
            filtered.clear();
            run_filters(filters, buf, pos >= end, &mut filtered);
            std::mem::take(&mut filtered)
        };
        let (r, back) = d.send_data(out, framing).await;
        match filters.is_empty() {
            true => *buf = back,
            false => filtered = back,
        }
        if r.is_err() {
            return Err(ErrorKind::ClientClose);
        }
    }
    d.finish_body(framing)
        .await
        .map_err(|_| ErrorKind::ClientClose)
}

/// Run HandleRequestFinish for a response ringfront made itself.
pub(crate) fn finish_local(
    w: &Worker,
    req: &mut Request,
    res: &mut Response,
    disp: Disposition,
) -> Disposition {
    disp.keep_if(request_finish(w, req, res))
}

/// Run HandleRequestFinish, once per request; false when a handler asked
/// to close the connection.
pub(crate) fn request_finish(w: &Worker, req: &mut Request, res: &mut Response) -> bool {
    if req.finish_ran {
        return true;
    }
    req.finish_ran = true;
    req.note_bytes_out();
    log_outcome(w, req, res);
    let ret = w.cbs.run_response(Point::RequestFinish, req, res);
    !matches!(ret, Ret::Finish | Ret::Close)
}

/// One log line per request: at `warn` when it failed, naming the code of
/// its error (the table in `basic::error`, as the access log and the
/// `err_*` counters name it); at `debug` otherwise. A request that
/// succeeds costs one level check here.
fn log_outcome(w: &Worker, req: &Request, res: &Response) {
    match &req.error {
        Some((e, msg)) if log::log_enabled!(log::Level::Warn) => {
            let Some(dropped) = w.may_log_failure() else {
                return;
            };
            if dropped > 0 {
                log::warn!(
                    "worker {}: {dropped} more failed request(s) not logged (over {} a second)",
                    w.id,
                    crate::worker::FAILURE_LOG_PER_SEC
                );
            }
            log::warn!(
                "worker {} {}: status {} {} ({}){}{}",
                w.id,
                Said(req),
                e.status,
                e.kind.code(),
                e.kind.counter(),
                if msg.is_empty() { "" } else { ": " },
                msg
            )
        }
        Some(_) => {}
        None => log::debug!("worker {} {}: status {}", w.id, Said(req), res.status()),
    }
}

/// A request as its log line names it: connection, client, method, host
/// and URI (bytes that are not UTF-8 shown replaced).
struct Said<'a>(&'a Request);

impl std::fmt::Display for Said<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = self.0;
        let text = String::from_utf8_lossy;
        write!(
            f,
            "conn {} {}: {} {} {}",
            r.ses.id,
            r.ses.peer,
            text(r.method()),
            text(r.host()),
            text(r.uri())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_as_bfe_makes_them() {
        let l = |u: &str, p: &str| redirect_location(u, p.as_bytes());
        assert_eq!(l("https://a.example/x", "/p/q"), "https://a.example/x");
        assert_eq!(l("/a/../b/", "/p/q"), "/b/");
        assert_eq!(l("next?x=1", "/p/q"), "/p/next?x=1");
        assert_eq!(l("../up", "/p/q/r"), "/p/up");
        assert_eq!(l("", "/p/q"), "/p/");
        assert_eq!(l("//h.example/x", "/"), "/h.example/x");
        assert_eq!(l("/bad%zz", "/"), "/bad%zz");
        assert_eq!(l("1a:b/c", "/p/q"), "1a:b/c");
        assert_eq!(l("./a:b", "/p/q"), "/p/a:b");
        assert_eq!(clean_path("a/./b/../../.."), "..");
    }
}
