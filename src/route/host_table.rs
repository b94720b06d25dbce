//! Host name → product, as BFE's reversed-label trie resolves it: an exact
//! name wins, then the most specific `*.suffix` (which, like BFE's trie
//! splat, covers any depth of sub-domains but not the suffix itself), then
//! a lone `*`.

use super::{HostTagId, ProductId};
use std::collections::HashMap;
use std::hash::BuildHasherDefault;

/// Host names (lower case) → `V`. Keyed by bytes, so a lookup needs no
/// UTF-8 check, and hashed with FxHash: SipHash's flooding resistance buys
/// nothing for a table whose keys come from configuration (a client picks
/// only what it looks up), and it costs a few hundred instructions per
/// request.
pub(super) type HostMap<V> = HashMap<Box<[u8]>, V, BuildHasherDefault<fxhash::FxHasher>>;

#[derive(Debug, Clone, Default)]
pub(super) struct HostTable {
    exact: HostMap<(ProductId, HostTagId)>,
    /// Keyed by what follows `*.` (`""` for a lone `*`).
    wildcard: HostMap<(ProductId, HostTagId)>,
}

/// Longest host name looked up; DNS names are at most 253 bytes, so longer
/// ones cannot match and need no heap buffer.
pub(super) const MAX_HOST: usize = 256;

/// Lower-cases `host` into `buf`, dropping one trailing dot.
pub(super) fn lower<'b>(host: &[u8], buf: &'b mut [u8; MAX_HOST]) -> Option<&'b [u8]> {
    let host = host.strip_suffix(b".").unwrap_or(host);
    let out = buf.get_mut(..host.len())?;
    for (o, &b) in out.iter_mut().zip(host) {
        *o = b.to_ascii_lowercase();
    }
    Some(out)
}

/// Suffixes after each `.` of `host`, longest first.
pub(super) fn suffixes(host: &[u8]) -> impl Iterator<Item = &[u8]> {
    host.iter()
        .enumerate()
        .filter(|&(_, &b)| b == b'.')
        .map(move |(i, _)| &host[i + 1..])
}

impl HostTable {
    /// `pattern` is already checked and normalised (lower case, no
    /// trailing dot).
    pub(super) fn insert(&mut self, pattern: &str, product: ProductId, tag: HostTagId) {
        let v = (product, tag);
        if pattern == "*" {
            self.wildcard.insert(Box::default(), v);
        } else if let Some(suffix) = pattern.strip_prefix("*.") {
            self.wildcard.insert(suffix.as_bytes().into(), v);
        } else {
            self.exact.insert(pattern.as_bytes().into(), v);
        }
    }

    /// `host` must already be port-stripped.
    pub(super) fn find(&self, host: &[u8]) -> Option<(ProductId, HostTagId)> {
        let mut buf = [0u8; MAX_HOST];
        let host = lower(host, &mut buf)?;
        if let Some(&p) = self.exact.get(host) {
            return Some(p);
        }
        if self.wildcard.is_empty() {
            return None;
        }
        let found = suffixes(host).find_map(|s| self.wildcard.get(s).copied());
        found.or_else(|| self.wildcard.get(&b""[..]).copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_then_most_specific_wildcard() {
        let mut t = HostTable::default();
        t.insert("www.example.net", 0, 0);
        t.insert("*.example.net", 1, 0);
        t.insert("*.b.example.net", 2, 0);
        assert_eq!(t.find(b"WWW.Example.NET"), Some((0, 0)));
        assert_eq!(t.find(b"www.example.net."), Some((0, 0)));
        assert_eq!(t.find(b"x.example.net"), Some((1, 0)));
        assert_eq!(t.find(b"x.y.example.net"), Some((1, 0)));
        assert_eq!(t.find(b"x.b.example.net"), Some((2, 0)));
        assert_eq!(t.find(b"example.net"), None);
        assert_eq!(t.find(b"other.org"), None);
        t.insert("*", 3, 0);
        assert_eq!(t.find(b"other.org"), Some((3, 0)));
        assert_eq!(t.find(&[b'a'; 300]), None);
        // Bytes are compared, not text: a lone `*` takes any host (the
        // request parser has already refused bytes no host may hold).
        assert_eq!(t.find(b"\xff\xfe"), Some((3, 0)));
    }
}
