//! How fetched bytes are compared: BFE's in / prefix / suffix / contain /
//! regmatch matchers over a `|`-separated value list.

use super::hash::HashTest;
use crate::route::bytes::{contains, ends_with, eq, starts_with};
use regex::bytes::Regex;

/// A `|`-separated value list, kept as given; `fold` compares ASCII
/// case-insensitively in place rather than upper-casing copies. An empty
/// list string is one empty value, as in BFE.
#[derive(Debug, Clone)]
pub struct Values {
    pub items: Box<[Box<[u8]>]>,
    pub fold: bool,
}

impl Values {
    /// One value, not split on `|` (BFE's exact matcher).
    pub fn one(value: &str, fold: bool) -> Values {
        let items = vec![value.as_bytes().into()].into_boxed_slice();
        Values { items, fold }
    }

    pub fn new(list: &str, fold: bool) -> Values {
        let items = list
            .split('|')
            .map(|s| s.as_bytes().to_vec().into_boxed_slice())
            .collect();
        Values { items, fold }
    }

    /// Whether `f(item, fold)` holds for any item.
    pub fn any(&self, f: impl Fn(&[u8], bool) -> bool) -> bool {
        self.items.iter().any(|w| f(w, self.fold))
    }
}

#[derive(Debug, Clone)]
pub enum Test {
    In(Values),
    PrefixIn(Values),
    SuffixIn(Values),
    Contain(Values),
    /// Whole path segments: subject and values are compared with a `/`
    /// appended when missing, so `/a` covers `/a` and `/a/b`, not `/ab`.
    ElementPrefixIn(Values),
    /// Compiled once at load; unanchored, like Go's `MatchString`.
    Regex(Regex),
    /// The value's hash bucket is one of the listed ones (`*_hash_in`).
    Hash(HashTest),
}

impl Test {
    pub fn regex(pattern: &str) -> Result<Test, String> {
        Regex::new(pattern).map(Test::Regex).map_err(|e| {
            // The parser's message draws the pattern over several lines;
            // its last line says what is wrong, and errors are one line.
            let msg = e.to_string();
            let last = msg.lines().rev().find(|l| !l.trim().is_empty());
            let why = last.unwrap_or(&msg).trim().trim_start_matches("error: ");
            format!("bad regular expression: {why}")
        })
    }

    /// `req_path_element_prefix_in`'s values, each ending in `/`.
    pub fn element_prefix(list: &str, fold: bool) -> Test {
        let mut v = Values::new(list, fold);
        for item in v.items.iter_mut() {
            if item.last() != Some(&b'/') {
                let mut s = item.to_vec();
                s.push(b'/');
                *item = s.into_boxed_slice();
            }
        }
        Test::ElementPrefixIn(v)
    }

    pub fn matches(&self, s: &[u8]) -> bool {
        match self {
            Test::In(v) => v.any(|w, f| eq(s, w, f)),
            Test::PrefixIn(v) => v.any(|w, f| starts_with(s, w, f)),
            Test::SuffixIn(v) => v.any(|w, f| ends_with(s, w, f)),
            Test::Contain(v) => v.any(|w, f| contains(s, w, f)),
            Test::ElementPrefixIn(v) => {
                let slash = s.last() != Some(&b'/');
                v.any(|w, f| {
                    // `w` ends in '/'; compare it against `s` + '/'.
                    if slash && w.len() == s.len() + 1 {
                        eq(&w[..s.len()], s, f)
                    } else {
                        starts_with(s, w, f)
                    }
                })
            }
            Test::Regex(r) => r.is_match(s),
            Test::Hash(h) => h.matches(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_prefix_suffix_contain() {
        let t = Test::In(Values::new("a|B|", true));
        assert!(t.matches(b"b") && t.matches(b"A") && t.matches(b""));
        assert!(!t.matches(b"ab"));
        let t = Test::PrefixIn(Values::new("/x|/Api", false));
        assert!(t.matches(b"/Api/v1") && !t.matches(b"/api/v1"));
        let t = Test::SuffixIn(Values::new(".jpg|.PNG", true));
        assert!(t.matches(b"/a.JPG") && t.matches(b"b.png") && !t.matches(b"png"));
        let t = Test::Contain(Values::new("admin", false));
        assert!(t.matches(b"/x/admin/y") && !t.matches(b"/x/ADMIN"));
    }

    #[test]
    fn element_prefix() {
        let t = Test::element_prefix("/a|/b/", false);
        assert!(t.matches(b"/a"));
        assert!(t.matches(b"/a/"));
        assert!(t.matches(b"/a/x"));
        assert!(t.matches(b"/b"));
        assert!(!t.matches(b"/ab"));
        assert!(!t.matches(b"/"));
        assert!(!t.matches(b""));
        let t = Test::element_prefix("/A", true);
        assert!(t.matches(b"/a/x"));
    }

    #[test]
    fn regex() {
        let t = Test::regex(r"^/s\?word=\d+$").unwrap();
        assert!(t.matches(b"/s?word=123"));
        assert!(!t.matches(b"/s?word=x"));
        assert!(Test::regex("a").unwrap().matches(b"xax"));
        assert_eq!(
            Test::regex("a(").unwrap_err(),
            "bad regular expression: unclosed group"
        );
        // Bytes that are not UTF-8 do not break matching.
        assert!(Test::regex("^/a").unwrap().matches(b"/a\xff"));
    }
}
