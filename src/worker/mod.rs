//! Workers: one thread per core, pinned, each with its own monoio runtime,
//! `SO_REUSEPORT` listener, module handlers, upstream pool and counters.
//!
//! Nothing a worker touches while serving a request is shared with another
//! thread. The control thread talks to it only through a channel that the
//! worker polls on a timer, between requests: new configuration snapshots,
//! requests for a copy of the counters, and shutdown.
//!
//! This module is the per-core state; the thread that owns it (runtime,
//! listeners, accept loops) is started by `server`, so that nothing here
//! depends on the proxy that serves the connections.

mod budget;
mod bufs;
mod idle;
mod latency;
mod lent;
mod runtime;
mod stats;
mod trim;

pub(crate) use budget::Held;
pub(crate) use bufs::{BufPool, HeadPool};
pub(crate) use idle::IdleList;
pub(crate) use latency::{Hist, LatencyByName, BOUNDS_US};
pub(crate) use lent::Lent;
pub(crate) use runtime::{build as build_runtime, Driver};
pub(crate) use stats::{Stats, StatsSnapshot};

use crate::balance::{BackendRow, Generation};
use crate::config::{ServerConf, Snapshot};
use crate::http::RequestLimits;
use crate::module::{Callbacks, CounterValues, ModuleConf, Point, WorkerModules};
use crate::tls::Acceptors;
use crate::upstream::Pool;
use budget::Budget;
use crossbeam_channel::{Receiver, Sender, TryRecvError};
use monoio::io::{CancelHandle, Canceller};
use monoio::net::TcpStream;
use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

/// Header indexes a worker keeps for reuse: enough for the requests in
/// flight at once, not a copy per idle connection.
const FREE_LISTS: usize = 256;

/// Read and body buffers a worker keeps for reuse. Past these, buffers go
/// back to the allocator: a burst of thousands of requests must not pin
/// a buffer per request for the rest of the worker's life.
const READ_BUFS_KEPT: usize = 64;
const BODY_BUFS_KEPT: usize = 64;

/// How often a worker looks at its control channel.
const CONTROL_POLL: Duration = Duration::from_millis(10);

/// Go's `http.Transport` default, which BFE inherits when a cluster's
/// `MaxIdleConnsPerHost` is 0.
const GO_DEFAULT_IDLE_PER_HOST: usize = 2;

/// Messages from the control thread.
pub(crate) enum WorkerCmd {
    /// Switch to this configuration; acknowledge with the worker id.
    Swap(Box<Snapshot>, Sender<usize>),
    /// Send a copy of the counters.
    Stats(Sender<(usize, StatsSnapshot)>),
    /// Send the backend response-time histograms, by product and cluster.
    Latency(Sender<(usize, LatencyByName)>),
    /// Send every backend's balancing state (`backend_state`).
    BalState(Sender<(usize, Vec<BackendRow>)>),
    /// Stop accepting, let requests in flight finish, exit.
    Shutdown,
    /// Replace a module's table with this (the worker's own) copy of a
    /// reloaded one; acknowledge with the worker id.
    ModuleSwap(&'static str, ModuleConf, Sender<usize>),
    /// SIGHUP: a new snapshot and every module's new table, applied
    /// together so that no request sees one without the others;
    /// acknowledge with the worker id.
    SwapAll(
        Box<Snapshot>,
        Vec<(&'static str, ModuleConf)>,
        Sender<usize>,
    ),
    /// Send a copy of every module monitor page's counters.
    ModuleCounters(Sender<(usize, ModuleCounterPages)>),
    /// Send the module names at each callback point (`module_handlers`).
    ModuleHandlers(Sender<Vec<(Point, Vec<&'static str>)>>),
}

/// Module counters of one worker: (monitor page, counters).
pub(crate) type ModuleCounterPages = Vec<(String, CounterValues)>;

/// Everything one worker owns.
pub(crate) struct Worker {
    pub id: usize,
    /// This worker itself, for tasks it spawns that outlive a request
    /// (health probes).
    me: Weak<Worker>,
    pub conf: ServerConf,
    pub limits: RequestLimits,
    pub cbs: Callbacks,
    /// Module tables, counters and handler lists of this worker.
    pub modules: WorkerModules,
    current: RefCell<Rc<Generation>>,
    pool: RefCell<Pool>,
    /// A clock read every [`idle::SWEEP_EVERY`] by the sweeper, for ages
    /// measured in seconds (idle upstream connections): reading the real
    /// one twice per request cost more than the pool itself.
    coarse_now: Cell<Instant>,
    pub bufs: RefCell<BufPool>,
    /// Buffers bodies stream through (`BodyBufferSize`), one per body in
    /// flight: bigger than head buffers so a body takes few reads.
    pub body_bufs: RefCell<BufPool>,
    pub heads: RefCell<HeadPool>,
    /// Bodies held whole in memory (`MaxBufferedBytes`).
    pub buffered: Budget,
    /// Idle keep-alive connections and their deadlines.
    pub idle: IdleList,
    pub stats: Stats,
    /// Backend response times per product and cluster.
    pub latency: latency::Latency,
    pub shutting_down: Cell<bool>,
    /// Tasks to wake when shutdown starts, by connection id: HTTP/2
    /// connections, which must send GOAWAY at once rather than at their
    /// next timer. Each removes its own entry when it ends.
    pub shutdown_wakers: RefCell<fxhash::FxHashMap<u64, std::task::Waker>>,
    next_conn: Cell<u64>,
    accept_cancel: RefCell<Canceller>,
    /// This worker's TLS acceptors for the current configuration; `None`
    /// without an HTTPS listener.
    tls: RefCell<Option<Rc<Acceptors>>>,
    /// Failed-request log lines: (window start, lines in it, lines
    /// suppressed since the last one written). See [`Worker::may_log_failure`].
    failure_log: Cell<(Instant, u32, u64)>,
}

/// Failed-request `warn` lines a worker writes per second; past it they
/// are counted and the next line written says how many were left out.
/// The log sink is one lock shared by all workers: a flood of bad
/// requests must not turn it into a contention point (the `err_*`
/// counters still count every one).
pub(crate) const FAILURE_LOG_PER_SEC: u32 = 100;

impl Worker {
    /// The configuration new requests start on.
    pub(crate) fn current(&self) -> Rc<Generation> {
        self.current.borrow().clone()
    }

    /// A read buffer (`ReadBufferSize`), back in its pool when dropped.
    pub(crate) fn lend(&self) -> Lent<'_> {
        Lent::new(self, self.bufs.borrow_mut().take())
    }

    /// A buffer to stream `remaining` more body bytes through, back in its
    /// pool when dropped: a read buffer when they fit one, else a
    /// `BodyBufferSize` one.
    pub(crate) fn lend_body(&self, remaining: usize) -> Lent<'_> {
        let buf = if remaining <= self.conf.tuning.read_buffer_size {
            self.bufs.borrow_mut().take()
        } else {
            self.body_bufs.borrow_mut().take()
        };
        Lent::new(self, buf)
    }

    /// No buffer yet; one is put in when a step needs it.
    pub(crate) fn lend_none(&self) -> Lent<'_> {
        Lent::new(self, Vec::new())
    }

    /// Return a buffer to the pool it fits (what a [`Lent`] does when dropped).
    pub(crate) fn give_buf(&self, b: Vec<u8>) {
        if b.capacity() >= self.conf.tuning.body_buffer_size {
            self.body_bufs.borrow_mut().give(b);
        } else {
            self.bufs.borrow_mut().give(b);
        }
    }

    /// The acceptors new TLS connections handshake with.
    pub(crate) fn tls(&self) -> Option<Rc<Acceptors>> {
        self.tls.borrow().clone()
    }

    pub(crate) fn rc(&self) -> Option<Rc<Worker>> {
        self.me.upgrade()
    }

    pub(crate) fn next_conn_id(&self) -> u64 {
        let id = self.next_conn.get();
        self.next_conn.set(id + 1);
        id
    }

    pub(crate) fn take_upstream(&self, addr: SocketAddr) -> Option<TcpStream> {
        let s = self.pool.borrow_mut().take(addr, self.coarse_now.get());
        self.stats
            .upstream_idle
            .set(self.pool.borrow().len() as u64);
        s
    }

    /// Keep an upstream connection for reuse, within the cluster's
    /// `MaxIdleConnsPerHost` and the worker's `UpstreamIdlePerHost`.
    pub(crate) fn put_upstream(&self, addr: SocketAddr, s: TcpStream, cluster_cap: usize) {
        let cap = if cluster_cap == 0 {
            GO_DEFAULT_IDLE_PER_HOST
        } else {
            cluster_cap
        };
        let cap = cap.min(self.conf.tuning.upstream_idle_per_host);
        self.pool
            .borrow_mut()
            .put(addr, s, cap, self.coarse_now.get());
        self.stats
            .upstream_idle
            .set(self.pool.borrow().len() as u64);
    }

    /// Switch new requests to `snapshot`. Backends that stay keep their
    /// health; probes of backends that left end.
    fn swap(&self, snapshot: Snapshot) {
        let old = self.current();
        // Every reload carries the TLS data; rebuild the acceptors only when
        // it changed, so a routing reload keeps session-resumption caches.
        match &snapshot.tls {
            Some(t) if old.snapshot.tls.as_ref() != Some(t) => {
                // The control thread built the same data once already, so
                // this only fails if rustls changed its mind; keep the old.
                match Acceptors::build(t) {
                    Ok(a) => *self.tls.borrow_mut() = Some(Rc::new(a)),
                    Err((key, e)) => log::error!("worker {}: TLS {key}: {e}", self.id),
                }
            }
            _ => {}
        }
        let gen = Generation::new(old.id + 1, snapshot, Some(&old.balancer.borrow()));
        old.balancer
            .borrow()
            .release_removed(&gen.balancer.borrow());
        self.latency.swap(&old, &gen);
        *self.current.borrow_mut() = Rc::new(gen);
        Stats::inc(&self.stats.snapshot_swaps);
    }
}

impl Worker {
    /// A worker on `snapshot`, with the callbacks and modules its thread
    /// built and, with an HTTPS listener, its acceptors.
    pub(crate) fn new(
        id: usize,
        conf: ServerConf,
        snapshot: Snapshot,
        (cbs, modules): (Callbacks, WorkerModules),
        acceptors: Option<Rc<Acceptors>>,
    ) -> Rc<Worker> {
        let limits = RequestLimits {
            max_header_bytes: conf.max_header_bytes,
            max_uri_bytes: conf.max_header_uri_bytes,
        };
        let bufs = BufPool::new(conf.tuning.read_buffer_size, READ_BUFS_KEPT);
        let body_bufs = BufPool::new(conf.tuning.body_buffer_size, BODY_BUFS_KEPT);
        let gen = Generation::new(0, snapshot, None);
        let latency = latency::Latency::new(&gen);
        Rc::new_cyclic(|me| Worker {
            id,
            me: me.clone(),
            limits,
            cbs,
            modules,
            current: RefCell::new(Rc::new(gen)),
            latency,
            pool: RefCell::new(Pool::default()),
            coarse_now: Cell::new(Instant::now()),
            failure_log: Cell::new((Instant::now(), 0, 0)),
            bufs: RefCell::new(bufs),
            body_bufs: RefCell::new(body_bufs),
            buffered: Budget::new(conf.tuning.max_buffered_bytes),
            heads: RefCell::new(HeadPool::new(FREE_LISTS)),
            idle: IdleList::default(),
            stats: Stats::default(),
            shutting_down: Cell::new(false),
            shutdown_wakers: RefCell::default(),
            next_conn: Cell::new(0),
            accept_cancel: RefCell::new(Canceller::new()),
            tls: RefCell::new(acceptors),
            conf,
        })
    }

    /// What an accept waits with, so that shutdown can cancel it.
    pub(crate) fn accept_handle(&self) -> CancelHandle {
        self.accept_cancel.borrow().handle()
    }

    /// The clock as the sweeper last read it (at most
    /// [`idle::SWEEP_EVERY`] old): for deadlines it enforces and ages in
    /// seconds.
    /// Whether a failed request may be logged now (at most
    /// [`FAILURE_LOG_PER_SEC`] a second per worker); `Some(n)`: yes, and
    /// `n` lines were left out before it.
    pub(crate) fn may_log_failure(&self) -> Option<u64> {
        let (start, lines, dropped) = self.failure_log.get();
        let now = self.coarse_now.get();
        let (start, lines) = if now.duration_since(start) >= Duration::from_secs(1) {
            (now, 0)
        } else {
            (start, lines)
        };
        if lines >= FAILURE_LOG_PER_SEC {
            self.failure_log.set((start, lines, dropped + 1));
            return None;
        }
        self.failure_log.set((start, lines + 1, 0));
        Some(dropped)
    }

    pub(crate) fn coarse_now(&self) -> Instant {
        self.coarse_now.get()
    }

    /// Close the idle upstream connections that their backend closed (or
    /// sent stray bytes on) or that are too old to reuse.
    fn sweep_upstreams(&self, now: Instant) {
        if self.pool.borrow_mut().sweep(now) > 0 {
            self.stats
                .upstream_idle
                .set(self.pool.borrow().len() as u64);
            self.count_pool_losses();
        }
    }

    /// Copy the pool's counts of connections lost to their backend into
    /// the counters (the pool counts them, off the request path).
    fn count_pool_losses(&self) {
        let losses = self.pool.borrow().losses();
        self.stats.upstream_idle_peer_closed.set(losses.peer_closed);
        self.stats.upstream_idle_stray_bytes.set(losses.stray_bytes);
    }

    /// Close every idle upstream connection (the worker is stopping).
    pub(crate) fn close_upstreams(&self) {
        self.pool.borrow_mut().clear();
    }

    /// Start the worker's own background tasks: the control channel poll
    /// and the idle-connection sweeper.
    pub(crate) fn spawn_background(w: &Rc<Worker>, commands: Receiver<WorkerCmd>) {
        monoio::spawn(control_loop(w.clone(), commands));
        monoio::spawn(sweep_idle(w.clone()));
    }
}

/// Close idle connections past their deadline; all of them once the
/// worker is shutting down.
async fn sweep_idle(w: Rc<Worker>) {
    let mut trim = trim::Trim::default();
    loop {
        monoio::time::sleep(idle::SWEEP_EVERY).await;
        let now = Instant::now();
        w.coarse_now.set(now);
        if trim.tick(
            w.stats.req_total.get(),
            w.stats.req_active.get(),
            w.stats.conn_active.get(),
        ) {
            trim::release();
        }
        if !w.idle.is_empty() {
            w.idle.sweep(now, w.shutting_down.get());
        }
        w.sweep_upstreams(now);
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
                    w.stats.errors[crate::basic::ErrorKind::HandlerPanic.index()]
                        .set(w.cbs.panics());
                    w.count_pool_losses();
                    let _ = reply.send((w.id, w.stats.snapshot()));
                }
                Ok(WorkerCmd::Latency(reply)) => {
                    let _ = reply.send((w.id, w.latency.snapshot(&w.current())));
                }
                Ok(WorkerCmd::BalState(reply)) => {
                    let gen = w.current();
                    let rows = gen.balancer.borrow().rows(&gen.snapshot.clusters);
                    let _ = reply.send((w.id, rows));
                }
                Ok(WorkerCmd::Shutdown) | Err(TryRecvError::Disconnected) => {
                    w.shutting_down.set(true);
                    let wakers = std::mem::take(&mut *w.shutdown_wakers.borrow_mut());
                    wakers.into_values().for_each(std::task::Waker::wake);
                    w.current().balancer.borrow().release_all();
                    let c = std::mem::replace(&mut *w.accept_cancel.borrow_mut(), Canceller::new());
                    c.cancel();
                    return;
                }
                Ok(cmd) => module_cmd(&w, cmd),
                Err(TryRecvError::Empty) => break,
            }
        }
    }
}

/// The module commands: table swaps and monitor copies, handled between
/// requests like snapshot swaps.
fn module_cmd(w: &Worker, cmd: WorkerCmd) {
    match cmd {
        WorkerCmd::ModuleSwap(module, conf, ack) => {
            if w.modules.swap(module, &conf) {
                let _ = ack.send(w.id);
            } else {
                log::error!("worker {}: {module}: reloaded table of another type", w.id);
            }
        }
        WorkerCmd::SwapAll(snapshot, tables, ack) => {
            w.swap(*snapshot);
            let mut ok = true;
            for (module, conf) in &tables {
                if !w.modules.swap(module, conf) {
                    log::error!("worker {}: {module}: reloaded table of another type", w.id);
                    ok = false;
                }
            }
            if ok {
                let _ = ack.send(w.id);
            }
        }
        WorkerCmd::ModuleCounters(reply) => {
            let _ = reply.send((w.id, w.modules.counters()));
        }
        WorkerCmd::ModuleHandlers(reply) => {
            let _ = reply.send(w.modules.handlers());
        }
        _ => {}
    }
}
