//! Tokens of BFE's condition language. Positions are byte offsets into the
//! condition text so errors can point at the exact spot.

use super::CondError;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    Ident(String),
    Str(String),
    Int(i64),
    LParen,
    RParen,
    Comma,
    Not,
    And,
    Or,
    Eof,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Token {
    pub tok: Tok,
    pub pos: usize,
}

pub(super) fn tokenize(src: &str) -> Result<Vec<Token>, CondError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        let simple = |tok| Token { tok, pos: start };
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'(' => {
                out.push(simple(Tok::LParen));
                i += 1;
            }
            b')' => {
                out.push(simple(Tok::RParen));
                i += 1;
            }
            b',' => {
                out.push(simple(Tok::Comma));
                i += 1;
            }
            b'!' => {
                out.push(simple(Tok::Not));
                i += 1;
            }
            b'&' | b'|' => {
                if b.get(i + 1) != Some(&c) {
                    let op = if c == b'&' { "&&" } else { "||" };
                    return Err(CondError::new(start, format!("expected '{op}'")));
                }
                out.push(simple(if c == b'&' { Tok::And } else { Tok::Or }));
                i += 2;
            }
            b'"' => {
                let (s, end) = string(src, i)?;
                out.push(Token {
                    tok: Tok::Str(s),
                    pos: start,
                });
                i = end;
            }
            b'`' => {
                let Some(len) = src[i + 1..].find('`') else {
                    return Err(CondError::new(start, "unterminated raw string"));
                };
                // Go drops carriage returns from raw strings.
                let raw = src[i + 1..i + 1 + len].replace('\r', "");
                out.push(Token {
                    tok: Tok::Str(raw),
                    pos: start,
                });
                i += len + 2;
            }
            b'-' | b'0'..=b'9' => {
                i += 1;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                let text = &src[start..i];
                let v = text
                    .parse::<i64>()
                    .map_err(|_| CondError::new(start, format!("bad integer {text:?}")))?;
                out.push(Token {
                    tok: Tok::Int(v),
                    pos: start,
                });
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                out.push(Token {
                    tok: Tok::Ident(src[start..i].to_string()),
                    pos: start,
                });
            }
            _ => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return Err(CondError::new(
                    start,
                    format!("unexpected character {ch:?}"),
                ));
            }
        }
    }
    out.push(Token {
        tok: Tok::Eof,
        pos: b.len(),
    });
    Ok(out)
}

/// A double-quoted literal. As in BFE's scanner, escapes are checked
/// against Go's rules but the value is the text between the quotes as
/// written: `"a\\.b"` is the four bytes `a\\.b`, so a regular expression
/// means what it means in BFE. Returns the value and the offset just past
/// the closing quote.
fn string(src: &str, open: usize) -> Result<(String, usize), CondError> {
    let b = src.as_bytes();
    let mut i = open + 1;
    while let Some(&c) = b.get(i) {
        match c {
            b'"' => return Ok((src[open + 1..i].to_string(), i + 1)),
            b'\n' => break,
            b'\\' => i = escape(b, i)?,
            _ => i += 1,
        }
    }
    Err(CondError::new(open, "unterminated string"))
}

/// Checks the escape at `at` (a backslash); returns the offset after it.
fn escape(b: &[u8], at: usize) -> Result<usize, CondError> {
    let Some(&e) = b.get(at + 1) else {
        return Err(CondError::new(at, "unterminated string"));
    };
    let (digits, base, max) = match e {
        b'a' | b'b' | b'f' | b'n' | b'r' | b't' | b'v' | b'\\' | b'"' => return Ok(at + 2),
        b'0'..=b'7' => (3, 8, 255),
        b'x' => (2, 16, 255),
        b'u' => (4, 16, 0x10FFFF),
        b'U' => (8, 16, 0x10FFFF),
        _ => return Err(CondError::new(at, "unknown escape sequence")),
    };
    let first = if base == 8 { at + 1 } else { at + 2 };
    let mut v: u32 = 0;
    for k in 0..digits {
        let d = b
            .get(first + k)
            .and_then(|&c| (c as char).to_digit(base))
            .ok_or_else(|| CondError::new(first + k, "bad digit in escape sequence"))?;
        v = v.saturating_mul(base).saturating_add(d);
    }
    if v > max || (0xD800..0xE000).contains(&v) {
        return Err(CondError::new(at, "escape is not a valid code point"));
    }
    Ok(first + digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        tokenize(s).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn tokens_and_comments() {
        assert_eq!(
            toks("!a(\"x\\\"y\", true, -3) && b() // c\n|| c()"),
            vec![
                Tok::Not,
                Tok::Ident("a".into()),
                Tok::LParen,
                Tok::Str("x\\\"y".into()),
                Tok::Comma,
                Tok::Ident("true".into()),
                Tok::Comma,
                Tok::Int(-3),
                Tok::RParen,
                Tok::And,
                Tok::Ident("b".into()),
                Tok::LParen,
                Tok::RParen,
                Tok::Or,
                Tok::Ident("c".into()),
                Tok::LParen,
                Tok::RParen,
                Tok::Eof
            ]
        );
    }

    #[test]
    fn strings_keep_escapes_as_written() {
        assert_eq!(
            toks(r#""\x41\u00e9\t\"\\.\101""#)[0],
            Tok::Str(r#"\x41\u00e9\t\"\\.\101"#.into())
        );
        assert_eq!(toks("`a\\b\r`")[0], Tok::Str("a\\b".into()));
        assert_eq!(toks(r#""""#)[0], Tok::Str(String::new()));
    }

    #[test]
    fn bad_escapes() {
        for (s, pos) in [
            (r#""a\q""#, 2),
            (r#""\x4""#, 4),
            (r#""\8""#, 1),
            (r#""\400""#, 1),
            (r#""\ud800""#, 1),
            (r#""\U00110000""#, 1),
        ] {
            assert_eq!(tokenize(s).unwrap_err().pos, pos, "{s}");
        }
    }

    #[test]
    fn errors_have_positions() {
        assert_eq!(tokenize("a(\"abc").unwrap_err().pos, 2);
        assert_eq!(tokenize("a & b").unwrap_err().pos, 2);
        assert_eq!(tokenize("a $").unwrap_err().pos, 2);
        assert_eq!(tokenize("\"\\q\"").unwrap_err().pos, 1);
        assert!(tokenize("\"\\").is_err());
        assert!(tokenize("99999999999999999999").is_err());
    }
}
