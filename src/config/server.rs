//! `bfe.conf`: BFE's `[Server]` keys plus ringfront's `[Ringfront]` tuning.

use super::ConfErrors;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The parsed main file. Paths are already joined onto the conf dir.
#[derive(Debug, Clone)]
pub struct ServerConf {
    pub conf_dir: PathBuf,
    pub http_port: u16,
    pub https_port: u16,
    pub monitor_port: u16,
    pub monitor_enabled: bool,
    /// BFE `MaxCpus`: number of workers; 0 = one per online core.
    pub max_cpus: usize,
    pub tls_handshake_timeout: Duration,
    pub client_read_timeout: Duration,
    pub client_write_timeout: Duration,
    pub keep_alive_enabled: bool,
    pub graceful_shutdown_timeout: Duration,
    pub max_header_bytes: usize,
    pub max_header_uri_bytes: usize,
    pub host_rule_conf: PathBuf,
    pub vip_rule_conf: PathBuf,
    pub route_rule_conf: PathBuf,
    pub cluster_conf: PathBuf,
    pub name_conf: PathBuf,
    pub gslb_conf: PathBuf,
    pub cluster_table_conf: PathBuf,
    /// `Modules =` lines, in file order.
    pub modules: Vec<String>,
    pub monitor_interval: Duration,
    pub tuning: Tuning,
}

/// ringfront's per-core tuning (`[Ringfront]` section). Defaults are good
/// without tuning.
#[derive(Debug, Clone)]
pub struct Tuning {
    /// CPUs to pin workers to, in order; empty = all online cores.
    pub cpu_list: Vec<usize>,
    /// io_uring submission queue entries per worker.
    pub uring_entries: u32,
    /// SQPOLL idle time in ms; 0 = SQPOLL off.
    pub uring_sqpoll_idle_ms: u32,
    /// Initial read buffer per client connection, bytes.
    pub read_buffer_size: usize,
    /// Open client connections per worker; 0 = unlimited.
    pub max_conns_per_worker: usize,
    /// Idle upstream connections kept per worker per backend address
    /// (upper bound on cluster `MaxIdleConnsPerHost`).
    pub upstream_idle_per_host: usize,
}

impl ServerConf {
    pub fn load(conf_dir: &Path) -> Result<ServerConf, ConfErrors> {
        let _ = conf_dir;
        todo!("config: ServerConf::load")
    }
}
