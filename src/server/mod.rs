//! Process start-up and the control plane.
//!
//! [`start`] validates the whole configuration directory, makes sure no
//! other process holds its ports (`server/listen.rs`), starts one worker per core
//! (the first binds the HTTP port, the rest join it with `SO_REUSEPORT`)
//! and the control thread, which owns the monitor port and hands new
//! configuration snapshots to the workers.

mod bal_state;
mod bfe_state;
mod control;
pub mod handover;
mod latency_page;
mod listen;
mod monitor;
pub mod notify;
mod tables;
mod web;
mod worker_thread;

use crate::config::{ServerConf, Snapshot};
use crate::module::{ModuleRegistry, ModuleSet, ModuleTables};
use crate::worker::WorkerCmd;
use crossbeam_channel::{bounded, unbounded, Sender};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use worker_thread::WorkerSpec;

/// What to run.
#[derive(Clone)]
pub struct ServerOptions {
    pub conf_dir: PathBuf,
    /// The modules the binary knows; `Modules =` lines choose among them.
    pub modules: ModuleRegistry,
}

impl ServerOptions {
    pub fn new(conf_dir: impl Into<PathBuf>) -> Self {
        ServerOptions {
            conf_dir: conf_dir.into(),
            modules: crate::modules::registry(),
        }
    }
}

/// A running server.
pub struct ServerHandle {
    pub http_addr: SocketAddr,
    /// The HTTPS listener, when `tls_conf/` is configured.
    pub https_addr: Option<SocketAddr>,
    pub monitor_addr: Option<SocketAddr>,
    pub workers: usize,
    commands: Vec<Sender<WorkerCmd>>,
    threads: Vec<JoinHandle<()>>,
    control: Option<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    /// The enabled modules, for [`ServerHandle::reopen_logs`].
    modules: ModuleSet,
    /// Requests to the control thread ([`ServerHandle::reload_all`]).
    control_cmds: Sender<control::ControlCmd>,
    /// Duplicates of every listening socket, for [`handover::hand_over`].
    listeners: handover::Listeners,
}

impl ServerHandle {
    /// Reopen ringfront's own log file and every module's (SIGUSR1).
    pub fn reopen_logs(&self) {
        crate::logging::reopen();
        self.modules.reopen();
    }

    /// Re-read and validate the whole configuration directory and swap it
    /// in (SIGHUP): all of it or, when anything is wrong, none of it.
    /// Returns what was done, or why nothing was.
    pub fn reload_all(&self) -> Result<String, String> {
        let (tx, rx) = bounded(1);
        self.control_cmds
            .send(control::ControlCmd::ReloadAll(tx))
            .map_err(|_| "the control thread has stopped".to_string())?;
        rx.recv_timeout(Duration::from_secs(60))
            .map_err(|_| "the control thread did not answer".to_string())?
    }

    /// Stop accepting, let requests in flight finish (within
    /// GracefulShutdownTimeout), and join every thread.
    pub fn shutdown(mut self) {
        self.stop_all();
    }

    fn stop_all(&mut self) {
        // Our copies of the listening sockets go first: once the workers
        // drop theirs, a socket no one accepts from is closed (new
        // connections are refused at once, not queued until exit).
        self.listeners = handover::Listeners::default();
        self.stop.store(true, Ordering::Relaxed);
        for c in &self.commands {
            let _ = c.send(WorkerCmd::Shutdown);
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        if let Some(c) = self.control.take() {
            let _ = c.join();
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// A configuration directory that passed [`check`]: what start-up runs.
pub struct Checked {
    pub conf: ServerConf,
    pub snapshot: Snapshot,
    /// The enabled modules, in run order.
    pub modules: ModuleSet,
    /// Their validated tables.
    pub tables: ModuleTables,
}

/// Validate a configuration directory the way start-up does: every
/// problem found (core files and every enabled module's), each naming
/// file, key and reason.
pub fn check(opts: &ServerOptions) -> Result<Checked, Vec<String>> {
    // A bad value in bfe.conf does not stop the data files it names from
    // being checked too.
    let (conf, conf_errs) = ServerConf::load_partial(&opts.conf_dir)
        .map_err(|e| e.0.iter().map(|e| e.to_string()).collect::<Vec<_>>())?;
    let mut errors: Vec<String> = conf_errs.iter().map(|e| e.to_string()).collect();
    let modules = opts
        .modules
        .select(&conf.modules)
        .map_err(|e| errors.push(e.to_string()))
        .ok();
    let tables = modules.as_ref().and_then(|m| {
        m.check(&opts.conf_dir)
            .map_err(|es| errors.extend(es.iter().map(|e| e.to_string())))
            .ok()
    });
    match Snapshot::load(&opts.conf_dir, &conf) {
        Ok(snapshot) if errors.is_empty() => match (modules, tables) {
            (Some(modules), Some(tables)) => Ok(Checked {
                conf,
                snapshot,
                modules,
                tables,
            }),
            _ => Err(vec!["modules did not check".into()]),
        },
        Ok(_) => Err(errors),
        Err(e) => {
            errors.extend(e.0.iter().map(|e| e.to_string()));
            Err(errors)
        }
    }
}

/// Start the server. Returns once every worker listens.
pub fn start(opts: ServerOptions) -> Result<ServerHandle, String> {
    start_with(opts, handover::Listeners::default())
}

/// Start the server on `inherited` listening sockets (a binary upgrade;
/// see [`handover`]) where their ports are the configured ones, binding
/// fresh ones for the rest. Returns once every worker listens.
pub fn start_with(
    opts: ServerOptions,
    inherited: handover::Listeners,
) -> Result<ServerHandle, String> {
    let Checked {
        conf,
        snapshot,
        modules,
        tables,
    } = check(&opts).map_err(|e| e.join("\n"))?;
    let cores = pick_cores(&conf);
    let n = cores.len();
    let mut listen = listen::socket_addr(conf.http_addr, conf.http_port);
    let mut listen_tls = conf
        .https
        .enabled
        .then(|| listen::socket_addr(conf.https_addr, conf.https_port));
    let monitor_at = conf
        .monitor_enabled
        .then(|| listen::socket_addr(conf.monitor_addr, conf.monitor_port));
    // A port whose listener an upgrade handed over is held by the old
    // process on purpose: only the others must be free.
    for (what, addr, fds) in [
        ("HTTP", Some(listen), &inherited.http[..]),
        ("HTTPS", listen_tls, &inherited.https[..]),
        ("monitor", monitor_at, inherited.monitor.as_slice()),
    ] {
        let Some(addr) = addr else { continue };
        let handed = fds
            .iter()
            .any(|fd| handover::local_port(fd) == Some(addr.port()));
        if !handed {
            listen::ensure_free(what, addr)?;
        }
    }
    raise_nofile_limit();
    let (control_cmds, control_rx) = unbounded();
    let mut handle = ServerHandle {
        http_addr: listen,
        https_addr: None,
        monitor_addr: None,
        workers: n,
        commands: Vec::with_capacity(n),
        threads: Vec::with_capacity(n),
        control: None,
        stop: Arc::new(AtomicBool::new(false)),
        modules: modules.clone(),
        control_cmds,
        listeners: handover::Listeners::default(),
    };
    let mut http_fds = deal(usable(inherited.http, conf.http_port), n);
    let mut https_fds = deal(usable(inherited.https, conf.https_port), n);
    if !conf.https.enabled {
        https_fds.iter_mut().for_each(Vec::clear);
    }
    for (id, core) in cores.into_iter().enumerate() {
        let (tx, rx) = unbounded();
        let (ready_tx, ready_rx) = bounded(1);
        let spec = WorkerSpec {
            id,
            core,
            conf: conf.clone(),
            snapshot: snapshot.clone(),
            modules: modules.clone(),
            module_tables: tables.clone(),
            listen,
            listen_tls,
            inherited: (
                std::mem::take(&mut http_fds[id]),
                std::mem::take(&mut https_fds[id]),
            ),
            commands: rx,
        };
        let t = worker_thread::spawn(spec, ready_tx)
            .map_err(|e| format!("cannot start worker {id}: {e}"))?;
        handle.commands.push(tx);
        handle.threads.push(t);
        match ready_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok(b)) => {
                let (addr, tls_addr) = (b.addr, b.tls_addr);
                handle.listeners.http.extend(b.fds);
                handle.listeners.https.extend(b.tls_fds);
                // The first worker resolved port 0; the rest join its port.
                listen = addr;
                handle.http_addr = addr;
                listen_tls = tls_addr;
                handle.https_addr = tls_addr;
            }
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(format!("worker {id} did not start")),
        }
    }
    let monitor = match monitor_at {
        Some(addr) => {
            let l = match usable(inherited.monitor.into_iter().collect(), addr.port()).pop() {
                Some(fd) => std::net::TcpListener::from(fd),
                None => listen::bind_single(addr).map_err(|e| {
                    format!(
                        "cannot listen on monitor port {} ({addr}): {e}",
                        addr.port()
                    )
                })?,
            };
            handle.monitor_addr = l.local_addr().ok();
            handle.listeners.monitor = handover::dup(std::os::fd::AsRawFd::as_raw_fd(&l)).ok();
            Some(l)
        }
        None => None,
    };
    let ctl = control::Control::new(
        opts.conf_dir.clone(),
        conf,
        handle.commands.clone(),
        handle.stop.clone(),
        control_rx,
        control::ModulesCtl {
            available: opts.modules.names().collect(),
            set: modules,
            tables,
        },
        snapshot,
    );
    handle.control = Some(
        std::thread::Builder::new()
            .name("ringfront-control".into())
            .spawn(move || ctl.run(monitor))
            .map_err(|e| format!("cannot start control thread: {e}"))?,
    );
    log::info!(
        "ringfront listening on {}{} with {} worker(s){}",
        handle.http_addr,
        handle
            .https_addr
            .map(|a| format!(" and {a} (TLS)"))
            .unwrap_or_default(),
        n,
        handle
            .monitor_addr
            .map(|a| format!(", monitor on {a}"))
            .unwrap_or_default()
    );
    Ok(handle)
}

/// Raise the open-file limit to the hard limit, as BFE does, and log it:
/// every connection is a descriptor.
fn raise_nofile_limit() {
    match crate::sys::raise_nofile_limit() {
        Ok((soft, hard)) => log::info!("open files limit (RLIMIT_NOFILE): {soft} (hard {hard})"),
        Err(e) => log::warn!("cannot raise the open files limit (RLIMIT_NOFILE): {e}"),
    }
}

/// The inherited listeners on `port` (any port when it is 0); the others
/// (the configuration moved the port) are closed: the old process keeps
/// its own copies until it exits.
fn usable(fds: Vec<std::os::fd::OwnedFd>, port: u16) -> Vec<std::os::fd::OwnedFd> {
    fds.into_iter()
        .filter(|fd| handover::local_port(fd).is_some_and(|p| port == 0 || p == port))
        .collect()
}

/// Deal inherited listeners to `n` workers: worker `i` gets every `j`
/// with `j % n == i`, so each inherited socket keeps an acceptor whatever
/// the new worker count.
fn deal(fds: Vec<std::os::fd::OwnedFd>, n: usize) -> Vec<Vec<std::os::fd::OwnedFd>> {
    let mut out: Vec<Vec<_>> = (0..n).map(|_| Vec::new()).collect();
    for (j, fd) in fds.into_iter().enumerate() {
        out[j % n.max(1)].push(fd);
    }
    out
}

/// Which CPU each worker is pinned to. `MaxCpus` sets the count (0: one per
/// online core); `[Ringfront] CpuList` sets the CPUs, in order.
fn pick_cores(conf: &ServerConf) -> Vec<Option<core_affinity::CoreId>> {
    let online = core_affinity::get_core_ids().unwrap_or_default();
    let list: Vec<core_affinity::CoreId> = if conf.tuning.cpu_list.is_empty() {
        online.clone()
    } else {
        conf.tuning
            .cpu_list
            .iter()
            .map(|&id| core_affinity::CoreId { id })
            .collect()
    };
    let n = if conf.max_cpus > 0 {
        if conf.max_cpus > online.len() && !online.is_empty() {
            log::warn!(
                "MaxCpus = {} exceeds the {} online core(s): workers will share cores",
                conf.max_cpus,
                online.len()
            );
        }
        conf.max_cpus
    } else {
        list.len().max(1)
    };
    (0..n)
        .map(|i| {
            if list.is_empty() {
                None
            } else {
                Some(list[i % list.len()])
            }
        })
        .collect()
}
