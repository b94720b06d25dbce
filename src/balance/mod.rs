//! Balancing, per worker: sub-cluster by GSLB weight and hash key, backend
//! by smooth weighted round robin (or WLC), with passive health.
//!
//! CONTRACT (implemented by the config/route/balance work): one `Balancer`
//! per snapshot per worker, never shared across threads. A new one built on
//! reload inherits the state of backends that did not change.

use crate::config::{ClusterId, ClusterSet, HashConf};
use crate::route::RequestFacts;
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
pub struct Balancer {}

impl Balancer {
    pub fn new(clusters: &ClusterSet, previous: Option<&Balancer>) -> Balancer {
        let _ = (clusters, previous);
        todo!("balance: new")
    }

    pub fn pick_subcluster(&mut self, cluster: ClusterId, key: u64) -> SubClusterPick {
        let _ = (cluster, key);
        todo!("balance: pick_subcluster")
    }

    /// Next backend of the sub-cluster, skipping the indexes in `tried` and
    /// backends marked down.
    pub fn pick_backend(
        &mut self,
        cluster: ClusterId,
        sub: usize,
        tried: &[usize],
    ) -> Option<BackendPick> {
        let _ = (cluster, sub, tried);
        todo!("balance: pick_backend")
    }

    pub fn report_success(&mut self, cluster: ClusterId, sub: usize, backend: usize) {
        let _ = (cluster, sub, backend);
    }

    pub fn report_failure(&mut self, cluster: ClusterId, sub: usize, backend: usize) {
        let _ = (cluster, sub, backend);
    }
}

/// The GSLB hash key of a request per `HashStrategy`.
pub fn hash_key<R: RequestFacts + ?Sized>(conf: &HashConf, req: &R) -> u64 {
    let _ = (conf, req);
    todo!("balance: hash_key")
}
