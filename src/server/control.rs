//! The control thread: serves the monitor port, collects counters from the
//! workers, and reloads configuration. A reload is validated completely
//! before any worker sees it; a bad one changes nothing.

use super::bal_state;
use super::monitor::{self, Format, MonitorRequest};
use crate::balance::BackendRow;
use crate::config::{ServerConf, Snapshot};
use crate::worker::{StatsSnapshot, WorkerCmd};
use crossbeam_channel::{unbounded, Sender};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the control thread waits for all workers to answer.
const WORKER_REPLY: Duration = Duration::from_secs(5);

pub(super) struct Control {
    conf_dir: PathBuf,
    conf: ServerConf,
    workers: Vec<Sender<WorkerCmd>>,
    stop: Arc<AtomicBool>,
    version: String,
    reloads: u64,
}

impl Control {
    pub fn new(
        conf_dir: PathBuf,
        conf: ServerConf,
        workers: Vec<Sender<WorkerCmd>>,
        stop: Arc<AtomicBool>,
    ) -> Self {
        Control {
            conf_dir,
            conf,
            workers,
            stop,
            version: String::new(),
            reloads: 0,
        }
    }

    pub fn run(mut self, monitor: Option<TcpListener>) {
        if let Some(l) = &monitor {
            if l.set_nonblocking(true).is_err() {
                log::error!("monitor port: cannot set non-blocking; monitor disabled");
                return;
            }
        }
        while !self.stop.load(Ordering::Relaxed) {
            let Some(l) = &monitor else {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            };
            match l.accept() {
                Ok((s, peer)) => {
                    let _ = s.set_nonblocking(false);
                    self.serve(s, peer.ip().is_loopback());
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

    fn serve(&mut self, mut s: TcpStream, loopback: bool) {
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
            Some(req) => self.route(&req, loopback),
        };
        let head = format!(
            "HTTP/1.1 {status} {}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            crate::http::status_reason(status),
            body.len()
        );
        let _ = s.write_all(head.as_bytes());
        let _ = s.write_all(body.as_bytes());
    }

    fn route(&mut self, req: &MonitorRequest, loopback: bool) -> (u16, &'static str, String) {
        if req.method != "GET" {
            return (405, "text/plain", "only GET\n".into());
        }
        let parts: Vec<&str> = req.path.trim_matches('/').split('/').collect();
        match parts.as_slice() {
            ["monitor"] => (200, "text/plain", monitor::categories()),
            ["monitor", "proxy_state"] => {
                let format = Format::from_query(req.param("format"));
                let per_worker = matches!(req.param("per_worker"), Some("1" | "true"));
                let stats = self.collect();
                (
                    200,
                    format.content_type(),
                    monitor::proxy_state(&stats, format, per_worker),
                )
            }
            ["monitor", "bal_state"] => (
                200,
                "application/json",
                bal_state::render(&self.collect_bal_state()),
            ),
            ["monitor", "config_state"] => (
                200,
                "application/json",
                format!(
                    "{{\"version\":{},\"reloads\":{}}}\n",
                    monitor::json_str(&self.version),
                    self.reloads
                ),
            ),
            ["monitor", ..] => (404, "text/plain", "unknown monitor category\n".into()),
            ["reload", what] => {
                if !loopback {
                    return (
                        403,
                        "text/plain",
                        "reload is accepted from loopback only\n".into(),
                    );
                }
                match *what {
                    "server_data_conf" | "gslb_data_conf" | "tls_conf" => self.reload(what),
                    _ => (404, "text/plain", format!("unknown reload target {what}\n")),
                }
            }
            _ => (404, "text/plain", "not found\n".into()),
        }
    }

    /// Re-read and validate the routing and cluster data, then switch every
    /// worker to it. BFE reloads `server_data_conf`, `gslb_data_conf` and
    /// `tls_conf` separately; their files cross-reference each other, so
    /// ringfront validates and swaps them together as one snapshot.
    fn reload(&mut self, what: &str) -> (u16, &'static str, String) {
        let snapshot = match Snapshot::load(&self.conf_dir, &self.conf) {
            Ok(s) => s,
            Err(e) => {
                log::warn!("reload {what} rejected:\n{e}");
                return (
                    500,
                    "text/plain",
                    format!("reload {what} rejected; configuration unchanged:\n{e}\n"),
                );
            }
        };
        let version = snapshot.version.clone();
        let (ack_tx, ack_rx) = unbounded();
        let mut sent = 0;
        for w in &self.workers {
            if w.send(WorkerCmd::Swap(Box::new(snapshot.clone()), ack_tx.clone()))
                .is_ok()
            {
                sent += 1;
            }
        }
        let deadline = Instant::now() + WORKER_REPLY;
        let mut acked = 0;
        while acked < sent {
            match ack_rx.recv_deadline(deadline) {
                Ok(_) => acked += 1,
                Err(_) => break,
            }
        }
        self.version = version.clone();
        self.reloads += 1;
        log::info!(
            "reload {what}: {version} on {acked}/{} workers",
            self.workers.len()
        );
        if acked < self.workers.len() {
            return (
                500,
                "text/plain",
                format!(
                    "reload {what}: only {acked} of {} workers confirmed\n",
                    self.workers.len()
                ),
            );
        }
        (200, "text/plain", format!("reload {what} OK: {version}\n"))
    }

    /// Every worker's backend states, in worker order.
    fn collect_bal_state(&self) -> Vec<Vec<BackendRow>> {
        let (tx, rx) = unbounded();
        for w in &self.workers {
            let _ = w.send(WorkerCmd::BalState(tx.clone()));
        }
        let mut out = vec![Vec::new(); self.workers.len()];
        let deadline = Instant::now() + WORKER_REPLY;
        for _ in 0..self.workers.len() {
            match rx.recv_deadline(deadline) {
                Ok((id, rows)) if id < out.len() => out[id] = rows,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        out
    }

    /// Counters from every worker, in worker order.
    fn collect(&self) -> Vec<StatsSnapshot> {
        let (tx, rx) = unbounded();
        for w in &self.workers {
            let _ = w.send(WorkerCmd::Stats(tx.clone()));
        }
        let mut out = vec![StatsSnapshot::default(); self.workers.len()];
        let deadline = Instant::now() + WORKER_REPLY;
        for _ in 0..self.workers.len() {
            match rx.recv_deadline(deadline) {
                Ok((id, s)) if id < out.len() => out[id] = s,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        out
    }
}
