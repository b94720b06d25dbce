//! `cluster_conf.data`, `gslb.data` and `cluster_table.data`, merged into one
//! set of clusters with their sub-clusters and backends.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

pub use crate::route::ClusterId;

#[derive(Debug, Clone, Default)]
pub struct ClusterSet {
    pub clusters: Vec<Cluster>,
    pub by_name: HashMap<String, ClusterId>,
}

impl ClusterSet {
    pub fn get(&self, id: ClusterId) -> &Cluster {
        &self.clusters[id]
    }

    pub fn id_of(&self, name: &str) -> Option<ClusterId> {
        self.by_name.get(name).copied()
    }
}

#[derive(Debug, Clone)]
pub struct Cluster {
    pub name: String,
    pub backend: BackendConf,
    pub check: CheckConf,
    pub gslb: GslbBasic,
    pub basic: ClusterBasic,
    /// From gslb.data weights joined with cluster_table.data backends.
    pub subclusters: Vec<SubCluster>,
    /// gslb.data `GSLB_BLACKHOLE` weight (0 = none).
    pub blackhole_weight: u32,
}

/// `BackendConf` (times in ms in the file).
#[derive(Debug, Clone)]
pub struct BackendConf {
    pub timeout_conn_srv: Duration,
    pub timeout_response_header: Duration,
    pub max_idle_conns_per_host: usize,
    /// 0: retry on connect errors only; 1: also failed body-less GETs.
    pub retry_level: u8,
    pub outlier_detection_http_code: Vec<u16>,
    /// `SlowStartTime` (seconds in the file): a backend that comes back or
    /// joins on reload ramps up to its full weight over this long.
    pub slow_start_time: Duration,
    /// `SendProxyV2` (a ringfront key, not BFE's): open every backend
    /// connection with a PROXY protocol v2 header naming the client and
    /// the VIP, as HAProxy's `send-proxy-v2`. Such connections are not
    /// pooled (each carries one client's addresses), and health checks
    /// send a `LOCAL` header first.
    pub send_proxy_v2: bool,
}

/// `CheckConf`: health checking.
#[derive(Debug, Clone)]
pub struct CheckConf {
    pub schem: String,
    pub uri: String,
    pub host: String,
    pub status_code: u16,
    pub fail_num: u32,
    pub succ_num: u32,
    pub check_timeout: Duration,
    pub check_interval: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BalanceMode {
    Wrr,
    Wlc,
}

/// `GslbBasic`.
#[derive(Debug, Clone)]
pub struct GslbBasic {
    pub cross_retry: u32,
    pub retry_max: u32,
    pub hash: HashConf,
    pub balance_mode: BalanceMode,
}

/// `HashConf`: how the sub-cluster (and sticky backend) key is made.
#[derive(Debug, Clone)]
pub struct HashConf {
    /// 0 client id (header/cookie), 1 client IP, 2 id then IP, 3 request URI.
    pub hash_strategy: u8,
    /// `HashHeader`: a header name, or `Cookie:NAME`.
    pub hash_header: String,
    pub session_sticky: bool,
}

/// `ClusterBasic`: client-side timeouts for requests routed to the cluster.
#[derive(Debug, Clone)]
pub struct ClusterBasic {
    pub timeout_read_client: Duration,
    pub timeout_write_client: Duration,
    pub timeout_read_client_again: Duration,
    /// `DisableHealthCheck`: failures never take a backend out of rotation.
    pub disable_health_check: bool,
    /// `RequestBufferSize` (a ringfront key): a request body of known
    /// length up to this many bytes is read whole before a backend
    /// connection is taken; longer ones stream once this much arrived.
    pub request_buffer: usize,
    /// `ResponseBufferSize` (a ringfront key): a response body up to this
    /// many bytes is read whole and the backend connection goes back to
    /// its pool before the client is sent anything; longer ones stream.
    pub response_buffer: usize,
}

#[derive(Debug, Clone)]
pub struct SubCluster {
    pub name: String,
    pub weight: u32,
    pub backends: Vec<Backend>,
}

#[derive(Debug, Clone)]
pub struct Backend {
    pub name: String,
    pub addr: SocketAddr,
    pub weight: u32,
}
