//! `bfe.conf`: BFE's `[Server]` keys plus ringfront's `[Ringfront]` tuning.
//!
//! Defaults and range checks follow BFE's `conf_basic.go`, with one
//! deliberate difference: port 0 is accepted and means "pick an ephemeral
//! port", which tests rely on. Unknown keys and sections are errors, as gcfg
//! makes them in BFE, so that a typo cannot silently fall back to a default.
//! Keys BFE has but ringfront does not act on are refused ("not supported
//! yet") unless they hold BFE's "off" value, so that a setting never
//! silently does nothing. Each key is named once, where it is read.

use super::ini::{Entry, Ini, Section};
use super::{ConfError, ConfErrors};
use std::net::IpAddr;
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
    /// `HttpAddr`, `HttpsAddr`, `MonitorAddr`: the address each listener
    /// binds; `None` (BFE's empty default) is every interface, IPv6 and
    /// IPv4 on one dual-stack socket (`[::]`), or `0.0.0.0` on a host
    /// without IPv6.
    pub http_addr: Option<IpAddr>,
    pub https_addr: Option<IpAddr>,
    pub monitor_addr: Option<IpAddr>,
    pub monitor_enabled: bool,
    /// BFE `MonitorInterval` (20, 30 or 60 s): the period the monitor's
    /// `*_diff` pages show the counter deltas of.
    pub monitor_interval: Duration,
    /// BFE `MaxCpus`: number of workers; 0 = one per online core.
    pub max_cpus: usize,
    pub tls_handshake_timeout: Duration,
    pub client_read_timeout: Duration,
    pub client_write_timeout: Duration,
    pub keep_alive_enabled: bool,
    pub graceful_shutdown_timeout: Duration,
    pub max_header_bytes: usize,
    pub max_header_uri_bytes: usize,
    /// `Layer4LoadBalancer = PROXY`: both listeners read an optional PROXY
    /// protocol v1/v2 header on accept (see `docs/proxy-protocol.md`).
    pub proxy_protocol: bool,
    /// `MaxProxyHeaderBytes`, with BFE's default (2048) for 0 or less.
    pub max_proxy_header_bytes: usize,
    pub host_rule_conf: PathBuf,
    pub vip_rule_conf: PathBuf,
    pub route_rule_conf: PathBuf,
    pub cluster_conf: PathBuf,
    pub name_conf: PathBuf,
    pub gslb_conf: PathBuf,
    pub cluster_table_conf: PathBuf,
    /// `Modules =` lines, in file order.
    pub modules: Vec<String>,
    pub tuning: Tuning,
    pub https: HttpsBasic,
    pub session_ticket: SessionTicket,
}

/// `[HttpsBasic]`. What rustls can offer of it is resolved by
/// [`crate::config::tls::Params`].
#[derive(Debug, Clone, Default, PartialEq)]
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
}

/// `[SessionTicket]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionTicket {
    pub session_tickets_disabled: bool,
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
#[derive(Debug, Clone, PartialEq)]
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
    /// Bytes of request and response bodies a worker may hold whole in
    /// memory at once (`MaxBufferedBytes`); past it bodies stream.
    pub max_buffered_bytes: usize,
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
            max_buffered_bytes: 256 << 20,
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
    /// The `bfe.conf` keys whose value differs between `self` (running)
    /// and `new` and that take effect only at start: everything but the
    /// data file paths, which a reload follows.
    pub fn restart_only_changes(&self, new: &ServerConf) -> Vec<&'static str> {
        let (a, b) = (self, new);
        let fields = [
            ("Server.HttpPort", a.http_port != b.http_port),
            ("Server.HttpsPort", a.https_port != b.https_port),
            ("Server.MonitorPort", a.monitor_port != b.monitor_port),
            ("Server.HttpAddr", a.http_addr != b.http_addr),
            ("Server.HttpsAddr", a.https_addr != b.https_addr),
            ("Server.MonitorAddr", a.monitor_addr != b.monitor_addr),
            (
                "Server.MonitorEnabled",
                a.monitor_enabled != b.monitor_enabled,
            ),
            ("Server.MaxCpus", a.max_cpus != b.max_cpus),
            (
                "Server.TlsHandshakeTimeout",
                a.tls_handshake_timeout != b.tls_handshake_timeout,
            ),
            (
                "Server.ClientReadTimeout",
                a.client_read_timeout != b.client_read_timeout,
            ),
            (
                "Server.ClientWriteTimeout",
                a.client_write_timeout != b.client_write_timeout,
            ),
            (
                "Server.KeepAliveEnabled",
                a.keep_alive_enabled != b.keep_alive_enabled,
            ),
            (
                "Server.GracefulShutdownTimeout",
                a.graceful_shutdown_timeout != b.graceful_shutdown_timeout,
            ),
            (
                "Server.MaxHeaderBytes",
                a.max_header_bytes != b.max_header_bytes,
            ),
            (
                "Server.MaxHeaderUriBytes",
                a.max_header_uri_bytes != b.max_header_uri_bytes,
            ),
            (
                "Server.Layer4LoadBalancer",
                a.proxy_protocol != b.proxy_protocol,
            ),
            (
                "Server.MaxProxyHeaderBytes",
                a.max_proxy_header_bytes != b.max_proxy_header_bytes,
            ),
            ("Server.Modules", a.modules != b.modules),
            ("[HttpsBasic]", a.https != b.https),
            ("[SessionTicket]", a.session_ticket != b.session_ticket),
            ("[Ringfront]", a.tuning != b.tuning),
        ];
        fields.iter().filter(|f| f.1).map(|f| f.0).collect()
    }

    /// `self` with the data file paths of `new`: what a reload runs.
    pub fn with_data_paths(&self, new: &ServerConf) -> ServerConf {
        ServerConf {
            host_rule_conf: new.host_rule_conf.clone(),
            vip_rule_conf: new.vip_rule_conf.clone(),
            route_rule_conf: new.route_rule_conf.clone(),
            cluster_conf: new.cluster_conf.clone(),
            name_conf: new.name_conf.clone(),
            gslb_conf: new.gslb_conf.clone(),
            cluster_table_conf: new.cluster_table_conf.clone(),
            ..self.clone()
        }
    }

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

    /// Every key is named exactly once, where it is read: the reader
    /// records what was asked for, and whatever else the file holds is an
    /// unknown section or key. So the accepted keys cannot drift from the
    /// parsed ones.
    fn parse_partial(
        conf_dir: &Path,
        text: &str,
    ) -> Result<(ServerConf, Vec<ConfError>), ConfErrors> {
        let ini = Ini::parse(text).map_err(|e| ConfError::new(FILE, "", e.to_string()))?;
        let empty = Section {
            name: String::new(),
            sub: None,
            line: 0,
            entries: Vec::new(),
        };
        let mut r = Reader {
            conf_dir,
            errs: Vec::new(),
            read: Vec::new(),
        };
        let sv = r.section(&ini, "Server", &empty);
        let hs = r.section(&ini, "HttpsBasic", &empty);
        let ts = r.section(&ini, "SessionTicket", &empty);
        let cs = r.section(&ini, "SessionCache", &empty);
        let rs = r.section(&ini, "Ringfront", &empty);
        let conf = server(&mut r, &sv);
        let conf = ServerConf {
            https: https_basic(&mut r, &hs),
            session_ticket: session_ticket(&mut r, &ts),
            tuning: tuning(&mut r, &rs),
            ..conf
        };
        session_cache(&mut r, &cs);
        r.unknown(&ini);
        Ok((conf, r.errs))
    }
}

/// `[Server]`. Keys ringfront does not act on are refused unless they hold
/// the value that means "off" in BFE, so a file never asks for something
/// that silently does not happen.
fn server(r: &mut Reader, sv: &Sec) -> ServerConf {
    let port = |r: &mut Reader, key: &str, def: i64| r.int(sv, key, def, 0, 65535) as u16;
    let secs = |r: &mut Reader, key: &str, def: i64, max: i64| {
        Duration::from_secs(r.int(sv, key, def, 1, max) as u64)
    };
    let http_port = port(r, "HttpPort", 8080);
    let https_port = port(r, "HttpsPort", 8443);
    let monitor_port = port(r, "MonitorPort", 8421);
    let http_addr = listen_addr(r, sv, "HttpAddr");
    let https_addr = listen_addr(r, sv, "HttpsAddr");
    let monitor_addr = listen_addr(r, sv, "MonitorAddr");
    let monitor_enabled = r.boolean(sv, "MonitorEnabled", true);
    let monitor_interval = Duration::from_secs(monitor_interval(r, sv) as u64);
    let max_cpus = r.int(sv, "MaxCpus", 0, 0, 65535) as usize;
    let proxy_protocol = layer4_load_balancer(r, sv);
    // BFE (bfe_proxy.NewConn): 0 or negative means the default, 2048.
    let max_proxy_header_bytes = match r.int(
        sv,
        "MaxProxyHeaderBytes",
        0,
        i32::MIN as i64,
        i32::MAX as i64,
    ) {
        n if n <= 0 => DEFAULT_MAX_PROXY_HEADER_BYTES,
        n => n as usize,
    };
    unsupported_server_keys(r, sv);
    let tls_handshake_timeout = secs(r, "TlsHandshakeTimeout", 30, 1200);
    let client_read_timeout = secs(r, "ClientReadTimeout", 60, i32::MAX as i64);
    let client_write_timeout = secs(r, "ClientWriteTimeout", 60, i32::MAX as i64);
    let graceful_shutdown_timeout = secs(r, "GracefulShutdownTimeout", 10, 300);
    let keep_alive_enabled = r.boolean(sv, "KeepAliveEnabled", true);
    let max_header_bytes = r.int(sv, "MaxHeaderBytes", 1048576, 1, i32::MAX as i64) as usize;
    let max_header_uri_bytes = r.int(sv, "MaxHeaderUriBytes", 8192, 1, i32::MAX as i64) as usize;
    if max_header_uri_bytes > max_header_bytes {
        r.fail(
            "Server.MaxHeaderUriBytes",
            format!("{max_header_uri_bytes} must not exceed MaxHeaderBytes ({max_header_bytes})"),
        );
    }
    ServerConf {
        conf_dir: r.conf_dir.to_path_buf(),
        http_port,
        https_port,
        monitor_port,
        http_addr,
        https_addr,
        monitor_addr,
        monitor_enabled,
        monitor_interval,
        max_cpus,
        tls_handshake_timeout,
        client_read_timeout,
        client_write_timeout,
        keep_alive_enabled,
        graceful_shutdown_timeout,
        max_header_bytes,
        max_header_uri_bytes,
        proxy_protocol,
        max_proxy_header_bytes,
        host_rule_conf: r.path(sv, "HostRuleConf", "server_data_conf/host_rule.data"),
        vip_rule_conf: r.path(sv, "VipRuleConf", "server_data_conf/vip_rule.data"),
        route_rule_conf: r.path(sv, "RouteRuleConf", "server_data_conf/route_rule.data"),
        cluster_conf: r.path(sv, "ClusterConf", "server_data_conf/cluster_conf.data"),
        name_conf: r.path(sv, "NameConf", "server_data_conf/name_conf.data"),
        gslb_conf: r.path(sv, "GslbConf", "cluster_conf/gslb.data"),
        cluster_table_conf: r.path(sv, "ClusterTableConf", "cluster_conf/cluster_table.data"),
        modules: r.list(sv, "Modules"),
        tuning: Tuning::default(),
        https: HttpsBasic::default(),
        session_ticket: SessionTicket::default(),
    }
}

/// `HttpAddr`/`HttpsAddr`/`MonitorAddr`: BFE listens on `"{addr}:{port}"`,
/// empty meaning every interface. ringfront takes an IP address, IPv6
/// with or without brackets (`::1`, `[::1]`); a host name is refused, as
/// it would be resolved once at start and then silently go stale.
fn listen_addr(r: &mut Reader, sv: &Sec, key: &str) -> Option<IpAddr> {
    let raw = r.string(sv, key, "");
    let v = raw.trim();
    if v.is_empty() {
        return None;
    }
    let bare = v
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .unwrap_or(v);
    match bare.parse::<IpAddr>() {
        Ok(ip) => Some(ip),
        Err(_) => {
            r.fail(
                &format!("Server.{key}"),
                format!("{v:?} is not an IP address (IPv4, or IPv6 with or without brackets; host names are not resolved); leave it empty for every interface"),
            );
            None
        }
    }
}

/// BFE's `bfe_http.DefaultAccessibleBodySize` and `MaxAccessibleBodySize`.
const DEFAULT_ACCESSIBLE_BODY_SIZE: i64 = 2 << 20;
const MAX_ACCESSIBLE_BODY_SIZE: i64 = 8 << 20;

/// BFE's default `MaxProxyHeaderBytes` (`bfe_proxy/conn.go`).
const DEFAULT_MAX_PROXY_HEADER_BYTES: usize = 2048;

/// `Layer4LoadBalancer`: `PROXY`, or `NONE`/empty (BFE's
/// `checkLayer4LoadBalancer`). True for PROXY.
fn layer4_load_balancer(r: &mut Reader, sv: &Sec) -> bool {
    match r.string(sv, "Layer4LoadBalancer", "").as_str() {
        "" | "NONE" => false,
        "PROXY" => true,
        other => {
            r.fail(
                "Server.Layer4LoadBalancer",
                format!("{other:?} should be PROXY or NONE"),
            );
            false
        }
    }
}

/// `[Server]` keys BFE has and ringfront does not act on: each is checked
/// like BFE checks it, then refused unless it holds BFE's "off" value.
fn unsupported_server_keys(r: &mut Reader, sv: &Sec) {
    if r.int(sv, "AcceptNum", 0, 0, 65535) > 1 {
        r.unsupported(
            "Server.AcceptNum",
            "one accept loop per worker on its own SO_REUSEPORT listener (MaxCpus sets how many); remove it or set 1",
        );
    }
    if r.boolean(sv, "EnableAiGateway", false) {
        r.unsupported(
            "Server.EnableAiGateway",
            "BFE's AI gateway (token accounting for LLM backends) is not built in; remove it or set false",
        );
    }
    if r.boolean(sv, "EstimateToken", false) {
        r.unsupported(
            "Server.EstimateToken",
            "token estimation belongs to BFE's AI gateway, which is not built in; remove it or set false",
        );
    }
    // BFE: <= 0 means its default (2 MiB), the value its stock bfe.conf
    // sets; at most 8 MiB.
    let body = r.int(
        sv,
        "AccessibleBodySize",
        0,
        i32::MIN as i64,
        MAX_ACCESSIBLE_BODY_SIZE,
    );
    if body > 0 && body != DEFAULT_ACCESSIBLE_BODY_SIZE {
        r.unsupported(
            "Server.AccessibleBodySize",
            "it bounds the request bodies modules read whole, and no ringfront module does (bodies are streamed); remove it or set BFE's default 2097152",
        );
    }
    if r.int(sv, "TotalBodyBufferSize", 0, 0, i64::MAX) > 0 {
        r.unsupported(
            "Server.TotalBodyBufferSize",
            "no request body is buffered whole, so there is no total to bound; remove it or set 0",
        );
    }
    if !r.list(sv, "Plugins").is_empty() {
        r.unsupported("Server.Plugins", "Go plugins cannot be loaded");
    }
    for key in [
        "DebugServHttp",
        "DebugBfeRoute",
        "DebugBal",
        "DebugHealthCheck",
    ] {
        if r.boolean(sv, key, false) {
            r.unsupported(
                &format!("Server.{key}"),
                "BFE's debug logs; set RINGFRONT_LOG=debug instead",
            );
        }
    }
}

/// `[HttpsBasic]`. `EnableSslv2ClientHello = true` is refused: rustls
/// never accepts an SSLv2-format hello, so the key could only pretend. The
/// client CA
/// and CRL directories only matter with `ClientAuth`, which
/// `tls_rule_conf.data` refuses.
fn https_basic(r: &mut Reader, hs: &Sec) -> HttpsBasic {
    let cert = r.string(hs, "ServerCertConf", "");
    let rule = r.string(hs, "TlsRuleConf", "");
    let server_cert_conf = r.join(&cert, "tls_conf/server_cert_conf.data");
    // BFE's default is true; absent here means "not asked for", which is
    // what rustls does. Only an explicit true is refused.
    if r.boolean(hs, "EnableSslv2ClientHello", false) {
        r.fail(
            "HttpsBasic.EnableSslv2ClientHello",
            "true cannot be honoured: rustls accepts only TLS-format ClientHellos \
             (TLS 1.2 and 1.3), and the clients that send SSLv2-format hellos predate \
             TLS 1.2; set it to false or remove it",
        );
    }
    r.path(hs, "ClientCABaseDir", "tls_conf/client_ca");
    r.path(hs, "ClientCRLBaseDir", "tls_conf/client_crl");
    let https = HttpsBasic {
        enabled: !cert.is_empty() || server_cert_conf.exists(),
        tls_rule_explicit: !rule.is_empty(),
        server_cert_conf,
        tls_rule_conf: r.join(&rule, "tls_conf/tls_rule_conf.data"),
        cipher_suites: r.list_or(hs, "CipherSuites", DEFAULT_CIPHERS),
        curve_preferences: r.list_or(hs, "CurvePreferences", &["CurveP256"]),
        // BFE (Go 1.x crypto/tls of its day) stops at 1.2; ringfront adds 1.3
        // and offers it unless MaxTlsVersion caps it.
        max_tls_version: r.string(hs, "MaxTlsVersion", "VersionTLS13"),
        min_tls_version: r.string(hs, "MinTlsVersion", "VersionSSL30"),
    };
    check_https(r, &https);
    https
}

/// `[SessionTicket]`. Tickets on are refused when the TLS configuration is
/// loaded (see `config::tls`); the key file only matters with them on.
fn session_ticket(r: &mut Reader, ts: &Sec) -> SessionTicket {
    r.path(
        ts,
        "SessionTicketKeyFile",
        "tls_conf/session_ticket_key.data",
    );
    SessionTicket {
        session_tickets_disabled: r.boolean(ts, "SessionTicketsDisabled", true),
    }
}

/// `[SessionCache]`: BFE's TLS session cache shared through Redis. Only
/// its default, off, is accepted; the connection settings are checked and
/// matter only with it on.
fn session_cache(r: &mut Reader, cs: &Sec) {
    if !r.boolean(cs, "SessionCacheDisabled", true) {
        r.unsupported(
            "SessionCache.SessionCacheDisabled",
            "a TLS session cache shared through Redis (session-id resumption works per worker); set it to true",
        );
    }
    r.string(cs, "Servers", "");
    r.string(cs, "KeyPrefix", "");
    for key in [
        "ConnectTimeout",
        "ReadTimeout",
        "WriteTimeout",
        "MaxIdle",
        "SessionExpire",
    ] {
        r.int(cs, key, 0, 0, i32::MAX as i64);
    }
}

const DEFAULT_MONITOR_INTERVAL: i64 = 20;
const DEFAULT_CIPHERS: &[&str] = &[
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256|TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256|TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
];

/// BFE: unset or <= 0 means 20, over 60 is clamped to 60, otherwise it must
/// divide a minute and be at least 20.
fn monitor_interval(r: &mut Reader, sv: &Sec) -> i64 {
    let v = r.int(
        sv,
        "MonitorInterval",
        DEFAULT_MONITOR_INTERVAL,
        i64::MIN,
        i64::MAX,
    );
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
    secs
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

fn tuning(r: &mut Reader, rs: &Sec) -> Tuning {
    let d = Tuning::default();
    let cpu_text = r.string(rs, "CpuList", "");
    let cpu_list = match parse_cpu_list(&cpu_text) {
        Ok(v) => v,
        Err(e) => {
            r.fail("Ringfront.CpuList", e);
            Vec::new()
        }
    };
    let taskrun = match r.string(rs, "UringTaskrun", "coop").as_str() {
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
        uring_entries: r.int(rs, "UringEntries", d.uring_entries as i64, 1, 32768) as u32,
        uring_sqpoll_idle_ms: r.int(rs, "UringSqPollIdleMs", 0, 0, u32::MAX as i64) as u32,
        read_buffer_size: r.int(
            rs,
            "ReadBufferSize",
            d.read_buffer_size as i64,
            1024,
            64 << 20,
        ) as usize,
        body_buffer_size: r.int(
            rs,
            "BodyBufferSize",
            d.body_buffer_size as i64,
            4096,
            16 << 20,
        ) as usize,
        max_conns_per_worker: r.int(rs, "MaxConnsPerWorker", 0, 0, i32::MAX as i64) as usize,
        upstream_idle_per_host: r.int(
            rs,
            "UpstreamIdlePerHost",
            d.upstream_idle_per_host as i64,
            0,
            i32::MAX as i64,
        ) as usize,
        max_buffered_bytes: r.int(
            rs,
            "MaxBufferedBytes",
            d.max_buffered_bytes as i64,
            0,
            i64::MAX,
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

/// Reads keys and records which it was asked for: what is read is what is
/// known ([`Reader::unknown`]).
struct Reader<'c> {
    conf_dir: &'c Path,
    errs: Vec<ConfError>,
    /// `(section, key)` of every key asked for, as named in the code.
    read: Vec<(&'static str, String)>,
}

impl Reader<'_> {
    fn fail(&mut self, key: &str, reason: impl Into<String>) {
        self.errs.push(ConfError::new(FILE, key, reason));
    }

    /// Refuse a key ringfront does not act on (`key` as `Section.Key`).
    fn unsupported(&mut self, key: &str, why: &str) {
        self.fail(key, format!("not supported yet: {why}"));
    }

    /// Section `name` of the file (an empty one when absent), marked known.
    fn section<'a>(&mut self, ini: &'a Ini, name: &'static str, empty: &'a Section) -> Sec<'a> {
        self.read.push((name, String::new()));
        Sec {
            name,
            s: ini.section(name).unwrap_or(empty),
        }
    }

    /// Report every section and key of the file that nothing read, as gcfg
    /// does in BFE, so a typo cannot silently fall back to a default.
    fn unknown(&mut self, ini: &Ini) {
        for s in &ini.sections {
            let sec = self
                .read
                .iter()
                .find(|(n, k)| k.is_empty() && n.eq_ignore_ascii_case(&s.name));
            let Some(&(name, _)) = sec.filter(|_| s.sub.is_none()) else {
                self.fail(&s.name, format!("line {}: unknown section", s.line));
                continue;
            };
            for e in &s.entries {
                let known = self
                    .read
                    .iter()
                    .any(|(n, k)| *n == name && !k.is_empty() && k.eq_ignore_ascii_case(&e.key));
                if !known {
                    self.fail(
                        &format!("{name}.{}", e.key),
                        format!("line {}: unknown key", e.line),
                    );
                }
            }
        }
    }

    fn entry<'a>(&mut self, sec: &Sec<'a>, key: &str) -> Option<&'a Entry> {
        self.read.push((sec.name, key.to_string()));
        sec.s.last(key)
    }

    /// Every non-empty value of a key that may repeat, in file order.
    fn list(&mut self, sec: &Sec, key: &str) -> Vec<String> {
        self.read.push((sec.name, key.to_string()));
        sec.s
            .values(key)
            .into_iter()
            .filter(|v| !v.trim().is_empty())
            .map(|v| v.trim().to_string())
            .collect()
    }

    /// Like [`Reader::list`], `def` when the key is absent.
    fn list_or(&mut self, sec: &Sec, key: &str, def: &[&str]) -> Vec<String> {
        if sec.s.last(key).is_none() {
            self.read.push((sec.name, key.to_string()));
            def.iter().map(|v| v.to_string()).collect()
        } else {
            self.list(sec, key)
        }
    }

    /// A path key joined onto the conf dir; `def` when unset or empty.
    fn path(&mut self, sec: &Sec, key: &str, def: &str) -> PathBuf {
        let v = self.string(sec, key, "");
        self.join(&v, def)
    }

    fn join(&self, v: &str, def: &str) -> PathBuf {
        self.conf_dir.join(if v.is_empty() { def } else { v })
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
        assert!(c.keep_alive_enabled && c.monitor_enabled);
        assert_eq!(
            (c.max_header_bytes, c.max_header_uri_bytes),
            (1048576, 8192)
        );
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
        let text = "[Server]\nHttpPort = 0\nMonitorPort = 0\nMaxCpus = 2\nLayer4LoadBalancer = NONE\n\
            Modules = mod_trust_clientip\nModules = mod_block\nMonitorInterval = 20\nGslbConf = g/gslb.data\n\
            [HttpsBasic]\nCipherSuites = TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256|TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256\n\
            CurvePreferences = CurveP256\nMinTlsVersion = VersionTLS12\nMaxTlsVersion = VersionTLS13\n\
            [SessionTicket]\nSessionTicketsDisabled = false\nSessionTicketKeyFile = tls_conf/k.data\n\
            [Ringfront]\nCpuList = 0-2,5\nUringEntries = 256\nUringSqPollIdleMs = 10\nReadBufferSize = 4096\n\
            BodyBufferSize = 8192\nMaxConnsPerWorker = 100\nUpstreamIdlePerHost = 8\n";
        let c = parse(text).unwrap();
        assert_eq!(c.http_port, 0);
        assert_eq!(c.modules, vec!["mod_trust_clientip", "mod_block"]);
        assert_eq!(c.gslb_conf, Path::new("/conf/g/gslb.data"));
        assert_eq!(c.tuning.cpu_list, vec![0, 1, 2, 5]);
        assert_eq!(c.tuning.uring_sqpoll_idle_ms, 10);
        assert_eq!(c.tuning.max_conns_per_worker, 100);
        assert_eq!(c.tuning.body_buffer_size, 8192);
        assert!(!c.session_ticket.session_tickets_disabled);
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
    fn every_known_key_is_accepted() {
        let text = "[Server]\nHttpPort = 1\nHttpsPort = 2\nMonitorPort = 3\nMonitorEnabled = false\n\
            MaxCpus = 1\nAcceptNum = 1\nLayer4LoadBalancer = \nTlsHandshakeTimeout = 5\n\
            ClientReadTimeout = 5\nClientWriteTimeout = 5\nGracefulShutdownTimeout = 5\n\
            MaxHeaderBytes = 4096\nMaxHeaderUriBytes = 1024\nMaxProxyHeaderBytes = 0\n\
            KeepAliveEnabled = false\nModules = m\nPlugins = \nHostRuleConf = a\nVipRuleConf = b\n\
            RouteRuleConf = c\nClusterTableConf = d\nGslbConf = e\nClusterConf = f\nNameConf = g\n\
            MonitorInterval = 0\nDebugServHttp = false\nDebugBfeRoute = false\nDebugBal = false\n\
            DebugHealthCheck = false\nHttpAddr = 127.0.0.1\nHttpsAddr = [::1]\nMonitorAddr = ::\n\
            EnableAiGateway = false\nEstimateToken = false\nAccessibleBodySize = 2097152\nTotalBodyBufferSize = 0\n\
            [HttpsBasic]\nServerCertConf = s\nTlsRuleConf = t\nCipherSuites = TLS_RSA_WITH_AES_128_CBC_SHA\n\
            CurvePreferences = X25519\nMaxTlsVersion = VersionTLS13\nMinTlsVersion = VersionTLS12\n\
            EnableSslv2ClientHello = false\nClientCABaseDir = ca\nClientCRLBaseDir = crl\n\
            [SessionTicket]\nSessionTicketsDisabled = true\nSessionTicketKeyFile = k\n\
            [SessionCache]\nSessionCacheDisabled = true\nServers = \"redis\"\nKeyPrefix = bfe\n\
            ConnectTimeout = 50\nReadTimeout = 50\nWriteTimeout = 50\nMaxIdle = 20\nSessionExpire = 3600\n\
            [Ringfront]\nCpuList = 0\nUringEntries = 8\nUringSqPollIdleMs = 0\nUringTaskrun = off\n\
            ReadBufferSize = 4096\nBodyBufferSize = 8192\nMaxConnsPerWorker = 1\nUpstreamIdlePerHost = 1\n";
        let c = parse(text).unwrap();
        assert!(c.https.enabled && c.https.tls_rule_explicit);
        assert_eq!(c.https.tls_rule_conf, Path::new("/conf/t"));
        assert_eq!(c.tuning.uring_taskrun, Taskrun::Off);
        assert_eq!(c.http_addr, Some(IpAddr::from([127, 0, 0, 1])));
        assert_eq!(c.https_addr, "::1".parse().ok());
        assert_eq!(c.monitor_addr, "::".parse().ok());
    }

    /// Listen addresses: empty is every interface; names and ports refused.
    #[test]
    fn listen_addresses() {
        let c = parse("[Server]\nHttpAddr =\n").unwrap();
        assert_eq!(
            (c.http_addr, c.https_addr, c.monitor_addr),
            (None, None, None)
        );
        for bad in ["localhost", "127.0.0.1:80", "[::1", "1.2.3"] {
            let errs = parse(&format!("[Server]\nMonitorAddr = {bad}\n"))
                .unwrap_err()
                .0;
            assert_eq!(errs.len(), 1, "{bad}: {errs:?}");
            assert_eq!(errs[0].key, "Server.MonitorAddr");
            assert!(
                errs[0].reason.contains("not an IP address"),
                "{}",
                errs[0].reason
            );
        }
    }

    /// What a reload can follow (data paths) and what needs a restart.
    #[test]
    fn restart_only_changes_are_named() {
        let a = parse("[Server]\nHttpPort = 1\nRouteRuleConf = a\n").unwrap();
        let b = parse("[Server]\nHttpPort = 2\nRouteRuleConf = b\nMaxCpus = 3\n[Ringfront]\nUringEntries = 8\n").unwrap();
        assert_eq!(
            a.restart_only_changes(&b),
            ["Server.HttpPort", "Server.MaxCpus", "[Ringfront]"]
        );
        let live = a.with_data_paths(&b);
        assert_eq!(live.route_rule_conf, Path::new("/conf/b"));
        assert_eq!(live.http_port, 1);
        assert!(a.restart_only_changes(&live).is_empty());
    }

    /// `Layer4LoadBalancer` and `MaxProxyHeaderBytes` as BFE reads them:
    /// PROXY turns header reading on; 0 or less is the 2048-byte default.
    #[test]
    fn proxy_protocol_keys() {
        let c = parse("[Server]\n").unwrap();
        assert!(!c.proxy_protocol);
        assert_eq!(c.max_proxy_header_bytes, 2048);
        let c = parse("[Server]\nLayer4LoadBalancer = PROXY\nMaxProxyHeaderBytes = 300\n").unwrap();
        assert!(c.proxy_protocol);
        assert_eq!(c.max_proxy_header_bytes, 300);
        let c = parse("[Server]\nLayer4LoadBalancer = NONE\nMaxProxyHeaderBytes = -5\n").unwrap();
        assert!(!c.proxy_protocol);
        assert_eq!(c.max_proxy_header_bytes, 2048);
        let errs = parse("[Server]\nLayer4LoadBalancer = proxy\n")
            .unwrap_err()
            .0;
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].key, "Server.Layer4LoadBalancer");
        assert!(
            errs[0].reason.contains("should be PROXY or NONE"),
            "{}",
            errs[0].reason
        );
    }

    /// An SSLv2-format hello cannot be accepted under rustls: asking for it
    /// is refused, turning it off (or leaving it out) is what happens.
    #[test]
    fn sslv2_client_hello_true_is_refused() {
        let errs = parse("[HttpsBasic]\nEnableSslv2ClientHello = true\n")
            .unwrap_err()
            .0;
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(
            (errs[0].file.as_str(), errs[0].key.as_str()),
            (FILE, "HttpsBasic.EnableSslv2ClientHello")
        );
        assert!(errs[0].reason.contains("rustls"), "{}", errs[0].reason);
        assert!(parse("[HttpsBasic]\nEnableSslv2ClientHello = false\n").is_ok());
        assert!(parse("[HttpsBasic]\n").is_ok());
    }

    /// Each key ringfront does not act on, set to something other than
    /// BFE's "off", is refused naming the file, the key and the reason.
    #[test]
    fn keys_not_acted_on_are_refused() {
        let cases = [
            ("[Server]\nAcceptNum = 4\n", "Server.AcceptNum"),
            ("[Server]\nPlugins = p.so\n", "Server.Plugins"),
            (
                "[Server]\nEnableAiGateway = true\n",
                "Server.EnableAiGateway",
            ),
            ("[Server]\nEstimateToken = true\n", "Server.EstimateToken"),
            (
                "[Server]\nAccessibleBodySize = 4096\n",
                "Server.AccessibleBodySize",
            ),
            (
                "[Server]\nTotalBodyBufferSize = 1\n",
                "Server.TotalBodyBufferSize",
            ),
            ("[Server]\nDebugServHttp = true\n", "Server.DebugServHttp"),
            ("[Server]\nDebugBfeRoute = true\n", "Server.DebugBfeRoute"),
            ("[Server]\nDebugBal = true\n", "Server.DebugBal"),
            (
                "[Server]\nDebugHealthCheck = true\n",
                "Server.DebugHealthCheck",
            ),
            (
                "[SessionCache]\nSessionCacheDisabled = false\n",
                "SessionCache.SessionCacheDisabled",
            ),
        ];
        for (text, key) in cases {
            let errs = parse(text).unwrap_err().0;
            assert_eq!(errs.len(), 1, "{text}: {errs:?}");
            assert_eq!((errs[0].file.as_str(), errs[0].key.as_str()), (FILE, key));
            assert!(
                errs[0].reason.starts_with("not supported yet: "),
                "{key}: {}",
                errs[0].reason
            );
        }
    }

    /// BFE's rules: unset or <= 0 is 20, over 60 is 60, else 20, 30 or 60.
    #[test]
    fn monitor_interval_sets_the_diff_period() {
        for (text, secs) in [
            ("", 20),
            ("MonitorInterval = 30\n", 30),
            ("MonitorInterval = 90\n", 60),
        ] {
            let c = parse(&format!("[Server]\n{text}")).unwrap();
            assert_eq!(c.monitor_interval, Duration::from_secs(secs), "{text}");
        }
    }

    #[test]
    fn unknown_sections_and_keys_in_known_sections() {
        let errs = parse("[SessionCache]\nBogus = 1\n[Server \"x\"]\nHttpPort = 1\n")
            .unwrap_err()
            .0;
        let keys: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["SessionCache.Bogus", "Server"]);
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
