//! A bounded map from access signature to per-rule state, least recently
//! used entries evicted first (BFE keeps an LRU cache of `AccessDictSize` /
//! `PrisonDictSize` entries per rule). Per worker, so plain `&mut`.
//!
//! Recency is a tick stamped on every use; when the map is full, the oldest
//! eighth is evicted in one pass, so eviction is amortised O(1) per insert
//! and a lookup touches one hash slot.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

/// The signature is already a keyed hash: the map need not hash it again.
#[derive(Default)]
pub(super) struct SigHasher(u64);

impl std::hash::Hasher for SigHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = (v as u64) ^ ((v >> 64) as u64);
    }
}

pub(super) struct Lru<V> {
    map: HashMap<u128, (V, u64), BuildHasherDefault<SigHasher>>,
    cap: usize,
    tick: u64,
}

impl<V> Lru<V> {
    pub(super) fn new(cap: usize) -> Self {
        Lru {
            map: HashMap::default(),
            cap: cap.max(1),
            tick: 0,
        }
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.map.len()
    }

    #[cfg(test)]
    pub(super) fn capacity(&self) -> usize {
        self.cap
    }

    /// Grow (never shrink) the bound, as BFE's `EnlargeCapacity`.
    pub(super) fn enlarge(&mut self, cap: usize) {
        self.cap = self.cap.max(cap);
    }

    fn stamp(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    pub(super) fn get_mut(&mut self, k: u128) -> Option<&mut V> {
        let t = self.stamp();
        let e = self.map.get_mut(&k)?;
        e.1 = t;
        Some(&mut e.0)
    }

    /// The entry for `k`, inserting `make()` (evicting if full) first.
    pub(super) fn get_or_insert(&mut self, k: u128, make: impl FnOnce() -> V) -> &mut V {
        if !self.map.contains_key(&k) && self.map.len() >= self.cap {
            self.evict();
        }
        let t = self.stamp();
        let e = self.map.entry(k).or_insert_with(|| (make(), t));
        e.1 = t;
        &mut e.0
    }

    pub(super) fn insert(&mut self, k: u128, v: V) {
        if !self.map.contains_key(&k) && self.map.len() >= self.cap {
            self.evict();
        }
        let t = self.stamp();
        self.map.insert(k, (v, t));
    }

    pub(super) fn remove(&mut self, k: u128) {
        self.map.remove(&k);
    }

    /// Drop the least recently used eighth (at least one entry).
    fn evict(&mut self) {
        let n = (self.map.len() / 8).max(1);
        let mut ticks: Vec<u64> = self.map.values().map(|e| e.1).collect();
        let (_, nth, _) = ticks.select_nth_unstable(n - 1);
        let limit = *nth;
        self.map.retain(|_, e| e.1 > limit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_least_recent_goes_first() {
        let mut l = Lru::new(8);
        for k in 0..8u128 {
            *l.get_or_insert(k, || 0) = k;
        }
        assert!(l.get_mut(0).is_some()); // 0 is now the most recent
        *l.get_or_insert(100, || 0) = 100;
        assert_eq!(l.len(), 8);
        assert!(l.get_mut(1).is_none(), "1 was the least recent");
        assert_eq!(l.get_mut(0).copied(), Some(0));
        for k in 200..1200u128 {
            l.get_or_insert(k, || 0);
            assert!(l.len() <= 8);
        }
        l.enlarge(4);
        assert_eq!(l.capacity(), 8);
        l.enlarge(16);
        assert_eq!(l.capacity(), 16);
    }
}
