//! Per-worker balancing state and the two backend algorithms.

use crate::config::{BalanceMode, Cluster};
use std::net::SocketAddr;

#[derive(Debug, Clone, Copy)]
pub enum Slot {
    Sub(usize),
    Blackhole,
}

#[derive(Debug, Clone)]
pub struct BackendState {
    pub addr: SocketAddr,
    pub weight: i64,
    /// Smooth WRR's running weight.
    pub current: i64,
    pub down: bool,
    pub fails: u32,
    /// Open connections (WLC).
    pub active: u32,
}

#[derive(Debug)]
pub struct SubState {
    pub name: String,
    pub weight: u32,
    pub backends: Vec<BackendState>,
}

impl SubState {
    pub fn has_live(&self) -> bool {
        self.backends.iter().any(|b| b.weight > 0 && !b.down)
    }
}

#[derive(Debug)]
pub struct ClusterState {
    pub name: String,
    /// Positive-weight entries in name order, as BFE sorts them.
    pub ring: Vec<(Slot, u32)>,
    pub total: u64,
    pub subs: Vec<SubState>,
    pub fail_num: u32,
    pub mode: BalanceMode,
}

impl ClusterState {
    pub fn new<'p>(
        c: &Cluster,
        old: impl Fn(&str, SocketAddr) -> Option<&'p BackendState>,
    ) -> ClusterState {
        let subs: Vec<SubState> = c
            .subclusters
            .iter()
            .map(|s| SubState {
                name: s.name.clone(),
                weight: s.weight,
                backends: s
                    .backends
                    .iter()
                    .map(|b| {
                        let prev = old(&s.name, b.addr);
                        BackendState {
                            addr: b.addr,
                            weight: b.weight as i64,
                            current: prev.map_or(0, |p| p.current),
                            down: prev.is_some_and(|p| p.down),
                            fails: prev.map_or(0, |p| p.fails),
                            active: prev.map_or(0, |p| p.active),
                        }
                    })
                    .collect(),
            })
            .collect();
        let mut named: Vec<(&str, Slot, u32)> = subs
            .iter()
            .enumerate()
            .filter(|(_, s)| s.weight > 0)
            .map(|(i, s)| (s.name.as_str(), Slot::Sub(i), s.weight))
            .collect();
        if c.blackhole_weight > 0 {
            named.push(("GSLB_BLACKHOLE", Slot::Blackhole, c.blackhole_weight));
        }
        named.sort_by(|a, b| a.0.cmp(b.0));
        let ring: Vec<(Slot, u32)> = named.into_iter().map(|(_, s, w)| (s, w)).collect();
        let total = ring.iter().map(|(_, w)| *w as u64).sum();
        ClusterState {
            name: c.name.clone(),
            ring,
            total,
            subs,
            fail_num: c.check.fail_num,
            mode: c.gslb.balance_mode,
        }
    }

    /// A positive-weight sub-cluster with a live backend, chosen by `key`
    /// over their weights, skipping `exclude`.
    pub fn pick_live(&self, key: u64, exclude: Option<usize>) -> Option<usize> {
        let ok = |i: usize, s: &SubState| Some(i) != exclude && s.weight > 0 && s.has_live();
        let total: u64 = self
            .subs
            .iter()
            .enumerate()
            .filter(|(i, s)| ok(*i, s))
            .map(|(_, s)| s.weight as u64)
            .sum();
        if total == 0 {
            return None;
        }
        let mut w = key % total;
        for (i, s) in self.subs.iter().enumerate().filter(|(i, s)| ok(*i, s)) {
            if w < s.weight as u64 {
                return Some(i);
            }
            w -= s.weight as u64;
        }
        None
    }
}

/// nginx's smooth weighted round robin over the eligible backends: each
/// gains its weight, the largest wins and gives back the total.
pub fn smooth_wrr(
    bs: &mut [BackendState],
    eligible: impl Fn(usize, &BackendState) -> bool,
) -> Option<usize> {
    let mut total = 0i64;
    let mut best: Option<(usize, i64)> = None;
    for (i, b) in bs.iter_mut().enumerate() {
        if !eligible(i, b) {
            continue;
        }
        b.current += b.weight;
        total += b.weight;
        if best.is_none_or(|(_, cur)| b.current > cur) {
            best = Some((i, b.current));
        }
    }
    let (i, _) = best?;
    bs[i].current -= total;
    Some(i)
}

/// BFE's smooth WLC: the least open connections per unit of weight wins;
/// ties are broken by smooth WRR among the tied backends.
pub fn least_conn(
    bs: &mut [BackendState],
    eligible: impl Fn(usize, &BackendState) -> bool,
) -> Option<usize> {
    let mut best: Option<(i64, i64)> = None; // (active, weight)
    for (i, b) in bs.iter().enumerate() {
        if !eligible(i, b) {
            continue;
        }
        let a = b.active as i64;
        if best.is_none_or(|(ba, bw)| a * bw < ba * b.weight) {
            best = Some((a, b.weight));
        }
    }
    let (ba, bw) = best?;
    smooth_wrr(bs, |i, b| {
        eligible(i, b) && (b.active as i64) * bw == ba * b.weight
    })
}
