//! Host name → product, as BFE's reversed-label trie resolves it: an exact
//! name wins, then the most specific `*.suffix` (which, like BFE's trie
//! splat, covers any depth of sub-domains but not the suffix itself), then
//! a lone `*`.

use super::ProductId;
use std::collections::HashMap;

#[derive(Debug, Clone, Default)]
pub(super) struct HostTable {
    exact: HashMap<String, ProductId>,
    /// Keyed by what follows `*.` (`""` for a lone `*`).
    wildcard: HashMap<String, ProductId>,
}

/// Longest host name looked up; DNS names are at most 253 bytes, so longer
/// ones cannot match and need no heap buffer.
pub(super) const MAX_HOST: usize = 256;

/// Lower-cases `host` into `buf`, dropping one trailing dot.
pub(super) fn lower<'b>(host: &[u8], buf: &'b mut [u8; MAX_HOST]) -> Option<&'b str> {
    let host = host.strip_suffix(b".").unwrap_or(host);
    let out = buf.get_mut(..host.len())?;
    for (o, &b) in out.iter_mut().zip(host) {
        *o = b.to_ascii_lowercase();
    }
    std::str::from_utf8(out).ok()
}

/// Suffixes after each `.` of `host`, longest first.
pub(super) fn suffixes(host: &str) -> impl Iterator<Item = &str> {
    host.match_indices('.').map(move |(i, _)| &host[i + 1..])
}

impl HostTable {
    /// `pattern` is already checked and normalised (lower case, no
    /// trailing dot).
    pub(super) fn insert(&mut self, pattern: &str, product: ProductId) {
        if pattern == "*" {
            self.wildcard.insert(String::new(), product);
        } else if let Some(suffix) = pattern.strip_prefix("*.") {
            self.wildcard.insert(suffix.to_string(), product);
        } else {
            self.exact.insert(pattern.to_string(), product);
        }
    }

    /// `host` must already be port-stripped.
    pub(super) fn find(&self, host: &[u8]) -> Option<ProductId> {
        let mut buf = [0u8; MAX_HOST];
        let host = lower(host, &mut buf)?;
        if let Some(&p) = self.exact.get(host) {
            return Some(p);
        }
        if self.wildcard.is_empty() {
            return None;
        }
        let found = suffixes(host).find_map(|s| self.wildcard.get(s).copied());
        found.or_else(|| self.wildcard.get("").copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_then_most_specific_wildcard() {
        let mut t = HostTable::default();
        t.insert("www.example.net", 0);
        t.insert("*.example.net", 1);
        t.insert("*.b.example.net", 2);
        assert_eq!(t.find(b"WWW.Example.NET"), Some(0));
        assert_eq!(t.find(b"www.example.net."), Some(0));
        assert_eq!(t.find(b"x.example.net"), Some(1));
        assert_eq!(t.find(b"x.y.example.net"), Some(1));
        assert_eq!(t.find(b"x.b.example.net"), Some(2));
        assert_eq!(t.find(b"example.net"), None);
        assert_eq!(t.find(b"other.org"), None);
        t.insert("*", 3);
        assert_eq!(t.find(b"other.org"), Some(3));
        assert_eq!(t.find(&[b'a'; 300]), None);
        assert_eq!(t.find(b"\xff\xfe"), None);
    }
}
