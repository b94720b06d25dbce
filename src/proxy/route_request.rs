//! Locating a request: HandleBeforeLocation, the product, HandleFoundProduct,
//! the cluster, HandleAfterLocation; then forwarding.

use super::conn::{answer, ClientConn, ClientIo};
use super::forward;
use super::reply::{verdict, Verdict};
use crate::basic::ErrorKind;
use crate::basic::{Request, Response};
use crate::module::Point;
use crate::route::RequestFacts;
use crate::worker::Worker;

/// Run one request through the lifecycle; true if the connection may be
/// kept for another request.
pub(crate) async fn run<S: ClientIo>(
    w: &Worker,
    conn: &mut ClientConn<S>,
    req: &mut Request,
) -> bool {
    if let Some(keep) = request_point(w, conn, req, Point::BeforeLocation).await {
        return keep;
    }
    let gen = req.gen.clone();
    let Some(product) = gen.snapshot.route.find_product(req.host(), req.vip()) else {
        w.stats.error(ErrorKind::NoProduct);
        return answer(w, conn, req, Response::error(500), false).await;
    };
    req.route.product = Some(product);
    if let Some(keep) = request_point(w, conn, req, Point::FoundProduct).await {
        return keep;
    }
    let Some(cluster) = gen.snapshot.route.find_cluster(product, req) else {
        w.stats.error(ErrorKind::NoCluster);
        return answer(w, conn, req, Response::error(500), false).await;
    };
    req.route.cluster = Some(cluster);
    if let Some(keep) = request_point(w, conn, req, Point::AfterLocation).await {
        return keep;
    }
    forward::run(w, conn, req).await
}

/// Run a Request-type point; `Some(keep_alive)` when a handler ended the
/// request there.
async fn request_point<S: ClientIo>(
    w: &Worker,
    conn: &mut ClientConn<S>,
    req: &mut Request,
    point: Point,
) -> Option<bool> {
    let (ret, res) = w.cbs.run_request(point, req);
    match verdict(ret, res, req) {
        Verdict::Continue => None,
        Verdict::Answer { res, close } => Some(answer(w, conn, req, res, close).await),
        Verdict::Close => {
            w.stats.error(ErrorKind::HandlerAbort);
            Some(false)
        }
    }
}
