//! Balancing, per worker: sub-cluster by GSLB weight and hash key, backend
//! by smooth weighted round robin (or WLC, or a sticky weighted hash), with
//! passive health and slow start.
//!
//! One `Balancer` per configuration generation per worker, never shared
//! across threads. A new one built on reload shares the [`Health`] of every
//! backend that stays (same cluster, sub-cluster and address) and keeps its
//! round-robin position; backends that leave are released, which ends
//! their probes.
//!
//! Health is per worker: a backend marked down here may still be up on
//! another worker until it fails there too. The worker that marks a
//! backend down probes it (see [`crate::probe`]) until it comes back.

mod generation;
mod hash;
mod health;
mod state;

pub(crate) use generation::Generation;
#[cfg(test)]
use hash::hash_bytes;
pub(crate) use hash::random_key;
pub(crate) use health::Health;
#[cfg(test)]
use health::InFlight;
pub(crate) use state::Tried;

use crate::config::{BalanceMode, ClusterId, ClusterSet, HashConf};
use crate::route::RequestFacts;
use state::{BackendState, ClusterState, Slot};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

/// The sub-cluster chosen for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SubClusterPick {
    Sub(usize),
    /// gslb.data `GSLB_BLACKHOLE` won: drop the request.
    Blackhole,
    /// The cluster has no sub-cluster with weight.
    Unavailable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackendPick {
    /// Index into the sub-cluster's `backends`.
    pub index: usize,
    pub addr: SocketAddr,
}

/// A backend a module asks the balancer to use for this request (BFE's
/// `SessionStickyBackendKey` context value, set by mod_session_sticky).
/// Stored in the request's typed context; the balancer honours it when
/// the named sub-cluster has a positive GSLB weight and holds a usable
/// backend at `addr`, and balances as usual otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StickyBackend {
    pub addr: SocketAddr,
    pub subcluster: String,
}

/// One backend's state on one worker, for the monitor's `backend_state`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BackendRow {
    pub cluster: String,
    pub subcluster: String,
    pub name: String,
    pub addr: SocketAddr,
    pub weight: u32,
    pub down: bool,
    pub probing: bool,
    /// Requests in flight.
    pub conns: u32,
    /// Consecutive failures.
    pub fails: u32,
}

#[derive(Debug, Default)]
pub(crate) struct Balancer {
    clusters: Vec<ClusterState>,
}

impl Balancer {
    /// Balancing state for `clusters`. With `previous` (a reload), backends
    /// that stay keep their state; new ones start slow (`SlowStartTime`),
    /// as BFE does for backends added on reload.
    pub(crate) fn new(clusters: &ClusterSet, previous: Option<&Balancer>) -> Balancer {
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
        let now = Instant::now();
        let clusters = clusters
            .clusters
            .iter()
            .map(|c| {
                ClusterState::new(c, |sub, addr| {
                    match old.get(&(c.name.as_str(), sub, addr)) {
                        Some(b) => (b.health.clone(), b.current),
                        None => {
                            let h = Health::default();
                            if previous.is_some() {
                                h.set_ramp_since(Some(now));
                            }
                            (Rc::new(h), 0)
                        }
                    }
                })
            })
            .collect();
        Balancer { clusters }
    }

    /// BFE's GSLB choice: sub-clusters with positive weight (the blackhole
    /// included) in name order form a ring of total weight, and
    /// `key % total` lands on one, so a key keeps its sub-cluster while
    /// weights stay the same. Health plays no part here, as in BFE: a
    /// sub-cluster whose backends are all down is left through `CrossRetry`
    /// (see [`Balancer::pick_cross_subcluster`]) or not at all.
    pub(crate) fn pick_subcluster(&self, cluster: ClusterId, key: u64) -> SubClusterPick {
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
            Slot::Sub(i) => SubClusterPick::Sub(i),
        }
    }

    /// For `CrossRetry`: a sub-cluster other than `exclude` (never the
    /// blackhole; weight-0 ones included, as BFE uses them as backups),
    /// chosen evenly by `key`. BFE picks among all of them and spends a
    /// retry when the one it lands on has no backend up; here only those
    /// with a backend left to try take part.
    pub(crate) fn pick_cross_subcluster(
        &self,
        cluster: ClusterId,
        exclude: usize,
        tried: &[Tried],
        key: u64,
    ) -> Option<usize> {
        let c = self.clusters.get(cluster)?;
        let ok = |i: usize| i != exclude && c.subs[i].has_pick(i, tried);
        let n = (0..c.subs.len()).filter(|&i| ok(i)).count() as u64;
        if n == 0 {
            return None;
        }
        (0..c.subs.len()).filter(|&i| ok(i)).nth((key % n) as usize)
    }

    /// Next backend of the sub-cluster by the cluster's `BalanceMode`:
    /// weighted, up, and not in `tried`. None when nothing is left (BFE's
    /// "all backend is down").
    pub(crate) fn pick_backend(
        &mut self,
        cluster: ClusterId,
        sub: usize,
        tried: &[Tried],
    ) -> Option<BackendPick> {
        let c = self.clusters.get_mut(cluster)?;
        let (mode, slow_start) = (c.mode, c.slow_start);
        let s = c.subs.get_mut(sub)?;
        let ramping =
            !slow_start.is_zero() && s.backends.iter().any(|b| b.health.ramp_since().is_some());
        let now = ramping.then(Instant::now);
        let eligible = |i: usize, b: &BackendState| b.usable() && !tried.contains(&(sub, i));
        let weight = |b: &BackendState| b.weight_now(slow_start, now);
        let index = match mode {
            BalanceMode::Wrr => state::smooth_wrr(&mut s.backends, eligible, weight),
            BalanceMode::Wlc => state::least_conn(&mut s.backends, eligible, weight),
        }?;
        Some(BackendPick {
            index,
            addr: s.backends[index].addr,
        })
    }

    /// `SessionSticky`: the same key keeps the same backend while the set of
    /// usable backends stays the same (BFE's weighted hash over backends in
    /// address order; slow start does not apply, as in BFE).
    pub(crate) fn pick_backend_sticky(
        &self,
        cluster: ClusterId,
        sub: usize,
        tried: &[Tried],
        key: u64,
    ) -> Option<BackendPick> {
        let s = self.clusters.get(cluster)?.subs.get(sub)?;
        let candidates = || {
            s.by_addr
                .iter()
                .map(|&i| (i, &s.backends[i]))
                .filter(|(i, b)| b.usable() && !tried.contains(&(sub, *i)))
        };
        let total: u64 = candidates().map(|(_, b)| b.weight as u64).sum();
        if total == 0 {
            return None;
        }
        let mut w = key % total;
        for (i, b) in candidates() {
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

    /// BFE's `LookupStickyBackend`: the sub-cluster named in `want` (GSLB
    /// weight > 0) and its backend at `want.addr` if it is weighted, not
    /// down and not in `tried`.
    pub(crate) fn pick_preferred(
        &self,
        cluster: ClusterId,
        want: &StickyBackend,
        tried: &[Tried],
    ) -> Option<(usize, BackendPick)> {
        let c = self.clusters.get(cluster)?;
        let sub = c
            .subs
            .iter()
            .position(|s| s.weight > 0 && s.name == want.subcluster)?;
        let index = c.subs[sub]
            .backends
            .iter()
            .position(|b| b.addr == want.addr && b.usable())?;
        if tried.contains(&(sub, index)) {
            return None;
        }
        let pick = BackendPick {
            index,
            addr: want.addr,
        };
        Some((sub, pick))
    }

    /// The shared health of a backend.
    pub(crate) fn health(
        &self,
        cluster: ClusterId,
        sub: usize,
        backend: usize,
    ) -> Option<&Rc<Health>> {
        let b = self
            .clusters
            .get(cluster)?
            .subs
            .get(sub)?
            .backends
            .get(backend)?;
        Some(&b.health)
    }

    /// A request to the backend got a response.
    pub(crate) fn report_success(&self, cluster: ClusterId, sub: usize, backend: usize) {
        if let Some(h) = self.health(cluster, sub, backend) {
            h.success();
        }
    }

    /// A request to the backend failed. Returns its health when this
    /// failure took it down (`FailNum` consecutive failures), so the caller
    /// can start probing it; never with `DisableHealthCheck`.
    pub(crate) fn report_failure(
        &self,
        cluster: ClusterId,
        sub: usize,
        backend: usize,
    ) -> Option<Rc<Health>> {
        let c = self.clusters.get(cluster)?;
        if !c.health_check {
            return None;
        }
        let h = self.health(cluster, sub, backend)?;
        h.failure(c.fail_num).then(|| h.clone())
    }

    #[cfg(test)]
    pub(crate) fn is_down(&self, cluster: ClusterId, sub: usize, backend: usize) -> bool {
        self.health(cluster, sub, backend)
            .is_some_and(|h| h.is_down())
    }

    /// After a reload to `next`: release the backends `next` does not keep,
    /// so their probes end.
    pub(crate) fn release_removed(&self, next: &Balancer) {
        let kept: HashSet<*const Health> = next.all().map(|b| Rc::as_ptr(&b.health)).collect();
        for b in self.all() {
            if !kept.contains(&Rc::as_ptr(&b.health)) {
                b.health.release();
            }
        }
    }

    /// The worker stops: end every probe.
    pub(crate) fn release_all(&self) {
        for b in self.all() {
            b.health.release();
        }
    }

    /// Every backend's state, named from `clusters` (the snapshot this
    /// balancer was built from).
    pub(crate) fn rows(&self, clusters: &ClusterSet) -> Vec<BackendRow> {
        let mut out = Vec::new();
        for (c, cs) in clusters.clusters.iter().zip(&self.clusters) {
            for (s, ss) in c.subclusters.iter().zip(&cs.subs) {
                for (b, bs) in s.backends.iter().zip(&ss.backends) {
                    out.push(BackendRow {
                        cluster: c.name.clone(),
                        subcluster: s.name.clone(),
                        name: b.name.clone(),
                        addr: b.addr,
                        weight: b.weight,
                        down: bs.health.is_down(),
                        probing: bs.health.is_probing(),
                        conns: bs.health.active(),
                        fails: bs.health.fails(),
                    });
                }
            }
        }
        out
    }

    fn all(&self) -> impl Iterator<Item = &BackendState> {
        self.clusters
            .iter()
            .flat_map(|c| c.subs.iter())
            .flat_map(|s| s.backends.iter())
    }
}

/// The GSLB hash key of a request per `HashStrategy`.
pub(crate) fn hash_key<R: RequestFacts + ?Sized>(conf: &HashConf, req: &R) -> u64 {
    hash::hash_key(conf, req)
}

#[cfg(test)]
mod tests;
