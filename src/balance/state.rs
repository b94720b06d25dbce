//! Per-worker balancing state and the backend algorithms.

use super::health::Health;
use crate::config::{BalanceMode, Cluster};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Weights are kept in hundredths (as BFE does), so slow start can ramp a
/// weight-1 backend smoothly.
pub(super) const SCALE: i64 = 100;

/// A backend already tried by this request: (sub-cluster, backend).
pub(crate) type Tried = (usize, usize);

#[derive(Debug, Clone, Copy)]
pub(super) enum Slot {
    Sub(usize),
    Blackhole,
}

#[derive(Debug)]
pub(super) struct BackendState {
    pub addr: SocketAddr,
    /// Configured weight.
    pub weight: i64,
    /// Smooth WRR's running weight, in [`SCALE`] units.
    pub current: i64,
    pub health: Rc<Health>,
}

impl BackendState {
    /// Weighted and not down.
    pub(super) fn usable(&self) -> bool {
        self.weight > 0 && !self.health.is_down()
    }

    /// The weight to balance with, in [`SCALE`] units: the configured one,
    /// or while slow start lasts the share of it that the time since the
    /// backend came back allows (at least 1, so it gets some traffic at
    /// once, as in BFE). `now` is `None` when no backend ramps.
    pub(super) fn weight_now(&self, slow_start: Duration, now: Option<Instant>) -> i64 {
        let full = self.weight * SCALE;
        let (Some(since), Some(now)) = (self.health.ramp_since(), now) else {
            return full;
        };
        let elapsed = now.saturating_duration_since(since);
        if slow_start.is_zero() || elapsed >= slow_start {
            self.health.set_ramp_since(None);
            return full;
        }
        let w = full as u128 * elapsed.as_nanos() / slow_start.as_nanos();
        (w as i64).max(1)
    }
}

#[derive(Debug)]
pub(super) struct SubState {
    pub name: String,
    pub weight: u32,
    pub backends: Vec<BackendState>,
    /// Backend indexes by address, the order sticky hashing walks (BFE
    /// sorts by address too), so reordering the file keeps the mapping.
    pub by_addr: Vec<usize>,
}

impl SubState {
    /// Has a usable backend that `tried` (for sub-cluster `me`) leaves.
    pub(super) fn has_pick(&self, me: usize, tried: &[Tried]) -> bool {
        self.backends
            .iter()
            .enumerate()
            .any(|(i, b)| b.usable() && !tried.contains(&(me, i)))
    }
}

#[derive(Debug)]
pub(super) struct ClusterState {
    pub name: String,
    /// Positive-weight entries in name order, as BFE sorts them.
    pub ring: Vec<(Slot, u32)>,
    pub total: u64,
    pub subs: Vec<SubState>,
    pub fail_num: u32,
    /// `ClusterBasic.DisableHealthCheck` off.
    pub health_check: bool,
    pub slow_start: Duration,
    pub mode: BalanceMode,
}

impl ClusterState {
    /// `keep(sub, addr)`: the health and WRR position to keep for a backend
    /// that stays across a reload, or fresh ones.
    pub(super) fn new(
        c: &Cluster,
        mut keep: impl FnMut(&str, SocketAddr) -> (Rc<Health>, i64),
    ) -> Self {
        let subs: Vec<SubState> = c
            .subclusters
            .iter()
            .map(|s| {
                let backends: Vec<BackendState> = s
                    .backends
                    .iter()
                    .map(|b| {
                        let (health, current) = keep(&s.name, b.addr);
                        BackendState {
                            addr: b.addr,
                            weight: b.weight as i64,
                            current,
                            health,
                        }
                    })
                    .collect();
                let mut by_addr: Vec<usize> = (0..backends.len()).collect();
                by_addr.sort_by_key(|&i| backends[i].addr);
                SubState {
                    name: s.name.clone(),
                    weight: s.weight,
                    backends,
                    by_addr,
                }
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
            health_check: !c.basic.disable_health_check,
            slow_start: c.backend.slow_start_time,
            mode: c.gslb.balance_mode,
        }
    }
}

/// nginx's smooth weighted round robin over the eligible backends: each
/// gains its weight, the largest wins and gives back the total.
pub(super) fn smooth_wrr(
    bs: &mut [BackendState],
    eligible: impl Fn(usize, &BackendState) -> bool,
    weight: impl Fn(&BackendState) -> i64,
) -> Option<usize> {
    let mut total = 0i64;
    let mut best: Option<(usize, i64)> = None;
    for (i, b) in bs.iter_mut().enumerate() {
        if !eligible(i, b) {
            continue;
        }
        let w = weight(b);
        b.current += w;
        total += w;
        if best.is_none_or(|(_, cur)| b.current > cur) {
            best = Some((i, b.current));
        }
    }
    let (i, _) = best?;
    bs[i].current -= total;
    Some(i)
}

/// BFE's smooth WLC: the fewest requests in flight per unit of weight
/// wins; ties are broken by smooth WRR among the tied backends.
pub(super) fn least_conn(
    bs: &mut [BackendState],
    eligible: impl Fn(usize, &BackendState) -> bool,
    weight: impl Fn(&BackendState) -> i64,
) -> Option<usize> {
    let mut best: Option<(i64, i64)> = None; // (active, weight)
    for (i, b) in bs.iter().enumerate() {
        if !eligible(i, b) {
            continue;
        }
        let (a, w) = (b.health.active() as i64, weight(b));
        if best.is_none_or(|(ba, bw)| a * bw < ba * w) {
            best = Some((a, w));
        }
    }
    let (ba, bw) = best?;
    smooth_wrr(
        bs,
        |i, b| eligible(i, b) && (b.health.active() as i64) * bw == ba * weight(b),
        &weight,
    )
}
