//! Which part of a request a primitive looks at, read as BFE's fetchers
//! read it. A fetch either hands its bytes to the test or fails; a failed
//! fetch makes the primitive false whatever the values (BFE: a missing
//! cookie, no SNI, no response yet). A missing header or query key is not
//! a failure: it reads as empty, as Go's `Get` does.

use super::params::{cookies, query_key_is, query_pairs, query_value};
use crate::route::bytes::{decoded, decoded_query, strip_port};
use crate::route::RequestFacts;
use std::cell::RefCell;

#[derive(Debug, Clone)]
pub enum Fetch {
    /// Host header up to the port.
    Host,
    Method,
    /// Percent-decoded path (Go's `URL.Path`).
    Path,
    /// The request target as received (Go's `RequestURI`).
    Url,
    /// The Host header's port, `80` when it has none (BFE's rule, even on
    /// TLS listeners).
    Port,
    /// First value of a request header; missing reads as empty.
    Header(Box<[u8]>),
    /// First value of a query key, decoded; missing reads as empty.
    Query(Box<[u8]>),
    /// Value of the first well-formed cookie of that name; missing fails.
    Cookie(Box<[u8]>),
    /// TLS server name; fails on plain connections or without SNI.
    Sni,
    /// BFE's `req.Protocol()` (see [`RequestFacts::protocol`]).
    Proto,
    /// The host tag the product was found under; empty when none.
    HostTag,
    /// A value published in the request context; fails when there is
    /// none (BFE: a missing context key is not a string, so no value
    /// matches, not even `""`).
    Context(Box<str>),
    /// Response status in decimal; fails before there is a response.
    ResCode,
    /// First value of a response header; fails before there is a response.
    ResHeader(Box<[u8]>),
}

impl Fetch {
    /// Runs `test` on the fetched bytes; false when the fetch fails.
    pub fn with<R: RequestFacts + ?Sized>(
        &self,
        req: &R,
        test: &mut dyn FnMut(&[u8]) -> bool,
    ) -> bool {
        match self {
            Fetch::Host => test(strip_port(req.host())),
            Fetch::Method => test(req.method()),
            Fetch::Path => with_decoded(req.path(), false, test),
            Fetch::Url => test(req.uri()),
            Fetch::Port => test(port(req.host())),
            Fetch::Header(name) => test(req.header(name).unwrap_or(b"")),
            Fetch::Query(key) => {
                let raw = query_value(req.query(), key).unwrap_or(b"");
                with_decoded(raw, true, test)
            }
            Fetch::Cookie(name) => {
                let mut result = None;
                req.each_header(&mut |k, line| {
                    if !k.eq_ignore_ascii_case(b"cookie") {
                        return true;
                    }
                    match cookies(line).find(|(n, _)| n == &&name[..]) {
                        Some((_, v)) => {
                            result = Some(test(v));
                            false
                        }
                        None => true,
                    }
                });
                result.unwrap_or(false)
            }
            Fetch::Sni => match req.tls_sni() {
                Some(sni) if req.is_tls() && !sni.is_empty() => test(sni),
                _ => false,
            },
            Fetch::Proto => test(req.protocol()),
            Fetch::HostTag => test(req.host_tag()),
            Fetch::Context(key) => match req.context_value(key) {
                Some(v) if !key.is_empty() => test(v.as_bytes()),
                _ => false,
            },
            Fetch::ResCode => match req.response_status() {
                Some(code) => {
                    let mut buf = [0u8; 5];
                    test(decimal(code, &mut buf))
                }
                None => false,
            },
            Fetch::ResHeader(name) => match req.response_status() {
                Some(_) => test(req.response_header(name).unwrap_or(b"")),
                None => false,
            },
        }
    }
}

/// The `*_key_in` primitives: whether any of the names is present.
#[derive(Debug, Clone, Copy)]
pub enum Keys {
    /// A query key, decoded, compared exactly.
    Query,
    /// A query key starting with one of the values.
    QueryPrefix,
    /// A well-formed cookie, name compared exactly.
    Cookie,
    /// A request header with a non-empty first value.
    Header,
    /// A response header with a non-empty first value; false before the
    /// response.
    ResHeader,
}

impl Keys {
    pub fn any<R: RequestFacts + ?Sized>(self, req: &R, names: &[Box<[u8]>]) -> bool {
        match self {
            Keys::Query => {
                query_pairs(req.query()).any(|(k, _)| names.iter().any(|n| query_key_is(k, n)))
            }
            Keys::QueryPrefix => query_pairs(req.query()).any(|(k, _)| {
                names.iter().any(|n| {
                    let mut key = decoded_query(k);
                    n.iter().all(|&b| key.next() == Some(b))
                })
            }),
            Keys::Cookie => {
                let mut found = false;
                req.each_header(&mut |k, line| {
                    if k.eq_ignore_ascii_case(b"cookie") {
                        found = cookies(line).any(|(n, _)| names.iter().any(|w| &w[..] == n));
                    }
                    !found
                });
                found
            }
            Keys::Header => names
                .iter()
                .any(|n| req.header(n).is_some_and(|v| !v.is_empty())),
            Keys::ResHeader => {
                req.response_status().is_some()
                    && names
                        .iter()
                        .any(|n| req.response_header(n).is_some_and(|v| !v.is_empty()))
            }
        }
    }
}

thread_local! {
    /// Where an encoded path or query value is decoded for comparison:
    /// grown once per worker thread, then reused, so steady-state
    /// evaluation does not allocate.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// `test(raw)` when there is nothing to decode, else `test` on the decoded
/// bytes (query decoding turns `+` into a space).
fn with_decoded(raw: &[u8], query: bool, test: &mut dyn FnMut(&[u8]) -> bool) -> bool {
    let encoded = raw.contains(&b'%') || (query && raw.contains(&b'+'));
    if !encoded {
        return test(raw);
    }
    let fill = |buf: &mut Vec<u8>| {
        buf.clear();
        if query {
            buf.extend(decoded_query(raw));
        } else {
            buf.extend(decoded(raw));
        }
    };
    let shared = SCRATCH.try_with(|s| match s.try_borrow_mut() {
        Ok(mut buf) => {
            fill(&mut buf);
            Some(test(&buf))
        }
        Err(_) => None,
    });
    match shared {
        Ok(Some(r)) => r,
        // Only reachable if a test re-entered condition evaluation.
        _ => {
            let mut own = Vec::new();
            fill(&mut own);
            test(&own)
        }
    }
}

/// BFE's port: what follows the first `:` of the Host header (after a
/// bracketed IPv6 literal), else `80`.
fn port(host: &[u8]) -> &[u8] {
    let rest = &host[strip_port(host).len()..];
    match rest.split_first() {
        Some((b':', p)) => p,
        _ => b"80",
    }
}

fn decimal(mut n: u16, buf: &mut [u8; 5]) -> &[u8] {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_and_codes() {
        assert_eq!(port(b"a.com:8080"), b"8080");
        assert_eq!(port(b"a.com"), b"80");
        assert_eq!(port(b"a.com:"), b"");
        assert_eq!(port(b"[::1]:8443"), b"8443");
        assert_eq!(port(b"[::1]"), b"80");
        assert_eq!(port(b""), b"80");
        let mut b = [0; 5];
        assert_eq!(decimal(0, &mut b), b"0");
        assert_eq!(decimal(404, &mut b), b"404");
        assert_eq!(decimal(65535, &mut b), b"65535");
    }

    #[test]
    fn decoding_reuses_one_buffer() {
        let mut seen = Vec::new();
        assert!(with_decoded(b"/a%20b", false, &mut |s| {
            seen = s.to_vec();
            true
        }));
        assert_eq!(seen, b"/a b");
        with_decoded(b"a+b%2B", true, &mut |s| {
            seen = s.to_vec();
            true
        });
        assert_eq!(seen, b"a b+");
        with_decoded(b"a+b", false, &mut |s| {
            seen = s.to_vec();
            true
        });
        assert_eq!(seen, b"a+b");
    }
}
