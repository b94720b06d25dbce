//! Tokens of BFE's condition language. Positions are byte offsets into the
//! condition text so errors can point at the exact spot.

use super::CondError;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
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
pub struct Token {
    pub tok: Tok,
    pub pos: usize,
}

pub fn tokenize(src: &str) -> Result<Vec<Token>, CondError> {
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
                out.push(Token {
                    tok: Tok::Str(src[i + 1..i + 1 + len].to_string()),
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

/// A double-quoted literal with Go-style escapes; returns the value and the
/// offset just past the closing quote.
fn string(src: &str, open: usize) -> Result<(String, usize), CondError> {
    let mut out = String::new();
    let mut chars = src[open + 1..].char_indices();
    while let Some((off, c)) = chars.next() {
        let at = open + 1 + off;
        match c {
            '"' => return Ok((out, at + 1)),
            '\n' => break,
            '\\' => {
                let Some((_, e)) = chars.next() else { break };
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    '\\' => out.push('\\'),
                    '"' => out.push('"'),
                    '\'' => out.push('\''),
                    'x' | 'u' | 'U' => {
                        let n = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let mut v: u32 = 0;
                        for _ in 0..n {
                            let d = chars.next().and_then(|(_, h)| h.to_digit(16));
                            let Some(d) = d else {
                                return Err(CondError::new(at, "bad hex escape in string"));
                            };
                            v = v * 16 + d;
                        }
                        match char::from_u32(v) {
                            Some(ch) => out.push(ch),
                            None => {
                                return Err(CondError::new(at, "escape is not a valid character"))
                            }
                        }
                    }
                    other => return Err(CondError::new(at, format!("unknown escape '\\{other}'"))),
                }
            }
            c => out.push(c),
        }
    }
    Err(CondError::new(open, "unterminated string"))
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
                Tok::Str("x\"y".into()),
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
    fn escapes() {
        assert_eq!(toks(r#""\x41\u00e9\t""#)[0], Tok::Str("Aé\t".into()));
        assert_eq!(toks("`a\\b`")[0], Tok::Str("a\\b".into()));
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
