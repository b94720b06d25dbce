//! The control thread: serves the monitor port, collects counters from the
//! workers, and reloads configuration. A reload is validated completely
//! before any worker sees it; a bad one changes nothing.

use super::monitor::{self, Format, MonitorRequest};
use super::web::{self, ModuleLoads, Page, Reload, Web};
use super::{bal_state, bfe_state, latency_page, tables};
use crate::balance::BackendRow;
use crate::config::{ServerConf, Snapshot};
use crate::module::{monitor as counters, ModuleConf, ModuleSet, ModuleTables, ReloadCtx};
use crate::worker::{LatencyByName, ModuleCounterPages, StatsSnapshot, WorkerCmd};
use crossbeam_channel::{unbounded, Receiver, Sender};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the control thread waits for all workers to answer.
const WORKER_REPLY: Duration = Duration::from_secs(5);

/// What the main thread asks of the control thread.
pub(super) enum ControlCmd {
    /// SIGHUP: reload everything; answer what was done or why not.
    ReloadAll(Sender<Result<String, String>>),
}

/// The enabled modules as the control thread knows them.
pub(super) struct ModulesCtl {
    /// Every module the binary knows, in run order (`module_status`).
    pub available: Vec<&'static str>,
    pub set: ModuleSet,
    /// The tables the workers run now; reload handlers start from these.
    pub tables: ModuleTables,
}

/// Counters at the last interval boundary and the deltas of the interval
/// before it: `*_diff` and `<module>.diff` pages show the deltas of the
/// last completed `MonitorInterval`, aligned to wall-clock multiples of it
/// (go-lib's diff).
#[derive(Default)]
struct Diffs {
    /// `MonitorInterval` in seconds.
    interval: u64,
    bucket: u64,
    at_boundary: ModuleCounterPages,
    last: ModuleCounterPages,
    core_at_boundary: StatsSnapshot,
    core_last: StatsSnapshot,
}

/// A `/reload` reply: BFE's JSON, HTTP 200 whatever happened.
fn reload_reply(result: Result<Option<String>, String>) -> (u16, &'static str, String) {
    let body = match result {
        Ok(None) => "{\"error\":null}".to_string(),
        Ok(Some(v)) => format!("{{\"error\":null,\"version\":{}}}", monitor::json_str(&v)),
        Err(e) => format!("{{\"error\":{}}}", monitor::json_str(&e)),
    };
    (200, "application/json", body)
}

/// BFE accepts reloads only from exactly these peers (not all of 127/8).
fn reload_allowed(peer: IpAddr) -> bool {
    peer == IpAddr::V4(Ipv4Addr::LOCALHOST) || peer == IpAddr::V6(Ipv6Addr::LOCALHOST)
}

fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub(super) struct Control {
    conf_dir: PathBuf,
    conf: ServerConf,
    workers: Vec<Sender<WorkerCmd>>,
    stop: Arc<AtomicBool>,
    cmds: Receiver<ControlCmd>,
    version: String,
    /// The configuration the workers run now (version and table pages).
    snapshot: Snapshot,
    reloads: u64,
    modules: ModulesCtl,
    web: Web,
    /// Reloads, version and load time per module (`module_status`).
    module_loads: Vec<(&'static str, ModuleLoads)>,
    diffs: Diffs,
    /// BFE's global h2 switch (`/reload/tls_conf?enable=-h2`), kept here
    /// and given to every snapshot's TLS data.
    h2_enabled: bool,
}

impl Control {
    pub(super) fn new(
        conf_dir: PathBuf,
        conf: ServerConf,
        workers: Vec<Sender<WorkerCmd>>,
        stop: Arc<AtomicBool>,
        cmds: Receiver<ControlCmd>,
        modules: ModulesCtl,
        snapshot: Snapshot,
    ) -> Self {
        let web = Web::new(&modules.set);
        let interval = conf.monitor_interval.as_secs().max(1);
        let started = ModuleLoads {
            loaded_at: snapshot.versions.loaded_at,
            ..ModuleLoads::default()
        };
        Control {
            conf_dir,
            conf,
            workers,
            stop,
            cmds,
            version: String::new(),
            snapshot,
            reloads: 0,
            h2_enabled: true,
            module_loads: modules.set.names().map(|m| (m, started.clone())).collect(),
            modules,
            web,
            diffs: Diffs {
                interval,
                bucket: unix_secs() / interval,
                ..Diffs::default()
            },
        }
    }

    pub(super) fn run(mut self, monitor: Option<TcpListener>) {
        if let Some(l) = &monitor {
            if l.set_nonblocking(true).is_err() {
                log::error!("monitor port: cannot set non-blocking; monitor disabled");
                return;
            }
        }
        while !self.stop.load(Ordering::Relaxed) {
            self.sample_diffs();
            while let Ok(ControlCmd::ReloadAll(reply)) = self.cmds.try_recv() {
                let _ = reply.send(self.reload_all());
            }
            let Some(l) = &monitor else {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            };
            match l.accept() {
                Ok((s, peer)) => {
                    // IPv4 peers of a dual-stack `[::]` monitor arrive as
                    // `::ffff:a.b.c.d`; reload_allowed wants 127.0.0.1.
                    let peer = SocketAddr::new(peer.ip().to_canonical(), peer.port());
                    let _ = s.set_nonblocking(false);
                    self.serve(s, peer);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => {
                    log::warn!("monitor accept: {e}");
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }

    fn serve(&mut self, mut s: TcpStream, peer: SocketAddr) {
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
        let mut buf = [0u8; 8192];
        let mut n = 0;
        while n < buf.len() {
            match s.read(&mut buf[n..]) {
                Ok(0) | Err(_) => break,
                Ok(k) => {
                    n += k;
                    if buf[..n].windows(4).any(|w| w == b"\r\n\r\n")
                        || buf[..n].windows(2).any(|w| w == b"\n\n")
                    {
                        break;
                    }
                }
            }
        }
        let (status, ctype, body) = match MonitorRequest::parse(&buf[..n]) {
            None => (400, "text/plain", "bad request\n".to_string()),
            Some(req) => self.route(&req, peer),
        };
        let head = format!(
            "HTTP/1.1 {status} {}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            crate::http::status_reason(status),
            body.len()
        );
        let _ = s.write_all(head.as_bytes());
        let _ = s.write_all(body.as_bytes());
    }

    fn route(&mut self, req: &MonitorRequest, peer: SocketAddr) -> (u16, &'static str, String) {
        if req.method != "GET" {
            return (405, "text/plain", "only GET\n".into());
        }
        let parts: Vec<&str> = req.path.trim_matches('/').split('/').collect();
        match parts.as_slice() {
            ["monitor"] => (200, "text/html", self.web.monitor_list()),
            ["reload"] => (200, "text/html", self.web.reload_list()),
            ["monitor", name] => match Format::parse(req.param("format")) {
                Ok(format) => self.monitor(name, format, req),
                Err(e) => error_reply(400, &e),
            },
            ["reload", name] if !reload_allowed(peer.ip()) => {
                reload_reply(Err(format!("reload is not allowed from [{peer}]")))
            }
            ["reload", name] => {
                if *name == "tls_conf" {
                    self.switch_protocols(req.param("enable"));
                }
                let r = self.reload_named(name, req.param("path"));
                reload_reply(r)
            }
            _ => (404, "text/plain", "not found\n".into()),
        }
    }

    /// One monitor page; `<module page>.diff` gives the last interval's
    /// counter deltas.
    fn monitor(
        &mut self,
        name: &str,
        format: Format,
        req: &MonitorRequest,
    ) -> (u16, &'static str, String) {
        let (page, diff) = match self.web.page(name) {
            Some(p) => (p, false),
            None => match name.strip_suffix(".diff").and_then(|n| self.web.page(n)) {
                Some(Page::Counters) => (Page::Counters, true),
                _ => {
                    let e = format!("handler not exist, type[monitor], command[{name}]");
                    return error_reply(404, &e);
                }
            },
        };
        let body = match page {
            Page::BfeState { diff } => {
                let (page, values) = match name.strip_suffix("_diff") {
                    Some(base) if diff => (base, self.diffs.core_last),
                    _ => (name, sum(&self.collect())),
                };
                bfe_state::render(page, &values, format, diff).unwrap_or_default()
            }
            Page::Table => match tables::render(name, &self.snapshot, self.reloads, format) {
                Some(Ok(body)) => body,
                Some(Err(e)) => return error_reply(400, &e),
                None => String::new(),
            },
            Page::Latency => latency_page::render(&self.collect_latency(), format),
            Page::RingfrontState => {
                let per_worker = matches!(req.param("per_worker"), Some("1" | "true"));
                monitor::ringfront_state(&self.collect(), format, per_worker)
            }
            Page::BackendState => bal_state::render(&self.collect_bal_state()),
            Page::ModuleStatus => web::module_status(
                &self.modules.available,
                &self.modules.set.names().collect::<Vec<_>>(),
                &self.module_loads,
            ),
            Page::ModuleHandlers => self.module_handlers(),
            Page::Counters => self.counter_page(name, format, diff),
        };
        // These are JSON whatever was asked, as in BFE.
        let json_only = matches!(
            page,
            Page::BackendState | Page::ModuleStatus | Page::ModuleHandlers
        ) || name == "bal_table_status";
        let ctype = if json_only {
            "application/json"
        } else {
            format.content_type()
        };
        (200, ctype, body)
    }

    /// A module page's counters summed over workers, or its last delta.
    fn counter_page(&self, name: &str, format: Format, diff: bool) -> String {
        if diff {
            let page = name.trim_end_matches(".diff");
            let values = page_values(&self.diffs.last, page);
            return counters::render(&format!("{page}_diff"), &values, format, true);
        }
        let merged = self.collect_module_counters();
        counters::render(name, &page_values(&merged, name), format, false)
    }

    /// `module_handlers`: BFE's `"<id>#<PointName>"` keys, module names in
    /// run order, as worker 0 registered them (every worker runs the same
    /// inits).
    fn module_handlers(&self) -> String {
        let (tx, rx) = unbounded();
        let lists = match self.workers.first() {
            Some(w) if w.send(WorkerCmd::ModuleHandlers(tx)).is_ok() => {
                rx.recv_timeout(WORKER_REPLY).unwrap_or_default()
            }
            _ => Vec::new(),
        };
        let entries: Vec<String> = lists
            .iter()
            .map(|(p, names)| {
                format!(
                    "\"{}#{}\":{}",
                    *p as u8,
                    p.name(),
                    crate::module::json_str_list(names.iter().copied())
                )
            })
            .collect();
        format!("{{{}}}", entries.join(","))
    }

    /// Run the reload registered under `name`.
    fn reload_named(&mut self, name: &str, path: Option<&str>) -> Result<Option<String>, String> {
        match self.web.reload(name).cloned() {
            None => Err(format!("unknown reload name: {name}")),
            Some(Reload::Core) => self.reload(name),
            Some(Reload::Module { module, f }) => {
                let current = self.modules.tables.get(module).cloned().unwrap_or_default();
                let ctx = ReloadCtx {
                    current: &current,
                    conf_root: &self.conf_dir,
                    path: path.map(Path::new),
                };
                let done = f(&ctx).map_err(|e| {
                    log::warn!("reload {name} rejected: {e}");
                    e
                })?;
                self.swap_module(module, done.conf, done.version.clone())?;
                Ok(done.version)
            }
        }
    }

    /// Give every worker its own copy of a reloaded module table.
    fn swap_module(
        &mut self,
        module: &'static str,
        conf: ModuleConf,
        version: Option<String>,
    ) -> Result<(), String> {
        let (ack_tx, ack_rx) = unbounded();
        let sent = self
            .workers
            .iter()
            .filter(|w| {
                w.send(WorkerCmd::ModuleSwap(module, conf.clone(), ack_tx.clone()))
                    .is_ok()
            })
            .count();
        let acked = self.await_acks(&ack_rx, sent);
        self.modules.tables.set(module, conf);
        if let Some((_, l)) = self.module_loads.iter_mut().find(|(m, _)| *m == module) {
            l.reloads += 1;
            l.version = version.or(l.version.take());
            l.loaded_at = unix_secs();
        }
        log::info!("reload {module}: on {acked}/{} workers", self.workers.len());
        if acked < self.workers.len() {
            return Err(format!(
                "only {acked} of {} workers confirmed",
                self.workers.len()
            ));
        }
        Ok(())
    }

    fn await_acks(&self, rx: &crossbeam_channel::Receiver<usize>, sent: usize) -> usize {
        let deadline = Instant::now() + WORKER_REPLY;
        let mut acked = 0;
        while acked < sent && rx.recv_deadline(deadline).is_ok() {
            acked += 1;
        }
        acked
    }

    /// At each interval boundary, keep the totals and the deltas since the
    /// previous boundary (counters start at zero, so the first interval
    /// counts from start).
    fn sample_diffs(&mut self) {
        let bucket = unix_secs() / self.diffs.interval;
        if bucket == self.diffs.bucket {
            return;
        }
        self.diffs.bucket = bucket;
        let core = sum(&self.collect());
        self.diffs.core_last = core.delta(&self.diffs.core_at_boundary);
        self.diffs.core_at_boundary = core;
        if self.web.counter_pages().next().is_none() {
            return;
        }
        let now = self.collect_module_counters();
        self.diffs.last = now
            .iter()
            .map(|(p, v)| {
                let before = page_values(&self.diffs.at_boundary, p);
                (p.clone(), counters::delta(v, &before))
            })
            .collect();
        self.diffs.at_boundary = now;
    }

    /// Module counters of every worker, summed per page.
    fn collect_module_counters(&self) -> ModuleCounterPages {
        let mut total: ModuleCounterPages = Vec::new();
        for (_, pages) in self.ask_workers(WorkerCmd::ModuleCounters) {
            for (page, values) in pages {
                match total.iter_mut().find(|(p, _)| *p == page) {
                    Some((_, t)) => counters::merge(t, &values),
                    None => total.push((page, values)),
                }
            }
        }
        total
    }

    /// Re-read and validate the routing and cluster data, then switch every
    /// worker to it. BFE reloads `server_data_conf`, `gslb_data_conf` and
    /// `tls_conf` separately; their files cross-reference each other, so
    /// ringfront validates and swaps them together as one snapshot.
    /// BFE's `enable` parameter of `/reload/tls_conf`: a comma-separated
    /// list of `+h2`/`h2`/`-h2` (and `±spdy`, which ringfront never offers).
    /// `+` is taken as sent, URL-encoded (`%2B`) or decoded to a space.
    fn switch_protocols(&mut self, enable: Option<&str>) {
        for p in enable.unwrap_or("").split(',') {
            match p {
                "h2" | "+h2" | " h2" | "%2Bh2" | "%2bh2" => self.h2_enabled = true,
                "-h2" => self.h2_enabled = false,
                _ => {}
            }
        }
    }

    fn reload(&mut self, what: &str) -> Result<Option<String>, String> {
        let snapshot = self.load_snapshot(&self.conf).map_err(|e| {
            log::warn!("reload {what} rejected:\n{e}");
            format!("reload {what} rejected; configuration unchanged:\n{e}")
        })?;
        self.swap_snapshot(snapshot, what)
    }

    /// The routing, cluster and TLS data `conf` names, validated.
    fn load_snapshot(&self, conf: &ServerConf) -> Result<Snapshot, String> {
        let mut s = Snapshot::load(&self.conf_dir, conf).map_err(|e| e.to_string())?;
        if let Some(t) = s.tls.as_mut() {
            t.h2_enabled = self.h2_enabled;
        }
        Ok(s)
    }

    /// SIGHUP: re-read the whole directory (bfe.conf, the core data files,
    /// every enabled module's data), validate all of it, then swap it all
    /// in; any error leaves everything as it was. bfe.conf keys that only
    /// take effect at start are logged as needing a restart and keep
    /// their running values; the data file paths it names are followed.
    fn reload_all(&mut self) -> Result<String, String> {
        let fail = |e: String| {
            log::error!("SIGHUP: reload rejected, configuration unchanged:\n{e}");
            e
        };
        let new = ServerConf::load(&self.conf_dir).map_err(|e| fail(e.to_string()))?;
        let restart = self.conf.restart_only_changes(&new);
        let live = self.conf.with_data_paths(&new);
        let snapshot = self.load_snapshot(&live).map_err(fail)?;
        let tables = self.modules.set.check(&self.conf_dir).map_err(|es| {
            fail(
                es.iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("\n"),
            )
        })?;
        self.conf = live;
        let names: Vec<&'static str> = self.modules.set.names().collect();
        let new: Vec<(&'static str, ModuleConf)> = names
            .iter()
            .filter_map(|m| tables.get(m).map(|t| (*m, t.clone())))
            .collect();
        self.swap_all(snapshot, new)?;
        for key in &restart {
            log::warn!("SIGHUP: bfe.conf {key} changed; it takes effect only after a restart");
        }
        let done = format!(
            "reloaded {} and {} module(s){}",
            self.version,
            names.len(),
            if restart.is_empty() {
                String::new()
            } else {
                format!("; needs a restart: {}", restart.join(", "))
            }
        );
        log::info!("SIGHUP: {done}");
        Ok(done)
    }

    /// Give every worker its copy of `snapshot` and of every module table
    /// in one command, applied between two requests.
    fn swap_all(
        &mut self,
        snapshot: Snapshot,
        tables: Vec<(&'static str, ModuleConf)>,
    ) -> Result<(), String> {
        let (ack_tx, ack_rx) = unbounded();
        let sent = self
            .workers
            .iter()
            .filter(|w| {
                let cmd =
                    WorkerCmd::SwapAll(Box::new(snapshot.clone()), tables.clone(), ack_tx.clone());
                w.send(cmd).is_ok()
            })
            .count();
        let acked = self.await_acks(&ack_rx, sent);
        self.version = snapshot.version.clone();
        self.snapshot = snapshot;
        self.reloads += 1;
        for (module, conf) in tables {
            self.modules.tables.set(module, conf);
            if let Some((_, l)) = self.module_loads.iter_mut().find(|(m, _)| *m == module) {
                l.reloads += 1;
                l.loaded_at = unix_secs();
            }
        }
        log::info!(
            "reload all: {} on {acked}/{} workers",
            self.version,
            self.workers.len()
        );
        if acked < self.workers.len() {
            return Err(format!(
                "reload all: only {acked} of {} workers confirmed",
                self.workers.len()
            ));
        }
        Ok(())
    }

    /// Give every worker a copy of `snapshot`.
    fn swap_snapshot(&mut self, snapshot: Snapshot, what: &str) -> Result<Option<String>, String> {
        let version = snapshot.version.clone();
        let kept = snapshot.clone();
        let (ack_tx, ack_rx) = unbounded();
        let mut sent = 0;
        for w in &self.workers {
            if w.send(WorkerCmd::Swap(Box::new(snapshot.clone()), ack_tx.clone()))
                .is_ok()
            {
                sent += 1;
            }
        }
        let acked = self.await_acks(&ack_rx, sent);
        self.snapshot = kept;
        self.reloads += 1;
        log::info!(
            "reload {what}: {version} on {acked}/{} workers",
            self.workers.len()
        );
        if acked < self.workers.len() {
            return Err(format!(
                "reload {what}: only {acked} of {} workers confirmed",
                self.workers.len()
            ));
        }
        Ok(None)
    }

    /// Every worker's backend states, in worker order.
    fn collect_bal_state(&self) -> Vec<Vec<BackendRow>> {
        self.per_worker(WorkerCmd::BalState)
    }

    /// Every worker's backend response-time histograms, merged by name.
    fn collect_latency(&self) -> LatencyByName {
        let mut total = LatencyByName::default();
        for (_, l) in self.ask_workers(WorkerCmd::Latency) {
            total.merge(&l);
        }
        total
    }

    /// Counters from every worker, in worker order.
    fn collect(&self) -> Vec<StatsSnapshot> {
        self.per_worker(WorkerCmd::Stats)
    }

    /// Send every worker the command `ask` makes around a reply channel
    /// and gather the `(worker id, value)` replies that come within
    /// [`WORKER_REPLY`]; a worker that has gone or does not answer in time
    /// is left out.
    fn ask_workers<T>(&self, ask: impl Fn(Sender<(usize, T)>) -> WorkerCmd) -> Vec<(usize, T)> {
        let (tx, rx) = unbounded();
        let sent = self
            .workers
            .iter()
            .filter(|w| w.send(ask(tx.clone())).is_ok())
            .count();
        let deadline = Instant::now() + WORKER_REPLY;
        (0..sent)
            .map_while(|_| rx.recv_deadline(deadline).ok())
            .collect()
    }

    /// [`Self::ask_workers`], each reply at its worker's index (the
    /// default for one that did not answer).
    fn per_worker<T: Default + Clone>(
        &self,
        ask: impl Fn(Sender<(usize, T)>) -> WorkerCmd,
    ) -> Vec<T> {
        let mut out = vec![T::default(); self.workers.len()];
        for (id, v) in self.ask_workers(ask) {
            if let Some(slot) = out.get_mut(id) {
                *slot = v;
            }
        }
        out
    }
}

/// The workers' counters summed.
fn sum(workers: &[StatsSnapshot]) -> StatsSnapshot {
    let mut total = StatsSnapshot::default();
    for w in workers {
        total.add(w);
    }
    total
}

/// An error answer in go-lib's shape, `{"error":"…"}`.
fn error_reply(status: u16, e: &str) -> (u16, &'static str, String) {
    (
        status,
        "application/json",
        format!("{{\"error\":{}}}", monitor::json_str(e)),
    )
}

/// One page's values out of merged pages (empty when no worker has it).
fn page_values(pages: &ModuleCounterPages, page: &str) -> crate::module::CounterValues {
    pages
        .iter()
        .find(|(p, _)| p == page)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}
