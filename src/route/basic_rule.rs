//! A product's `BasicRule`s, matched as BFE's basic rule trees match them:
//! the host picks one path table (exact host, else `*.` one label deep,
//! else `*`), then the path picks the cluster (exact, else the longest
//! `prefix*`, where `/foo*` covers `/foo` and `/foo/…` but not `/foobar`).
//! No fallback between host levels: a host that matches but whose paths do
//! not gives no basic match, and routing moves on to the ProductRules.

use super::bytes::{decoded, iter_eq, iter_starts_with, strip_port, with_trailing_slash};
use super::host_table::{lower, HostMap, MAX_HOST};
use super::ClusterId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Cluster(ClusterId),
    /// `ADVANCED_MODE`: go on to the ProductRules.
    Advanced,
}

#[derive(Debug, Clone, Default)]
pub(super) struct PathTable {
    exact: Vec<(Box<[u8]>, Target)>,
    /// Longest first, each key ending in `/` (or empty for `*`).
    prefix: Vec<(Box<[u8]>, Target)>,
}

#[derive(Debug, Clone, Default)]
pub struct BasicRules {
    exact: HostMap<PathTable>,
    /// Keyed by what follows `*.`.
    wildcard: HostMap<PathTable>,
    any: Option<PathTable>,
}

impl BasicRules {
    /// Adds one rule; an empty host or path list means "any". Errors on a
    /// path given twice for the same host, as BFE does.
    pub fn insert(
        &mut self,
        hosts: &[String],
        paths: &[String],
        target: Target,
    ) -> Result<(), String> {
        let any = ["*".to_string()];
        let hosts = if hosts.is_empty() { &any[..] } else { hosts };
        let paths = if paths.is_empty() { &any[..] } else { paths };
        for h in hosts {
            let h = h.trim_end_matches('.').to_ascii_lowercase();
            let table = if h == "*" {
                self.any.get_or_insert_with(PathTable::default)
            } else if let Some(suffix) = h.strip_prefix("*.") {
                self.wildcard.entry(suffix.as_bytes().into()).or_default()
            } else {
                self.exact.entry(h.as_bytes().into()).or_default()
            };
            for p in paths {
                table
                    .insert(p, target)
                    .map_err(|e| format!("host {h:?}: {e}"))?;
            }
        }
        Ok(())
    }

    pub fn find(&self, host: &[u8], path: &[u8]) -> Option<Target> {
        let mut buf = [0u8; MAX_HOST];
        let host = lower(strip_port(host), &mut buf)?;
        let table = match self.exact.get(host) {
            Some(t) => t,
            None => {
                let one_label = host
                    .iter()
                    .position(|&b| b == b'.')
                    .and_then(|i| self.wildcard.get(&host[i + 1..]));
                one_label.or(self.any.as_ref())?
            }
        };
        table.find(path)
    }
}

impl PathTable {
    fn insert(&mut self, pattern: &str, target: Target) -> Result<(), String> {
        let (list, key) = match pattern.strip_suffix('*') {
            Some(p) => {
                let mut key = p.to_string();
                if !key.is_empty() && !key.ends_with('/') {
                    key.push('/');
                }
                (&mut self.prefix, key)
            }
            None => (&mut self.exact, pattern.to_string()),
        };
        if list.iter().any(|(k, _)| **k == *key.as_bytes()) {
            return Err(format!("path {pattern:?} is given twice"));
        }
        list.push((key.into_bytes().into_boxed_slice(), target));
        self.prefix.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
        Ok(())
    }

    /// `path` is the raw (percent-encoded) request path.
    fn find(&self, path: &[u8]) -> Option<Target> {
        if let Some((_, t)) = self
            .exact
            .iter()
            .find(|(k, _)| iter_eq(decoded(path), k, false))
        {
            return Some(*t);
        }
        let view = with_trailing_slash(path);
        self.prefix
            .iter()
            .find(|(k, _)| iter_starts_with(view.clone(), k, false))
            .map(|(_, t)| *t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn host_levels_and_paths() {
        let mut r = BasicRules::default();
        r.insert(&s(&["a.com"]), &s(&["/x", "/api*"]), Target::Cluster(1))
            .unwrap();
        r.insert(&s(&["*.a.com"]), &s(&[]), Target::Cluster(2))
            .unwrap();
        r.insert(&s(&[]), &s(&["/"]), Target::Advanced).unwrap();
        r.insert(&s(&["a.com"]), &s(&["/api/v2*"]), Target::Cluster(3))
            .unwrap();
        assert_eq!(r.find(b"A.com:80", b"/x"), Some(Target::Cluster(1)));
        assert_eq!(r.find(b"a.com", b"/api"), Some(Target::Cluster(1)));
        assert_eq!(r.find(b"a.com", b"/api/v1"), Some(Target::Cluster(1)));
        assert_eq!(r.find(b"a.com", b"/api/v2/z"), Some(Target::Cluster(3)));
        assert_eq!(r.find(b"a.com", b"/api%2Fv2"), Some(Target::Cluster(3)));
        assert_eq!(r.find(b"a.com", b"/apix"), None);
        // Exact host matched; no fallback to the `*` host's rules.
        assert_eq!(r.find(b"a.com", b"/"), None);
        assert_eq!(r.find(b"w.a.com", b"/anything"), Some(Target::Cluster(2)));
        // `*.a.com` is one label deep only; deeper falls to `*`.
        assert_eq!(r.find(b"v.w.a.com", b"/"), Some(Target::Advanced));
        assert_eq!(r.find(b"v.w.a.com", b"/q"), None);
    }

    #[test]
    fn duplicate_path_is_an_error() {
        let mut r = BasicRules::default();
        r.insert(&s(&["a.com"]), &s(&["/x"]), Target::Cluster(1))
            .unwrap();
        assert!(r
            .insert(&s(&["A.com"]), &s(&["/x"]), Target::Cluster(2))
            .is_err());
        assert!(r
            .insert(&s(&["a.com"]), &s(&["/x/*", "/x*"]), Target::Cluster(2))
            .is_err());
    }

    #[test]
    fn star_path_matches_everything() {
        let mut r = BasicRules::default();
        r.insert(&s(&["a.com"]), &s(&["*"]), Target::Cluster(4))
            .unwrap();
        assert_eq!(r.find(b"a.com", b""), Some(Target::Cluster(4)));
        assert_eq!(r.find(b"a.com", b"/deep/path"), Some(Target::Cluster(4)));
    }
}
