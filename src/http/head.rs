//! Offsets into a read buffer, and header facts shared by both directions.

/// A byte range of the buffer a head was parsed from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Span {
    pub start: u32,
    pub len: u32,
}

impl Span {
    pub const EMPTY: Span = Span { start: 0, len: 0 };

    /// The span of `part` inside `base`. httparse hands back sub-slices of
    /// the buffer it parsed, except for a few values it makes up (a reason
    /// phrase that is not UTF-8 comes back as a static `""`): anything not
    /// inside `base` is the empty span, never a wrapped-around offset.
    pub(crate) fn of(base: &[u8], part: &[u8]) -> Span {
        let offset = (part.as_ptr() as usize).checked_sub(base.as_ptr() as usize);
        match offset {
            Some(start) if start.saturating_add(part.len()) <= base.len() => Span {
                start: start as u32,
                len: part.len() as u32,
            },
            _ => Span::EMPTY,
        }
    }

    #[inline]
    pub fn get<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        let s = self.start as usize;
        buf.get(s..s + self.len as usize).unwrap_or(&[])
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// One header line: name and value spans.
#[derive(Debug, Clone, Copy, Default)]
pub struct HeaderSpan {
    pub name: Span,
    pub value: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Version {
    Http10,
    #[default]
    Http11,
}

impl Version {
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

/// Headers that describe one hop and are never forwarded (RFC 9110 §7.6.1),
/// plus the framing headers ringfront always rewrites itself.
pub fn is_hop_by_hop(name: &[u8]) -> bool {
    const HOP: [&[u8]; 10] = [
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"content-length",
    ];
    HOP.iter().any(|h| h.eq_ignore_ascii_case(name))
}

/// Whether a comma-separated header value lists `token` (case-insensitive).
pub(crate) fn has_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| trim(t).eq_ignore_ascii_case(token))
}

pub(crate) fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Whether every LF in a head is preceded by CR. httparse accepts bare LF
/// line endings; a proxy must not, because a backend that does not would
/// see a different message (RFC 9112 §2.2).
///
/// Every head is checked, so this skips eight bytes at a time to the next
/// LF (a head has one per line) instead of looking at each byte.
pub(crate) fn has_bare_lf(head: &[u8]) -> bool {
    const LF: u64 = u64::from_ne_bytes([b'\n'; 8]);
    const LOW: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let mut i = 0;
    while i < head.len() {
        if let Some(word) = head.get(i..i + 8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(word);
            let x = u64::from_ne_bytes(w) ^ LF;
            // No byte of `x` is zero, so no LF among these eight.
            if x.wrapping_sub(LOW) & !x & HIGH == 0 {
                i += 8;
                continue;
            }
        }
        // An LF is among the next eight bytes (or fewer are left): bytewise.
        let end = (i + 8).min(head.len());
        for j in i..end {
            if head[j] == b'\n' && (j == 0 || head[j - 1] != b'\r') {
                return true;
            }
        }
        i = end;
    }
    false
}

/// Whether `name` spells `canonical` with `_` for some `-`: such headers
/// are read as the framing header by CGI-style backends, so they are
/// refused rather than forwarded.
pub(crate) fn is_underscore_alias(name: &[u8], canonical: &[u8]) -> bool {
    name.len() == canonical.len()
        && name.contains(&b'_')
        && name
            .iter()
            .zip(canonical)
            .all(|(&a, &c)| a.eq_ignore_ascii_case(&c) || (a == b'_' && c == b'-'))
}

/// A Content-Length value: digits only, no sign, no spaces, no overflow.
pub(crate) fn parse_content_length(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in v {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + (b - b'0') as u64;
    }
    Some(n)
}

/// A response's Content-Length value: one length, or a list of that same
/// length repeated (RFC 9110 §8.6 lets a recipient read `3, 3` as 3). The
/// response parser and the length relayed with a body-less response read
/// it by this one rule.
pub(crate) fn content_length_list(v: &[u8]) -> Result<u64, &'static str> {
    let mut n = None;
    for part in v.split(|&b| b == b',') {
        let this = parse_content_length(trim(part)).ok_or("invalid Content-Length")?;
        if n.is_some_and(|n| n != this) {
            return Err("conflicting Content-Length");
        }
        n = Some(this);
    }
    n.ok_or("invalid Content-Length")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_is_strict() {
        assert_eq!(parse_content_length(b"0"), Some(0));
        assert_eq!(parse_content_length(b"123"), Some(123));
        assert_eq!(parse_content_length(b"+1"), None);
        assert_eq!(parse_content_length(b"-1"), None);
        assert_eq!(parse_content_length(b" 1"), None);
        assert_eq!(parse_content_length(b"1a"), None);
        assert_eq!(parse_content_length(b""), None);
        assert_eq!(parse_content_length(b"99999999999999999999"), None);
    }

    #[test]
    fn content_length_lists() {
        assert_eq!(content_length_list(b"0"), Ok(0));
        assert_eq!(content_length_list(b"0,   0"), Ok(0));
        assert_eq!(content_length_list(b"5 ,5,\t5"), Ok(5));
        assert_eq!(
            content_length_list(b"1, 2"),
            Err("conflicting Content-Length")
        );
        assert_eq!(content_length_list(b"1,"), Err("invalid Content-Length"));
        assert_eq!(content_length_list(b""), Err("invalid Content-Length"));
    }

    #[test]
    fn span_of_a_slice_outside_the_buffer_is_empty() {
        let buf = b"abcdef".to_vec();
        assert_eq!(Span::of(&buf, &buf[2..4]), Span { start: 2, len: 2 });
        assert_eq!(Span::of(&buf, &buf[6..]), Span { start: 6, len: 0 });
        let other = b"xyz".to_vec();
        assert_eq!(Span::of(&buf, &other), Span::EMPTY);
        assert_eq!(Span::of(&buf, b""), Span::EMPTY);
    }

    #[test]
    fn line_endings_and_aliases() {
        assert!(!has_bare_lf(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
        assert!(has_bare_lf(b"GET / HTTP/1.1\nHost: a\r\n\r\n"));
        assert!(has_bare_lf(b"\nGET / HTTP/1.1\r\n\r\n"));
        assert!(is_underscore_alias(b"Content_Length", b"content-length"));
        assert!(!is_underscore_alias(b"Content-Length", b"content-length"));
        assert!(!is_underscore_alias(b"Content_Lengthx", b"content-length"));
    }

    #[test]
    fn bare_lf_found_at_every_offset_and_word_boundary() {
        let naive = |h: &[u8]| {
            h.iter()
                .enumerate()
                .any(|(i, &b)| b == b'\n' && (i == 0 || h[i - 1] != b'\r'))
        };
        for len in 0..40 {
            for lf in 0..len {
                let mut h = vec![b'a'; len];
                h[lf] = b'\n';
                assert_eq!(has_bare_lf(&h), naive(&h), "len {len} lf {lf}");
                if lf > 0 {
                    h[lf - 1] = b'\r';
                    assert!(!has_bare_lf(&h), "CRLF at {lf} of {len}");
                }
            }
        }
        // Bytes that differ from LF by one bit, or carry into it, are not LF.
        assert!(!has_bare_lf(&[
            0x0b,
            0x09,
            0x8a,
            0x0a ^ 0x80,
            0x00,
            0xff,
            0x0b,
            0x09,
            0x8a
        ]));
    }

    #[test]
    fn tokens() {
        assert!(has_token(b"keep-alive, Close", b"close"));
        assert!(!has_token(b"closed", b"close"));
        assert!(is_hop_by_hop(b"Transfer-Encoding"));
        assert!(!is_hop_by_hop(b"Host"));
    }
}
