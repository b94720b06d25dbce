//! Reading and validating the BFE configuration directory.
//!
//! CONTRACT (implemented by the config/route/balance work):
//! - `ServerConf::load(conf_dir)` parses `bfe.conf` (BFE's INI dialect, keys may
//!   repeat to form lists) plus ringfront's `[Ringfront]` tuning section.
//! - `Snapshot::load(conf_dir, &ServerConf)` parses and cross-validates every
//!   routing and cluster data file into one immutable value. It is `Clone +
//!   Send`: the control thread builds it once and sends each worker its own
//!   copy, so workers never share it.
//! - Errors name file, key (or JSON path) and reason; all problems found are
//!   returned, not just the first.

pub mod cluster;
pub mod data;
mod error;
pub mod ini;
pub mod server;
mod snapshot;
#[cfg(test)]
mod snapshot_tests;
pub mod tls;
mod versions;

pub use cluster::{
    Backend, BackendConf, BalanceMode, CheckConf, Cluster, ClusterBasic, ClusterId, ClusterSet,
    GslbBasic, HashConf, SubCluster,
};
pub use error::{ConfError, ConfErrors};
pub use server::{HttpsBasic, ServerConf, SessionTicket, Tuning};
pub use snapshot::NameInstance;
pub use versions::{ConfVersions, HostTableStatus};

use std::path::Path;

/// Everything a worker needs to route and forward, loaded as one unit.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Human-readable versions of the files it was built from.
    pub version: String,
    /// Each file's version, a hash of their bytes and the load time
    /// (the monitor's `*_version` pages).
    pub versions: ConfVersions,
    /// Routing table sizes (`host_table_status`).
    pub host_status: HostTableStatus,
    pub route: crate::route::RouteTable,
    pub clusters: ClusterSet,
    /// name_conf.data: service name → instances (empty when the file is absent).
    pub names: std::collections::HashMap<String, Vec<NameInstance>>,
    /// tls_conf/: certificates and server names; `None` without HTTPS.
    pub tls: Option<tls::TlsData>,
}

impl Snapshot {
    pub fn load(conf_dir: &Path, server: &ServerConf) -> Result<Snapshot, ConfErrors> {
        snapshot::load(conf_dir, server)
    }

    /// No products, clusters or certificates: what a request built outside
    /// a server (a module's unit test) runs on.
    pub fn empty() -> Snapshot {
        Snapshot {
            version: String::new(),
            versions: ConfVersions::default(),
            host_status: HostTableStatus::default(),
            route: crate::route::RouteTable::default(),
            clusters: ClusterSet::default(),
            names: std::collections::HashMap::new(),
            tls: None,
        }
    }
}
