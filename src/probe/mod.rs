//! Active health checks, BFE's `health_check.go` made per worker.
//!
//! The worker that marks a backend down (after `FailNum` consecutive
//! failures) starts a local task that checks it per the cluster's
//! `CheckConf` every `CheckInterval` and puts it back after `SuccNum`
//! passing checks in a row. Each worker probes only the backends it marked
//! down itself; no state crosses threads. A probe ends when its backend
//! comes back, leaves the configuration on reload, or the worker stops
//! (the last two [`Health::release`] it, which wakes it at once).

mod check;

use crate::balance::Health;
use crate::worker::{Stats, Worker};
use std::future::Future;
use std::net::SocketAddr;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

/// A check interval of 0 would spin; BFE's default is 1 s.
const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// A backend to probe.
pub(crate) struct Target {
    /// Its cluster, whose current `CheckConf` each check reads (a reload
    /// may change it while the probe runs).
    pub cluster: String,
    pub addr: SocketAddr,
    pub health: Rc<Health>,
}

/// Start probing a backend this worker just marked down, unless a probe
/// already runs for it here or the worker is stopping.
pub(crate) fn start(w: &Worker, t: Target) {
    if w.shutting_down.get() {
        return;
    }
    let Some(rc) = w.rc() else { return };
    if !t.health.claim_probe() {
        return;
    }
    log::info!(
        "worker {}: backend {} of cluster {} is down; probing it",
        w.id,
        t.addr,
        t.cluster
    );
    monoio::spawn(run(rc, t));
}

async fn run(w: Rc<Worker>, t: Target) {
    Stats::inc(&w.stats.probes_active);
    let mut passed = 0u32;
    while let Some((check, timeout, send_proxy)) = conf(&w, &t.cluster) {
        let once = check::once(t.addr, &check, timeout, send_proxy);
        let Some(ok) = unless_released(&t.health, once).await else {
            break;
        };
        Stats::inc(&w.stats.probe_checks);
        if !ok {
            Stats::inc(&w.stats.probe_failures);
        }
        passed = if ok { passed + 1 } else { 0 };
        if passed >= check.succ_num.max(1) {
            t.health.mark_up(Instant::now());
            Stats::inc(&w.stats.backend_up);
            log::info!(
                "worker {}: backend {} of cluster {} is back",
                w.id,
                t.addr,
                t.cluster
            );
            break;
        }
        let pause = monoio::time::sleep(check.check_interval.max(MIN_INTERVAL));
        if unless_released(&t.health, pause).await.is_none() {
            break;
        }
    }
    t.health.probe_ended();
    Stats::dec(&w.stats.probes_active);
}

/// The cluster's check settings now, and the time one check may take:
/// `CheckTimeout`, or where it is 0 (no limit in BFE) the cluster's
/// connect plus response-header timeouts, so a hung check cannot keep a
/// backend down for good. Also whether the cluster's backends expect a
/// PROXY header (`SendProxyV2`).
fn conf(w: &Worker, cluster: &str) -> Option<(crate::config::CheckConf, Duration, bool)> {
    let gen = w.current();
    let c = gen
        .snapshot
        .clusters
        .get(gen.snapshot.clusters.id_of(cluster)?);
    let timeout = if c.check.check_timeout.is_zero() {
        c.backend.timeout_conn_srv + c.backend.timeout_response_header
    } else {
        c.check.check_timeout
    };
    Some((c.check.clone(), timeout, c.backend.send_proxy_v2))
}

/// `f`'s output, or None as soon as the backend is released.
async fn unless_released<F: Future>(h: &Health, f: F) -> Option<F::Output> {
    let mut f = std::pin::pin!(f);
    std::future::poll_fn(|cx| {
        if h.poll_released(cx).is_ready() {
            return Poll::Ready(None);
        }
        f.as_mut().poll(cx).map(Some)
    })
    .await
}
