//! Answers ringfront makes itself, and what a handler's return value at a
//! request point means for the connection.

use super::downstream::{Disposition, Downstream};
use crate::basic::{Request, Response};
use crate::module::{Point, Ret};
use crate::worker::Worker;

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

/// Answer `res` (made in the proxy) and run HandleRequestFinish on it.
pub(crate) async fn answer<D: Downstream>(
    w: &Worker,
    d: &mut D,
    req: &mut Request,
    mut res: Response,
    close: bool,
) -> Disposition {
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
    let ret = w.cbs.run_response(Point::RequestFinish, req, res);
    disp.keep_if(!matches!(ret, Ret::Finish | Ret::Close))
}
