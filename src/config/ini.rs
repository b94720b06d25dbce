//! BFE's INI dialect (the `gcfg` flavour of git-config), hand-written because
//! keys that repeat to form lists (`Modules = a` / `Modules = b`) are the
//! norm here and general-purpose INI crates either reject or overwrite them.
//!
//! Kept faithful to gcfg where it matters for real BFE files:
//! - section and key names compare case-insensitively;
//! - `[Section "sub"]` subsections are accepted;
//! - `#` and `;` start a comment anywhere outside double quotes;
//! - values are trimmed, inner whitespace is kept, double-quoted parts keep
//!   everything and understand `\\ \" \n \t \b`;
//! - a key with no `=` is a boolean switch (value `None`);
//! - a section header may appear more than once; its entries accumulate.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniError {
    /// 1-based line number.
    pub line: usize,
    pub msg: String,
}

impl fmt::Display for IniError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.msg)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// As written in the file (compare with `eq_ignore_ascii_case`).
    pub key: String,
    /// `None` for a bare key without `=`.
    pub value: Option<String>,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    pub sub: Option<String>,
    pub line: usize,
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ini {
    pub sections: Vec<Section>,
}

impl Ini {
    pub fn parse(text: &str) -> Result<Ini, IniError> {
        let mut ini = Ini::default();
        for (idx, raw) in text.lines().enumerate() {
            let line = idx + 1;
            let s = raw.trim();
            if s.is_empty() || s.starts_with('#') || s.starts_with(';') {
                continue;
            }
            if let Some(rest) = s.strip_prefix('[') {
                let (name, sub) = parse_header(rest, line)?;
                let existing = ini
                    .sections
                    .iter()
                    .position(|sec| sec.name.eq_ignore_ascii_case(&name) && sec.sub == sub);
                if existing.is_none() {
                    ini.sections.push(Section {
                        name,
                        sub,
                        line,
                        entries: Vec::new(),
                    });
                } else if let Some(i) = existing {
                    // Move the reopened section last so following entries land in it.
                    let sec = ini.sections.remove(i);
                    ini.sections.push(sec);
                }
                continue;
            }
            let Some(section) = ini.sections.last_mut() else {
                return Err(IniError {
                    line,
                    msg: "key outside of any [section]".into(),
                });
            };
            let (key, value) = parse_entry(s, line)?;
            section.entries.push(Entry { key, value, line });
        }
        Ok(ini)
    }

    /// Sections with this name (case-insensitive) and no subsection.
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections
            .iter()
            .find(|s| s.sub.is_none() && s.name.eq_ignore_ascii_case(name))
    }
}

impl Section {
    /// Every value given for `key`, in file order. gcfg's list semantics: a
    /// blank value clears what came before.
    pub fn values(&self, key: &str) -> Vec<&str> {
        let mut out = Vec::new();
        for e in self
            .entries
            .iter()
            .filter(|e| e.key.eq_ignore_ascii_case(key))
        {
            match e.value.as_deref() {
                Some("") => out.clear(),
                Some(v) => out.push(v),
                None => out.push(""),
            }
        }
        out
    }

    /// The last entry for `key` (later lines override earlier ones).
    pub fn last(&self, key: &str) -> Option<&Entry> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.key.eq_ignore_ascii_case(key))
    }
}

fn parse_header(rest: &str, line: usize) -> Result<(String, Option<String>), IniError> {
    let err = |msg: &str| IniError {
        line,
        msg: msg.to_string(),
    };
    let close = find_unquoted(rest, b']').ok_or_else(|| err("missing ']' in section header"))?;
    let after = strip_comment(&rest[close + 1..]);
    if !after.trim().is_empty() {
        return Err(err("unexpected text after section header"));
    }
    let inner = rest[..close].trim();
    let (name, sub) = match inner.find(|c: char| c.is_ascii_whitespace()) {
        Some(sp) => {
            let sub_raw = inner[sp..].trim();
            let Some(q) = sub_raw.strip_prefix('"').and_then(|s| s.strip_suffix('"')) else {
                return Err(err("subsection name must be double-quoted"));
            };
            (&inner[..sp], Some(unescape(q, line)?))
        }
        None => (inner, None),
    };
    if !is_name(name) {
        return Err(err("invalid section name"));
    }
    Ok((name.to_string(), sub))
}

fn parse_entry(s: &str, line: usize) -> Result<(String, Option<String>), IniError> {
    let (key_part, value_part) = match find_unquoted(s, b'=') {
        Some(eq) => (&s[..eq], Some(&s[eq + 1..])),
        None => (strip_comment(s), None),
    };
    let key = key_part.trim();
    if !is_name(key) {
        return Err(IniError {
            line,
            msg: format!("invalid key name {key:?}"),
        });
    }
    let value = match value_part {
        Some(v) => Some(parse_value(v, line)?),
        None => None,
    };
    Ok((key.to_string(), value))
}

/// gcfg names: a letter, then letters, digits, `-` or `_`.
fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

/// Position of the first unquoted `want` or comment start (`#`, `;`),
/// skipping quoted strings and their escapes; `None` when neither occurs.
fn scan_unquoted(s: &str, want: Option<u8>) -> Option<(usize, bool)> {
    let b = s.as_bytes();
    let mut in_q = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' if in_q => i += 1,
            b'"' => in_q = !in_q,
            b'#' | b';' if !in_q => return Some((i, false)),
            c if Some(c) == want && !in_q => return Some((i, true)),
            _ => {}
        }
        i += 1;
    }
    None
}

/// The first unquoted `want` before any comment.
fn find_unquoted(s: &str, want: u8) -> Option<usize> {
    match scan_unquoted(s, Some(want)) {
        Some((i, true)) => Some(i),
        _ => None,
    }
}

fn strip_comment(s: &str) -> &str {
    match scan_unquoted(s, None) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn parse_value(v: &str, line: usize) -> Result<String, IniError> {
    let mut out = String::new();
    // Length of `out` that must survive trimming (ends inside/after quotes).
    let mut keep = 0;
    let mut in_q = false;
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                in_q = !in_q;
                keep = out.len();
            }
            '\\' => {
                let Some(n) = chars.next() else {
                    return Err(IniError {
                        line,
                        msg: "dangling '\\' at end of value".into(),
                    });
                };
                out.push(match n {
                    '\\' => '\\',
                    '"' => '"',
                    'n' => '\n',
                    't' => '\t',
                    'b' => '\u{8}',
                    _ => {
                        return Err(IniError {
                            line,
                            msg: format!("unknown escape '\\{n}'"),
                        })
                    }
                });
                keep = out.len();
            }
            '#' | ';' if !in_q => break,
            c if !in_q && c.is_whitespace() && out.len() == keep && out.is_empty() => {}
            c => {
                out.push(c);
                if in_q {
                    keep = out.len();
                }
            }
        }
    }
    if in_q {
        return Err(IniError {
            line,
            msg: "unterminated quoted value".into(),
        });
    }
    let trimmed_len = out.trim_end().len().max(keep);
    out.truncate(trimmed_len);
    Ok(out)
}

fn unescape(s: &str, line: usize) -> Result<String, IniError> {
    parse_value(&format!("\"{s}\""), line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_keys_lists_and_comments() {
        let text = "# top comment\n; another\n[Server]\nHttpPort = 8080 # trailing\n\
                    modules = mod_a\nModules = mod_b ; also\n\n[Other]\nflag\n";
        let ini = Ini::parse(text).unwrap();
        let s = ini.section("server").unwrap();
        assert_eq!(s.last("httpport").unwrap().value.as_deref(), Some("8080"));
        assert_eq!(s.values("Modules"), vec!["mod_a", "mod_b"]);
        let o = ini.section("OTHER").unwrap();
        assert_eq!(o.last("flag").unwrap().value, None);
    }

    #[test]
    fn quoted_values_keep_spaces_and_escapes() {
        let ini = Ini::parse("[S]\na = \"  x # y \"\nb = \"q\\\"\\n\"\nc = one  two  \nd = \"\"\n")
            .unwrap();
        let s = ini.section("S").unwrap();
        assert_eq!(s.last("a").unwrap().value.as_deref(), Some("  x # y "));
        assert_eq!(s.last("b").unwrap().value.as_deref(), Some("q\"\n"));
        assert_eq!(s.last("c").unwrap().value.as_deref(), Some("one  two"));
        assert_eq!(s.last("d").unwrap().value.as_deref(), Some(""));
    }

    #[test]
    fn blank_value_resets_list_and_last_wins() {
        let ini = Ini::parse("[S]\nm = a\nm =\nm = b\nx = 1\nx = 2\n").unwrap();
        let s = ini.section("S").unwrap();
        assert_eq!(s.values("m"), vec!["b"]);
        assert_eq!(s.last("x").unwrap().value.as_deref(), Some("2"));
    }

    #[test]
    fn reopened_section_and_subsection() {
        let ini = Ini::parse("[A]\nx=1\n[B \"sub\"]\ny=2\n[a]\nz=3\n").unwrap();
        let a = ini.section("A").unwrap();
        assert_eq!(a.entries.len(), 2);
        let b = ini.sections.iter().find(|s| s.name == "B").unwrap();
        assert_eq!(b.sub.as_deref(), Some("sub"));
    }

    #[test]
    fn errors_carry_line_numbers() {
        assert_eq!(Ini::parse("x = 1\n").unwrap_err().line, 1);
        assert_eq!(Ini::parse("[S]\n\n[bad\n").unwrap_err().line, 3);
        assert_eq!(Ini::parse("[S]\na = \"open\n").unwrap_err().line, 2);
        assert_eq!(Ini::parse("[S]\n9x = 1\n").unwrap_err().line, 2);
        assert_eq!(Ini::parse("[S]\na = \"\\q\"\n").unwrap_err().line, 2);
    }

    #[test]
    fn no_panic_on_odd_input() {
        for t in [
            "[",
            "]",
            "[\"",
            "=",
            "[S]\n=",
            "[S]\na=\\",
            "[S x]",
            "\u{0}",
            "[S]\na=\"\\",
        ] {
            let _ = Ini::parse(t);
        }
    }
}
