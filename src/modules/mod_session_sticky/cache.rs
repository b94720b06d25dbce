//! The sticky-id cache of `Sticky` rules: sticky id → backend, per worker.
//!
//! BFE keeps one LRU for the process; ringfront keeps one per worker (no
//! lock on the request path), each of `CacheSize` entries. It is an
//! approximate LRU with O(1) work: two generations, the newer taking
//! inserts and hits; when it is full the older one is dropped and the newer
//! becomes the older. An id used within the last `CacheSize / 2` to
//! `CacheSize` distinct ids stays.

use crate::basic::StickyBackend;
use std::collections::HashMap;

pub struct StickyCache {
    young: HashMap<Box<str>, StickyBackend>,
    old: HashMap<Box<str>, StickyBackend>,
    /// Entries per generation.
    half: usize,
}

impl StickyCache {
    pub fn new(size: usize) -> StickyCache {
        StickyCache {
            young: HashMap::new(),
            old: HashMap::new(),
            half: (size / 2).max(1),
        }
    }

    pub fn get(&mut self, id: &str) -> Option<StickyBackend> {
        if let Some(b) = self.young.get(id) {
            return Some(b.clone());
        }
        let (k, b) = self.old.remove_entry(id)?;
        self.insert_young(k, b.clone());
        Some(b)
    }

    pub fn insert(&mut self, id: &str, backend: StickyBackend) {
        self.old.remove(id);
        self.insert_young(id.into(), backend);
    }

    fn insert_young(&mut self, id: Box<str>, backend: StickyBackend) {
        if self.young.len() >= self.half && !self.young.contains_key(&id) {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.insert(id, backend);
    }

    pub fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }

    pub fn is_empty(&self) -> bool {
        self.young.is_empty() && self.old.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bk(port: u16) -> StickyBackend {
        StickyBackend {
            addr: ([127, 0, 0, 1], port).into(),
            subcluster: "s".into(),
        }
    }

    #[test]
    fn keeps_recent_ids_and_bounds_its_size() {
        let mut c = StickyCache::new(4);
        c.insert("a", bk(1));
        c.insert("b", bk(2));
        assert_eq!(c.get("a"), Some(bk(1)));
        c.insert("c", bk(3)); // a, b move to the older generation
        c.insert("d", bk(4));
        assert_eq!(c.get("a"), Some(bk(1))); // promoted again
        c.insert("e", bk(5));
        c.insert("f", bk(6));
        assert!(c.len() <= 4);
        assert_eq!(c.get("f"), Some(bk(6)));
        assert_eq!(c.get("b"), None);
        c.insert("f", bk(7));
        assert_eq!(c.get("f"), Some(bk(7)));
    }
}
