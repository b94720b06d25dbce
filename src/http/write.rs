//! Writing heads out: every forwarded message is re-framed canonically
//! (hop-by-hop headers dropped, framing headers written by ringfront from
//! the body it will actually send) into a buffer reused per connection.

use super::edits::HeaderEdits;
use super::framing::BodyKind;
use super::head::{has_token, is_hop_by_hop, HeaderSpan, Version};
use super::message::status_reason;
use super::request::RequestHead;
use super::response::ResponseHead;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};

/// `100 Continue`, sent when the body of an `Expect: 100-continue` request
/// is about to be read.
pub const CONTINUE_100: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

fn header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// `n` in decimal, written into `buf`: the digits are the returned tail.
/// Numbers and addresses are written on every request (statuses, lengths,
/// X-Forwarded-For, module headers, log lines), and `core::fmt` costs
/// several times the digits it writes. Everyone writes them through here.
pub fn decimal(buf: &mut [u8; 20], mut n: u64) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

/// `ip` in dotted decimal, written into `buf`.
pub fn dotted(buf: &mut [u8; 15], ip: Ipv4Addr) -> &[u8] {
    let mut n = 0;
    for (i, o) in ip.octets().into_iter().enumerate() {
        if i > 0 {
            buf[n] = b'.';
            n += 1;
        }
        if o >= 100 {
            buf[n] = b'0' + o / 100;
            n += 1;
        }
        if o >= 10 {
            buf[n] = b'0' + o / 10 % 10;
            n += 1;
        }
        buf[n] = b'0' + o % 10;
        n += 1;
    }
    &buf[..n]
}

/// Append `n` in decimal.
pub fn push_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(decimal(&mut [0; 20], n));
}

/// Append `ip` as `Display` writes it (IPv6 through `Display`: rare, and
/// its compression rules are not worth repeating).
pub fn push_ip(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => out.extend_from_slice(dotted(&mut [0; 15], v4)),
        IpAddr::V6(v6) => {
            let _ = write!(out, "{v6}");
        }
    }
}

fn framing(out: &mut Vec<u8>, body: BodyKind) {
    match body {
        BodyKind::Length(n) => {
            out.extend_from_slice(b"Content-Length: ");
            push_u64(out, n);
            out.extend_from_slice(b"\r\n");
        }
        BodyKind::Chunked => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
        BodyKind::None | BodyKind::UntilClose => {}
    }
}

/// Whether a header is named as hop-by-hop by a `Connection` header.
fn listed_in_connection(buf: &[u8], headers: &[HeaderSpan], name: &[u8]) -> bool {
    headers.iter().any(|h| {
        h.name.get(buf).eq_ignore_ascii_case(b"connection") && has_token(h.value.get(buf), name)
    })
}

/// Copy the end-to-end headers of a head, minus those edits replace.
/// `Connection` may name extra hop-by-hop headers, but never `Host`: a
/// client must not be able to make ringfront send a request without one.
fn end_to_end(
    out: &mut Vec<u8>,
    buf: &[u8],
    headers: &[HeaderSpan],
    edits: &HeaderEdits,
    skip: &[&[u8]],
) {
    let custom_hops = headers.iter().any(|h| {
        let n = h.name.get(buf);
        n.eq_ignore_ascii_case(b"connection")
            && h.value.get(buf).split(|&b| b == b',').any(|t| {
                let t = super::head::trim(t);
                !t.eq_ignore_ascii_case(b"close") && !t.eq_ignore_ascii_case(b"keep-alive")
            })
    });
    for h in headers {
        let name = h.name.get(buf);
        if is_hop_by_hop(name)
            || skip.iter().any(|s| name.eq_ignore_ascii_case(s))
            || (!edits.is_empty() && edits.hides(name))
            || (custom_hops
                && !name.eq_ignore_ascii_case(b"host")
                && listed_in_connection(buf, headers, name))
        {
            continue;
        }
        header(out, name, h.value.get(buf));
    }
    // Handlers cannot add framing or hop-by-hop headers either: ringfront
    // writes those from the body it sends.
    for (n, v) in edits.added() {
        if !is_hop_by_hop(n) && !skip.iter().any(|s| n.eq_ignore_ascii_case(s)) {
            header(out, n, v);
        }
    }
}

/// The head sent to a backend: origin-form target, HTTP/1.1, end-to-end
/// headers, `X-Forwarded-For` with the client appended, ringfront's framing.
/// A path and query that replace the request target's (mod_rewrite);
/// `None` keeps what the client sent, an empty query removes it.
#[derive(Debug, Clone, Copy, Default)]
pub struct TargetEdits<'a> {
    pub path: Option<&'a [u8]>,
    pub query: Option<&'a [u8]>,
}

pub fn request_head(
    out: &mut Vec<u8>,
    buf: &[u8],
    head: &RequestHead,
    edits: &HeaderEdits,
    target: TargetEdits<'_>,
    client_ip: IpAddr,
    body: BodyKind,
) {
    out.extend_from_slice(head.method.get(buf));
    out.push(b' ');
    let path = target.path.unwrap_or_else(|| head.path.get(buf));
    if path.is_empty() {
        out.push(b'/');
    } else {
        out.extend_from_slice(path);
    }
    match target.query {
        Some(b"") => {}
        Some(q) => {
            out.push(b'?');
            out.extend_from_slice(q);
        }
        None if !head.query.is_empty()
            || buf.get(head.path.start as usize + head.path.len as usize) == Some(&b'?') =>
        {
            out.push(b'?');
            out.extend_from_slice(head.query.get(buf));
        }
        None => {}
    }
    out.extend_from_slice(b" HTTP/1.1\r\n");
    // HTTP/1.1 requires Host; an HTTP/1.0 request may have none, or carry
    // its host in an absolute-form target only.
    if head.version == Version::Http10
        && edits.lookup(b"host").is_none()
        && head.header(buf, b"host").is_none()
    {
        header(out, b"Host", head.host.map(|h| h.get(buf)).unwrap_or(b""));
    }
    // Expect is answered by ringfront itself (it sends 100 Continue when it
    // starts reading the body), so the backend never sees it.
    end_to_end(
        out,
        buf,
        &head.headers,
        edits,
        &[b"x-forwarded-for", b"expect"],
    );
    // The one hop-by-hop pair that is forwarded: a WebSocket handshake
    // asks the backend to switch, and the tunnel follows its 101.
    if head.upgrade {
        out.extend_from_slice(UPGRADE_WEBSOCKET);
    }
    // Prior proxies' entries first, in order, then this client.
    out.extend_from_slice(b"X-Forwarded-For: ");
    // The chain so far: a handler's X-Forwarded-For replaces the client's.
    let prior_kept = edits.is_empty() || !edits.hides(b"x-forwarded-for");
    let xff = |n: &[u8]| n.eq_ignore_ascii_case(b"x-forwarded-for");
    for (_, v) in edits.added().filter(|(n, _)| xff(n)) {
        out.extend_from_slice(v);
        out.extend_from_slice(b", ");
    }
    for h in &head.headers {
        if prior_kept && xff(h.name.get(buf)) {
            out.extend_from_slice(h.value.get(buf));
            out.extend_from_slice(b", ");
        }
    }
    push_ip(out, client_ip);
    out.extend_from_slice(b"\r\n");
    framing(out, body);
    out.extend_from_slice(b"\r\n");
}

/// The upgrade headers of a WebSocket handshake, request or 101 response.
const UPGRADE_WEBSOCKET: &[u8] = b"Connection: Upgrade\r\nUpgrade: websocket\r\n";

/// The head of a backend's `101 Switching Protocols` to a WebSocket
/// handshake, for the client: its end-to-end headers (the
/// `Sec-WebSocket-*` ones among them) and the upgrade pair, no framing.
pub fn switching_head(
    out: &mut Vec<u8>,
    buf: &[u8],
    head: &ResponseHead,
    edits: &HeaderEdits,
    reason: Option<&[u8]>,
) {
    let reason = match reason {
        Some(r) => r,
        None if !head.reason.is_empty() => head.reason.get(buf),
        None => status_reason(101).as_bytes(),
    };
    status_line(out, 101, reason);
    end_to_end(out, buf, &head.headers, edits, &[]);
    out.extend_from_slice(UPGRADE_WEBSOCKET);
    out.extend_from_slice(b"\r\n");
}

/// How a response head presents itself to the client.
#[derive(Debug, Clone, Copy)]
pub struct ResponseFraming {
    pub client_version: Version,
    pub status: u16,
    /// The framing ringfront will use for the body it sends.
    pub body: BodyKind,
    /// For bodies that are absent by rule (HEAD, 304): the backend's
    /// Content-Length, which describes the representation, is relayed.
    pub relay_length: Option<u64>,
    pub keep_alive: bool,
}

/// The head sent to the client for a backend response.
pub fn response_head(
    out: &mut Vec<u8>,
    buf: &[u8],
    head: &ResponseHead,
    edits: &HeaderEdits,
    reason: Option<&[u8]>,
    f: ResponseFraming,
) {
    // Responses carry the highest version ringfront speaks (RFC 9110
    // §6.2); the client's version only decides framing and keep-alive.
    out.extend_from_slice(b"HTTP/1.1 ");
    push_u64(out, u64::from(f.status));
    out.push(b' ');
    if let Some(r) = reason {
        out.extend_from_slice(r);
    } else if f.status == head.status && !head.reason.is_empty() {
        out.extend_from_slice(head.reason.get(buf));
    } else {
        out.extend_from_slice(status_reason(f.status).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    end_to_end(out, buf, &head.headers, edits, &[]);
    close_framing(out, f);
}

fn close_framing(out: &mut Vec<u8>, f: ResponseFraming) {
    match (f.body, f.relay_length) {
        (BodyKind::None, Some(n)) => {
            out.extend_from_slice(b"Content-Length: ");
            push_u64(out, n);
            out.extend_from_slice(b"\r\n");
        }
        (b, _) => framing(out, b),
    }
    if !f.keep_alive {
        out.extend_from_slice(b"Connection: close\r\n");
    } else if f.client_version == Version::Http10 {
        out.extend_from_slice(b"Connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// The status line of a response: always `HTTP/1.1` (RFC 9110 §6.2: a
/// server sends its own highest version).
pub fn status_line(out: &mut Vec<u8>, status: u16, reason: &[u8]) {
    out.extend_from_slice(b"HTTP/1.1 ");
    push_u64(out, u64::from(status));
    out.push(b' ');
    out.extend_from_slice(reason);
    out.extend_from_slice(b"\r\n");
}

/// One header of a response made in the proxy, unless it is hop-by-hop or
/// framing (those are ringfront's to write).
pub fn end_to_end_header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    if !is_hop_by_hop(name) {
        header(out, name, value);
    }
}

/// The framing and connection headers that end every response head, and
/// the blank line.
pub fn end_head(out: &mut Vec<u8>, f: ResponseFraming) {
    close_framing(out, f);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_addresses_without_fmt() {
        for n in [0u64, 7, 10, 200, 65536, u64::MAX] {
            let mut out = Vec::new();
            push_u64(&mut out, n);
            assert_eq!(out, n.to_string().into_bytes());
        }
        for ip in [
            "0.0.0.0",
            "10.0.0.9",
            "255.255.255.255",
            "::1",
            "2001:db8::7",
        ] {
            let mut out = Vec::new();
            push_ip(&mut out, ip.parse().unwrap());
            assert_eq!(out, ip.as_bytes());
        }
    }
    use crate::http::request::{parse_request, RequestLimits};

    const LIMITS: RequestLimits = RequestLimits {
        max_header_bytes: 4096,
        max_uri_bytes: 1024,
    };

    #[test]
    fn request_is_reframed() {
        let b = b"POST /p?q=1 HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: 5\r\nX-Forwarded-For: 1.1.1.1\r\nTransfer-Encoding: chunked\r\nX-End: 2\r\n\r\n";
        let mut h = RequestHead::default();
        assert!(parse_request(b, &LIMITS, &mut h).unwrap());
        let mut out = Vec::new();
        let ip: IpAddr = "10.0.0.9".parse().unwrap();
        request_head(
            &mut out,
            b,
            &h,
            &HeaderEdits::default(),
            TargetEdits::default(),
            ip,
            BodyKind::Chunked,
        );
        let s = String::from_utf8(out).unwrap();
        assert_eq!(
            s,
            "POST /p?q=1 HTTP/1.1\r\nHost: a\r\nX-End: 2\r\nX-Forwarded-For: 1.1.1.1, 10.0.0.9\r\nTransfer-Encoding: chunked\r\n\r\n"
        );
    }

    #[test]
    fn websocket_handshake_keeps_its_upgrade_pair_only() {
        let b = b"GET /chat HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade, X-Hop\r\nX-Hop: 1\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\n\r\n";
        let mut h = RequestHead::default();
        assert!(parse_request(b, &LIMITS, &mut h).unwrap());
        assert!(h.upgrade);
        let mut out = Vec::new();
        let ip: IpAddr = "10.0.0.9".parse().unwrap();
        let e = HeaderEdits::default();
        request_head(
            &mut out,
            b,
            &h,
            &e,
            TargetEdits::default(),
            ip,
            BodyKind::None,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "GET /chat HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Key: k\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nX-Forwarded-For: 10.0.0.9\r\n\r\n"
        );
        // h2c is no handshake: its upgrade is dropped with the hop headers.
        let b = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: x\r\n\r\n";
        assert!(parse_request(b, &LIMITS, &mut h).unwrap());
        let mut out = Vec::new();
        request_head(
            &mut out,
            b,
            &h,
            &e,
            TargetEdits::default(),
            ip,
            BodyKind::None,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 10.0.0.9\r\n\r\n"
        );
    }

    #[test]
    fn http10_gets_a_host_line() {
        let ip: IpAddr = "10.0.0.9".parse().unwrap();
        let e = HeaderEdits::default();
        for (req, host) in [
            (&b"GET /p HTTP/1.0\r\n\r\n"[..], ""),
            (b"GET http://a.example/p HTTP/1.0\r\n\r\n", "a.example"),
            (b"GET /p HTTP/1.0\r\nHost: b\r\n\r\n", "b"),
        ] {
            let mut h = RequestHead::default();
            assert!(parse_request(req, &LIMITS, &mut h).unwrap());
            let mut out = Vec::new();
            request_head(
                &mut out,
                req,
                &h,
                &e,
                TargetEdits::default(),
                ip,
                BodyKind::None,
            );
            let s = String::from_utf8(out).unwrap();
            assert_eq!(
                s,
                format!("GET /p HTTP/1.1\r\nHost: {host}\r\nX-Forwarded-For: 10.0.0.9\r\n\r\n")
            );
        }
    }

    #[test]
    fn connection_cannot_strip_host() {
        let b = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: host, x-a\r\nX-A: 1\r\n\r\n";
        let mut h = RequestHead::default();
        assert!(parse_request(b, &LIMITS, &mut h).unwrap());
        let mut out = Vec::new();
        let ip: IpAddr = "10.0.0.9".parse().unwrap();
        let e = HeaderEdits::default();
        request_head(
            &mut out,
            b,
            &h,
            &e,
            TargetEdits::default(),
            ip,
            BodyKind::None,
        );
        let s = String::from_utf8(out).unwrap();
        assert_eq!(
            s,
            "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 10.0.0.9\r\n\r\n"
        );
    }

    #[test]
    fn edited_forwarded_for_is_the_chain_and_framing_edits_are_ignored() {
        let b = b"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.1.1.1\r\n\r\n";
        let mut h = RequestHead::default();
        assert!(parse_request(b, &LIMITS, &mut h).unwrap());
        let mut e = HeaderEdits::default();
        e.set("X-Forwarded-For", "2.2.2.2");
        e.set("Content-Length", "5");
        e.add("X-A", "1");
        let mut out = Vec::new();
        let ip: IpAddr = "10.0.0.9".parse().unwrap();
        request_head(
            &mut out,
            b,
            &h,
            &e,
            TargetEdits::default(),
            ip,
            BodyKind::None,
        );
        let s = String::from_utf8(out).unwrap();
        assert_eq!(
            s,
            "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nX-Forwarded-For: 2.2.2.2, 10.0.0.9\r\n\r\n"
        );
    }

    #[test]
    fn generated_response() {
        let mut out = Vec::new();
        status_line(&mut out, 502, b"Bad Gateway");
        end_to_end_header(&mut out, b"Content-Type", b"text/plain");
        end_to_end_header(&mut out, b"Connection", b"keep-alive");
        end_head(
            &mut out,
            ResponseFraming {
                client_version: Version::Http11,
                status: 502,
                body: BodyKind::Length(16),
                relay_length: None,
                keep_alive: false,
            },
        );
        out.extend_from_slice(b"502 Bad Gateway\n");
        let s = String::from_utf8(out).unwrap();
        assert!(!s.contains("keep-alive"));
        assert!(s.starts_with("HTTP/1.1 502 Bad Gateway\r\n"));
        assert!(s.contains("Content-Length: 16\r\n"));
        assert!(s.contains("Connection: close\r\n"));
        assert!(s.ends_with("\r\n\r\n502 Bad Gateway\n"));
    }
}
