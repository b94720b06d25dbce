//! Backend response-time histograms per product and per cluster: the time
//! from a request's last byte sent to a backend to that backend's response
//! head. Each worker counts into plain arrays indexed by the product and
//! cluster ids of its current configuration (fixed buckets, no lock, no
//! atomic, no allocation); the control thread asks for a copy by name and
//! merges the workers' copies on scrape.
//!
//! Ids are only valid within one configuration generation. On a swap the
//! worker folds its arrays into totals kept by name; a request that
//! started on an older generation and finishes after the swap is counted
//! by name too (rare, and off the fast path).

use crate::balance::Generation;
use std::cell::{Cell, RefCell};
use std::time::Duration;

/// Bucket upper bounds in microseconds (Prometheus `le`, in seconds:
/// 1 ms … 10 s); a last bucket takes everything slower.
pub(crate) const BOUNDS_US: [u64; 13] = [
    1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000, 2_000_000,
    5_000_000, 10_000_000,
];
const SLOTS: usize = BOUNDS_US.len() + 1;

/// One histogram: counts per bucket (not cumulative) and the sum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Hist {
    pub counts: [u64; SLOTS],
    pub sum_us: u64,
}

impl Hist {
    #[inline]
    fn add(&mut self, us: u64) {
        // Most answers land in the first buckets: a short scan.
        let slot = BOUNDS_US
            .iter()
            .position(|&b| us <= b)
            .unwrap_or(BOUNDS_US.len());
        self.counts[slot] += 1;
        self.sum_us = self.sum_us.wrapping_add(us);
    }

    pub(crate) fn merge(&mut self, o: &Hist) {
        for (a, b) in self.counts.iter_mut().zip(o.counts) {
            *a += b;
        }
        self.sum_us = self.sum_us.wrapping_add(o.sum_us);
    }

    pub(crate) fn count(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// Histograms by product and cluster name, as sent to the control thread.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LatencyByName {
    pub products: Vec<(String, Hist)>,
    pub clusters: Vec<(String, Hist)>,
}

impl LatencyByName {
    /// Add `o` in, name by name (first-seen order kept).
    pub(crate) fn merge(&mut self, o: &LatencyByName) {
        for (name, h) in &o.products {
            add_named(&mut self.products, name, h);
        }
        for (name, h) in &o.clusters {
            add_named(&mut self.clusters, name, h);
        }
    }
}

fn add_named(list: &mut Vec<(String, Hist)>, name: &str, h: &Hist) {
    if name.is_empty() || h.count() == 0 {
        return;
    }
    match list.iter_mut().find(|(n, _)| n == name) {
        Some((_, t)) => t.merge(h),
        None => list.push((name.to_string(), *h)),
    }
}

/// One worker's histograms.
#[derive(Debug, Default)]
pub(crate) struct Latency {
    /// The generation the arrays are indexed for.
    gen: Cell<u64>,
    products: RefCell<Vec<Hist>>,
    clusters: RefCell<Vec<Hist>>,
    /// Totals of earlier generations, by name.
    retired: RefCell<LatencyByName>,
}

impl Latency {
    pub(crate) fn new(gen: &Generation) -> Latency {
        let l = Latency::default();
        l.size_for(gen);
        l
    }

    fn size_for(&self, gen: &Generation) {
        self.gen.set(gen.id);
        let products = gen.snapshot.route.products().len();
        let clusters = gen.snapshot.clusters.clusters.len();
        *self.products.borrow_mut() = vec![Hist::default(); products];
        *self.clusters.borrow_mut() = vec![Hist::default(); clusters];
    }

    /// Count one response that took `d`, for the request's product and
    /// cluster in the generation it was routed on.
    #[inline]
    pub(crate) fn record(
        &self,
        gen: &Generation,
        product: Option<usize>,
        cluster: Option<usize>,
        d: Duration,
    ) {
        // No u128 (`as_micros`): seconds and microseconds separately.
        let us = d
            .as_secs()
            .saturating_mul(1_000_000)
            .saturating_add(u64::from(d.subsec_micros()));
        if gen.id != self.gen.get() {
            return self.record_by_name(gen, product, cluster, us);
        }
        if let Some(p) = product {
            if let Some(h) = self.products.borrow_mut().get_mut(p) {
                h.add(us);
            }
        }
        if let Some(c) = cluster {
            if let Some(h) = self.clusters.borrow_mut().get_mut(c) {
                h.add(us);
            }
        }
    }

    #[cold]
    fn record_by_name(
        &self,
        gen: &Generation,
        product: Option<usize>,
        cluster: Option<usize>,
        us: u64,
    ) {
        let mut h = Hist::default();
        h.add(us);
        let mut one = LatencyByName::default();
        if let Some(p) = product {
            one.products
                .push((gen.snapshot.route.product_name(p).to_string(), h));
        }
        if let Some(c) = cluster.and_then(|c| gen.snapshot.clusters.clusters.get(c)) {
            one.clusters.push((c.name.clone(), h));
        }
        self.retired.borrow_mut().merge(&one);
    }

    /// The worker switched from `old` to `new`: keep what was counted
    /// under `old`'s names, start `new`'s arrays at zero.
    pub(crate) fn swap(&self, old: &Generation, new: &Generation) {
        let current = self.by_name(old);
        self.retired.borrow_mut().merge(&current);
        self.size_for(new);
    }

    /// Everything counted, by name: earlier generations' totals plus the
    /// current arrays (named by `gen`, the current generation).
    pub(crate) fn snapshot(&self, gen: &Generation) -> LatencyByName {
        let mut all = self.retired.borrow().clone();
        all.merge(&self.by_name(gen));
        all
    }

    fn by_name(&self, gen: &Generation) -> LatencyByName {
        let mut out = LatencyByName::default();
        if gen.id != self.gen.get() {
            return out;
        }
        for (id, h) in self.products.borrow().iter().enumerate() {
            add_named(&mut out.products, gen.snapshot.route.product_name(id), h);
        }
        for (c, h) in gen
            .snapshot
            .clusters
            .clusters
            .iter()
            .zip(self.clusters.borrow().iter())
        {
            add_named(&mut out.clusters, &c.name, h);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_by_upper_bound() {
        let mut h = Hist::default();
        h.add(0);
        h.add(1_000);
        h.add(1_001);
        h.add(60_000_000);
        assert_eq!(h.counts[0], 2);
        assert_eq!(h.counts[1], 1);
        assert_eq!(h.counts[SLOTS - 1], 1);
        assert_eq!(h.count(), 4);
        assert_eq!(h.sum_us, 60_002_001);
    }

    #[test]
    fn merge_by_name_skips_empty() {
        let mut h = Hist::default();
        h.add(5);
        let mut a = LatencyByName {
            products: vec![("p".into(), h)],
            clusters: vec![("c".into(), Hist::default())],
        };
        let b = a.clone();
        a.merge(&b);
        assert_eq!(a.products[0].1.count(), 2);
        // Zero histograms are not added by merge (they were in `a` already).
        assert_eq!(a.clusters.len(), 1);
    }
}
