//! A response, as HandleReadResponse and HandleRequestFinish handlers see
//! it: a backend's (its head parsed in place over the bytes it arrived in)
//! or one made inside the proxy (an error page, a redirect, a module's
//! answer). Both kinds read and edit the same way; edits are kept beside
//! the head and applied when it is written, so an untouched backend head
//! costs no copy.

use crate::http::{status_reason, HeaderEdits, ResponseHead, Version};
use std::borrow::Cow;
use std::fs::File;

/// Where a response's body comes from.
#[derive(Debug, Default)]
pub enum Body {
    /// No body (or a head-only answer).
    #[default]
    Empty,
    /// Bytes held in memory.
    Bytes(Vec<u8>),
    /// A file, streamed from `offset` for `len` bytes without reading it
    /// whole into memory.
    File { file: File, offset: u64, len: u64 },
    /// The backend's body, streamed from its connection by the relay.
    Backend,
}

impl Body {
    /// The body's length when known before it is sent.
    pub fn len(&self) -> Option<u64> {
        match self {
            Body::Empty => Some(0),
            Body::Bytes(b) => Some(b.len() as u64),
            Body::File { len, .. } => Some(*len),
            Body::Backend => None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }
}

/// Transforms a response body as it streams (compression, markdown, error
/// pages), in bounded memory: it sees the body a piece at a time, decoded
/// from its transfer framing, and appends what it makes of each piece.
/// A response with a filter has no length known in advance, so it goes to
/// the client chunked (HTTP/1.1) or close-delimited (HTTP/1.0), and the
/// backend's trailers are dropped.
pub trait BodyFilter {
    /// Transform the next piece of the body, appending the output.
    fn data(&mut self, input: &[u8], out: &mut Vec<u8>);
    /// The body ended: append whatever is still held back.
    fn finish(&mut self, out: &mut Vec<u8>);
}

/// Run `input` (then, with `end`, the end of the body) through every
/// filter in order, appending the last one's output to `out`.
pub(crate) fn run_filters(
    filters: &mut [Box<dyn BodyFilter>],
    input: &[u8],
    end: bool,
    out: &mut Vec<u8>,
) {
    let Some((last, first)) = filters.split_last_mut() else {
        out.extend_from_slice(input);
        return;
    };
    let mut cur = input.to_vec();
    for f in first {
        let mut next = Vec::with_capacity(cur.len());
        f.data(&cur, &mut next);
        if end {
            f.finish(&mut next);
        }
        cur = next;
    }
    last.data(&cur, out);
    if end {
        last.finish(out);
    }
}

/// The head a response started from.
#[derive(Debug)]
pub(crate) enum Source {
    /// Made in the proxy: headers owned.
    Local(Vec<(String, String)>),
    /// From a backend: the head's spans index `buf`. The head index is
    /// boxed (and lent by the connection) so that a response stays small
    /// to move.
    Backend {
        buf: Vec<u8>,
        head: Box<ResponseHead>,
    },
}

pub struct Response {
    status: u16,
    pub(crate) src: Source,
    pub(crate) edits: HeaderEdits,
    pub body: Body,
    /// What few responses have: a reason phrase set by a handler, body
    /// filters. Boxed, so that the common response is small: responses
    /// move through handler returns and futures, and a large one is
    /// copied at every move.
    extra: Option<Box<Extra>>,
}

#[derive(Default)]
struct Extra {
    reason: Option<Cow<'static, str>>,
    /// Body filters, in the order they run.
    filters: Vec<Box<dyn BodyFilter>>,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("src", &self.src)
            .field("edits", &self.edits)
            .field("body", &self.body)
            .field("filters", &self.filters().len())
            .finish()
    }
}

impl Response {
    /// A response made in the proxy, with no headers and no body yet.
    pub fn new(status: u16) -> Self {
        Response {
            status,
            src: Source::Local(Vec::new()),
            edits: HeaderEdits::default(),
            body: Body::Empty,
            extra: None,
        }
    }

    /// Stands for "no response was sent" (BFE passes nil): what
    /// HandleRequestFinish handlers get after a request closed without an
    /// answer. Its status is 0.
    pub fn none() -> Self {
        Response::new(0)
    }

    /// Whether this stands for no response (see [`Response::none`]).
    pub fn is_none(&self) -> bool {
        self.status == 0
    }

    /// A backend's response over the buffer its head was parsed from.
    pub(crate) fn from_backend(buf: Vec<u8>, head: Box<ResponseHead>) -> Self {
        Response {
            status: head.status,
            src: Source::Backend { buf, head },
            edits: HeaderEdits::default(),
            body: Body::Backend,
            extra: None,
        }
    }

    fn extra_mut(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Box::default)
    }

    /// The body filters, in the order they run.
    pub(crate) fn filters(&self) -> &[Box<dyn BodyFilter>] {
        self.extra.as_ref().map_or(&[], |e| e.filters.as_slice())
    }

    pub(crate) fn filters_mut(&mut self) -> &mut [Box<dyn BodyFilter>] {
        match self.extra.as_mut() {
            Some(e) => e.filters.as_mut_slice(),
            None => &mut [],
        }
    }

    /// Drop the filters (the body they were for has been filtered).
    pub(crate) fn clear_filters(&mut self) {
        if let Some(e) = self.extra.as_mut() {
            e.filters.clear();
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        match &mut self.src {
            Source::Local(h) => h.push((name.to_string(), value.to_string())),
            Source::Backend { .. } => self.edits.add(name, value),
        }
        self
    }

    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Body::Bytes(body.into());
        self
    }

    /// A response whose body is `len` bytes of `file` from `offset`,
    /// streamed without reading it whole into memory.
    pub fn with_file(mut self, file: File, offset: u64, len: u64) -> Self {
        self.body = Body::File { file, offset, len };
        self
    }

    /// Add a filter the body streams through (after those already added).
    pub fn add_body_filter(&mut self, f: Box<dyn BodyFilter>) {
        self.extra_mut().filters.push(f);
    }

    pub fn has_body_filters(&self) -> bool {
        !self.filters().is_empty()
    }

    /// The plain error page for a status code.
    pub fn error(status: u16) -> Self {
        let mut body = Vec::with_capacity(48);
        body.extend_from_slice(status.to_string().as_bytes());
        body.push(b' ');
        body.extend_from_slice(status_reason(status).as_bytes());
        body.push(b'\n');
        Response::new(status)
            .with_header("Content-Type", "text/plain")
            .with_body(body)
    }

    /// A redirect to `location` with the given 3xx code.
    pub fn redirect(code: u16, location: &str) -> Self {
        Response::new(code).with_header("Location", location)
    }

    pub fn status(&self) -> u16 {
        self.status
    }

    pub fn set_status(&mut self, status: u16) {
        self.status = status;
    }

    /// The reason phrase sent: one a handler set, else the backend's own
    /// when its status is unchanged, else the standard one.
    pub fn reason(&self) -> &str {
        if let Some(r) = self.reason_override() {
            return r;
        }
        if let Source::Backend { buf, head } = &self.src {
            if head.status == self.status && !head.reason.is_empty() {
                if let Ok(r) = std::str::from_utf8(head.reason.get(buf)) {
                    return r;
                }
            }
        }
        status_reason(self.status)
    }

    pub fn set_reason(&mut self, reason: impl Into<Cow<'static, str>>) {
        self.extra_mut().reason = Some(reason.into());
    }

    /// A reason phrase a handler set, if any.
    pub(crate) fn reason_override(&self) -> Option<&str> {
        self.extra.as_ref()?.reason.as_deref()
    }

    /// Whether the response came from a backend.
    pub fn is_backend(&self) -> bool {
        matches!(self.src, Source::Backend { .. })
    }

    /// The backend's protocol version (`None` for one made in the proxy).
    pub fn version(&self) -> Option<Version> {
        match &self.src {
            Source::Backend { head, .. } => Some(head.version),
            Source::Local(_) => None,
        }
    }

    /// First value of a header after edits; name case-insensitive.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        if let Some(v) = self.edits.lookup(name.as_bytes()) {
            return v;
        }
        self.base_header(name.as_bytes())
    }

    fn base_header(&self, name: &[u8]) -> Option<&[u8]> {
        match &self.src {
            Source::Local(h) => h
                .iter()
                .find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_bytes()),
            Source::Backend { buf, head } => head.header(buf, name),
        }
    }

    /// Every header after edits, in order.
    pub fn headers(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        let local = match &self.src {
            Source::Local(h) => Some(h.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes()))),
            Source::Backend { .. } => None,
        };
        let backend = match &self.src {
            Source::Backend { buf, head } => Some(
                head.headers
                    .iter()
                    .map(move |h| (h.name.get(buf), h.value.get(buf))),
            ),
            Source::Local(_) => None,
        };
        let edits = &self.edits;
        local
            .into_iter()
            .flatten()
            .chain(backend.into_iter().flatten())
            .filter(move |(n, _)| edits.is_empty() || !edits.hides(n))
            .chain(edits.added())
    }

    /// Every value of a header after edits, in order.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> {
        self.headers()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }

    /// The value of the cookie `name` set by a `Set-Cookie` header.
    pub fn set_cookie(&self, name: &str) -> Option<&[u8]> {
        self.header_values("set-cookie").find_map(|v| {
            let pair = v.split(|&b| b == b';').next().unwrap_or(b"");
            let eq = pair.iter().position(|&b| b == b'=')?;
            (crate::http::trim(&pair[..eq]) == name.as_bytes())
                .then(|| crate::http::trim(&pair[eq + 1..]))
        })
    }

    pub fn set_header(&mut self, name: &str, value: &str) {
        self.edits.set(name, value);
    }

    pub fn add_header(&mut self, name: &str, value: &str) {
        self.edits.add(name, value);
    }

    pub fn del_header(&mut self, name: &str) {
        self.edits.del(name);
    }

    /// The backend's parsed head, if the response came from one.
    pub(crate) fn backend_head(&self) -> Option<(&[u8], &ResponseHead)> {
        match &self.src {
            Source::Backend { buf, head } => Some((buf, head)),
            Source::Local(_) => None,
        }
    }

    /// The buffer a backend response's head (and first body bytes) were
    /// read into; empty for one made in the proxy.
    pub(crate) fn backend_buf_mut(&mut self) -> &mut Vec<u8> {
        if let Source::Local(_) = self.src {
            // A local response has no read buffer; callers only move bytes
            // in and out of it, so an empty one stands in.
            self.src = Source::Backend {
                buf: Vec::new(),
                head: Box::default(),
            };
        }
        match &mut self.src {
            Source::Backend { buf, .. } => buf,
            Source::Local(_) => unreachable!("replaced above"),
        }
    }

    /// Take back a backend response's buffer and head index, leaving an
    /// empty local response.
    pub(crate) fn take_backend(&mut self) -> Option<(Vec<u8>, Box<ResponseHead>)> {
        match std::mem::replace(&mut self.src, Source::Local(Vec::new())) {
            Source::Backend { buf, head } => Some((buf, head)),
            local => {
                self.src = local;
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Upper;
    impl BodyFilter for Upper {
        fn data(&mut self, input: &[u8], out: &mut Vec<u8>) {
            out.extend(input.iter().map(u8::to_ascii_uppercase));
        }
        fn finish(&mut self, _out: &mut Vec<u8>) {}
    }

    /// Holds everything back and appends its length at the end.
    struct Count(usize);
    impl BodyFilter for Count {
        fn data(&mut self, input: &[u8], _out: &mut Vec<u8>) {
            self.0 += input.len();
        }
        fn finish(&mut self, out: &mut Vec<u8>) {
            out.extend_from_slice(self.0.to_string().as_bytes());
        }
    }

    #[test]
    fn filters_run_in_order_and_finish_at_the_end() {
        let mut f: Vec<Box<dyn BodyFilter>> = vec![Box::new(Upper)];
        let mut out = Vec::new();
        run_filters(&mut f, b"ab", false, &mut out);
        run_filters(&mut f, b"c", true, &mut out);
        assert_eq!(out, b"ABC");
        let mut f: Vec<Box<dyn BodyFilter>> = vec![Box::new(Upper), Box::new(Count(0))];
        let mut out = Vec::new();
        run_filters(&mut f, b"abc", false, &mut out);
        assert!(out.is_empty());
        run_filters(&mut f, b"de", true, &mut out);
        assert_eq!(out, b"5");
        let mut out = Vec::new();
        run_filters(&mut [], b"x", true, &mut out);
        assert_eq!(out, b"x");
    }

    #[test]
    fn a_response_is_small_to_move() {
        // Responses move through handler returns and futures; past about
        // 128 bytes every move is a memcpy call.
        assert!(std::mem::size_of::<Response>() <= 112);
    }

    #[test]
    fn local_headers_edits_and_cookies() {
        let mut r = Response::new(200)
            .with_header("Set-Cookie", "a=1; Path=/")
            .with_header("Set-Cookie", "b = 2")
            .with_header("X-A", "x");
        assert_eq!(r.set_cookie("b"), Some(&b"2"[..]));
        assert_eq!(r.set_cookie("c"), None);
        r.set_header("x-a", "y");
        r.del_header("set-cookie");
        assert_eq!(r.header("X-A"), Some(&b"y"[..]));
        assert_eq!(r.set_cookie("a"), None);
        assert_eq!(r.header_values("x-a").collect::<Vec<_>>(), vec![&b"y"[..]]);
        assert_eq!(r.reason(), "OK");
        r.set_reason("Fine");
        assert_eq!(r.reason(), "Fine");
        assert_eq!(Response::error(502).body.len(), Some(16));
    }
}
