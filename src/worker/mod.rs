//! Workers: one thread per core, pinned, each with its own monoio runtime,
//! `SO_REUSEPORT` listener, module handlers, upstream pool and counters.
//!
//! Nothing a worker touches while serving a request is shared with another
//! thread. The control thread talks to it only through a channel that the
//! worker polls on a timer, between requests: new configuration snapshots,
//! requests for a copy of the counters, and shutdown.

mod bufs;
mod runtime;
mod stats;

pub use bufs::BufPool;
pub use runtime::Driver;
pub use stats::{Stats, StatsSnapshot};

use crate::balance::Balancer;
use crate::config::{ServerConf, Snapshot};
use crate::http::RequestLimits;
use crate::module::{Callbacks, Module, ModuleSet};
use crate::upstream::Pool;
use crossbeam_channel::{Receiver, Sender, TryRecvError};
use monoio::io::Canceller;
use monoio::net::{ListenerOpts, TcpListener, TcpStream};
use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often a worker looks at its control channel.
const CONTROL_POLL: Duration = Duration::from_millis(10);

/// Go's `http.Transport` default, which BFE inherits when a cluster's
/// `MaxIdleConnsPerHost` is 0.
const GO_DEFAULT_IDLE_PER_HOST: usize = 2;

/// Messages from the control thread.
pub enum WorkerCmd {
    /// Switch to this configuration; acknowledge with the worker id.
    Swap(Box<Snapshot>, Sender<usize>),
    /// Send a copy of the counters.
    Stats(Sender<(usize, StatsSnapshot)>),
    /// Stop accepting, let requests in flight finish, exit.
    Shutdown,
}

/// One configuration as a worker runs it: the immutable snapshot and this
/// worker's balancing state for it. Requests hold the generation they
/// started on until they end.
pub struct Generation {
    pub id: u64,
    pub snapshot: Snapshot,
    pub balancer: RefCell<Balancer>,
}

/// Everything one worker owns.
pub struct Worker {
    pub id: usize,
    pub conf: ServerConf,
    pub limits: RequestLimits,
    pub cbs: Callbacks,
    _modules: Vec<Box<dyn Module>>,
    current: RefCell<Rc<Generation>>,
    pool: RefCell<Pool>,
    pub bufs: RefCell<BufPool>,
    pub stats: Stats,
    pub shutting_down: Cell<bool>,
    next_conn: Cell<u64>,
    accept_cancel: RefCell<Canceller>,
}

impl Worker {
    /// The configuration new requests start on.
    pub fn current(&self) -> Rc<Generation> {
        self.current.borrow().clone()
    }

    pub fn next_conn_id(&self) -> u64 {
        let id = self.next_conn.get();
        self.next_conn.set(id + 1);
        id
    }

    pub fn take_upstream(&self, addr: SocketAddr) -> Option<TcpStream> {
        let s = self.pool.borrow_mut().take(addr);
        self.stats
            .upstream_idle
            .set(self.pool.borrow().len() as u64);
        s
    }

    /// Keep an upstream connection for reuse, within the cluster's
    /// `MaxIdleConnsPerHost` and the worker's `UpstreamIdlePerHost`.
    pub fn put_upstream(&self, addr: SocketAddr, s: TcpStream, cluster_cap: usize) {
        let cap = if cluster_cap == 0 {
            GO_DEFAULT_IDLE_PER_HOST
        } else {
            cluster_cap
        };
        let cap = cap.min(self.conf.tuning.upstream_idle_per_host);
        self.pool.borrow_mut().put(addr, s, cap);
        self.stats
            .upstream_idle
            .set(self.pool.borrow().len() as u64);
    }

    fn swap(&self, snapshot: Snapshot) {
        let old = self.current();
        let balancer = Balancer::new(&snapshot.clusters, Some(&old.balancer.borrow()));
        let gen = Generation {
            id: old.id + 1,
            snapshot,
            balancer: RefCell::new(balancer),
        };
        *self.current.borrow_mut() = Rc::new(gen);
        Stats::inc(&self.stats.snapshot_swaps);
    }
}

/// What a worker thread needs to start.
pub struct WorkerSpec {
    pub id: usize,
    pub core: Option<core_affinity::CoreId>,
    pub conf: ServerConf,
    pub snapshot: Snapshot,
    pub modules: ModuleSet,
    /// The address to listen on (port 0 only for the first worker).
    pub listen: SocketAddr,
    pub commands: Receiver<WorkerCmd>,
}

/// Start a worker thread. It reports once on `ready`: the bound address, or
/// why it could not start (runtime, module init, bind).
pub fn spawn(
    spec: WorkerSpec,
    ready: Sender<Result<SocketAddr, String>>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("ringfront-w{}", spec.id))
        .spawn(move || thread_main(spec, ready))
}

fn thread_main(spec: WorkerSpec, ready: Sender<Result<SocketAddr, String>>) {
    let id = spec.id;
    if let Some(core) = spec.core {
        if !core_affinity::set_for_current(core) {
            log::warn!("worker {id}: could not pin to cpu {}", core.id);
        }
    }
    let (mut rt, driver) = match runtime::build(&spec.conf.tuning, id) {
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
    rt.block_on(async move {
        let (cbs, modules) = match spec.modules.build_callbacks(&spec.conf.conf_dir) {
            Ok(x) => x,
            Err(e) => {
                let _ = ready.send(Err(e.to_string()));
                return;
            }
        };
        let opts = ListenerOpts::new()
            .reuse_port(true)
            .reuse_addr(true)
            .backlog(4096);
        let listener = match TcpListener::bind_with_config(spec.listen, &opts) {
            Ok(l) => l,
            Err(e) => {
                let _ = ready.send(Err(format!(
                    "worker {id}: cannot listen on {}: {e}",
                    spec.listen
                )));
                return;
            }
        };
        let addr = listener.local_addr().unwrap_or(spec.listen);
        let balancer = Balancer::new(&spec.snapshot.clusters, None);
        let limits = RequestLimits {
            max_header_bytes: spec.conf.max_header_bytes,
            max_uri_bytes: spec.conf.max_header_uri_bytes,
        };
        let bufs = BufPool::new(spec.conf.tuning.read_buffer_size, 1024);
        let w = Rc::new(Worker {
            id,
            limits,
            cbs,
            _modules: modules,
            current: RefCell::new(Rc::new(Generation {
                id: 0,
                snapshot: spec.snapshot,
                balancer: RefCell::new(balancer),
            })),
            pool: RefCell::new(Pool::default()),
            bufs: RefCell::new(bufs),
            stats: Stats::default(),
            shutting_down: Cell::new(false),
            next_conn: Cell::new(0),
            accept_cancel: RefCell::new(Canceller::new()),
            conf: spec.conf,
        });
        let _ = ready.send(Ok(addr));
        monoio::spawn(control_loop(w.clone(), spec.commands));
        accept_loop(&w, listener).await;
        drain(&w).await;
        w.pool.borrow_mut().clear();
        log::info!("worker {id}: stopped");
    });
}

async fn accept_loop(w: &Rc<Worker>, listener: TcpListener) {
    let max_conns = w.conf.tuning.max_conns_per_worker as u64;
    while !w.shutting_down.get() {
        let handle = w.accept_cancel.borrow().handle();
        match listener.cancelable_accept(handle).await {
            Ok((stream, peer)) => {
                if max_conns > 0 && w.stats.conn_active.get() >= max_conns {
                    Stats::inc(&w.stats.conn_refused);
                    monoio::spawn(refuse(w.clone(), stream));
                    continue;
                }
                monoio::spawn(crate::proxy::serve(w.clone(), stream, peer));
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
    let res = crate::http::Response::error(503);
    let mut out = Vec::with_capacity(128);
    crate::http::write::response(&mut out, &res, crate::http::Version::Http11, false, false);
    let _ = monoio::time::timeout(
        w.conf.client_write_timeout,
        monoio::io::AsyncWriteRentExt::write_all(&mut s, out),
    )
    .await;
}

/// Wait (up to GracefulShutdownTimeout) for requests in flight to finish.
async fn drain(w: &Worker) {
    let deadline = Instant::now() + w.conf.graceful_shutdown_timeout;
    while w.stats.req_active.get() > 0 && Instant::now() < deadline {
        monoio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn control_loop(w: Rc<Worker>, rx: Receiver<WorkerCmd>) {
    loop {
        monoio::time::sleep(CONTROL_POLL).await;
        loop {
            match rx.try_recv() {
                Ok(WorkerCmd::Swap(snapshot, ack)) => {
                    w.swap(*snapshot);
                    let _ = ack.send(w.id);
                }
                Ok(WorkerCmd::Stats(reply)) => {
                    w.stats.err_handler_panic.set(w.cbs.panics());
                    let _ = reply.send((w.id, w.stats.snapshot()));
                }
                Ok(WorkerCmd::Shutdown) | Err(TryRecvError::Disconnected) => {
                    w.shutting_down.set(true);
                    let c = std::mem::replace(&mut *w.accept_cancel.borrow_mut(), Canceller::new());
                    c.cancel();
                    return;
                }
                Err(TryRecvError::Empty) => break,
            }
        }
    }
}
