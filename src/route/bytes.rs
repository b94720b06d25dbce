//! Allocation-free byte helpers for matching request parts: case folding in
//! place, port stripping and on-the-fly percent-decoding (BFE matches paths
//! against Go's decoded `URL.Path` and query values against
//! `url.ParseQuery`'s, while ringfront keeps the raw target).

/// Host without `:port`. BFE cuts at the first `:`; a bracketed IPv6
/// literal (`[::1]:80`) is kept whole instead of being cut to `[`.
pub fn strip_port(host: &[u8]) -> &[u8] {
    if host.first() == Some(&b'[') {
        return match host.iter().position(|&b| b == b']') {
            Some(end) => &host[..=end],
            None => host,
        };
    }
    match host.iter().position(|&b| b == b':') {
        Some(i) => &host[..i],
        None => host,
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decoding iterator. Malformed escapes pass through literally
/// (the HTTP layer decides whether to reject them).
#[derive(Clone)]
pub struct Decoded<'a> {
    s: &'a [u8],
    i: usize,
    /// `+` means a space, as in a query string.
    plus: bool,
}

/// Path decoding: `%XX` only.
pub fn decoded(s: &[u8]) -> Decoded<'_> {
    Decoded {
        s,
        i: 0,
        plus: false,
    }
}

/// Query decoding (Go's `QueryUnescape`): `%XX`, and `+` as a space.
pub fn decoded_query(s: &[u8]) -> Decoded<'_> {
    Decoded {
        s,
        i: 0,
        plus: true,
    }
}

/// Whether every `%` starts a two-digit hex escape; Go's unescaping
/// rejects the text otherwise.
pub fn escapes_valid(s: &[u8]) -> bool {
    let mut i = 0;
    while let Some(p) = s[i..].iter().position(|&b| b == b'%') {
        let at = i + p;
        match (
            s.get(at + 1).and_then(|&c| hex(c)),
            s.get(at + 2).and_then(|&c| hex(c)),
        ) {
            (Some(_), Some(_)) => i = at + 3,
            _ => return false,
        }
    }
    true
}

impl Iterator for Decoded<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        let b = *self.s.get(self.i)?;
        if b == b'%' {
            if let (Some(h), Some(l)) = (
                self.s.get(self.i + 1).and_then(|&c| hex(c)),
                self.s.get(self.i + 2).and_then(|&c| hex(c)),
            ) {
                self.i += 3;
                return Some(h << 4 | l);
            }
        }
        self.i += 1;
        Some(if b == b'+' && self.plus { b' ' } else { b })
    }
}

#[inline]
fn fold_eq(a: u8, b: u8, fold: bool) -> bool {
    if fold {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

/// `a == b`, ASCII case-insensitively when `fold` (BFE upper-cases both
/// sides; folding in place gives the same answer for ASCII).
pub fn eq(a: &[u8], b: &[u8], fold: bool) -> bool {
    if fold {
        a.eq_ignore_ascii_case(b)
    } else {
        a == b
    }
}

pub fn starts_with(s: &[u8], p: &[u8], fold: bool) -> bool {
    s.get(..p.len()).is_some_and(|h| eq(h, p, fold))
}

pub fn ends_with(s: &[u8], p: &[u8], fold: bool) -> bool {
    s.len() >= p.len() && eq(&s[s.len() - p.len()..], p, fold)
}

pub fn contains(s: &[u8], p: &[u8], fold: bool) -> bool {
    p.is_empty() || s.windows(p.len()).any(|w| eq(w, p, fold))
}

/// Whether the byte stream equals `want`.
pub fn iter_eq<I: Iterator<Item = u8>>(mut it: I, want: &[u8], fold: bool) -> bool {
    for &w in want {
        match it.next() {
            Some(b) if fold_eq(b, w, fold) => {}
            _ => return false,
        }
    }
    it.next().is_none()
}

/// Whether the byte stream starts with `prefix`.
pub fn iter_starts_with<I: Iterator<Item = u8>>(mut it: I, prefix: &[u8], fold: bool) -> bool {
    for &w in prefix {
        match it.next() {
            Some(b) if fold_eq(b, w, fold) => {}
            _ => return false,
        }
    }
    true
}

/// The path bytes, decoded, with a `/` appended unless already last — the
/// form BFE compares directory-style prefixes against (`/foo*` matches
/// `/foo` and `/foo/x` but not `/foobar`).
pub fn with_trailing_slash(path: &[u8]) -> impl Iterator<Item = u8> + Clone + '_ {
    let ends_with_slash = decoded(path).last() == Some(b'/');
    decoded(path).chain((!ends_with_slash).then_some(b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_ports() {
        assert_eq!(strip_port(b"a.com:80"), b"a.com");
        assert_eq!(strip_port(b"a.com"), b"a.com");
        assert_eq!(strip_port(b"[::1]:80"), b"[::1]");
        assert_eq!(strip_port(b""), b"");
    }

    #[test]
    fn decodes_percent_escapes() {
        let d: Vec<u8> = decoded(b"/a%20b%2Fc%zz%4").collect();
        assert_eq!(d, b"/a b/c%zz%4");
        assert!(iter_eq(decoded(b"/A%42"), b"/ab", true));
        assert!(!iter_eq(decoded(b"/A%42"), b"/ab", false));
        assert!(iter_starts_with(decoded(b"/api%2Fv1"), b"/api/", false));
        assert!(!iter_starts_with(decoded(b"/ap"), b"/api", false));
    }

    #[test]
    fn decodes_queries() {
        let d: Vec<u8> = decoded_query(b"a+b%2B%zz").collect();
        assert_eq!(d, b"a b+%zz");
        assert!(escapes_valid(b"a%20b%2f"));
        assert!(escapes_valid(b""));
        assert!(!escapes_valid(b"a%2"));
        assert!(!escapes_valid(b"%zz"));
        assert!(!escapes_valid(b"a%"));
    }

    #[test]
    fn folded_comparisons() {
        assert!(eq(b"AbC", b"aBc", true));
        assert!(!eq(b"AbC", b"aBc", false));
        assert!(starts_with(b"/API/x", b"/api", true));
        assert!(!starts_with(b"/a", b"/api", true));
        assert!(ends_with(b"x.PHP", b".php", true));
        assert!(!ends_with(b"x.PHP", b".php", false));
        assert!(!ends_with(b"p", b".php", true));
        assert!(contains(b"abcDEF", b"cd", true));
        assert!(!contains(b"abcDEF", b"cd", false));
        assert!(contains(b"", b"", false));
        assert!(!contains(b"ab", b"abc", false));
    }

    #[test]
    fn trailing_slash_view() {
        let v: Vec<u8> = with_trailing_slash(b"/foo").collect();
        assert_eq!(v, b"/foo/");
        let v: Vec<u8> = with_trailing_slash(b"/foo/").collect();
        assert_eq!(v, b"/foo/");
    }
}
