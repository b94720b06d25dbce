//! WebSocket handshakes (RFC 6455 §4), as BFE detects and forwards them.
//!
//! The handshake is an ordinary request: it is routed, the request points
//! run (so block, redirect and header rules apply), and it is forwarded
//! with its upgrade headers ([`crate::http::write::request_head`] keeps
//! them for a request the parser marked `upgrade`: `GET`, `Upgrade:
//! websocket`, `upgrade` among the `Connection` tokens). Any answer but a
//! 101 is relayed as a normal response by [`super::relay`]. On a 101,
//! [`switch`] runs HandleReadResponse on it, relays its head, and hands
//! both connections to [`super::tunnel`]; HandleRequestFinish runs once,
//! when the tunnel ends, with the 101 and the tunnel's bytes counted as
//! the request's body lengths. The client connection closes after it.

use super::attempt::Outcome;
use super::downstream::{Disposition, Downstream, Upstream};
use super::guard::GaugeGuard;
use super::reply::{finish_local, read_response, request_finish, send_answer, AfterRead};
use super::tunnel::End;
use crate::basic::{ErrorKind, Request, Response};
use crate::config::Cluster;
use crate::http::write;
use crate::worker::{Stats, Worker};
use std::cell::Cell;

/// Whether a backend's answer to a WebSocket handshake accepts it: a 101
/// with `Upgrade: websocket` and `upgrade` among its `Connection` tokens
/// (BFE's `CheckAcceptWebSocket`).
fn accepts_websocket(res: &Response) -> bool {
    let token = |v: &[u8]| {
        v.split(|&b| b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"upgrade"))
    };
    res.status() == 101
        && res
            .header("upgrade")
            .is_some_and(|v| v.trim_ascii().eq_ignore_ascii_case(b"websocket"))
        && res.header_values("connection").any(token)
}

/// The backend answered a WebSocket handshake with 101: HandleReadResponse,
/// the 101 to the client, the tunnel, then HandleRequestFinish. The client
/// connection closes after the tunnel. `body_seen`: request body bytes
/// already forwarded (a handshake may carry a body; it is forwarded as
/// BFE does).
pub(super) async fn switch<D: Downstream>(
    w: &Worker,
    d: &mut D,
    req: &mut Request,
    up: Upstream,
    res: &mut Response,
    cluster: &Cluster,
    body_seen: u64,
) -> Outcome {
    if !accepts_websocket(res) {
        // A 101 that switches to something else, or half says so: it
        // cannot be relayed as a response, nor tunnelled as WebSocket.
        w.stats.error(ErrorKind::BackendBroken);
        return Outcome::BadResponse(ErrorKind::BackendBroken);
    }
    match read_response(w, req, res) {
        AfterRead::Send { .. } => {}
        AfterRead::Drop => return Outcome::Ended(Disposition::Reset),
        AfterRead::Replace(mut r) => {
            // The backend's 101 is dropped with its connection; the
            // client gets the handler's answer and the connection closes.
            let disp = send_answer(w, d, req, &mut r, false).await;
            return Outcome::Ended(finish_local(w, req, &mut r, disp));
        }
    }
    let Some((buf, rh)) = res.backend_head() else {
        return Outcome::BadResponse(ErrorKind::BackendBroken);
    };
    let mut first = w.lend();
    let reason = res.reason_override().map(str::as_bytes);
    write::switching_head(&mut first, buf, rh, &res.edits, reason);
    let head_len = first.len();
    // Frames the backend sent right behind its 101.
    first.extend_from_slice(buf.get(rh.head_len..).unwrap_or_default());
    // Frames the client sent right behind its handshake (BFE forwards
    // these too): the rest of its read buffer, then what a chunked body's
    // read brought past its end.
    let mut early = Vec::new();
    if let Some(rest) = req.buf.get(req.consumed..) {
        early.extend_from_slice(rest);
    }
    early.append(&mut req.carry);
    req.consumed = req.buf.len();

    req.status = 101;
    w.stats.count_status(101);
    Stats::inc(&w.stats.web_socket_upgrade);
    Stats::inc(&w.stats.web_socket_active);
    // Down again however the tunnel ends, a dropped connection included.
    let active = GaugeGuard(&w.stats.web_socket_active);
    req.stat.mark(|t| &mut t.response_start);
    let idle = cluster.basic.timeout_read_client;
    let s = d.tunnel(w, first.take(), head_len, early, up, idle).await;
    drop(active);
    let add = |c: &Cell<u64>, n: u64| c.set(c.get() + n);
    add(&w.stats.web_socket_bytes_recv, s.recv);
    add(&w.stats.web_socket_bytes_sent, s.sent);
    match s.end {
        End::Closed => {}
        End::Broken => Stats::inc(&w.stats.web_socket_err_transfer),
        End::Idle => Stats::inc(&w.stats.web_socket_err_idle),
    }
    // `$req_body_len` and the like include the tunnel's bytes; the bytes
    // out are the session's, which the tunnel counted as it wrote.
    req.stat.body_len_in = body_seen + s.recv;
    req.stat.mark(|t| &mut t.response_end);
    request_finish(w, req, res);
    Outcome::Done(Disposition::Close)
}
