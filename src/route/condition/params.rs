//! Query strings and cookies, read straight from the raw bytes the way BFE
//! reads them: Go's `url.ParseQuery` for the query, BFE's `readCookies`
//! for the `Cookie` header. Nothing is copied; values come back still
//! encoded, for the caller to decode only when it compares.

use crate::route::bytes::{decoded_query, escapes_valid, iter_eq};

/// The (key, value) pairs Go keeps, raw: split on `&`, skipping empty
/// pairs, pairs holding a `;` and pairs with a malformed `%` escape.
pub fn query_pairs(q: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    q.split(|&b| b == b'&').filter_map(|pair| {
        if pair.is_empty() || pair.contains(&b';') {
            return None;
        }
        let (k, v) = cut(pair, b'=');
        (escapes_valid(k) && escapes_valid(v)).then_some((k, v))
    })
}

/// Whether the decoded key of a query pair is `key`.
pub fn query_key_is(raw_key: &[u8], key: &[u8]) -> bool {
    iter_eq(decoded_query(raw_key), key, false)
}

/// The raw value of the first pair named `key` (Go's `Values.Get`).
pub fn query_value<'q>(q: &'q [u8], key: &[u8]) -> Option<&'q [u8]> {
    query_pairs(q)
        .find(|(k, _)| query_key_is(k, key))
        .map(|(_, v)| v)
}

/// The cookies of one `Cookie` header line, in order. Pairs with a name
/// that is not an HTTP token, or a value with bytes outside RFC 6265's
/// cookie-octet, are skipped, as BFE skips them; one pair of surrounding
/// double quotes is removed from a value.
pub fn cookies(line: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    line.split(|&b| b == b';').filter_map(|part| {
        let part = trim(part);
        if part.is_empty() {
            return None;
        }
        let (name, value) = cut(part, b'=');
        if !name.iter().all(|&b| is_token(b)) {
            return None;
        }
        let value = unquote(value);
        value
            .iter()
            .all(|&b| is_cookie_octet(b))
            .then_some((name, value))
    })
}

fn cut(s: &[u8], sep: u8) -> (&[u8], &[u8]) {
    match s.iter().position(|&b| b == sep) {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, &s[s.len()..]),
    }
}

fn trim(s: &[u8]) -> &[u8] {
    let ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c');
    let start = s.iter().position(|b| !ws(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !ws(b)).map_or(start, |i| i + 1);
    &s[start..end]
}

fn unquote(v: &[u8]) -> &[u8] {
    if v.len() > 1 && v[0] == b'"' && v[v.len() - 1] == b'"' {
        &v[1..v.len() - 1]
    } else {
        v
    }
}

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// RFC 6265 cookie-octet: printable ASCII except `"`, `,`, `;` and `\`.
fn is_cookie_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &str) -> Vec<(&str, &str)> {
        query_pairs(q.as_bytes())
            .map(|(k, v)| {
                (
                    std::str::from_utf8(k).unwrap(),
                    std::str::from_utf8(v).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn query_pairs_as_go_parses_them() {
        assert_eq!(
            pairs("a=1&&b&c=&=d&e=%zz&f;g=1&h=%41"),
            [("a", "1"), ("b", ""), ("c", ""), ("", "d"), ("h", "%41")]
        );
        assert!(pairs("").is_empty());
        assert_eq!(query_value(b"x=1&k%65y=2&key=3", b"key"), Some(&b"2"[..]));
        assert_eq!(query_value(b"a+b=1", b"a b"), Some(&b"1"[..]));
        assert_eq!(query_value(b"x=1", b"key"), None);
    }

    #[test]
    fn cookies_as_bfe_reads_them() {
        let got: Vec<_> = cookies(b" a=1; b=\"q\" ;;c; bad name=2; d=x,y; e=\"\"; =z ").collect();
        assert_eq!(
            got,
            [
                (&b"a"[..], &b"1"[..]),
                (b"b", b"q"),
                (b"c", b""),
                (b"e", b""),
                (b"", b"z"),
            ]
        );
        assert_eq!(cookies(b"").count(), 0);
    }
}
