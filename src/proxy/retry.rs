//! Where each forwarding attempt of one request goes, BFE's way: up to
//! `1 + RetryMax` attempts in the sub-cluster GSLB chose (the home), then up
//! to `CrossRetry` attempts in other sub-clusters, each on a backend this
//! request has not tried yet.
//!
//! When the home has nothing left to try (every backend down, or all
//! tried) the request moves on to cross retry at once, as BFE does after
//! "all backend is down"; with `CrossRetry` 0 it fails.

use crate::balance::{random_key, BackendPick, Balancer, Tried};
use crate::config::{Cluster, ClusterId};

/// The next attempt: sub-cluster, backend, and whether it left the home.
pub(crate) struct Next {
    pub sub: usize,
    pub pick: BackendPick,
    pub cross: bool,
}

pub(crate) struct Plan {
    cluster: ClusterId,
    home: usize,
    /// GSLB key; with `SessionSticky` it also picks the backend.
    key: u64,
    sticky: bool,
    home_left: u32,
    cross_left: u32,
    /// Allocates only once an attempt failed.
    tried: Vec<Tried>,
    /// A backend a module asked for (mod_session_sticky): the first
    /// attempt in the home sub-cluster goes there.
    preferred: Option<BackendPick>,
}

impl Plan {
    pub(super) fn new(conf: &Cluster, cluster: ClusterId, home: usize, key: u64) -> Plan {
        Plan {
            cluster,
            home,
            key,
            sticky: conf.gslb.hash.session_sticky,
            home_left: conf.gslb.retry_max.saturating_add(1),
            cross_left: conf.gslb.cross_retry,
            tried: Vec::new(),
            preferred: None,
        }
    }

    /// Make `pick` (a backend of the home sub-cluster) the first attempt.
    pub(super) fn prefer(&mut self, pick: BackendPick) {
        self.preferred = Some(pick);
    }

    /// The next backend to try, or None when the attempts are spent or no
    /// backend is left.
    pub(super) fn next(&mut self, b: &mut Balancer) -> Option<Next> {
        if self.home_left > 0 {
            self.home_left -= 1;
            if let Some(pick) = self.preferred.take().or_else(|| self.pick(b, self.home)) {
                return Some(Next {
                    sub: self.home,
                    pick,
                    cross: false,
                });
            }
            self.home_left = 0;
        }
        if self.cross_left > 0 {
            self.cross_left -= 1;
            let sub =
                b.pick_cross_subcluster(self.cluster, self.home, &self.tried, random_key())?;
            let pick = self.pick(b, sub)?;
            return Some(Next {
                sub,
                pick,
                cross: true,
            });
        }
        None
    }

    /// The attempt on this backend failed: do not try it again.
    pub(super) fn failed(&mut self, sub: usize, index: usize) {
        self.tried.push((sub, index));
    }

    fn pick(&self, b: &mut Balancer, sub: usize) -> Option<BackendPick> {
        if self.sticky {
            b.pick_backend_sticky(self.cluster, sub, &self.tried, self.key)
        } else {
            b.pick_backend(self.cluster, sub, &self.tried)
        }
    }
}
