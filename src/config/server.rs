//! `bfe.conf`: BFE's `[Server]` keys plus ringfront's `[Ringfront]` tuning.
//!
//! Defaults and range checks follow BFE's `conf_basic.go`, with one
//! deliberate difference: port 0 is accepted and means "pick an ephemeral
//! port", which tests rely on. Unknown keys and sections are errors, as gcfg
//! makes them in BFE, so that a typo cannot silently fall back to a default.

use super::ini::{Entry, Ini, Section};
use super::{ConfError, ConfErrors};
use std::path::{Path, PathBuf};
use std::time::Duration;

const FILE: &str = "bfe.conf";

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
    /// `Layer4LoadBalancer = PROXY`: expect a PROXY protocol header on accept.
    pub layer4_proxy: bool,
    /// BFE `MaxProxyHeaderBytes` (0 = BFE's built-in limit).
    pub max_proxy_header_bytes: usize,
    /// BFE `AcceptNum` (kept for compatibility; 0 in the file means 1).
    pub accept_num: usize,
    /// BFE `Plugins` (Go plugins; parsed and ignored by ringfront).
    pub plugins: Vec<String>,
    pub https: HttpsBasic,
    pub session_ticket: SessionTicket,
}

/// `[HttpsBasic]`. What rustls can offer of it is resolved by
/// [`crate::config::tls::Params`].
#[derive(Debug, Clone)]
pub struct HttpsBasic {
    /// The HTTPS listener runs: `ServerCertConf` is set, or its default
    /// file exists. A conf dir without TLS files serves plain HTTP only.
    pub enabled: bool,
    /// `TlsRuleConf` was set, so its file must exist.
    pub tls_rule_explicit: bool,
    pub server_cert_conf: PathBuf,
    pub tls_rule_conf: PathBuf,
    /// Each entry is a group of equivalent suites joined by `|`.
    pub cipher_suites: Vec<String>,
    pub curve_preferences: Vec<String>,
    pub max_tls_version: String,
    pub min_tls_version: String,
    pub enable_sslv2_client_hello: bool,
    pub client_ca_base_dir: PathBuf,
    pub client_crl_base_dir: PathBuf,
}

/// `[SessionTicket]`.
#[derive(Debug, Clone)]
pub struct SessionTicket {
    pub session_tickets_disabled: bool,
    pub session_ticket_key_file: PathBuf,
}

/// io_uring task-run mode (`[Ringfront] UringTaskrun`). A worker is the
/// only thread that touches its ring, so the kernel need not interrupt it
/// with an IPI for every completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taskrun {
    /// `IORING_SETUP_COOP_TASKRUN`: completions are processed at the
    /// worker's next kernel entry instead of by an interrupt.
    Coop,
    /// `IORING_SETUP_DEFER_TASKRUN` + `SINGLE_ISSUER` (Linux 6.1+):
    /// completions are processed only when the worker waits for them.
    Defer,
    /// The kernel default.
    Off,
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
    /// How the kernel runs io_uring completion work for the worker.
    pub uring_taskrun: Taskrun,
    /// Initial read buffer per client connection, bytes.
    pub read_buffer_size: usize,
    /// Buffer a body is streamed through, bytes. One per body in flight,
    /// pooled per worker: bigger means fewer reads and writes per body.
    pub body_buffer_size: usize,
    /// Open client connections per worker; 0 = unlimited.
    pub max_conns_per_worker: usize,
    /// Idle upstream connections kept per worker per backend address
    /// (upper bound on cluster `MaxIdleConnsPerHost`).
    pub upstream_idle_per_host: usize,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            cpu_list: Vec::new(),
            uring_entries: 1024,
            uring_sqpoll_idle_ms: 0,
            uring_taskrun: Taskrun::Coop,
            read_buffer_size: 16384,
            body_buffer_size: 65536,
            max_conns_per_worker: 0,
            upstream_idle_per_host: 1024,
        }
    }
}

/// TLS versions BFE names, plus TLS 1.3 which ringfront adds.
pub const TLS_VERSIONS: &[&str] = &[
    "VersionSSL30",
    "VersionTLS10",
    "VersionTLS11",
    "VersionTLS12",
    "VersionTLS13",
];
pub const CURVES: &[&str] = &["CurveP256", "CurveP384", "CurveP521", "X25519"];
/// Cipher suite names BFE accepts in `CipherSuites`.
pub const CIPHER_SUITES: &[&str] = &[
    "TLS_RSA_WITH_RC4_128_SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
];

impl ServerConf {
    pub fn load(conf_dir: &Path) -> Result<ServerConf, ConfErrors> {
        let (conf, errs) = Self::load_partial(conf_dir)?;
        if errs.is_empty() {
            Ok(conf)
        } else {
            Err(ConfErrors(errs))
        }
    }

    /// Like [`ServerConf::load`], but a bad value is reported and replaced
    /// by its default, so `-t` can still check the data files bfe.conf
    /// names. Fails outright only when the file is unreadable or not INI.
    pub fn load_partial(conf_dir: &Path) -> Result<(ServerConf, Vec<ConfError>), ConfErrors> {
        let path = conf_dir.join(FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            ConfError::new(FILE, "", format!("cannot read {}: {e}", path.display()))
        })?;
        Self::parse_partial(conf_dir, &text)
    }

    /// Parses bfe.conf text; `conf_dir` is only used to join paths.
    pub fn parse(conf_dir: &Path, text: &str) -> Result<ServerConf, ConfErrors> {
        let (conf, errs) = Self::parse_partial(conf_dir, text)?;
        if errs.is_empty() {
            Ok(conf)
        } else {
            Err(ConfErrors(errs))
        }
    }

    fn parse_partial(
        conf_dir: &Path,
        text: &str,
    ) -> Result<(ServerConf, Vec<ConfError>), ConfErrors> {
        let ini = Ini::parse(text).map_err(|e| ConfError::new(FILE, "", e.to_string()))?;
        let mut r = Reader { errs: Vec::new() };
        for s in &ini.sections {
            let known = ["Server", "HttpsBasic", "SessionTicket", "Ringfront"];
            if s.sub.is_some() || !known.iter().any(|k| k.eq_ignore_ascii_case(&s.name)) {
                r.fail(&s.name, format!("line {}: unknown section", s.line));
            }
        }
        let empty = Section {
            name: String::new(),
            sub: None,
            line: 0,
            entries: Vec::new(),
        };
        let server = ini.section("Server").unwrap_or(&empty);
        let https = ini.section("HttpsBasic").unwrap_or(&empty);
        let ticket = ini.section("SessionTicket").unwrap_or(&empty);
        let ring = ini.section("Ringfront").unwrap_or(&empty);

        r.unknown_keys("Server", server, SERVER_KEYS);
        r.unknown_keys("HttpsBasic", https, HTTPS_KEYS);
        r.unknown_keys("SessionTicket", ticket, TICKET_KEYS);
        r.unknown_keys("Ringfront", ring, RING_KEYS);

        let sv = Sec {
            name: "Server",
            s: server,
        };
        let port = |r: &mut Reader, key: &str, def: i64| r.int(&sv, key, def, 0, 65535) as u16;
        let http_port = port(&mut r, "HttpPort", 8080);
        let https_port = port(&mut r, "HttpsPort", 8443);
        let monitor_port = port(&mut r, "MonitorPort", 8421);
        let monitor_enabled = r.boolean(&sv, "MonitorEnabled", true);
        let max_cpus = r.int(&sv, "MaxCpus", 0, 0, 65535) as usize;
        let accept_num = (r.int(&sv, "AcceptNum", 0, 0, 65535) as usize).max(1);
        let l4 = r.string(&sv, "Layer4LoadBalancer", "");
        let layer4_proxy = match l4.as_str() {
            "" | "NONE" => false,
            "PROXY" => true,
            other => {
                r.fail(
                    "Server.Layer4LoadBalancer",
                    format!("{other:?} should be PROXY or NONE"),
                );
                false
            }
        };
        let secs = |r: &mut Reader, key: &str, def: i64, max: i64| {
            Duration::from_secs(r.int(&sv, key, def, 1, max) as u64)
        };
        let tls_handshake_timeout = secs(&mut r, "TlsHandshakeTimeout", 30, 1200);
        let client_read_timeout = secs(&mut r, "ClientReadTimeout", 60, i32::MAX as i64);
        let client_write_timeout = secs(&mut r, "ClientWriteTimeout", 60, i32::MAX as i64);
        let graceful_shutdown_timeout = secs(&mut r, "GracefulShutdownTimeout", 10, 300);
        let keep_alive_enabled = r.boolean(&sv, "KeepAliveEnabled", true);
        let max_header_bytes = r.int(&sv, "MaxHeaderBytes", 1048576, 1, i32::MAX as i64) as usize;
        let max_header_uri_bytes =
            r.int(&sv, "MaxHeaderUriBytes", 8192, 1, i32::MAX as i64) as usize;
        if max_header_uri_bytes > max_header_bytes {
            r.fail(
                "Server.MaxHeaderUriBytes",
                format!(
                    "{max_header_uri_bytes} must not exceed MaxHeaderBytes ({max_header_bytes})"
                ),
            );
        }
        let max_proxy_header_bytes =
            r.int(&sv, "MaxProxyHeaderBytes", 0, 0, i32::MAX as i64) as usize;
        let monitor_interval = monitor_interval(&mut r, &sv);
        let path = |r: &mut Reader, sec: &Sec, key: &str, def: &str| {
            let v = r.string(sec, key, "");
            conf_dir.join(if v.is_empty() { def } else { v.as_str() })
        };
        let host_rule_conf = path(
            &mut r,
            &sv,
            "HostRuleConf",
            "server_data_conf/host_rule.data",
        );
        let vip_rule_conf = path(&mut r, &sv, "VipRuleConf", "server_data_conf/vip_rule.data");
        let route_rule_conf = path(
            &mut r,
            &sv,
            "RouteRuleConf",
            "server_data_conf/route_rule.data",
        );
        let cluster_conf = path(
            &mut r,
            &sv,
            "ClusterConf",
            "server_data_conf/cluster_conf.data",
        );
        let name_conf = path(&mut r, &sv, "NameConf", "server_data_conf/name_conf.data");
        let gslb_conf = path(&mut r, &sv, "GslbConf", "cluster_conf/gslb.data");
        let cluster_table_conf = path(
            &mut r,
            &sv,
            "ClusterTableConf",
            "cluster_conf/cluster_table.data",
        );
        let modules = list(server, "Modules");
        let plugins = list(server, "Plugins");
        for key in [
            "DebugServHttp",
            "DebugBfeRoute",
            "DebugBal",
            "DebugHealthCheck",
        ] {
            r.boolean(&sv, key, false);
        }

        let hs = Sec {
            name: "HttpsBasic",
            s: https,
        };
        let cert_explicit = !r.string(&hs, "ServerCertConf", "").is_empty();
        let tls_rule_explicit = !r.string(&hs, "TlsRuleConf", "").is_empty();
        let server_cert_conf = path(
            &mut r,
            &hs,
            "ServerCertConf",
            "tls_conf/server_cert_conf.data",
        );
        let https = HttpsBasic {
            enabled: cert_explicit || server_cert_conf.exists(),
            tls_rule_explicit,
            server_cert_conf,
            tls_rule_conf: path(&mut r, &hs, "TlsRuleConf", "tls_conf/tls_rule_conf.data"),
            cipher_suites: list_or(https, "CipherSuites", DEFAULT_CIPHERS),
            curve_preferences: list_or(https, "CurvePreferences", &["CurveP256"]),
            // BFE (Go 1.x crypto/tls of its day) stops at 1.2; ringfront adds 1.3
            // and offers it unless MaxTlsVersion caps it.
            max_tls_version: r.string(&hs, "MaxTlsVersion", "VersionTLS13"),
            min_tls_version: r.string(&hs, "MinTlsVersion", "VersionSSL30"),
            enable_sslv2_client_hello: r.boolean(&hs, "EnableSslv2ClientHello", true),
            client_ca_base_dir: path(&mut r, &hs, "ClientCABaseDir", "tls_conf/client_ca"),
            client_crl_base_dir: path(&mut r, &hs, "ClientCRLBaseDir", "tls_conf/client_crl"),
        };
        check_https(&mut r, &https);

        let ts = Sec {
            name: "SessionTicket",
            s: ticket,
        };
        let session_ticket = SessionTicket {
            session_tickets_disabled: r.boolean(&ts, "SessionTicketsDisabled", true),
            session_ticket_key_file: path(
                &mut r,
                &ts,
                "SessionTicketKeyFile",
                "tls_conf/session_ticket_key.data",
            ),
        };

        let tuning = tuning(&mut r, ring);

        let conf = ServerConf {
            conf_dir: conf_dir.to_path_buf(),
            http_port,
            https_port,
            monitor_port,
            monitor_enabled,
            max_cpus,
            tls_handshake_timeout,
            client_read_timeout,
            client_write_timeout,
            keep_alive_enabled,
            graceful_shutdown_timeout,
            max_header_bytes,
            max_header_uri_bytes,
            host_rule_conf,
            vip_rule_conf,
            route_rule_conf,
            cluster_conf,
            name_conf,
            gslb_conf,
            cluster_table_conf,
            modules,
            monitor_interval,
            tuning,
            layer4_proxy,
            max_proxy_header_bytes,
            accept_num,
            plugins,
            https,
            session_ticket,
        };
        Ok((conf, r.errs))
    }
}

const SERVER_KEYS: &[&str] = &[
    "HttpPort",
    "HttpsPort",
    "MonitorPort",
    "MonitorEnabled",
    "MaxCpus",
    "AcceptNum",
    "Layer4LoadBalancer",
    "TlsHandshakeTimeout",
    "ClientReadTimeout",
    "ClientWriteTimeout",
    "GracefulShutdownTimeout",
    "MaxHeaderBytes",
    "MaxHeaderUriBytes",
    "MaxProxyHeaderBytes",
    "KeepAliveEnabled",
    "Modules",
    "Plugins",
    "HostRuleConf",
    "VipRuleConf",
    "RouteRuleConf",
    "ClusterTableConf",
    "GslbConf",
    "ClusterConf",
    "NameConf",
    "MonitorInterval",
    "DebugServHttp",
    "DebugBfeRoute",
    "DebugBal",
    "DebugHealthCheck",
];
const HTTPS_KEYS: &[&str] = &[
    "ServerCertConf",
    "TlsRuleConf",
    "CipherSuites",
    "CurvePreferences",
    "MaxTlsVersion",
    "MinTlsVersion",
    "EnableSslv2ClientHello",
    "ClientCABaseDir",
    "ClientCRLBaseDir",
];
const TICKET_KEYS: &[&str] = &["SessionTicketsDisabled", "SessionTicketKeyFile"];
const RING_KEYS: &[&str] = &[
    "CpuList",
    "UringEntries",
    "UringSqPollIdleMs",
    "UringTaskrun",
    "ReadBufferSize",
    "BodyBufferSize",
    "MaxConnsPerWorker",
    "UpstreamIdlePerHost",
];
const DEFAULT_CIPHERS: &[&str] = &[
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256|TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256|TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
];

fn list(s: &Section, key: &str) -> Vec<String> {
    s.values(key)
        .into_iter()
        .filter(|v| !v.trim().is_empty())
        .map(|v| v.trim().to_string())
        .collect()
}

fn list_or(s: &Section, key: &str, def: &[&str]) -> Vec<String> {
    if s.last(key).is_none() {
        def.iter().map(|v| v.to_string()).collect()
    } else {
        list(s, key)
    }
}

/// BFE: unset or <= 0 means 20, over 60 is clamped to 60, otherwise it must
/// divide a minute and be at least 20.
fn monitor_interval(r: &mut Reader, sv: &Sec) -> Duration {
    let v = r.int(sv, "MonitorInterval", 20, i64::MIN, i64::MAX);
    let secs = if v <= 0 {
        20
    } else if v > 60 {
        60
    } else if 60 % v != 0 {
        r.fail("Server.MonitorInterval", format!("{v} does not divide 60"));
        20
    } else if v < 20 {
        r.fail("Server.MonitorInterval", format!("{v} is too small (< 20)"));
        20
    } else {
        v
    };
    Duration::from_secs(secs as u64)
}

fn check_https(r: &mut Reader, h: &HttpsBasic) {
    for group in &h.cipher_suites {
        for c in group.split('|') {
            if !CIPHER_SUITES.contains(&c) {
                r.fail(
                    "HttpsBasic.CipherSuites",
                    format!("cipher {c:?} not supported"),
                );
            }
        }
    }
    for c in &h.curve_preferences {
        if !CURVES.contains(&c.as_str()) {
            r.fail(
                "HttpsBasic.CurvePreferences",
                format!("curve {c:?} not supported"),
            );
        }
    }
    let max = TLS_VERSIONS.iter().position(|v| *v == h.max_tls_version);
    let min = TLS_VERSIONS.iter().position(|v| *v == h.min_tls_version);
    if max.is_none() {
        r.fail(
            "HttpsBasic.MaxTlsVersion",
            format!("{:?} not supported", h.max_tls_version),
        );
    }
    if min.is_none() {
        r.fail(
            "HttpsBasic.MinTlsVersion",
            format!("{:?} not supported", h.min_tls_version),
        );
    }
    if let (Some(max), Some(min)) = (max, min) {
        if max < min {
            r.fail(
                "HttpsBasic.MaxTlsVersion",
                "must not be lower than MinTlsVersion",
            );
        }
    }
}

fn tuning(r: &mut Reader, ring: &Section) -> Tuning {
    let d = Tuning::default();
    let rs = Sec {
        name: "Ringfront",
        s: ring,
    };
    let cpu_text = r.string(&rs, "CpuList", "");
    let cpu_list = match parse_cpu_list(&cpu_text) {
        Ok(v) => v,
        Err(e) => {
            r.fail("Ringfront.CpuList", e);
            Vec::new()
        }
    };
    let taskrun = match r.string(&rs, "UringTaskrun", "coop").as_str() {
        "coop" => Taskrun::Coop,
        "defer" => Taskrun::Defer,
        "off" => Taskrun::Off,
        other => {
            r.fail(
                "Ringfront.UringTaskrun",
                format!("{other:?} should be coop, defer or off"),
            );
            Taskrun::Coop
        }
    };
    Tuning {
        cpu_list,
        uring_taskrun: taskrun,
        uring_entries: r.int(&rs, "UringEntries", d.uring_entries as i64, 1, 32768) as u32,
        uring_sqpoll_idle_ms: r.int(&rs, "UringSqPollIdleMs", 0, 0, u32::MAX as i64) as u32,
        read_buffer_size: r.int(
            &rs,
            "ReadBufferSize",
            d.read_buffer_size as i64,
            1024,
            64 << 20,
        ) as usize,
        body_buffer_size: r.int(
            &rs,
            "BodyBufferSize",
            d.body_buffer_size as i64,
            4096,
            16 << 20,
        ) as usize,
        max_conns_per_worker: r.int(&rs, "MaxConnsPerWorker", 0, 0, i32::MAX as i64) as usize,
        upstream_idle_per_host: r.int(
            &rs,
            "UpstreamIdlePerHost",
            d.upstream_idle_per_host as i64,
            0,
            i32::MAX as i64,
        ) as usize,
    }
}

/// `0,1,2`, `0-3`, `0-3,8-11`; empty means all cores.
pub fn parse_cpu_list(s: &str) -> Result<Vec<usize>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let num = |t: &str| {
            t.trim()
                .parse::<usize>()
                .map_err(|_| format!("bad CPU number {t:?}"))
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if a > b || b - a > 4096 {
                    return Err(format!("bad CPU range {part:?}"));
                }
                out.extend(a..=b);
            }
            None => out.push(num(part)?),
        }
    }
    let mut seen = out.clone();
    seen.sort_unstable();
    seen.dedup();
    if seen.len() != out.len() {
        return Err("a CPU is listed twice".into());
    }
    Ok(out)
}

struct Sec<'a> {
    name: &'static str,
    s: &'a Section,
}

struct Reader {
    errs: Vec<ConfError>,
}

impl Reader {
    fn fail(&mut self, key: &str, reason: impl Into<String>) {
        self.errs.push(ConfError::new(FILE, key, reason));
    }

    fn unknown_keys(&mut self, name: &str, s: &Section, known: &[&str]) {
        for e in &s.entries {
            if !known.iter().any(|k| k.eq_ignore_ascii_case(&e.key)) {
                self.fail(
                    &format!("{name}.{}", e.key),
                    format!("line {}: unknown key", e.line),
                );
            }
        }
    }

    fn entry<'a>(&self, sec: &Sec<'a>, key: &str) -> Option<&'a Entry> {
        sec.s.last(key)
    }

    fn int(&mut self, sec: &Sec, key: &str, def: i64, min: i64, max: i64) -> i64 {
        let Some(e) = self.entry(sec, key) else {
            return def;
        };
        let raw = e.value.as_deref().unwrap_or("");
        match raw.trim().parse::<i64>() {
            Ok(v) if v >= min && v <= max => v,
            Ok(v) => {
                let reason = if max == i64::MAX || max >= i32::MAX as i64 {
                    format!("line {}: {v} must be >= {min}", e.line)
                } else {
                    format!("line {}: {v} must be in [{min}, {max}]", e.line)
                };
                self.fail(&format!("{}.{key}", sec.name), reason);
                def
            }
            Err(_) => {
                self.fail(
                    &format!("{}.{key}", sec.name),
                    format!("line {}: {raw:?} is not an integer", e.line),
                );
                def
            }
        }
    }

    fn boolean(&mut self, sec: &Sec, key: &str, def: bool) -> bool {
        let Some(e) = self.entry(sec, key) else {
            return def;
        };
        let Some(raw) = e.value.as_deref() else {
            return true;
        };
        match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => true,
            "false" | "no" | "off" | "0" => false,
            _ => {
                self.fail(
                    &format!("{}.{key}", sec.name),
                    format!("line {}: {raw:?} is not a boolean", e.line),
                );
                def
            }
        }
    }

    fn string(&mut self, sec: &Sec, key: &str, def: &str) -> String {
        match self.entry(sec, key) {
            Some(e) => match &e.value {
                Some(v) => v.clone(),
                None => {
                    self.fail(
                        &format!("{}.{key}", sec.name),
                        format!("line {}: missing value", e.line),
                    );
                    def.to_string()
                }
            },
            None => def.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ServerConf, ConfErrors> {
        ServerConf::parse(Path::new("/conf"), text)
    }

    #[test]
    fn bad_values_fall_back_to_defaults_when_partial() {
        let text = "[Server]\nMaxHeaderBytes = lots\nRouteRuleConf = r.data\n";
        let (c, errs) = ServerConf::parse_partial(Path::new("/conf"), text).unwrap();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].key, "Server.MaxHeaderBytes");
        assert_eq!(c.max_header_bytes, 1048576);
        assert_eq!(c.route_rule_conf, Path::new("/conf/r.data"));
        assert!(ServerConf::parse_partial(Path::new("/conf"), "[Server\n").is_err());
    }

    #[test]
    fn defaults_match_bfe() {
        let c = parse("[Server]\n").unwrap();
        assert_eq!(
            (c.http_port, c.https_port, c.monitor_port),
            (8080, 8443, 8421)
        );
        assert_eq!(c.max_cpus, 0);
        assert_eq!(c.client_read_timeout, Duration::from_secs(60));
        assert_eq!(c.client_write_timeout, Duration::from_secs(60));
        assert_eq!(c.tls_handshake_timeout, Duration::from_secs(30));
        assert_eq!(c.graceful_shutdown_timeout, Duration::from_secs(10));
        assert!(c.keep_alive_enabled && c.monitor_enabled && !c.layer4_proxy);
        assert_eq!(
            (c.max_header_bytes, c.max_header_uri_bytes),
            (1048576, 8192)
        );
        assert_eq!(c.monitor_interval, Duration::from_secs(20));
        assert_eq!(
            c.host_rule_conf,
            Path::new("/conf/server_data_conf/host_rule.data")
        );
        assert_eq!(c.gslb_conf, Path::new("/conf/cluster_conf/gslb.data"));
        assert_eq!(
            c.cluster_conf,
            Path::new("/conf/server_data_conf/cluster_conf.data")
        );
        assert_eq!(c.tuning.uring_entries, 1024);
        assert_eq!(c.tuning.read_buffer_size, 16384);
        assert_eq!(c.tuning.upstream_idle_per_host, 1024);
        assert!(c.tuning.cpu_list.is_empty());
        assert!(c.session_ticket.session_tickets_disabled);
        assert_eq!(c.https.min_tls_version, "VersionSSL30");
    }

    #[test]
    fn full_file() {
        let text = "[Server]\nHttpPort = 0\nMonitorPort = 0\nMaxCpus = 2\nLayer4LoadBalancer = \"PROXY\"\n\
            Modules = mod_trust_clientip\nModules = mod_block\nMonitorInterval = 30\nGslbConf = g/gslb.data\n\
            [HttpsBasic]\nCipherSuites = TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256|TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256\n\
            CurvePreferences = CurveP256\nMinTlsVersion = VersionTLS12\nMaxTlsVersion = VersionTLS13\n\
            [SessionTicket]\nSessionTicketsDisabled = false\nSessionTicketKeyFile = tls_conf/k.data\n\
            [Ringfront]\nCpuList = 0-2,5\nUringEntries = 256\nUringSqPollIdleMs = 10\nReadBufferSize = 4096\n\
            BodyBufferSize = 8192\nMaxConnsPerWorker = 100\nUpstreamIdlePerHost = 8\n";
        let c = parse(text).unwrap();
        assert_eq!(c.http_port, 0);
        assert_eq!(c.modules, vec!["mod_trust_clientip", "mod_block"]);
        assert!(c.layer4_proxy);
        assert_eq!(c.monitor_interval, Duration::from_secs(30));
        assert_eq!(c.gslb_conf, Path::new("/conf/g/gslb.data"));
        assert_eq!(c.tuning.cpu_list, vec![0, 1, 2, 5]);
        assert_eq!(c.tuning.uring_sqpoll_idle_ms, 10);
        assert_eq!(c.tuning.max_conns_per_worker, 100);
        assert_eq!(c.tuning.body_buffer_size, 8192);
        assert!(!c.session_ticket.session_tickets_disabled);
        assert_eq!(
            c.session_ticket.session_ticket_key_file,
            Path::new("/conf/tls_conf/k.data")
        );
    }

    #[test]
    fn collects_all_errors_with_keys() {
        let text = "[Server]\nHttpPort = 70000\nClientReadTimeout = 0\nMaxHeaderBytes = 100\n\
            MaxHeaderUriBytes = 200\nKeepAliveEnabled = maybe\nBogus = 1\nMonitorInterval = 7\n\
            [Ringfront]\nReadBufferSize = 10\nCpuList = 3-1\n[Nope]\n";
        let errs = parse(text).unwrap_err().0;
        let keys: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
        for k in [
            "Server.HttpPort",
            "Server.ClientReadTimeout",
            "Server.MaxHeaderUriBytes",
            "Server.KeepAliveEnabled",
            "Server.Bogus",
            "Server.MonitorInterval",
            "Ringfront.ReadBufferSize",
            "Ringfront.CpuList",
            "Nope",
        ] {
            assert!(keys.contains(&k), "missing {k} in {keys:?}");
        }
        assert!(errs.iter().all(|e| e.file == "bfe.conf"));
    }

    #[test]
    fn https_names_checked() {
        let errs = parse(
            "[HttpsBasic]\nCurvePreferences = CurveX\nMinTlsVersion = VersionTLS13\nMaxTlsVersion = VersionTLS12\n",
        )
            .unwrap_err()
            .0;
        let keys: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
        assert!(keys.contains(&"HttpsBasic.CurvePreferences"));
        assert!(keys.contains(&"HttpsBasic.MaxTlsVersion"));
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("").unwrap(), Vec::<usize>::new());
        assert_eq!(parse_cpu_list("0,1,2").unwrap(), vec![0, 1, 2]);
        assert_eq!(parse_cpu_list("0-3").unwrap(), vec![0, 1, 2, 3]);
        assert!(parse_cpu_list("1,1").is_err());
        assert!(parse_cpu_list("a").is_err());
        assert!(parse_cpu_list("0-999999999").is_err());
    }

    #[test]
    fn load_reads_file_and_reports_missing() {
        let dir = std::env::temp_dir().join(format!("rf-server-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(ServerConf::load(&dir).is_err());
        std::fs::write(dir.join("bfe.conf"), "[Server]\nHttpPort = 81\n").unwrap();
        assert_eq!(ServerConf::load(&dir).unwrap().http_port, 81);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
