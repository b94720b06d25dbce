//! A worker thread's main function: pin, build the runtime, bind the
//! listeners, then accept until shutdown.
//!
//! It lives in `server`, not `worker`, because the accept loop hands every
//! connection to [`crate::proxy::serve`]: with it in `worker`, the
//! per-core state the proxy uses would import the proxy back.

use crate::config::{ServerConf, Snapshot};
use crate::module::{ModuleSet, ModuleTables};
use crate::tls::Acceptors;
use crate::worker::{build_runtime, Driver, Stats, Worker, WorkerCmd};
use crossbeam_channel::{Receiver, Sender};
use monoio::net::{TcpListener, TcpStream};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::rc::Rc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What a worker thread needs to start.
pub(super) struct WorkerSpec {
    pub id: usize,
    pub core: Option<core_affinity::CoreId>,
    pub conf: ServerConf,
    pub snapshot: Snapshot,
    pub modules: ModuleSet,
    /// This worker's own copy of every enabled module's table.
    pub module_tables: ModuleTables,
    /// The address to listen on (port 0 only for the first worker).
    pub listen: SocketAddr,
    /// The HTTPS address, when TLS is configured.
    pub listen_tls: Option<SocketAddr>,
    /// Listening sockets handed over by the previous binary (HTTP, HTTPS):
    /// used instead of binding when there are any.
    pub inherited: (Vec<OwnedFd>, Vec<OwnedFd>),
    pub commands: Receiver<WorkerCmd>,
}

/// What a worker listens on: addresses, and duplicates of its listening
/// sockets for a later hand-over.
pub(super) struct Bound {
    pub addr: SocketAddr,
    pub tls_addr: Option<SocketAddr>,
    pub fds: Vec<OwnedFd>,
    pub tls_fds: Vec<OwnedFd>,
}

/// Start a worker thread. It reports once on `ready`: the bound HTTP and
/// HTTPS addresses, or why it could not start (runtime, module init, bind).
pub(super) fn spawn(
    spec: WorkerSpec,
    ready: Sender<Result<Bound, String>>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("ringfront-w{}", spec.id))
        .spawn(move || thread_main(spec, ready))
}

fn thread_main(spec: WorkerSpec, ready: Sender<Result<Bound, String>>) {
    let id = spec.id;
    if let Some(core) = spec.core {
        if !core_affinity::set_for_current(core) {
            log::warn!("worker {id}: could not pin to cpu {}", core.id);
        }
    }
    let (mut rt, driver) = match build_runtime(&spec.conf.tuning, id) {
        Ok(r) => r,
        Err(e) => {
            let _ = ready.send(Err(format!("worker {id}: cannot build runtime: {e}")));
            return;
        }
    };
    log::info!(
        "worker {id}: started on {} ({:?})",
        spec.core
            .map(|c| format!("cpu {}", c.id))
            .unwrap_or_else(|| "any cpu".into()),
        driver
    );
    let epoll = matches!(driver, Driver::Epoll);
    rt.block_on(async move {
        let built = spec
            .modules
            .build_callbacks(&spec.conf.conf_dir, id, spec.module_tables);
        let (cbs, modules) = match built {
            Ok(x) => x,
            Err(e) => {
                let _ = ready.send(Err(e.to_string()));
                return;
            }
        };
        let (http_fds, https_fds) = spec.inherited;
        let listeners = match open_listeners(id, spec.listen, http_fds, epoll) {
            Ok(l) => l,
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        let addr = listeners[0].local_addr().unwrap_or(spec.listen);
        let tls = match (spec.listen_tls, &spec.snapshot.tls) {
            (Some(at), Some(data)) => {
                let acceptors = match Acceptors::build(data) {
                    Ok(a) => a,
                    Err((key, e)) => {
                        let _ = ready.send(Err(format!("worker {id}: TLS {key}: {e}")));
                        return;
                    }
                };
                match open_listeners(id, at, https_fds, epoll) {
                    Ok(l) => Some((l, Rc::new(acceptors))),
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        return;
                    }
                }
            }
            _ => None,
        };
        let tls_addr = tls
            .as_ref()
            .map(|(l, _)| l[0].local_addr().unwrap_or(spec.listen));
        let (tls_listeners, acceptors) = match tls {
            Some((l, a)) => (l, Some(a)),
            None => (Vec::new(), None),
        };
        let bound = match (dups(id, &listeners), dups(id, &tls_listeners)) {
            (Ok(fds), Ok(tls_fds)) => Bound {
                addr,
                tls_addr,
                fds,
                tls_fds,
            },
            (Err(e), _) | (_, Err(e)) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        let w = Worker::new(id, spec.conf, spec.snapshot, (cbs, modules), acceptors);
        let _ = ready.send(Ok(bound));
        Worker::spawn_background(&w, spec.commands);
        let https = accept_all(&w, tls_listeners, true);
        monoio::join!(accept_all(&w, listeners, false), https);
        drain(&w).await;
        w.close_upstreams();
        log::info!("worker {id}: stopped");
    });
}

/// This worker's listeners: the inherited sockets, else its own fresh one.
fn open_listeners(
    id: usize,
    addr: SocketAddr,
    inherited: Vec<OwnedFd>,
    epoll: bool,
) -> Result<Vec<TcpListener>, String> {
    if inherited.is_empty() {
        return Ok(vec![listen(id, addr, epoll)?]);
    }
    inherited
        .into_iter()
        .map(|fd| {
            let std = std::net::TcpListener::from(fd);
            std.set_nonblocking(true)
                .and_then(|()| TcpListener::from_std(std))
                .map_err(|e| format!("worker {id}: inherited listener on {addr}: {e}"))
        })
        .collect()
}

/// Duplicates of `ls`' sockets, kept by the server handle for a hand-over.
fn dups(id: usize, ls: &[TcpListener]) -> Result<Vec<OwnedFd>, String> {
    ls.iter()
        .map(|l| {
            super::handover::dup(l.as_raw_fd())
                .map_err(|e| format!("worker {id}: cannot duplicate a listener: {e}"))
        })
        .collect()
}

/// Accept on every listener of this worker until shutdown (more than one
/// only after a hand-over from a binary that ran more workers).
async fn accept_all(w: &Rc<Worker>, ls: Vec<TcpListener>, tls: bool) {
    let mut ls = ls.into_iter();
    let Some(first) = ls.next() else { return };
    let others: Vec<_> = ls
        .map(|l| {
            let w = w.clone();
            monoio::spawn(async move { accept_loop(&w, l, tls).await })
        })
        .collect();
    accept_loop(w, first, tls).await;
    for t in others {
        t.await;
    }
}

/// This worker's own `SO_REUSEPORT` listener on `addr` (see
/// [`super::listen`]); the epoll driver needs it non-blocking, as monoio
/// makes its own.
fn listen(id: usize, addr: SocketAddr, epoll: bool) -> Result<TcpListener, String> {
    super::listen::bind_shared(addr, 4096)
        .and_then(|l| {
            if epoll {
                l.set_nonblocking(true)?;
            }
            TcpListener::from_std(l)
        })
        .map_err(|e| format!("worker {id}: cannot listen on {addr}: {e}"))
}

/// Accept until shutdown; `tls` says which lifecycle the connections get.
async fn accept_loop(w: &Rc<Worker>, listener: TcpListener, tls: bool) {
    let max_conns = w.conf.tuning.max_conns_per_worker as u64;
    while !w.shutting_down.get() {
        let handle = w.accept_handle();
        match listener.cancelable_accept(handle).await {
            Ok((stream, peer)) => {
                if max_conns > 0 && w.stats.conn_active.get() >= max_conns {
                    Stats::inc(&w.stats.conn_refused);
                    monoio::spawn(refuse(w.clone(), stream));
                    continue;
                }
                crate::proxy::serve(w.clone(), stream, peer, tls);
            }
            Err(e) => {
                if w.shutting_down.get() {
                    break;
                }
                // Out of descriptors or a transient error: back off briefly
                // rather than spin.
                log::warn!("worker {}: accept: {e}", w.id);
                monoio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

/// At the connection limit: answer 503 and close, so the client learns why.
async fn refuse(w: Rc<Worker>, stream: TcpStream) {
    let mut s = stream;
    let res = crate::basic::Response::error(503);
    let mut out = Vec::with_capacity(128);
    crate::proxy::write_local(&mut out, &res, crate::http::Version::Http11, false, false);
    let _ = monoio::time::timeout(
        w.conf.client_write_timeout,
        monoio::io::AsyncWriteRentExt::write_all(&mut s, out),
    )
    .await;
}

/// Wait (up to GracefulShutdownTimeout) for requests in flight to finish,
/// and for the idle connections to be closed by the sweeper (or to turn
/// into requests in flight, when one had just arrived).
async fn drain(w: &Worker) {
    let deadline = Instant::now() + w.conf.graceful_shutdown_timeout;
    while (w.stats.req_active.get() > 0 || !w.idle.is_empty()) && Instant::now() < deadline {
        monoio::time::sleep(Duration::from_millis(10)).await;
    }
}
