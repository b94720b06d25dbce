//! Answers ringfront makes itself, and what a handler's return value at a
//! request point means for the connection.

use super::io::{write_from, IoErr};
use super::request::Request;
use crate::http::{write, Response};
use crate::module::Ret;
use crate::worker::Worker;
use monoio::io::AsyncWriteRent;

/// What to do after a request point's handlers ran.
pub(crate) enum Verdict {
    /// Keep going through the lifecycle.
    Continue,
    /// Send this response; then close if `close`.
    Answer { res: Response, close: bool },
    /// Close at once, sending nothing.
    Close,
}

/// BeforeLocation, FoundProduct, AfterLocation: all five values.
pub(crate) fn verdict(ret: Ret, res: Option<Response>, req: &mut Request) -> Verdict {
    match ret {
        Ret::GoOn => Verdict::Continue,
        Ret::Finish => Verdict::Answer {
            res: res.unwrap_or_else(|| Response::error(500)),
            close: true,
        },
        Ret::Redirect => Verdict::Answer {
            res: redirect_response(req),
            close: false,
        },
        Ret::Response => Verdict::Answer {
            res: res.unwrap_or_else(|| Response::error(500)),
            close: false,
        },
        Ret::Close => Verdict::Close,
    }
}

/// The redirect a handler set on the request; 500 if it set none.
pub(crate) fn redirect_response(req: &mut Request) -> Response {
    match req.redirect.take() {
        Some(r) => {
            let code = if (300..400).contains(&r.code) {
                r.code
            } else {
                302
            };
            let mut res = Response::redirect(code, &r.url);
            res.headers.extend(r.headers);
            res
        }
        None => Response::error(500),
    }
}

/// Send a response made by ringfront. Returns whether the connection can
/// stay open afterwards.
pub(crate) async fn send<S: AsyncWriteRent>(
    w: &Worker,
    stream: &mut S,
    req: &mut Request,
    res: &Response,
    keep_alive: bool,
) -> bool {
    let mut out = w.bufs.borrow_mut().take();
    write::response(&mut out, res, req.head.version, keep_alive, req.is_head());
    req.status = res.status;
    w.stats.count_status(res.status);
    let (r, out) = write_from(stream, out, 0, w.conf.client_write_timeout).await;
    w.bufs.borrow_mut().give(out);
    match r {
        Ok(()) => keep_alive,
        Err(IoErr::Timeout) => {
            crate::worker::Stats::inc(&w.stats.err_client_timeout);
            false
        }
        Err(_) => {
            crate::worker::Stats::inc(&w.stats.err_client_closed);
            false
        }
    }
}
