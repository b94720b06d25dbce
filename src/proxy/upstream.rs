//! One attempt's upstream half: take a pooled connection to the backend or
//! open one, send the request head (with the body bytes that came with
//! it), stream the rest of the body from the client, and read the
//! response head. What comes back is either the backend's response, ready
//! for the relay, or how the attempt failed, for the retry loop.

use super::attempt::{Outcome, Target};
use super::body::Pump;
use super::downstream::{BodyError, Downstream, Upstream};
use super::io::{read_more_by, write_all_in, IoErr};
use super::reply::fail;
use crate::basic::{ErrorKind, ProxyError, Request, Response};
use crate::config::Cluster;
use crate::http::{parse_response, write};
use crate::upstream;
use crate::worker::Worker;
use std::time::Instant;

/// Largest read of a response head at once.
const HEAD_READ: usize = 64 * 1024;

/// Send `req` to the attempt's backend and read the response head into
/// `res`. The response is filled in place, in the attempt's own state: it
/// is neither moved through the futures on its way to the client nor
/// allocated.
pub(crate) async fn exchange<D: Downstream>(
    w: &Worker,
    d: &mut D,
    req: &mut Request,
    body: &mut Pump,
    cluster: &Cluster,
    t: &Target,
    res: &mut Response,
) -> Result<Upstream, Outcome> {
    req.stat.mark(|t| &mut t.backend_start);
    // A connection opened with a PROXY header belongs to one client: never
    // taken from the pool (nor put back, see the relay).
    let send_proxy = cluster.backend.send_proxy_v2;
    let pooled = if t.fresh || send_proxy {
        None
    } else {
        w.take_upstream(t.addr)
    };
    let reused = pooled.is_some();
    let mut up = match pooled {
        Some(s) => {
            crate::worker::Stats::inc(&w.stats.upstream_reuse);
            s
        }
        None => match upstream::connect(t.addr, cluster.backend.timeout_conn_srv).await {
            Ok(mut s) => {
                crate::worker::Stats::inc(&w.stats.upstream_connect);
                if send_proxy {
                    let mut hdr = w.lend();
                    upstream::write_proxy_v2(&mut hdr, Some((req.ses.peer, req.ses.local)));
                    let timeout = cluster.backend.timeout_conn_srv;
                    if write_all_in(&mut s, &mut hdr, timeout).await.is_err() {
                        return Err(Outcome::ConnectFailed);
                    }
                }
                s
            }
            Err(_) => {
                crate::worker::Stats::inc(&w.stats.upstream_connect_fail);
                return Err(Outcome::ConnectFailed);
            }
        },
    };
    req.stat.mark(|t| &mut t.backend_connected);
    send_request(w, d, req, body, &mut up, cluster, reused).await?;
    read_head(w, req, &mut up, cluster, reused, res).await?;
    req.stat.mark(|t| &mut t.backend_end);
    Ok(up)
}

/// The request head, the body bytes that came with it, then the rest of
/// the body from the client.
async fn send_request<D: Downstream>(
    w: &Worker,
    d: &mut D,
    req: &mut Request,
    body: &mut Pump,
    up: &mut Upstream,
    cluster: &Cluster,
    reused: bool,
) -> Result<(), Outcome> {
    let timeout = cluster.backend.timeout_response_header;
    let mut out = w.lend();
    let target = write::TargetEdits {
        path: req.path_override.as_deref().map(str::as_bytes),
        query: req.query_override.as_deref().map(str::as_bytes),
    };
    write::request_head(
        &mut out,
        &req.buf,
        &req.head,
        &req.edits,
        target,
        req.client_ip,
        req.head.body,
    );
    if !body.is_done() {
        if let Err(e) = d.body_with_head(req, body, &mut out) {
            w.stats.error(ErrorKind::ClientBadRequest);
            req.ses.set_error(ErrorKind::ClientBadRequest.into());
            let e = ProxyError::with_status(ErrorKind::ClientBadRequest, e.status());
            return Err(Box::pin(refuse_body(w, d, req, e)).await);
        }
    }
    if write_all_in(up, &mut out, timeout).await.is_err() {
        if reused && req.head.body.is_none() {
            return Err(Outcome::Stale);
        }
        w.stats.error(ErrorKind::BackendBroken);
        return Err(Outcome::NoResponse(ErrorKind::BackendBroken));
    }
    if body.is_done() {
        return Ok(());
    }
    if req.head.expect_continue && body.seen == 0 {
        req.ses.set_use_100();
        if d.send_continue(w).await.is_err() {
            w.stats.error(ErrorKind::ClientClose);
            req.ses.set_error(ErrorKind::ClientClose.into());
            return Err(Outcome::Ended(super::Disposition::Reset));
        }
    }
    let timeouts = (cluster.basic.timeout_read_client, timeout);
    // Boxed: most requests have no body past their head, and this state
    // would otherwise enlarge every request's future.
    match Box::pin(d.read_body(w, req, body, up, timeouts)).await {
        Ok(()) => Ok(()),
        Err(BodyError::Client(e)) => Err(Box::pin(refuse_body(w, d, req, e)).await),
        Err(BodyError::Upstream) => Err(Outcome::NoResponse(ErrorKind::BackendBroken)),
    }
}

/// The client broke its request body: answered (a 400 or 408, or nothing
/// when it went away) and the connection closed, since where the next
/// request would start is unknown.
async fn refuse_body<D: Downstream>(
    w: &Worker,
    d: &mut D,
    req: &mut Request,
    e: ProxyError,
) -> Outcome {
    req.body_done = false;
    Outcome::Ended(fail(w, d, req, e, "request body", true).await)
}

/// Read the response head (1xx interim responses are consumed here).
async fn read_head(
    w: &Worker,
    req: &mut Request,
    up: &mut Upstream,
    cluster: &Cluster,
    reused: bool,
    res: &mut Response,
) -> Result<(), Outcome> {
    let mut ubuf = w.lend();
    let mut rhead = req.rhead.take().unwrap_or_default();
    // One clock read for the deadline of every read of the head (monoio's
    // `timeout` would read it again per read) and for the backend latency.
    let sent = Instant::now();
    let deadline = sent + cluster.backend.timeout_response_header;
    let is_head = req.is_head();
    let failed = loop {
        if !ubuf.is_empty() {
            match parse_response(&ubuf, is_head, w.limits.max_header_bytes, &mut rhead) {
                Ok(true) if (100..200).contains(&rhead.status) && rhead.status != 101 => {
                    ubuf.drain(..rhead.head_len);
                    continue;
                }
                Ok(true) => {
                    let r = &req.route;
                    w.latency
                        .record(&req.gen, r.product, r.cluster, sent.elapsed());
                    *res = Response::from_backend(ubuf.take(), rhead);
                    return Ok(());
                }
                Ok(false) => {}
                Err(_) => {
                    w.stats.error(ErrorKind::BackendBroken);
                    break Outcome::NoResponse(ErrorKind::BackendBroken);
                }
            }
        }
        match read_more_by(up, &mut ubuf, HEAD_READ, deadline).await {
            Ok(_) => {}
            Err(IoErr::Timeout) => {
                w.stats.error(ErrorKind::BackendTimeout);
                break Outcome::NoResponse(ErrorKind::BackendTimeout);
            }
            Err(_) if ubuf.is_empty() && reused && req.head.body.is_none() => {
                break Outcome::Stale;
            }
            Err(_) => {
                w.stats.error(ErrorKind::BackendBroken);
                break Outcome::NoResponse(ErrorKind::BackendBroken);
            }
        }
    };
    req.rhead = Some(rhead);
    Err(failed)
}
