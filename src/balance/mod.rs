//! Balancing, per worker: sub-cluster by GSLB weight and hash key, backend
//! by smooth weighted round robin (or WLC), with passive health.
//!
//! CONTRACT (implemented by the config/route/balance work): one `Balancer`
//! per snapshot per worker, never shared across threads. A new one built on
//! reload inherits the state of backends that did not change.
//!
//! Health is per worker: a backend marked down here may still be up on
//! another worker until it fails there too. Down backends come back through
//! `report_success` (see [`Balancer::pick_backend`] for how they still get
//! tried); active probing per `CheckConf` is a later addition that only
//! needs [`Balancer::set_down`].

mod hash;
mod state;

pub use hash::{hash_bytes, random_key, Fnv};

use crate::config::{BalanceMode, ClusterId, ClusterSet, HashConf};
use crate::route::RequestFacts;
use state::{BackendState, ClusterState, Slot};
use std::collections::HashMap;
use std::net::SocketAddr;

/// The sub-cluster chosen for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubClusterPick {
    Sub(usize),
    /// gslb.data `GSLB_BLACKHOLE` won: drop the request.
    Blackhole,
    /// No sub-cluster has weight or a usable backend.
    Unavailable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackendPick {
    /// Index into the sub-cluster's `backends`.
    pub index: usize,
    pub addr: SocketAddr,
}

#[derive(Debug, Default)]
pub struct Balancer {
    clusters: Vec<ClusterState>,
    /// Varies cross-retry choices between requests with the same key.
    rotor: u64,
}

impl Balancer {
    pub fn new(clusters: &ClusterSet, previous: Option<&Balancer>) -> Balancer {
        let mut old: HashMap<(&str, &str, SocketAddr), &BackendState> = HashMap::new();
        if let Some(prev) = previous {
            for c in &prev.clusters {
                for s in &c.subs {
                    for b in &s.backends {
                        old.insert((c.name.as_str(), s.name.as_str(), b.addr), b);
                    }
                }
            }
        }
        let clusters = clusters
            .clusters
            .iter()
            .map(|c| {
                ClusterState::new(c, |sub, addr| {
                    old.get(&(c.name.as_str(), sub, addr)).copied()
                })
            })
            .collect();
        Balancer { clusters, rotor: 0 }
    }

    /// BFE's GSLB choice: sub-clusters with positive weight (the blackhole
    /// included) in name order form a ring of total weight, and
    /// `key % total` lands on one — so a key keeps its sub-cluster while
    /// weights stay the same. When the landing sub-cluster has every backend
    /// down on this worker, the choice moves (again by key, over weights) to
    /// one with a live backend: BFE reaches the same place through its
    /// cross-cluster retry after "all backends down".
    pub fn pick_subcluster(&mut self, cluster: ClusterId, key: u64) -> SubClusterPick {
        let Some(c) = self.clusters.get(cluster) else {
            return SubClusterPick::Unavailable;
        };
        if c.total == 0 {
            return SubClusterPick::Unavailable;
        }
        let mut w = key % c.total;
        let mut slot = Slot::Blackhole;
        for (s, weight) in &c.ring {
            slot = *s;
            if w < *weight as u64 {
                break;
            }
            w -= *weight as u64;
        }
        match slot {
            Slot::Blackhole => SubClusterPick::Blackhole,
            Slot::Sub(i) if c.subs[i].has_live() => SubClusterPick::Sub(i),
            Slot::Sub(i) => c
                .pick_live(key, None)
                .map_or(SubClusterPick::Sub(i), SubClusterPick::Sub),
        }
    }

    /// For `CrossRetry`: another sub-cluster than `exclude` (never the
    /// blackhole), preferring ones with a live backend. BFE picks at random
    /// among sub-clusters with weight >= 0; here the choice is by weight
    /// (weight 0 ones only when nothing else is left) and varies per call.
    pub fn pick_cross_subcluster(
        &mut self,
        cluster: ClusterId,
        exclude: usize,
        key: u64,
    ) -> SubClusterPick {
        self.rotor = self.rotor.wrapping_add(1);
        let key = key ^ hash::hash_bytes(&self.rotor.to_le_bytes());
        let Some(c) = self.clusters.get(cluster) else {
            return SubClusterPick::Unavailable;
        };
        if let Some(i) = c.pick_live(key, Some(exclude)) {
            return SubClusterPick::Sub(i);
        }
        // Then weight-0 sub-clusters with a live backend, then any at all.
        let live = |i: usize| i != exclude && c.subs[i].has_live();
        let any = |i: usize| i != exclude && !c.subs[i].backends.is_empty();
        for ok in [&live as &dyn Fn(usize) -> bool, &any] {
            let n = (0..c.subs.len()).filter(|&i| ok(i)).count() as u64;
            if n > 0 {
                let nth = (key % n) as usize;
                if let Some(i) = (0..c.subs.len()).filter(|&i| ok(i)).nth(nth) {
                    return SubClusterPick::Sub(i);
                }
            }
        }
        SubClusterPick::Unavailable
    }

    /// Next backend of the sub-cluster, skipping the indexes in `tried` and
    /// backends marked down.
    ///
    /// Weight-0 backends are never picked. When every remaining backend is
    /// down, the down ones are tried anyway rather than failing the request:
    /// without active probing a worker could otherwise lose a sub-cluster
    /// for good, and a success report brings the backend back.
    pub fn pick_backend(
        &mut self,
        cluster: ClusterId,
        sub: usize,
        tried: &[usize],
    ) -> Option<BackendPick> {
        let c = self.clusters.get_mut(cluster)?;
        let mode = c.mode;
        let s = c.subs.get_mut(sub)?;
        let eligible = eligibility(&s.backends, tried);
        let index = match mode {
            BalanceMode::Wrr => state::smooth_wrr(&mut s.backends, eligible),
            BalanceMode::Wlc => state::least_conn(&mut s.backends, eligible),
        }?;
        Some(BackendPick {
            index,
            addr: s.backends[index].addr,
        })
    }

    /// `SessionSticky`: the same key keeps the same backend while the set of
    /// usable backends stays the same (BFE's weighted hash).
    pub fn pick_backend_sticky(
        &mut self,
        cluster: ClusterId,
        sub: usize,
        tried: &[usize],
        key: u64,
    ) -> Option<BackendPick> {
        let s = self.clusters.get(cluster)?.subs.get(sub)?;
        let eligible = eligibility(&s.backends, tried);
        let total: u64 = s
            .backends
            .iter()
            .enumerate()
            .filter(|(i, b)| eligible(*i, b))
            .map(|(_, b)| b.weight as u64)
            .sum();
        if total == 0 {
            return None;
        }
        let mut w = key % total;
        for (i, b) in s
            .backends
            .iter()
            .enumerate()
            .filter(|(i, b)| eligible(*i, b))
        {
            if w < b.weight as u64 {
                return Some(BackendPick {
                    index: i,
                    addr: b.addr,
                });
            }
            w -= b.weight as u64;
        }
        None
    }

    pub fn report_success(&mut self, cluster: ClusterId, sub: usize, backend: usize) {
        if let Some(b) = self.backend_mut(cluster, sub, backend) {
            b.fails = 0;
            b.down = false;
        }
    }

    /// Counts consecutive failures; at `CheckConf.FailNum` the backend is
    /// down on this worker (`FailNum` 0 never marks it down).
    pub fn report_failure(&mut self, cluster: ClusterId, sub: usize, backend: usize) {
        let Some(fail_num) = self.clusters.get(cluster).map(|c| c.fail_num) else {
            return;
        };
        if let Some(b) = self.backend_mut(cluster, sub, backend) {
            b.fails = b.fails.saturating_add(1);
            if fail_num > 0 && b.fails >= fail_num {
                b.down = true;
            }
        }
    }

    /// A connection to the backend opened (for WLC).
    pub fn conn_start(&mut self, cluster: ClusterId, sub: usize, backend: usize) {
        if let Some(b) = self.backend_mut(cluster, sub, backend) {
            b.active = b.active.saturating_add(1);
        }
    }

    /// A connection counted by `conn_start` closed.
    pub fn conn_end(&mut self, cluster: ClusterId, sub: usize, backend: usize) {
        if let Some(b) = self.backend_mut(cluster, sub, backend) {
            b.active = b.active.saturating_sub(1);
        }
    }

    pub fn is_down(&self, cluster: ClusterId, sub: usize, backend: usize) -> bool {
        self.clusters
            .get(cluster)
            .and_then(|c| c.subs.get(sub))
            .and_then(|s| s.backends.get(backend))
            .is_some_and(|b| b.down)
    }

    /// For health checking: mark a backend down or up directly.
    pub fn set_down(&mut self, cluster: ClusterId, sub: usize, backend: usize, down: bool) {
        if let Some(b) = self.backend_mut(cluster, sub, backend) {
            b.down = down;
            b.fails = 0;
        }
    }

    fn backend_mut(
        &mut self,
        cluster: ClusterId,
        sub: usize,
        backend: usize,
    ) -> Option<&mut BackendState> {
        self.clusters
            .get_mut(cluster)?
            .subs
            .get_mut(sub)?
            .backends
            .get_mut(backend)
    }
}

/// The GSLB hash key of a request per `HashStrategy`.
pub fn hash_key<R: RequestFacts + ?Sized>(conf: &HashConf, req: &R) -> u64 {
    hash::hash_key(conf, req)
}

#[cfg(test)]
mod tests;

/// Which backends a pick may choose: weighted, not tried yet, and up; when
/// every such backend is down, the down ones too (trying them beats
/// failing every request while health checks catch up).
fn eligibility<'t>(
    backends: &[BackendState],
    tried: &'t [usize],
) -> impl Fn(usize, &BackendState) -> bool + 't {
    let usable = move |i: usize, b: &BackendState| b.weight > 0 && !tried.contains(&i);
    let any_up = backends
        .iter()
        .enumerate()
        .any(|(i, b)| usable(i, b) && !b.down);
    move |i, b| usable(i, b) && (!any_up || !b.down)
}
