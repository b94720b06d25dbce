//! Answers ringfront makes itself, and what a handler's return value at a
//! request point means for the connection.

use super::io::{write_from, IoErr};
use crate::basic::ErrorKind;
use crate::basic::{Body, Request, Response};
use crate::http::write::{self, ResponseFraming};
use crate::http::{BodyKind, Version};
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
            for (n, v) in &r.headers {
                res = res.with_header(n, v);
            }
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
    write_local(&mut out, res, req.head.version, keep_alive, req.is_head());
    req.status = res.status();
    w.stats.count_status(res.status());
    let (r, out) = write_from(stream, out, 0, w.conf.client_write_timeout).await;
    w.bufs.borrow_mut().give(out);
    match r {
        Ok(()) => keep_alive,
        Err(IoErr::Timeout) => {
            w.stats.error(ErrorKind::ClientTimeout);
            false
        }
        Err(_) => {
            w.stats.error(ErrorKind::ClientClose);
            false
        }
    }
}

/// A response made in the proxy, as HTTP/1.1 bytes: head, then the body
/// when it is held in memory and the request was not HEAD.
pub(crate) fn write_local(
    out: &mut Vec<u8>,
    res: &Response,
    client_version: Version,
    keep_alive: bool,
    head_only: bool,
) {
    let status = res.status();
    write::status_line(out, status, res.reason().as_bytes());
    for (n, v) in res.headers() {
        write::end_to_end_header(out, n, v);
    }
    let has_body = crate::http::framing::response_has_body(false, status);
    let len = res.body.len().unwrap_or(0);
    write::end_head(
        out,
        ResponseFraming {
            client_version,
            status,
            body: if has_body {
                BodyKind::Length(len)
            } else {
                BodyKind::None
            },
            relay_length: None,
            keep_alive,
        },
    );
    if let (false, true, Body::Bytes(b)) = (head_only, has_body, &res.body) {
        out.extend_from_slice(b);
    }
}
