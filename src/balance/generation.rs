//! One configuration as a worker runs it: the immutable snapshot and this
//! worker's balancing state for it. Requests hold the generation they
//! started on until they end, so a reload never changes a request midway.

use super::Balancer;
use crate::config::Snapshot;
use std::cell::RefCell;

pub(crate) struct Generation {
    pub id: u64,
    pub snapshot: Snapshot,
    pub balancer: RefCell<Balancer>,
}

impl Generation {
    pub(crate) fn new(id: u64, snapshot: Snapshot, previous: Option<&Balancer>) -> Self {
        let balancer = Balancer::new(&snapshot.clusters, previous);
        Generation {
            id,
            snapshot,
            balancer: RefCell::new(balancer),
        }
    }
}
