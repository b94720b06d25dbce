//! One attempt's relay half: the backend answered, so HandleReadResponse
//! runs on its response, the head goes to the client through the
//! [`Downstream`] (re-framed for what the client understands) with the body
//! bytes already read, the rest of the body streams through, the backend
//! connection goes back to the pool when it is clean, and
//! HandleRequestFinish runs. The response belongs to the attempt
//! ([`super::forward`]), which hands its buffer back once the relay is done.

use super::attempt::Outcome;
use super::body::Pump;
use super::downstream::{Disposition, Downstream, Upstream};
use super::io::{read_more, IoErr};
use super::reply::{finish_local, read_response, request_finish, send_answer, AfterRead};
use crate::basic::{run_filters, ErrorKind, Request, Response};
use crate::config::Cluster;
use crate::http::write::ResponseFraming;
use crate::http::BodyKind;
use crate::worker::{Held, Lent, Worker};
use std::net::SocketAddr;
use std::time::Duration;

/// Relay the backend's response `res` arriving on `up` to the client.
pub(crate) async fn respond<D: Downstream>(
    w: &Worker,
    d: &mut D,
    req: &mut Request,
    mut up: Upstream,
    res: &mut Response,
    cluster: &Cluster,
    addr: SocketAddr,
) -> Outcome {
    d.set_write_timeout(cluster.basic.timeout_write_client);
    let close_after = match read_response(w, req, res) {
        AfterRead::Send { close } => close,
        AfterRead::Drop => {
            return Outcome::Ended(Disposition::Reset);
        }
        AfterRead::Replace(r) => {
            return Outcome::Ended(Box::pin(replace_response(w, d, req, r)).await);
        }
    };
    if res.has_body_filters() {
        // Boxed, as every path that most requests do not take.
        let filtered = relay_filtered(w, d, req, up, res, cluster, (addr, close_after));
        return Box::pin(filtered).await;
    }
    let Some((_, rh)) = res.backend_head() else {
        return Outcome::BadResponse(ErrorKind::BackendBroken);
    };
    let (in_kind, head_len, backend_keep) = (rh.body, rh.head_len, rh.keep_alive);
    let out_kind = d.response_framing(in_kind);
    let relay_length = match in_kind {
        BodyKind::None => relayed_length(res),
        _ => None,
    };
    let status = res.status();
    let framing = head_framing(w, d, req, (status, out_kind, relay_length), close_after);
    let mut keep_alive = framing.keep_alive;
    let mut pump = Pump::new(in_kind, out_kind == BodyKind::Chunked);
    let backend_timeout = cluster.backend.timeout_response_header;

    // Body bytes that came with the head go out with it when they go out
    // as they came; otherwise they are re-framed into the first part.
    let (fed, inline, mut first) = {
        let arrived = &res.backend_buf_mut()[head_len..];
        if pump.is_direct() {
            let n = arrived.len().min(pump.wanted());
            pump.advance_direct(n);
            (n, head_len..head_len + n, w.lend_none())
        } else {
            let mut framed = w.lend();
            match pump.feed(arrived, &mut framed) {
                Ok(n) => (n, head_len..head_len, framed),
                Err(_) => {
                    w.stats.error(ErrorKind::BackendBroken);
                    return Outcome::BadResponse(ErrorKind::BackendBroken);
                }
            }
        }
    };
    // Bytes past the declared body: the backend connection is unusable.
    let upstream_clean = head_len + fed == res.backend_buf_mut().len();
    let filled = {
        let b = res.backend_buf_mut();
        b.len() == b.capacity()
    };
    if pump.is_direct() && !pump.is_done() && (inline.is_empty() || filled) {
        // More body is due and either the head came alone (backends often
        // write it before the body) or the read filled the head buffer (so
        // more is most likely waiting). Like nginx's postpone_output, the
        // head waits for those bytes so that everything leaves in one
        // write; a backend that never sends them is answered 502/504 here
        // instead of a head with a truncated body.
        first = w.lend_body(pump.wanted());
        if let Err(e) = read_more(&mut up, &mut first, pump.wanted(), backend_timeout).await {
            let kind = e.backend_kind();
            w.stats.error(kind);
            return Outcome::BadResponse(kind);
        }
        pump.advance_direct(first.len());
    }
    // A body that fits is read whole now, and the backend connection
    // goes back to its pool before the client, however slow, gets a byte.
    let limit = cluster.basic.response_buffer;
    let _held = match hold_whole(w, &mut up, &mut pump, &mut first, limit, backend_timeout).await {
        Ok(held) => held,
        Err(kind) => {
            w.stats.error(kind);
            return Outcome::BadResponse(kind);
        }
    };
    let reuse = backend_keep && !cluster.backend.send_proxy_v2;
    let mut up = Some(up);
    if pump.is_done() && reuse && upstream_clean {
        if let Some(up) = up.take() {
            w.put_upstream(addr, up, cluster.backend.max_idle_conns_per_host);
        }
    }
    req.status = status;
    w.stats.count_status(status);
    req.stat.mark(|t| &mut t.response_start);
    let (r, back) = d.send_head(w, res, framing, inline, first.take()).await;
    first.put(back);
    if r.is_err() {
        w.stats.error(ErrorKind::ClientClose);
        req.ses.set_error(ErrorKind::ClientClose.into());
        return Outcome::Ended(Disposition::Reset);
    }
    if let (false, Some(mut conn)) = (pump.is_done(), up.take()) {
        // The head stays in the response's buffer for HandleRequestFinish.
        match d
            .send_body(w, &mut conn, &mut pump, first.take(), backend_timeout)
            .await
        {
            Ok(clean) if clean && upstream_clean && reuse && pump.is_done() => {
                w.put_upstream(addr, conn, cluster.backend.max_idle_conns_per_host);
            }
            Ok(_) => {}
            Err(()) => {
                // HandleRequestFinish sees the response that broke off.
                request_finish(w, req, res);
                return Outcome::Ended(Disposition::Reset);
            }
        }
    }
    req.stat.mark(|t| &mut t.response_end);

    keep_alive &= request_finish(w, req, res);
    Outcome::Done(Disposition::from_keep(keep_alive))
}

/// The relay for a response with body filters: the body is decoded from
/// the backend's framing, run through the filters a read at a time, and
/// sent with the client's framing for a body of unknown length.
async fn relay_filtered<D: Downstream>(
    w: &Worker,
    d: &mut D,
    req: &mut Request,
    mut up: Upstream,
    res: &mut Response,
    cluster: &Cluster,
    (addr, close_after): (SocketAddr, bool),
) -> Outcome {
    let Some((_, rh)) = res.backend_head() else {
        return Outcome::BadResponse(ErrorKind::BackendBroken);
    };
    let (in_kind, head_len, backend_keep) = (rh.body, rh.head_len, rh.keep_alive);
    let out_kind = match in_kind {
        BodyKind::None => BodyKind::None,
        _ => d.response_framing(BodyKind::UntilClose),
    };
    let status = res.status();
    let framing = head_framing(w, d, req, (status, out_kind, None), close_after);
    let keep_alive = framing.keep_alive;
    req.status = status;
    w.stats.count_status(status);
    req.stat.mark(|t| &mut t.response_start);
    let (r, _) = d.send_head(w, res, framing, 0..0, Vec::new()).await;
    if r.is_err() {
        w.stats.error(ErrorKind::ClientClose);
        req.ses.set_error(ErrorKind::ClientClose.into());
        request_finish(w, req, res);
        return Outcome::Ended(Disposition::Reset);
    }
    // Decode only: the downstream frames what the filters make.
    let mut pump = Pump::new(in_kind, false);
    let arrived = res.backend_buf_mut()[head_len..].to_vec();
    let timeout = cluster.backend.timeout_response_header;
    let r = match out_kind {
        // A body-less response (HEAD, 204, 304): the filters get nothing.
        BodyKind::None => Ok(arrived.is_empty()),
        _ => filter_body(w, d, &mut up, &mut pump, res, arrived, (out_kind, timeout)).await,
    };
    let keep = match r {
        Ok(clean) => {
            if backend_keep && clean && !cluster.backend.send_proxy_v2 {
                w.put_upstream(addr, up, cluster.backend.max_idle_conns_per_host);
            }
            keep_alive
        }
        Err(kind) => {
            w.stats.error(kind);
            req.fail(kind, "filtered response cut short");
            false
        }
    };
    req.stat.mark(|t| &mut t.response_end);
    let keep = request_finish(w, req, res) && keep;
    match (r.is_ok(), keep) {
        (true, k) => Outcome::Done(Disposition::from_keep(k)),
        (false, _) => Outcome::Ended(Disposition::Reset),
    }
}

/// Read, decode, filter and send the rest of a filtered body. `Ok`: done,
/// and whether the backend sent nothing past it.
async fn filter_body<D: Downstream>(
    w: &Worker,
    d: &mut D,
    up: &mut Upstream,
    pump: &mut Pump,
    res: &mut Response,
    arrived: Vec<u8>,
    (framing, timeout): (BodyKind, std::time::Duration),
) -> Result<bool, ErrorKind> {
    let mut input = w.lend_none().with(arrived);
    let mut decoded = Vec::new();
    let mut clean = true;
    loop {
        decoded.clear();
        let used = pump
            .feed(&input, &mut decoded)
            .map_err(|_| ErrorKind::BackendBroken)?;
        clean &= used == input.len();
        let end = pump.is_done();
        let mut out = Vec::with_capacity(decoded.len());
        run_filters(res.filters_mut(), &decoded, end, &mut out);
        if d.send_data(out, framing).await.0.is_err() {
            return Err(ErrorKind::ClientClose);
        }
        if end {
            break;
        }
        input.clear();
        if input.capacity() == 0 {
            input = w.lend_body(pump.wanted());
        }
        match read_more(up, &mut input, pump.wanted(), timeout).await {
            Ok(_) => {}
            Err(IoErr::Closed) if pump.source_closed(&mut decoded) => {
                let mut out = Vec::new();
                run_filters(res.filters_mut(), &[], true, &mut out);
                if d.send_data(out, framing).await.0.is_err() {
                    return Err(ErrorKind::ClientClose);
                }
                clean = false;
                break;
            }
            Err(IoErr::Timeout) => return Err(ErrorKind::BackendTimeout),
            Err(_) => return Err(ErrorKind::BackendBroken),
        }
    }
    d.finish_body(framing)
        .await
        .map_err(|_| ErrorKind::ClientClose)?;
    Ok(clean)
}

/// Read the rest of a response body of known length into `first` (after
/// what it holds) when it fits in `limit` bytes and the worker's budget:
/// `Some` with the budget it holds once the body is complete, `None` when
/// it must stream. Chunked and close-delimited bodies always stream: they
/// are how backends send events as they happen, which holding them would
/// delay.
async fn hold_whole<'w>(
    w: &'w Worker,
    up: &mut Upstream,
    pump: &mut Pump,
    first: &mut Lent<'w>,
    limit: usize,
    timeout: Duration,
) -> Result<Option<Held<'w>>, ErrorKind> {
    if pump.is_done() || !pump.is_direct() {
        return Ok(None);
    }
    let want = pump.wanted();
    let Some(held) = (want <= limit).then(|| w.buffered.hold(want)).flatten() else {
        return Ok(None);
    };
    if first.capacity() == 0 {
        // The body bytes so far came with the head: a pooled buffer, not
        // a fresh allocation, for the rest.
        *first = w.lend_body(want);
    }
    first.reserve_exact(want);
    while !pump.is_done() {
        let n = read_more(up, first, pump.wanted(), timeout)
            .await
            .map_err(|e| e.backend_kind())?;
        pump.advance_direct(n);
    }
    Ok(Some(held))
}

/// How a relayed response's head goes out: framed for the client as
/// `out_kind`, and whether the connection stays open after it (not when
/// the request body is unread, a handler asked to close, or the body is
/// close-delimited).
fn head_framing<D: Downstream>(
    w: &Worker,
    d: &D,
    req: &Request,
    (status, out_kind, relay_length): (u16, BodyKind, Option<u64>),
    close_after: bool,
) -> ResponseFraming {
    let keep_alive = req.head.keep_alive
        && req.body_done
        && !close_after
        && out_kind != BodyKind::UntilClose
        && w.conf.keep_alive_enabled;
    ResponseFraming {
        client_version: d.version(),
        status,
        body: out_kind,
        relay_length,
        keep_alive,
    }
}

/// The backend's Content-Length, relayed on HEAD and 304 responses where it
/// describes the representation rather than a body that follows.
fn relayed_length(res: &Response) -> Option<u64> {
    // The parser's rule: `0, 0` is a length of 0, not a missing one (which
    // left a 200 without any framing on a kept-alive connection).
    crate::http::content_length_list(res.header("content-length")?).ok()
}

/// HandleReadResponse returned Redirect or Response: the backend response
/// is dropped unread (and its connection with it) and `r` sent instead.
async fn replace_response<D: Downstream>(
    w: &Worker,
    d: &mut D,
    req: &mut Request,
    mut r: Response,
) -> Disposition {
    let keep = req.head.keep_alive && req.body_done;
    let disp = send_answer(w, d, req, &mut r, keep).await;
    finish_local(w, req, &mut r, disp)
}
