//! Forwarding: choose a sub-cluster, then for each attempt a backend, run
//! HandleForward, and hand the attempt to [`super::upstream`] (send the
//! request, read the response head) and [`super::relay`] (the response to
//! the client); retry where it is safe, answer the failure where not.

use super::attempt::{Outcome, Target};
use super::body::Pump;
use super::downstream::{body_missing, Disposition, Downstream};
use super::reply::fail;
use super::retry::Plan;
use crate::balance::{hash_key, StickyBackend, SubClusterPick};
use crate::basic::{ErrorKind, ProxyError, Request, Response};
use crate::config::Cluster;
use crate::http::BodyKind;
use crate::module::Ret;
use crate::worker::{Held, Stats, Worker};

pub(crate) async fn run<D: Downstream>(w: &Worker, d: &mut D, req: &mut Request) -> Disposition {
    let gen = req.gen.clone();
    let Some(cid) = req.route.cluster else {
        let e = ErrorKind::NoCluster.into();
        return fail(w, d, req, e, "forwarding without a cluster", false).await;
    };
    let cluster = gen.snapshot.clusters.get(cid);
    let key = hash_key(&cluster.gslb.hash, req);
    // A backend a module asked for comes before GSLB's choice, as BFE's
    // balancer looks at SessionStickyBackendKey first.
    let preferred = req
        .ctx
        .get::<StickyBackend>()
        .and_then(|want| gen.balancer.borrow().pick_preferred(cid, want, &[]));
    let pick = match preferred {
        Some((sub, _)) => SubClusterPick::Sub(sub),
        None => gen.balancer.borrow().pick_subcluster(cid, key),
    };
    let home = match pick {
        SubClusterPick::Sub(s) => s,
        SubClusterPick::Blackhole => {
            w.stats.error(ErrorKind::GslbBlackhole);
            req.fail(ErrorKind::GslbBlackhole, "GSLB chose a blackhole");
            return Disposition::Reset;
        }
        SubClusterPick::Unavailable => {
            w.stats.error(ErrorKind::BackendUnavailable);
            let e = ErrorKind::BackendUnavailable.into();
            return fail(w, d, req, e, "no sub-cluster available", false).await;
        }
    };
    req.route.subcluster = Some(home);
    // A body that fits is read whole before any backend connection is
    // taken, so that a client sending it slowly holds none.
    let _held = match prefetch(w, d, req, cluster).await {
        Ok(held) => held,
        Err(disp) => return disp,
    };
    let mut body = Pump::new(req.head.body, req.head.body == BodyKind::Chunked);
    // RetryLevel 1 also retries failed GETs without a body; connect errors
    // are retried at any level.
    let get_retry = cluster.backend.retry_level >= 1
        && req.head.body.is_none()
        && req.head.method_is(&req.buf, b"GET");
    let mut plan = Plan::new(cluster, cid, home, key);
    if let Some((_, pick)) = preferred {
        plan.prefer(pick);
    }
    let mut resend: Option<Target> = None;
    let mut last = ErrorKind::BackendConnect;
    req.stat.mark(|t| &mut t.cluster_start);
    loop {
        let t = match resend.take() {
            Some(t) => t,
            None => {
                let Some(next) = plan.next(&mut gen.balancer.borrow_mut()) else {
                    break;
                };
                req.route.subcluster = Some(next.sub);
                req.route.backend = Some(next.pick);
                req.attempts += 1;
                if req.attempts > 1 {
                    Stats::inc(&w.stats.retries);
                    if req.attempts == 2 {
                        Stats::inc(&w.stats.req_with_retry);
                    }
                }
                if next.cross {
                    if !req.stat.cross_cluster {
                        Stats::inc(&w.stats.req_with_cross_retry);
                    }
                    Stats::inc(&w.stats.retries_cross);
                    req.stat.cross_cluster = true;
                }
                if w.cbs.run_forward(req) == Ret::Finish {
                    w.stats.error(ErrorKind::HandlerAbort);
                    let e = ErrorKind::HandlerAbort.into();
                    return fail(w, d, req, e, "HandleForward returned Finish", true).await;
                }
                let Some(chosen) = req.route.backend else {
                    break;
                };
                Target {
                    sub: next.sub,
                    index: (chosen == next.pick).then_some(next.pick.index),
                    addr: chosen.addr,
                    fresh: false,
                }
            }
        };
        let flight = t
            .index
            .and_then(|i| gen.balancer.borrow().health(cid, t.sub, i).cloned())
            .map(|h| h.in_flight());
        let outcome = attempt(w, d, req, &mut body, cluster, &t).await;
        drop(flight);
        req.stat.body_len_in = body.seen;
        // Never send a request again once any of its body went out.
        let body_sent = body.seen > 0 || req.consumed > req.head.head_len;
        match outcome {
            Outcome::Done(disp) | Outcome::Ended(disp) => {
                req.stat.mark(|t| &mut t.cluster_end);
                return disp;
            }
            Outcome::Stale if !t.fresh => resend = Some(Target { fresh: true, ..t }),
            Outcome::Stale | Outcome::ConnectFailed => {
                w.stats.error(ErrorKind::BackendConnect);
                report(w, req, cluster, &t, false);
                last = ErrorKind::BackendConnect;
                if body_sent {
                    let e = ErrorKind::BackendConnect.into();
                    return fail(w, d, req, e, "backend connection lost", true).await;
                }
                if let Some(i) = t.index {
                    plan.failed(t.sub, i);
                }
            }
            Outcome::NoResponse(kind) => {
                report(w, req, cluster, &t, false);
                if !get_retry || body_sent {
                    return fail(w, d, req, kind.into(), "no response head", true).await;
                }
                last = kind;
                if let Some(i) = t.index {
                    plan.failed(t.sub, i);
                }
            }
            Outcome::BadResponse(kind) => {
                return fail(w, d, req, kind.into(), "response not relayable", true).await;
            }
        }
    }
    // Every attempt failed: the client hears how the last one did (a
    // timeout stays a 504).
    w.stats.error(ErrorKind::BackendUnavailable);
    let e = ProxyError::with_status(ErrorKind::BackendUnavailable, last.status());
    fail(w, d, req, e, "every attempt failed", !req.body_done).await
}

/// Tell the backend's health how an attempt went. A failure that takes the
/// backend down starts this worker's probe of it.
fn report(w: &Worker, req: &Request, cluster: &Cluster, t: &Target, ok: bool) {
    let (Some(index), Some(cid)) = (t.index, req.route.cluster) else {
        return;
    };
    let bal = req.gen.balancer.borrow();
    if ok {
        bal.report_success(cid, t.sub, index);
        return;
    }
    if let Some(health) = bal.report_failure(cid, t.sub, index) {
        Stats::inc(&w.stats.backend_down);
        crate::probe::start(
            w,
            crate::probe::Target {
                cluster: cluster.name.clone(),
                addr: t.addr,
                health,
            },
        );
    }
}

/// One try on one backend: the upstream exchange, then, once the backend
/// answered (its health goes by the status: `OutlierDetectionHttpCode`
/// lists the ones that count as failures), the relay.
async fn attempt<D: Downstream>(
    w: &Worker,
    d: &mut D,
    req: &mut Request,
    body: &mut Pump,
    cluster: &Cluster,
    t: &Target,
) -> Outcome {
    // Filled by the exchange when the backend answers.
    let mut res = Response::new(0);
    let up = match super::upstream::exchange(w, d, req, body, cluster, t, &mut res).await {
        Ok(up) => up,
        Err(o) => return o,
    };
    let status = res.status();
    let outlier = cluster
        .backend
        .outlier_detection_http_code
        .contains(&status);
    report(w, req, cluster, t, !outlier);
    let outcome = if req.head.upgrade {
        // A WebSocket handshake: tunnelled on a 101, any other answer
        // relayed as a normal response. Boxed, as the rare path.
        if status == 101 {
            let seen = body.seen;
            Box::pin(super::upgrade::switch(
                w, d, req, up, &mut res, cluster, seen,
            ))
            .await
        } else {
            Stats::inc(&w.stats.web_socket_err_backend_reject);
            super::relay::respond(w, d, req, up, &mut res, cluster, t.addr).await
        }
    } else if status == 101 {
        // Switching protocols nobody asked for cannot be relayed.
        w.stats.error(ErrorKind::BackendBroken);
        Outcome::BadResponse(ErrorKind::BackendBroken)
    } else {
        super::relay::respond(w, d, req, up, &mut res, cluster, t.addr).await
    };
    give_back(w, req, &mut res);
    outcome
}

/// Return a backend response's buffer to the pool and its head index to
/// the request, for the next request of the connection to reuse: once,
/// whichever way the relay ended.
fn give_back(w: &Worker, req: &mut Request, res: &mut Response) {
    if let Some((buf, head)) = res.take_backend() {
        w.bufs.borrow_mut().give(buf);
        req.rhead = Some(head);
    }
}

/// Read the rest of a request body that fits the cluster's
/// `RequestBufferSize` and the worker's budget into the request's buffer.
/// A client that breaks its body off is answered here (400/408, or nothing
/// when it went away) and its connection closed.
async fn prefetch<'w, D: Downstream>(
    w: &'w Worker,
    d: &mut D,
    req: &mut Request,
    cluster: &Cluster,
) -> Result<Option<Held<'w>>, Disposition> {
    let Some(missing) = body_missing(req, cluster.basic.request_buffer) else {
        return Ok(None);
    };
    let Some(held) = w.buffered.hold(missing) else {
        return Ok(None);
    };
    match d
        .prefetch_body(w, req, missing, cluster.basic.timeout_read_client)
        .await
    {
        Ok(()) => Ok(Some(held)),
        Err(e) => {
            req.ses.set_error(e.kind.into());
            req.body_done = false;
            Err(fail(w, d, req, e, "request body", true).await)
        }
    }
}
