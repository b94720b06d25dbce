//! One request through the callback points, independent of the client's
//! protocol: HandleBeforeLocation, the product, HandleFoundProduct, the
//! cluster, HandleAfterLocation, then forwarding (HandleForward,
//! HandleReadResponse and HandleRequestFinish run there). The client is
//! reached only through a [`Downstream`].

use super::downstream::{Disposition, Downstream};
use super::forward;
use super::reply::{answer, fail, request_finish, verdict, Verdict};
use crate::basic::{ErrorKind, Request, Response};
use crate::module::{Point, Ret};
use crate::route::RequestFacts;
use crate::worker::Worker;

/// Run one request through the lifecycle; the disposition says whether
/// the connection may serve another. HandleRequestFinish runs for every
/// request, also one that ended without a response (it then sees
/// [`Response::none`]).
pub(crate) async fn run<D: Downstream>(w: &Worker, d: &mut D, req: &mut Request) -> Disposition {
    req.stat.mark(|t| &mut t.read_end);
    trusted_client_address(req);
    let disp = points(w, d, req).await;
    if req.finish_ran {
        return disp;
    }
    disp.keep_if(request_finish(w, req, &mut Response::none()))
}

/// Before BeforeLocation the client address is set (BFE's
/// `setClientAddr`): the session's, or, when mod_trust_clientip trusted the
/// session at HandleAccept, what the proxy in front says: a non-empty
/// `X-Real-Ip`, else the first `X-Forwarded-For` entry. A value that is not
/// an address leaves the session's.
fn trusted_client_address(req: &mut Request) {
    if !req.ses.trusted() {
        return;
    }
    let told = match req.header(b"x-real-ip").filter(|v| !v.is_empty()) {
        Some(v) => Some(v),
        None => req
            .header(b"x-forwarded-for")
            .and_then(|v| v.split(|&b| b == b',').next()),
    };
    let ip = told
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| v.trim().parse().ok());
    if let Some(ip) = ip {
        req.client_ip = ip;
    }
}

async fn points<D: Downstream>(w: &Worker, d: &mut D, req: &mut Request) -> Disposition {
    if let Some(disp) = request_point(w, d, req, Point::BeforeLocation).await {
        return disp;
    }
    let gen = req.gen.clone();
    let found = gen
        .snapshot
        .route
        .find_product_tagged(req.host(), req.vip());
    let Some((product, host_tag)) = found else {
        w.stats.error(ErrorKind::NoProduct);
        let e = ErrorKind::NoProduct.into();
        return fail(w, d, req, e, "no product for the host", false).await;
    };
    req.route.product = Some(product);
    req.route.host_tag = host_tag;
    req.stat.mark(|t| &mut t.product_found);
    if let Some(disp) = request_point(w, d, req, Point::FoundProduct).await {
        return disp;
    }
    let Some(cluster) = gen.snapshot.route.find_cluster(product, req) else {
        w.stats.error(ErrorKind::NoCluster);
        let e = ErrorKind::NoCluster.into();
        return fail(w, d, req, e, "no route rule matched", false).await;
    };
    req.route.cluster = Some(cluster);
    req.stat.mark(|t| &mut t.cluster_found);
    if let Some(disp) = request_point(w, d, req, Point::AfterLocation).await {
        return disp;
    }
    forward::run(w, d, req).await
}

/// Run a Request-type point; `Some(disposition)` when a handler ended the
/// request there.
async fn request_point<D: Downstream>(
    w: &Worker,
    d: &mut D,
    req: &mut Request,
    point: Point,
) -> Option<Disposition> {
    match decide(w, req, point) {
        Verdict::Continue => None,
        Verdict::Answer { res, close, read } => Some(answer(w, d, req, *res, close, read).await),
        Verdict::Close => {
            // A module that says why (mod_block, mod_prison) is counted
            // under its own kind.
            req.fail(ErrorKind::HandlerAbort, point.name());
            w.stats
                .error(req.error_kind().unwrap_or(ErrorKind::HandlerAbort));
            Some(Disposition::Reset)
        }
    }
}

/// The handlers' verdict at a request point, decided outside the async
/// state: their answer, if any, is boxed before it is kept across an await.
fn decide(w: &Worker, req: &mut Request, point: Point) -> Verdict {
    match w.cbs.run_request(point, req) {
        (Ret::GoOn, _) => Verdict::Continue,
        (ret, res) => verdict(ret, res, req),
    }
}
