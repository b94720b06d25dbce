//! Forwarding: choose a sub-cluster and backend, run HandleForward, send the
//! request (retrying where it is safe), read the response head, run
//! HandleReadResponse, stream the response, run HandleRequestFinish.

use super::body::Pump;
use super::conn::{answer, ClientConn, ClientIo};
use super::io::{read_more, write_from, write_parts, IoErr};
use super::reply::{self, redirect_response};
use super::retry::Plan;
use crate::balance::{hash_key, SubClusterPick};
use crate::basic::ErrorKind;
use crate::basic::{Request, Response};
use crate::config::Cluster;
use crate::http::chunked::ChunkError;
use crate::http::write::{self, ResponseFraming, CONTINUE_100};
use crate::http::{parse_response, BodyKind, Version};
use crate::module::{Point, Ret};
use crate::upstream;
use crate::worker::{Stats, Worker};
use monoio::io::AsyncWriteRent;
use monoio::net::TcpStream;
use std::net::SocketAddr;
use std::time::Instant;

/// Largest read of a response head at once.
const HEAD_READ: usize = 64 * 1024;

/// How one attempt on one backend ended.
enum Outcome {
    /// Response relayed; keep the client connection?
    Done(bool),
    /// Could not connect: try another backend.
    ConnectFailed,
    /// A pooled connection turned out closed before anything was received:
    /// the same request may be sent again on a fresh connection.
    Stale,
    /// The backend failed before its response head arrived (write error,
    /// read error, timeout, unparsable head). Counts against its health; a
    /// body-less GET may be retried at `RetryLevel` 1.
    NoResponse { status: u16 },
    /// The response head arrived but the response cannot be relayed.
    BadResponse { status: u16 },
    /// Finished without a backend response to relay (client gone, handler
    /// closed, or an answer was already sent); keep the connection?
    Ended(bool),
}

/// Where one attempt goes.
#[derive(Clone, Copy)]
struct Target {
    sub: usize,
    /// The balancer's backend, or None when HandleForward steered the
    /// request elsewhere (then no backend's health is touched).
    index: Option<usize>,
    addr: SocketAddr,
    /// A re-send on a fresh connection after a stale pooled one.
    fresh: bool,
}

pub(crate) async fn run<S: ClientIo>(
    w: &Worker,
    conn: &mut ClientConn<S>,
    req: &mut Request,
) -> bool {
    let gen = req.gen.clone();
    let Some(cid) = req.route.cluster else {
        return answer(w, conn, req, Response::error(500), false).await;
    };
    let cluster = gen.snapshot.clusters.get(cid);
    let key = hash_key(&cluster.gslb.hash, req);
    let pick = gen.balancer.borrow().pick_subcluster(cid, key);
    let home = match pick {
        SubClusterPick::Sub(s) => s,
        SubClusterPick::Blackhole => {
            w.stats.error(ErrorKind::GslbBlackhole);
            return false;
        }
        SubClusterPick::Unavailable => {
            w.stats.error(ErrorKind::BackendUnavailable);
            return answer(w, conn, req, Response::error(502), false).await;
        }
    };
    req.route.subcluster = Some(home);
    let mut body = Pump::new(req.head.body, req.head.body == BodyKind::Chunked);
    // RetryLevel 1 also retries failed GETs without a body; connect errors
    // are retried at any level.
    let get_retry = cluster.backend.retry_level >= 1
        && req.head.body.is_none()
        && req.head.method_is(&req.buf, b"GET");
    let mut plan = Plan::new(cluster, cid, home, key);
    let mut resend: Option<Target> = None;
    let mut last_status = 502;
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
                }
                if next.cross {
                    Stats::inc(&w.stats.retries_cross);
                }
                if w.cbs.run_forward(req) == Ret::Finish {
                    w.stats.error(ErrorKind::HandlerAbort);
                    return answer(w, conn, req, Response::error(500), true).await;
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
        let outcome = attempt(w, conn, req, &mut body, cluster, &t).await;
        drop(flight);
        // Never send a request again once any of its body went out.
        let body_sent = body.seen > 0 || req.consumed > req.head.head_len;
        match outcome {
            Outcome::Done(keep) | Outcome::Ended(keep) => return keep,
            Outcome::Stale if !t.fresh => resend = Some(Target { fresh: true, ..t }),
            Outcome::Stale | Outcome::ConnectFailed => {
                w.stats.error(ErrorKind::BackendConnect);
                report(w, req, cluster, &t, false);
                if body_sent {
                    return answer(w, conn, req, Response::error(502), true).await;
                }
                if let Some(i) = t.index {
                    plan.failed(t.sub, i);
                }
            }
            Outcome::NoResponse { status } => {
                report(w, req, cluster, &t, false);
                if !get_retry || body_sent {
                    return answer(w, conn, req, Response::error(status), true).await;
                }
                last_status = status;
                if let Some(i) = t.index {
                    plan.failed(t.sub, i);
                }
            }
            Outcome::BadResponse { status } => {
                return answer(w, conn, req, Response::error(status), true).await;
            }
        }
    }
    w.stats.error(ErrorKind::BackendUnavailable);
    answer(w, conn, req, Response::error(last_status), !req.body_done).await
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

/// One try on one backend.
async fn attempt<S: ClientIo>(
    w: &Worker,
    conn: &mut ClientConn<S>,
    req: &mut Request,
    body: &mut Pump,
    cluster: &Cluster,
    t: &Target,
) -> Outcome {
    let addr = t.addr;
    let pooled = if t.fresh { None } else { w.take_upstream(addr) };
    let reused = pooled.is_some();
    let mut up = match pooled {
        Some(s) => {
            Stats::inc(&w.stats.upstream_reuse);
            s
        }
        None => match upstream::connect(addr, cluster.backend.timeout_conn_srv).await {
            Ok(s) => {
                Stats::inc(&w.stats.upstream_connect);
                s
            }
            Err(_) => return Outcome::ConnectFailed,
        },
    };
    let backend_timeout = cluster.backend.timeout_response_header;

    // Request head, plus whatever of the body already arrived with it.
    let mut out = w.bufs.borrow_mut().take();
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
        match body.feed(&req.buf[req.consumed..], &mut out) {
            Ok(n) => req.consumed += n,
            Err(e) => {
                w.bufs.borrow_mut().give(out);
                w.stats.error(ErrorKind::ClientBadRequest);
                return Outcome::Ended(reply_bad(w, conn, req, e.status()).await);
            }
        }
        req.body_done = body.is_done();
    }
    let (r, out) = write_from(&mut up, out, 0, backend_timeout).await;
    w.bufs.borrow_mut().give(out);
    if r.is_err() {
        if reused && req.head.body.is_none() {
            return Outcome::Stale;
        }
        w.stats.error(ErrorKind::BackendBroken);
        return Outcome::NoResponse { status: 502 };
    }

    // The rest of the request body, streamed from the client.
    if !body.is_done() {
        if req.head.expect_continue && body.seen == 0 {
            let c = CONTINUE_100.to_vec();
            let (r, _) = write_from(&mut conn.stream, c, 0, w.conf.client_write_timeout).await;
            if r.is_err() {
                w.stats.error(ErrorKind::ClientClose);
                return Outcome::Ended(false);
            }
        }
        if let Err(o) = request_body(w, conn, req, body, &mut up, cluster).await {
            return o;
        }
    }

    // Response head (1xx interim responses are consumed here).
    let mut ubuf = w.bufs.borrow_mut().take();
    let mut rhead = std::mem::take(&mut req.rhead);
    let deadline = Instant::now() + backend_timeout;
    let is_head = req.is_head();
    loop {
        if !ubuf.is_empty() {
            match parse_response(&ubuf, is_head, w.limits.max_header_bytes, &mut rhead) {
                Ok(true) if (100..200).contains(&rhead.status) && rhead.status != 101 => {
                    ubuf.drain(..rhead.head_len);
                    continue;
                }
                Ok(true) => break,
                Ok(false) => {}
                Err(_) => {
                    w.stats.error(ErrorKind::BackendBroken);
                    w.bufs.borrow_mut().give(ubuf);
                    return Outcome::NoResponse { status: 502 };
                }
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match read_more(&mut up, &mut ubuf, HEAD_READ, left).await {
            Ok(_) => {}
            Err(IoErr::Timeout) => {
                w.stats.error(ErrorKind::BackendTimeout);
                w.bufs.borrow_mut().give(ubuf);
                return Outcome::NoResponse { status: 504 };
            }
            Err(_) => {
                let nothing = ubuf.is_empty();
                w.bufs.borrow_mut().give(ubuf);
                if nothing && reused && req.head.body.is_none() {
                    return Outcome::Stale;
                }
                w.stats.error(ErrorKind::BackendBroken);
                return Outcome::NoResponse { status: 502 };
            }
        }
    }
    // The backend answered: its health goes by the status
    // (`OutlierDetectionHttpCode` lists the ones that count as failures).
    let outlier = cluster
        .backend
        .outlier_detection_http_code
        .contains(&rhead.status);
    report(w, req, cluster, t, !outlier);
    if rhead.status == 101 {
        w.stats.error(ErrorKind::BackendBroken);
        w.bufs.borrow_mut().give(ubuf);
        return Outcome::BadResponse { status: 502 };
    }

    // HandleReadResponse.
    let mut res = Response::from_backend(ubuf, rhead);
    let mut close_after = false;
    match w.cbs.run_response(Point::ReadResponse, req, &mut res) {
        Ret::GoOn => {}
        Ret::Finish => close_after = true,
        Ret::Close => {
            w.stats.error(ErrorKind::HandlerAbort);
            give_back(w, req, res);
            return Outcome::Ended(false);
        }
        Ret::Redirect => {
            let r = redirect_response(req);
            return Outcome::Ended(replace_response(w, conn, req, res, r).await);
        }
        Ret::Response => {
            if let Some(r) = req.reply.take() {
                return Outcome::Ended(replace_response(w, conn, req, res, r).await);
            }
        }
    }

    // Head to the client, re-framed for what the client understands.
    let client_version = req.head.version;
    let Some((_, rh)) = res.backend_head() else {
        return Outcome::BadResponse { status: 502 };
    };
    let (in_kind, head_len, backend_keep) = (rh.body, rh.head_len, rh.keep_alive);
    let (out_kind, relay_length) = match in_kind {
        BodyKind::None => (BodyKind::None, relayed_length(&res)),
        BodyKind::Length(n) => (BodyKind::Length(n), None),
        BodyKind::Chunked | BodyKind::UntilClose if client_version == Version::Http11 => {
            (BodyKind::Chunked, None)
        }
        _ => (BodyKind::UntilClose, None),
    };
    let mut keep_alive = req.head.keep_alive
        && req.body_done
        && !close_after
        && out_kind != BodyKind::UntilClose
        && w.conf.keep_alive_enabled;
    let status = res.status();
    let mut out = w.bufs.borrow_mut().take();
    let Some((rbuf, rh)) = res.backend_head() else {
        return Outcome::BadResponse { status: 502 };
    };
    write::response_head(
        &mut out,
        rbuf,
        rh,
        &res.edits,
        res.reason_override().map(str::as_bytes),
        ResponseFraming {
            client_version,
            status,
            body: out_kind,
            relay_length,
            keep_alive,
        },
    );
    let mut pump = Pump::new(in_kind, out_kind == BodyKind::Chunked);
    let arrived = &res.backend_buf_mut()[head_len..];
    // Body bytes that came with the head: sent from where they were read
    // when they go out as they came, framed into `out` otherwise.
    let (fed, inline) = if pump.is_direct() {
        let n = arrived.len().min(pump.wanted());
        pump.advance_direct(n);
        (n, n)
    } else {
        match pump.feed(arrived, &mut out) {
            Ok(n) => (n, 0),
            Err(_) => {
                w.stats.error(ErrorKind::BackendBroken);
                w.bufs.borrow_mut().give(out);
                give_back(w, req, res);
                return Outcome::BadResponse { status: 502 };
            }
        }
    };
    // Bytes past the declared body: the backend connection is unusable.
    let mut upstream_clean = head_len + fed == res.backend_buf_mut().len();
    // A body buffer only for a response whose body is still to come.
    let mut body_buf = Vec::new();
    let filled = {
        let b = res.backend_buf_mut();
        b.len() == b.capacity()
    };
    if pump.is_direct() && !pump.is_done() && (inline == 0 || filled) {
        // More body is due and either the head came alone (backends often
        // write it before the body) or the read filled the head buffer (so
        // more is most likely waiting). Like nginx's postpone_output, the
        // head waits for those bytes so that everything leaves in one
        // write; a backend that never sends them is answered 502/504 here
        // instead of a head with a truncated body.
        body_buf = w.take_body_buf(pump.wanted());
        if let Err(e) = read_more(&mut up, &mut body_buf, pump.wanted(), backend_timeout).await {
            let status = if matches!(e, IoErr::Timeout) {
                504
            } else {
                502
            };
            w.stats.error(ErrorKind::BackendBroken);
            w.give_buf(body_buf);
            w.bufs.borrow_mut().give(out);
            give_back(w, req, res);
            return Outcome::BadResponse { status };
        }
        pump.advance_direct(body_buf.len());
    }
    req.status = status;
    w.stats.count_status(status);
    let write_timeout = w.conf.client_write_timeout;
    let (r, out) = if inline > 0 || !body_buf.is_empty() {
        let body_len = body_buf.len();
        let parts = [
            (out, None),
            (
                std::mem::take(res.backend_buf_mut()),
                Some(head_len..head_len + inline),
            ),
            (body_buf, Some(0..body_len)),
        ];
        let (r, [out, buf, b]) = write_parts(&mut conn.stream, parts, write_timeout).await;
        *res.backend_buf_mut() = buf;
        body_buf = b;
        (r, out)
    } else {
        write_from(&mut conn.stream, out, 0, write_timeout).await
    };
    w.bufs.borrow_mut().give(out);
    if r.is_err() {
        w.stats.error(ErrorKind::ClientClose);
        w.give_buf(body_buf);
        give_back(w, req, res);
        return Outcome::Ended(false);
    }
    if pump.is_done() {
        w.give_buf(body_buf);
    } else {
        // The head stays in the response's buffer for HandleRequestFinish.
        let pumped = response_body(w, conn, &mut up, &mut pump, body_buf, backend_timeout);
        match pumped.await {
            Ok(clean) => upstream_clean &= clean,
            Err(()) => {
                give_back(w, req, res);
                return Outcome::Ended(false);
            }
        }
    }
    if backend_keep && upstream_clean && pump.is_done() {
        w.put_upstream(addr, up, cluster.backend.max_idle_conns_per_host);
    }

    // HandleRequestFinish.
    match w.cbs.run_response(Point::RequestFinish, req, &mut res) {
        Ret::Finish | Ret::Close => keep_alive = false,
        _ => {}
    }
    give_back(w, req, res);
    Outcome::Done(keep_alive)
}

/// Return a backend response's buffer to the pool and its head index to
/// the request, for the next request of the connection to reuse.
fn give_back(w: &Worker, req: &mut Request, res: Response) {
    if let Some((buf, head)) = res.into_backend() {
        w.bufs.borrow_mut().give(buf);
        req.rhead = head;
    }
}

/// The backend's Content-Length, relayed on HEAD and 304 responses where it
/// describes the representation rather than a body that follows.
fn relayed_length(res: &Response) -> Option<u64> {
    let v = res.header("content-length")?;
    std::str::from_utf8(v).ok()?.trim().parse().ok()
}

/// HandleReadResponse returned Redirect or Response: the backend response
/// is dropped unread (and its connection with it) and `r` sent instead.
async fn replace_response<S: ClientIo>(
    w: &Worker,
    conn: &mut ClientConn<S>,
    req: &mut Request,
    res: Response,
    mut r: Response,
) -> bool {
    give_back(w, req, res);
    let keep = req.head.keep_alive && req.body_done;
    let keep = reply::send(w, &mut conn.stream, req, &r, keep).await;
    finish_local(w, req, &mut r, keep)
}

/// Run HandleRequestFinish for a response ringfront made itself.
pub(crate) fn finish_local(w: &Worker, req: &mut Request, res: &mut Response, keep: bool) -> bool {
    let ret = w.cbs.run_response(Point::RequestFinish, req, res);
    keep && !matches!(ret, Ret::Finish | Ret::Close)
}

/// Answer a malformed or too slow request body.
async fn reply_bad<S: ClientIo>(
    w: &Worker,
    conn: &mut ClientConn<S>,
    req: &mut Request,
    status: u16,
) -> bool {
    req.body_done = false;
    reply::send(w, &mut conn.stream, req, &Response::error(status), false).await;
    false
}

/// Stream the rest of the request body from the client to the backend.
async fn request_body<S: ClientIo>(
    w: &Worker,
    conn: &mut ClientConn<S>,
    req: &mut Request,
    body: &mut Pump,
    up: &mut TcpStream,
    cluster: &Cluster,
) -> Result<(), Outcome> {
    // Everything in the request buffer belongs to this body now.
    req.consumed = req.buf.len();
    let mut scratch = w.take_body_buf(body.wanted());
    let mut out = framing_buf(w, body);
    let read_timeout = cluster.basic.timeout_read_client;
    let write_timeout = cluster.backend.timeout_response_header;
    let result = loop {
        if body.is_done() {
            break Ok(());
        }
        scratch.clear();
        match read_more(&mut conn.stream, &mut scratch, body.wanted(), read_timeout).await {
            Ok(_) => {}
            Err(IoErr::Timeout) => {
                w.stats.error(ErrorKind::ClientTimeout);
                break Err(Outcome::Ended(reply_bad(w, conn, req, 408).await));
            }
            Err(_) => {
                w.stats.error(ErrorKind::ClientClose);
                break Err(Outcome::Ended(false));
            }
        }
        match relay(body, &mut scratch, &mut out, up, write_timeout).await {
            Relayed::Sent { used } => {
                // Bytes past a chunked body's end: the next request's.
                if used < scratch.len() {
                    req.carry.extend_from_slice(&scratch[used..]);
                }
            }
            Relayed::BadFraming(e) => {
                w.stats.error(ErrorKind::ClientBadRequest);
                break Err(Outcome::Ended(reply_bad(w, conn, req, e.status()).await));
            }
            Relayed::WriteFailed => {
                w.stats.error(ErrorKind::BackendBroken);
                break Err(Outcome::NoResponse { status: 502 });
            }
        }
    };
    req.body_done = body.is_done();
    w.give_buf(scratch);
    w.give_buf(out);
    result
}

/// The buffer a body is re-framed into; none for one forwarded as it came.
fn framing_buf(w: &Worker, pump: &Pump) -> Vec<u8> {
    match pump.is_direct() {
        true => Vec::new(),
        false => w.take_body_buf(pump.wanted()),
    }
}

/// What sending on one read's worth of body did.
enum Relayed {
    /// Sent; `used` bytes of the read belonged to the body.
    Sent { used: usize },
    /// The incoming chunked framing is broken.
    BadFraming(ChunkError),
    /// The sink failed or timed out.
    WriteFailed,
}

/// Send the body bytes in `scratch` on to `sink`: as they are when the
/// body goes out as it came, else re-framed through `out`. Both buffers
/// come back in place.
async fn relay<W: AsyncWriteRent>(
    pump: &mut Pump,
    scratch: &mut Vec<u8>,
    out: &mut Vec<u8>,
    sink: &mut W,
    timeout: std::time::Duration,
) -> Relayed {
    let (used, buf) = if pump.is_direct() {
        pump.advance_direct(scratch.len());
        (scratch.len(), scratch)
    } else {
        out.clear();
        match pump.feed(scratch, out) {
            Ok(n) => (n, out),
            Err(e) => return Relayed::BadFraming(e),
        }
    };
    let (r, back) = write_from(sink, std::mem::take(buf), 0, timeout).await;
    *buf = back;
    match r {
        Ok(()) => Relayed::Sent { used },
        Err(_) => Relayed::WriteFailed,
    }
}

/// Stream the rest of the response body from the backend to the client.
/// `Ok(clean)`: done, and whether the backend sent nothing extra.
/// `Err(())`: the client or the backend broke off; close both.
async fn response_body<S: ClientIo>(
    w: &Worker,
    conn: &mut ClientConn<S>,
    up: &mut TcpStream,
    pump: &mut Pump,
    scratch: Vec<u8>,
    backend_timeout: std::time::Duration,
) -> Result<bool, ()> {
    let mut scratch = match scratch.capacity() {
        0 => w.take_body_buf(pump.wanted()),
        _ => scratch,
    };
    let mut out = framing_buf(w, pump);
    let r = pump_response(w, conn, up, pump, &mut scratch, &mut out, backend_timeout).await;
    w.give_buf(scratch);
    w.give_buf(out);
    r
}

async fn pump_response<S: ClientIo>(
    w: &Worker,
    conn: &mut ClientConn<S>,
    up: &mut TcpStream,
    pump: &mut Pump,
    scratch: &mut Vec<u8>,
    out: &mut Vec<u8>,
    backend_timeout: std::time::Duration,
) -> Result<bool, ()> {
    let write_timeout = w.conf.client_write_timeout;
    let mut clean = true;
    while !pump.is_done() {
        scratch.clear();
        match read_more(up, scratch, pump.wanted(), backend_timeout).await {
            Ok(_) => {}
            Err(IoErr::Closed) => {
                out.clear();
                if !pump.source_closed(out) {
                    w.stats.error(ErrorKind::BackendBroken);
                    return Err(());
                }
                clean = false;
                let (r, o) =
                    write_from(&mut conn.stream, std::mem::take(out), 0, write_timeout).await;
                *out = o;
                if r.is_err() {
                    w.stats.error(ErrorKind::ClientClose);
                    return Err(());
                }
                break;
            }
            Err(_) => {
                w.stats.error(ErrorKind::BackendBroken);
                return Err(());
            }
        }
        match relay(pump, scratch, out, &mut conn.stream, write_timeout).await {
            Relayed::Sent { used } => clean &= used == scratch.len(),
            Relayed::BadFraming(_) => {
                w.stats.error(ErrorKind::BackendBroken);
                return Err(());
            }
            Relayed::WriteFailed => {
                w.stats.error(ErrorKind::ClientClose);
                return Err(());
            }
        }
    }
    Ok(clean)
}
