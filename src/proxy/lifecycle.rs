//! One request through the callback points, independent of the client's
//! protocol: HandleBeforeLocation, the product, HandleFoundProduct, the
//! cluster, HandleAfterLocation, then forwarding (HandleForward,
//! HandleReadResponse and HandleRequestFinish run there). The client is
//! reached only through a [`Downstream`].

use super::downstream::{Disposition, Downstream};
use super::forward;
use super::reply::{answer, verdict, Verdict};
use crate::basic::{ErrorKind, Request, Response};
use crate::module::Point;
use crate::route::RequestFacts;
use crate::worker::Worker;
use std::time::Instant;

/// Run one request through the lifecycle; the disposition says whether
/// the connection may serve another.
pub(crate) async fn run<D: Downstream>(w: &Worker, d: &mut D, req: &mut Request) -> Disposition {
    if let Some(disp) = request_point(w, d, req, Point::BeforeLocation).await {
        return disp;
    }
    let gen = req.gen.clone();
    let Some(product) = gen.snapshot.route.find_product(req.host(), req.vip()) else {
        return fail(w, d, req, ErrorKind::NoProduct, "no product for the host").await;
    };
    req.route.product = Some(product);
    req.stat.product_found = Some(Instant::now());
    if let Some(disp) = request_point(w, d, req, Point::FoundProduct).await {
        return disp;
    }
    let Some(cluster) = gen.snapshot.route.find_cluster(product, req) else {
        return fail(w, d, req, ErrorKind::NoCluster, "no route rule matched").await;
    };
    req.route.cluster = Some(cluster);
    req.stat.cluster_found = Some(Instant::now());
    if let Some(disp) = request_point(w, d, req, Point::AfterLocation).await {
        return disp;
    }
    forward::run(w, d, req).await
}

/// A routing failure: counted, recorded on the request, answered with the
/// kind's status, and the connection closed.
async fn fail<D: Downstream>(
    w: &Worker,
    d: &mut D,
    req: &mut Request,
    kind: ErrorKind,
    msg: &'static str,
) -> Disposition {
    w.stats.error(kind);
    req.fail(kind, msg);
    answer(w, d, req, Response::error(kind.status()), false).await
}

/// Run a Request-type point; `Some(disposition)` when a handler ended the
/// request there.
async fn request_point<D: Downstream>(
    w: &Worker,
    d: &mut D,
    req: &mut Request,
    point: Point,
) -> Option<Disposition> {
    let (ret, res) = w.cbs.run_request(point, req);
    match verdict(ret, res, req) {
        Verdict::Continue => None,
        Verdict::Answer { res, close } => Some(answer(w, d, req, res, close).await),
        Verdict::Close => {
            w.stats.error(ErrorKind::HandlerAbort);
            req.fail(ErrorKind::HandlerAbort, point.name());
            Some(Disposition::Reset)
        }
    }
}
