//! Request heads: parsed in place, kept as spans, framing decided once.

use super::framing::BodyKind;
use super::head::{
    has_bare_lf, has_token, is_underscore_alias, parse_content_length, trim, HeaderSpan, Span,
    Version,
};
use super::MAX_HEADERS;
use std::mem::MaybeUninit;

/// Size limits from bfe.conf (`MaxHeaderBytes`, `MaxHeaderUriBytes`).
#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    pub max_header_bytes: usize,
    pub max_uri_bytes: usize,
}

/// Why a request head was refused; each maps to one status code, and the
/// connection is always closed after it because framing is in doubt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// 400, with the reason logged and counted.
    BadRequest(&'static str),
    /// 414.
    UriTooLong,
    /// 431.
    HeaderTooLarge,
    /// 501: a transfer coding or method ringfront cannot forward.
    NotImplemented(&'static str),
    /// 417: an `Expect` other than `100-continue`.
    ExpectationFailed,
}

impl ParseError {
    pub fn status(&self) -> u16 {
        match self {
            ParseError::BadRequest(_) => 400,
            ParseError::UriTooLong => 414,
            ParseError::HeaderTooLarge => 431,
            ParseError::NotImplemented(_) => 501,
            ParseError::ExpectationFailed => 417,
        }
    }

    pub fn reason(&self) -> &'static str {
        match self {
            ParseError::BadRequest(r) | ParseError::NotImplemented(r) => r,
            ParseError::UriTooLong => "request URI too long",
            ParseError::HeaderTooLarge => "request head too large",
            ParseError::ExpectationFailed => "unsupported Expect",
        }
    }
}

/// A parsed request head. Every span points into the buffer the head was
/// parsed from; the struct is reused for every request of a connection.
#[derive(Debug, Default)]
pub struct RequestHead {
    pub method: Span,
    /// The request target as received.
    pub target: Span,
    /// Path part of the target (origin-form path, or the path of an
    /// absolute-form target), without the query.
    pub path: Span,
    /// Query without the `?`; empty when absent.
    pub query: Span,
    pub version: Version,
    pub headers: Vec<HeaderSpan>,
    /// Bytes of the buffer the head occupies, final CRLF included.
    pub head_len: usize,
    pub host: Option<Span>,
    pub body: BodyKind,
    /// Whether the client wants the connection kept after this request.
    pub keep_alive: bool,
    pub expect_continue: bool,
    /// A WebSocket handshake (RFC 6455 §4.1, as BFE's
    /// `CheckUpgradeWebSocket` detects it): `GET` with `Upgrade: websocket`
    /// and `upgrade` among the `Connection` tokens. Forwarded with its
    /// upgrade headers, and tunnelled on the backend's 101.
    pub upgrade: bool,
}

impl RequestHead {
    pub fn method_is(&self, buf: &[u8], m: &[u8]) -> bool {
        self.method.get(buf) == m
    }

    /// First value of a header, name case-insensitive.
    pub fn header<'a>(&self, buf: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
        self.headers
            .iter()
            .find(|h| h.name.get(buf).eq_ignore_ascii_case(name))
            .map(|h| h.value.get(buf))
    }
}

/// Parse a request head at the start of `buf`.
///
/// Returns `Ok(false)` while the head is incomplete (read more and call
/// again) and `Ok(true)` once `head` is filled in. Limits are enforced on
/// partial input too, so a client can never make the buffer grow past them.
///
/// Anything two HTTP implementations could read differently is refused
/// (RFC 9112 §2.2, §3, §6.3): the request is never forwarded in a form a
/// backend might frame otherwise.
pub fn parse_request(
    buf: &[u8],
    limits: &RequestLimits,
    head: &mut RequestHead,
) -> Result<bool, ParseError> {
    // Uninitialised: httparse writes only the headers it finds, so the
    // array is not zeroed (4 KiB) for every head.
    let mut raw = [const { MaybeUninit::<httparse::Header>::uninit() }; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    let status = match req.parse_with_uninit_headers(buf, &mut raw) {
        Ok(s) => s,
        Err(httparse::Error::TooManyHeaders) => return Err(ParseError::HeaderTooLarge),
        Err(httparse::Error::Version) => {
            return Err(ParseError::BadRequest("unsupported HTTP version"))
        }
        Err(httparse::Error::Token) => return Err(ParseError::BadRequest("invalid token")),
        Err(httparse::Error::HeaderName) => {
            return Err(ParseError::BadRequest("invalid header name"))
        }
        Err(httparse::Error::HeaderValue) => {
            return Err(ParseError::BadRequest("invalid header value"))
        }
        Err(httparse::Error::NewLine) => return Err(ParseError::BadRequest("invalid line ending")),
        Err(_) => return Err(ParseError::BadRequest("malformed request head")),
    };
    let head_len = match status {
        httparse::Status::Partial => {
            check_partial(buf, limits)?;
            return Ok(false);
        }
        httparse::Status::Complete(n) => n,
    };
    if head_len > limits.max_header_bytes {
        return Err(ParseError::HeaderTooLarge);
    }
    if has_bare_lf(&buf[..head_len]) {
        return Err(ParseError::BadRequest("bare LF line ending"));
    }
    // httparse fills every field once the head is complete; the fallbacks
    // below only keep the code free of panics.
    let method = req.method.unwrap_or("");
    let target = req.path.unwrap_or("");
    if target.len() > limits.max_uri_bytes {
        return Err(ParseError::UriTooLong);
    }
    check_target(target.as_bytes())?;
    head.version = match req.version {
        Some(0) => Version::Http10,
        Some(1) => Version::Http11,
        _ => return Err(ParseError::BadRequest("unsupported HTTP version")),
    };
    head.method = Span::of(buf, method.as_bytes());
    head.target = Span::of(buf, target.as_bytes());
    head.head_len = head_len;
    let authority = split_target(buf, method.as_bytes(), target.as_bytes(), head)?;

    head.headers.clear();
    // One allocation at most, and none once the Vec has grown to fit.
    head.headers.reserve(req.headers.len());
    head.host = None;
    head.expect_continue = false;
    let mut content_length: Option<u64> = None;
    let mut codings = Codings::default();
    let mut conn_close = false;
    let mut conn_keep_alive = false;
    let mut conn_upgrade = false;
    for h in req.headers.iter() {
        let name = h.name.as_bytes();
        let value = h.value;
        let span = HeaderSpan {
            name: Span::of(buf, name),
            value: Span::of(buf, value),
        };
        head.headers.push(span);
        if name.eq_ignore_ascii_case(b"host") {
            if head.host.is_some() {
                return Err(ParseError::BadRequest("repeated Host header"));
            }
            if !value.iter().all(|&b| is_host_byte(b)) {
                return Err(ParseError::BadRequest("invalid Host header"));
            }
            head.host = Some(span.value);
        } else if name.eq_ignore_ascii_case(b"content-length") {
            // One header, one number, as nginx has it: a list (even of
            // equal values) or a repeated header is a request some server
            // on the path may read another way.
            if content_length.is_some() {
                return Err(ParseError::BadRequest("repeated Content-Length"));
            }
            let n = parse_content_length(trim(value))
                .ok_or(ParseError::BadRequest("invalid Content-Length"))?;
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            codings.add(value);
        } else if name.eq_ignore_ascii_case(b"connection") {
            conn_close |= has_token(value, b"close");
            conn_keep_alive |= has_token(value, b"keep-alive");
            conn_upgrade |= has_token(value, b"upgrade");
        } else if name.eq_ignore_ascii_case(b"expect") {
            if trim(value).eq_ignore_ascii_case(b"100-continue") {
                head.expect_continue = head.version == Version::Http11;
            } else {
                return Err(ParseError::ExpectationFailed);
            }
        } else if is_underscore_alias(name, b"content-length")
            || is_underscore_alias(name, b"transfer-encoding")
        {
            return Err(ParseError::BadRequest("framing header spelled with '_'"));
        }
    }
    let chunked = codings.chunked()?;
    if chunked && content_length.is_some() {
        return Err(ParseError::BadRequest(
            "both Content-Length and Transfer-Encoding",
        ));
    }
    if codings.seen && head.version == Version::Http10 {
        return Err(ParseError::BadRequest("Transfer-Encoding in HTTP/1.0"));
    }
    match (head.host, authority) {
        (None, _) if head.version == Version::Http11 => {
            return Err(ParseError::BadRequest("missing Host header"))
        }
        (Some(h), Some(a)) if !h.get(buf).eq_ignore_ascii_case(a.get(buf)) => {
            return Err(ParseError::BadRequest(
                "Host disagrees with the request target",
            ))
        }
        // HTTP/1.0 absolute-form without Host: the target names the host.
        (None, Some(a)) => head.host = Some(a),
        _ => {}
    }
    head.body = if chunked {
        BodyKind::Chunked
    } else {
        match content_length {
            Some(0) | None => BodyKind::None,
            Some(n) => BodyKind::Length(n),
        }
    };
    head.keep_alive = match head.version {
        Version::Http11 => !conn_close,
        Version::Http10 => conn_keep_alive && !conn_close,
    };
    // Only a request that asks for an upgrade pays for the second look.
    head.upgrade = conn_upgrade
        && method == "GET"
        && head
            .header(buf, b"upgrade")
            .is_some_and(|v| trim(v).eq_ignore_ascii_case(b"websocket"));
    Ok(true)
}

/// The transfer codings of a request, across all its Transfer-Encoding
/// lines. Only exactly one `chunked`, last, is forwardable: anything else
/// needs decoding ringfront does not do, and guessing is how requests get
/// smuggled.
#[derive(Default)]
struct Codings {
    seen: bool,
    chunked: u32,
    last_is_chunked: bool,
    other: bool,
    empty: bool,
}

impl Codings {
    fn add(&mut self, value: &[u8]) {
        self.seen = true;
        for part in value.split(|&b| b == b',') {
            let t = trim(part);
            if t.is_empty() {
                self.empty = true;
            } else if t.eq_ignore_ascii_case(b"chunked") {
                self.chunked += 1;
                self.last_is_chunked = true;
            } else {
                self.other = true;
                self.last_is_chunked = false;
            }
        }
    }

    /// Whether the body is chunked; 400 where the length cannot be known
    /// (RFC 9112 §6.3), 501 for codings ringfront does not implement.
    fn chunked(&self) -> Result<bool, ParseError> {
        if !self.seen {
            return Ok(false);
        }
        if self.empty || self.chunked > 1 || (self.chunked == 1 && !self.last_is_chunked) {
            return Err(ParseError::BadRequest("invalid Transfer-Encoding"));
        }
        if self.other {
            return Err(ParseError::NotImplemented("unsupported transfer coding"));
        }
        Ok(true)
    }
}

/// Bytes a Host value may hold: an RFC 3986 reg-name or IP literal and a
/// port. No spaces, slashes, `@` or `#` that would let the host be read
/// two ways.
fn is_host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'['
                | b']'
                | b'%'
        )
}

/// A request target holds ASCII only and no fragment (RFC 9112 §3.2).
/// httparse already refuses controls and spaces, but lets UTF-8 through.
fn check_target(target: &[u8]) -> Result<(), ParseError> {
    if target.iter().any(|&b| b >= 0x80 || b == b'#') {
        return Err(ParseError::BadRequest("invalid byte in request target"));
    }
    Ok(())
}

/// Limits on a head that has not ended yet: a request line longer than the
/// URI limit is 414, anything longer than the head limit is 431.
fn check_partial(buf: &[u8], limits: &RequestLimits) -> Result<(), ParseError> {
    let line_end = buf.iter().position(|&b| b == b'\n');
    // The request line holds method, target and version: allow for them.
    let line_budget = limits.max_uri_bytes + 64;
    match line_end {
        None if buf.len() > line_budget => Err(ParseError::UriTooLong),
        Some(e) if e > line_budget => Err(ParseError::UriTooLong),
        _ if buf.len() > limits.max_header_bytes => Err(ParseError::HeaderTooLarge),
        _ => Ok(()),
    }
}

/// Find path and query in the target, by its form (RFC 9112 §3.2);
/// returns the authority of an absolute-form target.
fn split_target(
    buf: &[u8],
    method: &[u8],
    target: &[u8],
    head: &mut RequestHead,
) -> Result<Option<Span>, ParseError> {
    if method == b"CONNECT" {
        return Err(ParseError::NotImplemented("CONNECT is not supported"));
    }
    let mut authority = None;
    let path_and_query: &[u8] = if target.first() == Some(&b'/') {
        target
    } else if target == b"*" {
        if method != b"OPTIONS" {
            return Err(ParseError::BadRequest("asterisk-form outside OPTIONS"));
        }
        target
    } else {
        let (auth, rest) =
            absolute_form(target).ok_or(ParseError::BadRequest("invalid request target"))?;
        authority = Some(Span::of(buf, auth));
        rest
    };
    match path_and_query.iter().position(|&b| b == b'?') {
        Some(q) => {
            head.path = Span::of(buf, &path_and_query[..q]);
            head.query = Span::of(buf, &path_and_query[q + 1..]);
        }
        None => {
            head.path = Span::of(buf, path_and_query);
            head.query = Span {
                start: head.path.start + head.path.len,
                len: 0,
            };
        }
    }
    Ok(authority)
}

/// Authority and path-and-query of an absolute-form target
/// (`http://host/p?q`); an absent path is the empty suffix, which callers
/// forward as `/`. Userinfo (`user@host`) is refused (RFC 9110 §4.2.4).
fn absolute_form(target: &[u8]) -> Option<(&[u8], &[u8])> {
    let rest = if target.len() > 7 && target[..7].eq_ignore_ascii_case(b"http://") {
        &target[7..]
    } else if target.len() > 8 && target[..8].eq_ignore_ascii_case(b"https://") {
        &target[8..]
    } else {
        return None;
    };
    let end = rest
        .iter()
        .position(|&b| b == b'/' || b == b'?')
        .unwrap_or(rest.len());
    let authority = &rest[..end];
    if authority.is_empty() || !authority.iter().all(|&b| is_host_byte(b)) {
        return None;
    }
    Some((authority, &rest[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: RequestLimits = RequestLimits {
        max_header_bytes: 4096,
        max_uri_bytes: 256,
    };

    fn parse(s: &[u8]) -> Result<(bool, RequestHead), ParseError> {
        let mut h = RequestHead::default();
        let done = parse_request(s, &LIMITS, &mut h)?;
        Ok((done, h))
    }

    #[test]
    fn simple_get() {
        let b = b"GET /a/b?x=1 HTTP/1.1\r\nHost: Example.org:80\r\nX-A: 1\r\n\r\nrest";
        let (done, h) = parse(b).unwrap();
        assert!(done);
        assert_eq!(h.method.get(b), b"GET");
        assert_eq!(h.path.get(b), b"/a/b");
        assert_eq!(h.query.get(b), b"x=1");
        assert_eq!(h.host.unwrap().get(b), b"Example.org:80");
        assert_eq!(h.header(b, b"x-a"), Some(&b"1"[..]));
        assert_eq!(&b[h.head_len..], b"rest");
        assert_eq!(h.body, BodyKind::None);
        assert!(h.keep_alive);
    }

    #[test]
    fn partial_then_complete() {
        let b = b"GET / HTTP/1.1\r\nHost: a\r\n";
        assert!(!parse(b).unwrap().0);
    }

    #[test]
    fn framing_rules() {
        let cl = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n";
        assert_eq!(parse(cl).unwrap().1.body, BodyKind::Length(5));
        let ch = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(parse(ch).unwrap().1.body, BodyKind::Chunked);
        let both = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(parse(both).unwrap_err().status(), 400);
        let gz = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n";
        assert_eq!(parse(gz).unwrap_err().status(), 501);
        let two = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n";
        assert_eq!(parse(two).unwrap_err().status(), 400);
        let list = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n";
        assert_eq!(parse(list).unwrap_err().status(), 400);
        let again = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n";
        assert_eq!(parse(again).unwrap_err().status(), 400);
        let sign = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n";
        assert_eq!(parse(sign).unwrap_err().status(), 400);
    }

    #[test]
    fn versions_and_connection() {
        let h10 = b"GET / HTTP/1.0\r\n\r\n";
        let (_, h) = parse(h10).unwrap();
        assert_eq!(h.version, Version::Http10);
        assert!(!h.keep_alive);
        let h10ka = b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
        assert!(parse(h10ka).unwrap().1.keep_alive);
        let close = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
        assert!(!parse(close).unwrap().1.keep_alive);
        let nohost = b"GET / HTTP/1.1\r\n\r\n";
        assert_eq!(parse(nohost).unwrap_err().status(), 400);
        let twohost = b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n";
        assert_eq!(parse(twohost).unwrap_err().status(), 400);
    }

    #[test]
    fn websocket_handshakes_as_bfe_detects_them() {
        let ws = |m: &str, conn: &str, up: &str| {
            let r =
                format!("{m} / HTTP/1.1\r\nHost: a\r\nConnection: {conn}\r\nUpgrade: {up}\r\n\r\n");
            parse(r.as_bytes()).unwrap().1.upgrade
        };
        assert!(ws("GET", "Upgrade", "websocket"));
        assert!(ws("GET", "keep-alive, UPGRADE", "WebSocket"));
        assert!(!ws("POST", "Upgrade", "websocket"), "GET only");
        assert!(!ws("GET", "Upgrade", "h2c"), "other protocols are not");
        assert!(!ws("GET", "Upgrade", "websocket, h2c"));
        assert!(!ws("GET", "keep-alive", "websocket"), "no upgrade token");
        assert!(
            !parse(b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n")
                .unwrap()
                .1
                .upgrade
        );
        // The flag does not outlive its request on a reused head.
        let mut h = RequestHead::default();
        let limits = RequestLimits {
            max_header_bytes: 4096,
            max_uri_bytes: 1024,
        };
        let up = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
        assert!(parse_request(up, &limits, &mut h).unwrap() && h.upgrade);
        assert!(parse_request(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", &limits, &mut h).unwrap());
        assert!(!h.upgrade);
    }

    #[test]
    fn expect() {
        let c = b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n";
        assert!(parse(c).unwrap().1.expect_continue);
        let bad = b"POST / HTTP/1.1\r\nHost: a\r\nExpect: magic\r\n\r\n";
        assert_eq!(parse(bad).unwrap_err().status(), 417);
    }

    #[test]
    fn limits() {
        let mut long = b"GET /".to_vec();
        long.extend(std::iter::repeat_n(b'a', 400));
        assert_eq!(parse(&long).unwrap_err().status(), 414);
        long.extend_from_slice(b" HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(parse(&long).unwrap_err().status(), 414);
        let mut big = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
        while big.len() < 5000 {
            big.extend_from_slice(b"X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        assert_eq!(parse(&big).unwrap_err().status(), 431);
    }

    #[test]
    fn malformed() {
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nHost a\r\n\r\n")
                .unwrap_err()
                .status(),
            400
        );
        assert_eq!(parse(b"GET /\r\n\r\n").unwrap_err().status(), 400);
        assert_eq!(parse(b"GET / HTTP/2.0\r\n\r\n").unwrap_err().status(), 400);
        assert_eq!(
            parse(b"GET * HTTP/1.1\r\nHost: a\r\n\r\n")
                .unwrap_err()
                .status(),
            400
        );
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n")
                .unwrap_err()
                .status(),
            400
        );
    }

    /// Every way a head can be read two ways is refused with its status.
    #[test]
    fn ambiguity_is_refused() {
        let cases: &[(&[u8], u16)] = &[
            (b"GET / HTTP/1.1\nHost: a\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\n\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\rX: 1\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\n X: 1\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\x00\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nX\x01: 1\r\n\r\n", 400),
            (b"GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            (b"GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            (b"GET http://b/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            (b"GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            (b"GET a:80 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            (b"CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", 501),
            (b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked,\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
            (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", 501),
            (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n", 400),
            (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: a\r\nContent_Length: 5\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer_Encoding: chunked\r\n\r\n", 400),
        ];
        for (req, status) in cases {
            let got = parse(req).map(|(done, _)| done);
            assert_eq!(
                got.err().map(|e| e.status()),
                Some(*status),
                "{:?}",
                String::from_utf8_lossy(req)
            );
        }
    }

    #[test]
    fn long_request_line_is_414_before_the_head_ends() {
        let mut b = b"GET /".to_vec();
        b.extend(std::iter::repeat_n(b'a', 400));
        b.extend_from_slice(b" HTTP/1.1\r\nHost: a\r\n");
        assert_eq!(parse(&b).unwrap_err().status(), 414);
    }

    #[test]
    fn absolute_form_names_the_host() {
        let b = b"GET http://Example.org/p HTTP/1.1\r\nHost: example.org\r\n\r\n";
        assert!(parse(b).is_ok());
        let b = b"GET http://example.org/p HTTP/1.0\r\n\r\n";
        let (_, h) = parse(b).unwrap();
        assert_eq!(h.host.unwrap().get(b), b"example.org");
        let b = b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n";
        assert_eq!(parse(b).unwrap().1.path.get(b), b"*");
    }

    #[test]
    fn absolute_form() {
        let b = b"GET http://example.org/p?q HTTP/1.1\r\nHost: example.org\r\n\r\n";
        let (_, h) = parse(b).unwrap();
        assert_eq!(h.path.get(b), b"/p");
        assert_eq!(h.query.get(b), b"q");
    }
}
