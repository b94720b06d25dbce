//! Backend response heads, and the mutable view handlers get of them.

use super::framing::{response_has_body, BodyKind};
use super::head::{
    content_length_list, has_bare_lf, has_token, is_underscore_alias, trim, HeaderSpan, Span,
    Version,
};
use super::MAX_HEADERS;
use std::mem::MaybeUninit;

/// A parsed response head; spans point into the upstream read buffer.
#[derive(Debug, Default, Clone)]
pub struct ResponseHead {
    pub version: Version,
    pub status: u16,
    pub reason: Span,
    pub headers: Vec<HeaderSpan>,
    pub head_len: usize,
    pub body: BodyKind,
    /// Whether the backend connection may be reused after this response.
    pub keep_alive: bool,
}

impl ResponseHead {
    pub fn header<'a>(&self, buf: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
        self.headers
            .iter()
            .find(|h| h.name.get(buf).eq_ignore_ascii_case(name))
            .map(|h| h.value.get(buf))
    }
}

/// Parse a response head from a backend. `Ok(false)` means incomplete;
/// errors (malformed, too large, ambiguous framing) make the response
/// unusable: the client gets 502 and the backend connection is dropped.
pub fn parse_response(
    buf: &[u8],
    request_is_head: bool,
    max_bytes: usize,
    head: &mut ResponseHead,
) -> Result<bool, &'static str> {
    // Uninitialised: httparse writes only the headers it finds.
    let mut raw = [const { MaybeUninit::<httparse::Header>::uninit() }; MAX_HEADERS];
    let mut res = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default()
        .parse_response_with_uninit_headers(&mut res, buf, &mut raw);
    let head_len = match parsed {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            if buf.len() > max_bytes {
                return Err("response head too large");
            }
            return Ok(false);
        }
        Err(_) => return Err("malformed response head"),
    };
    if head_len > max_bytes {
        return Err("response head too large");
    }
    if has_bare_lf(&buf[..head_len]) {
        return Err("bare LF in response head");
    }
    head.status = res.code.unwrap_or(0);
    if !(100..=999).contains(&head.status) {
        return Err("invalid status code");
    }
    head.version = if res.version == Some(0) {
        Version::Http10
    } else {
        Version::Http11
    };
    head.reason = Span::of(buf, res.reason.unwrap_or("").as_bytes());
    head.head_len = head_len;
    head.headers.clear();
    // One allocation at most, and none once the Vec has grown to fit.
    head.headers.reserve(res.headers.len());
    let mut content_length: Option<u64> = None;
    let mut saw_te = false;
    let mut close = head.version == Version::Http10;
    for h in res.headers.iter() {
        let name = h.name.as_bytes();
        let value = h.value;
        head.headers.push(HeaderSpan {
            name: Span::of(buf, name),
            value: Span::of(buf, value),
        });
        if name.eq_ignore_ascii_case(b"content-length") {
            let n = content_length_list(value)?;
            if content_length.is_some_and(|c| c != n) {
                return Err("conflicting Content-Length");
            }
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            // Relaying any other coding would need it decoded or declared
            // to the client; neither is done, so such a response is broken.
            if saw_te || !trim(value).eq_ignore_ascii_case(b"chunked") {
                return Err("unsupported Transfer-Encoding");
            }
            saw_te = true;
        } else if is_underscore_alias(name, b"content-length")
            || is_underscore_alias(name, b"transfer-encoding")
        {
            return Err("framing header spelled with '_'");
        } else if name.eq_ignore_ascii_case(b"connection") {
            if has_token(value, b"close") {
                close = true;
            } else if has_token(value, b"keep-alive") {
                close = false;
            }
        }
    }
    if saw_te && content_length.is_some() {
        return Err("both Content-Length and Transfer-Encoding");
    }
    head.body = if !response_has_body(request_is_head, head.status) {
        BodyKind::None
    } else if saw_te {
        BodyKind::Chunked
    } else {
        match content_length {
            Some(0) => BodyKind::None,
            Some(n) => BodyKind::Length(n),
            None => BodyKind::UntilClose,
        }
    };
    // A body-less response to HEAD may still carry the length of the body
    // a GET would get; that is fine for reuse.
    head.keep_alive = !close && head.body != BodyKind::UntilClose;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(b: &[u8], head_req: bool) -> Result<ResponseHead, &'static str> {
        let mut h = ResponseHead::default();
        assert!(parse_response(b, head_req, 8192, &mut h)?);
        Ok(h)
    }

    #[test]
    fn framing() {
        let h = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", false).unwrap();
        assert_eq!(h.body, BodyKind::Length(3));
        assert!(h.keep_alive);
        let h = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", true).unwrap();
        assert_eq!(h.body, BodyKind::None);
        let h = parse(b"HTTP/1.1 204 No Content\r\n\r\n", false).unwrap();
        assert_eq!(h.body, BodyKind::None);
        let h = parse(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            false,
        )
        .unwrap();
        assert_eq!(h.body, BodyKind::Chunked);
        let h = parse(b"HTTP/1.1 200 OK\r\n\r\n", false).unwrap();
        assert_eq!(h.body, BodyKind::UntilClose);
        assert!(!h.keep_alive);
        let h = parse(b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", false).unwrap();
        assert!(!h.keep_alive);
        assert!(parse(
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
            false
        )
        .is_err());
        assert!(parse(b"HTTP/1.1 2000 OK\r\n\r\n", false).is_err());
    }

    /// Fuzzing found this: httparse returns a made-up `""` for a reason
    /// phrase that is not UTF-8, and taking its offset in the buffer
    /// underflowed. The phrase is dropped and the standard one relayed.
    #[test]
    fn non_utf8_reason_phrase() {
        let b = b"HTTP/1.1 200 O\xff\xfftent-Length: 2\r\nContent-Length: 2\r\n\r\nok";
        let h = parse(b, false).unwrap();
        assert_eq!((h.status, h.reason), (200, Span::EMPTY));
        assert_eq!(h.body, BodyKind::Length(2));
        let mut out = Vec::new();
        let f = crate::http::write::ResponseFraming {
            client_version: Version::Http11,
            status: 200,
            body: h.body,
            relay_length: None,
            keep_alive: true,
        };
        crate::http::write::response_head(
            &mut out,
            b,
            &h,
            &crate::http::HeaderEdits::default(),
            None,
            f,
        );
        assert!(out.starts_with(b"HTTP/1.1 200 OK\r\n"));
    }

    #[test]
    fn hostile_heads_are_refused() {
        let bad: &[&[u8]] = &[
            b"HTTP/1.1 200 OK\nContent-Length: 1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\n\n",
            b"HTTP/1.1 200 OK\r\nX : 1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nX: 1\r\n folded\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent_Length: 1\r\n\r\n",
            b"HTTP/1.1 20 OK\r\n\r\n",
            b"HTTP/2.0 200 OK\r\n\r\n",
            b"HTTP/1.1 200 O\x01K\r\n\r\n",
        ];
        for b in bad {
            assert!(parse(b, false).is_err(), "{:?}", String::from_utf8_lossy(b));
        }
        let mut big = b"HTTP/1.1 200 OK\r\n".to_vec();
        big.extend(std::iter::repeat_n(b'x', 9000));
        let mut h = ResponseHead::default();
        assert!(parse_response(&big, false, 8192, &mut h).is_err());
    }
}
