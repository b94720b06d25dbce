//! Answers ringfront makes itself, and what a handler's return value at a
//! request point means for the connection.

use super::downstream::{Disposition, Downstream};
use crate::basic::{ErrorKind, ProxyError, Request, Response};
use crate::module::{Point, Ret};
use crate::worker::Worker;

/// What to do after a request point's handlers ran.
pub(crate) enum Verdict {
    /// Keep going through the lifecycle.
    Continue,
    /// Send this response; then close if `close`. With `read`,
    /// HandleReadResponse runs on it first.
    Answer {
        res: Response,
        close: bool,
        read: bool,
    },
    /// Close at once, sending nothing.
    Close,
}

/// BeforeLocation, FoundProduct, AfterLocation: all five values.
pub(crate) fn verdict(ret: Ret, res: Option<Response>, req: &mut Request) -> Verdict {
    match ret {
        Ret::GoOn => Verdict::Continue,
        // BFE: Finish and Redirect skip HandleReadResponse; a module's
        // Response goes through it like a backend's.
        Ret::Finish => Verdict::Answer {
            res: res.unwrap_or_else(|| Response::error(500)),
            close: true,
            read: false,
        },
        Ret::Redirect => Verdict::Answer {
            res: redirect_response(req),
            close: false,
            read: false,
        },
        Ret::Response => Verdict::Answer {
            res: res.unwrap_or_else(|| Response::error(500)),
            close: false,
            read: true,
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

/// A failure of the request: recorded on it (the access log's `$error`),
/// answered with the status the error table gives (nothing for kinds that
/// send nothing). The failure site has counted it.
pub(crate) async fn fail<D: Downstream>(
    w: &Worker,
    d: &mut D,
    req: &mut Request,
    e: ProxyError,
    msg: &'static str,
    close: bool,
) -> Disposition {
    req.fail(e, msg);
    if e.status == 0 {
        return Disposition::Reset;
    }
    answer(w, d, req, Response::error(e.status), close, true).await
}

/// What HandleReadResponse decided about a response.
pub(crate) enum AfterRead {
    /// Send it; close the connection afterwards if `close`.
    Send { close: bool },
    /// Send this one instead (a redirect, or the handler's reply).
    Replace(Response),
    /// Send nothing and drop the connection.
    Drop,
}

/// Run HandleReadResponse on `res`: a backend's response, a module's
/// answer (`Ret::Response` at a request point) or ringfront's own error
/// page, as in BFE.
pub(crate) fn read_response(w: &Worker, req: &mut Request, res: &mut Response) -> AfterRead {
    match w.cbs.run_response(Point::ReadResponse, req, res) {
        Ret::GoOn => AfterRead::Send { close: false },
        Ret::Finish => AfterRead::Send { close: true },
        Ret::Close => {
            w.stats.error(ErrorKind::HandlerAbort);
            req.fail(ErrorKind::HandlerAbort, "HandleReadResponse returned Close");
            AfterRead::Drop
        }
        Ret::Redirect => AfterRead::Replace(redirect_response(req)),
        Ret::Response => match req.reply.take() {
            Some(r) => AfterRead::Replace(r),
            None => AfterRead::Send { close: false },
        },
    }
}

/// Answer `res` (made in the proxy) and run HandleRequestFinish on it.
/// With `read`, HandleReadResponse runs on it first.
pub(crate) async fn answer<D: Downstream>(
    w: &Worker,
    d: &mut D,
    req: &mut Request,
    mut res: Response,
    close: bool,
    read: bool,
) -> Disposition {
    let mut close = close;
    if read {
        match read_response(w, req, &mut res) {
            AfterRead::Send { close: c } => close |= c,
            AfterRead::Replace(r) => res = r,
            AfterRead::Drop => return Disposition::Reset,
        }
    }
    let keep = !close && req.head.keep_alive && req.body_done;
    let disp = d.send_local(w, req, &res, keep).await;
    finish_local(w, req, &mut res, disp)
}

/// Run HandleRequestFinish for a response ringfront made itself.
pub(crate) fn finish_local(
    w: &Worker,
    req: &mut Request,
    res: &mut Response,
    disp: Disposition,
) -> Disposition {
    disp.keep_if(request_finish(w, req, res))
}

/// Run HandleRequestFinish, once per request; false when a handler asked
/// to close the connection.
pub(crate) fn request_finish(w: &Worker, req: &mut Request, res: &mut Response) -> bool {
    if req.finish_ran {
        return true;
    }
    req.finish_ran = true;
    let ret = w.cbs.run_response(Point::RequestFinish, req, res);
    !matches!(ret, Ret::Finish | Ret::Close)
}
