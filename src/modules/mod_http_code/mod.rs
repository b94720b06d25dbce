//! mod_http_code: counts the responses sent per status class
//! (`ALL2_X_X` … `ALL5_X_X`, BFE's names) at HandleRequestFinish. The
//! counters are per worker and summed on `/monitor/mod_http_code`.

use crate::basic::{Request, Response};
use crate::module::{Counters, InitCtx, Module, ModuleError, ResponsePoint, Ret, WebHandlers};

pub const NAME: &str = "mod_http_code";
/// Counter keys: BFE's `All2XX` … `All5XX` through go-lib's naming.
pub const COUNTERS: [&str; 4] = ["ALL2_X_X", "ALL3_X_X", "ALL4_X_X", "ALL5_X_X"];

/// HandleRequestFinish: count the response's class. A request that got no
/// response (`Response::none()`, status 0) and 1xx are not counted, as in
/// BFE.
pub fn request_finish(c: &Counters, _req: &mut Request, res: &mut Response) -> Ret {
    let class = res.status() / 100;
    if (2..=5).contains(&class) {
        c.inc(usize::from(class - 2));
    }
    Ret::GoOn
}

pub struct ModHttpCode;

impl Module for ModHttpCode {
    fn name(&self) -> &'static str {
        NAME
    }

    fn web(&self, web: &mut WebHandlers) {
        web.monitor(NAME);
    }

    fn init(&self, ctx: &mut InitCtx<'_>) -> Result<(), ModuleError> {
        let c = ctx.counters(&COUNTERS)?;
        ctx.callbacks()
            .on_response(ResponsePoint::RequestFinish, move |req, res| {
                request_finish(&c, req, res)
            });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::basic::RequestBuilder;

    #[test]
    fn counts_by_class_and_skips_none() {
        let c = Counters::new(&COUNTERS);
        let mut req = RequestBuilder::get("h", "/").build();
        for s in [200, 204, 301, 404, 403, 502, 101] {
            assert_eq!(
                request_finish(&c, &mut req, &mut Response::new(s)),
                Ret::GoOn
            );
        }
        request_finish(&c, &mut req, &mut Response::none());
        let v: Vec<u64> = (0..4).map(|i| c.get(i)).collect();
        assert_eq!(v, [2, 1, 2, 1]);
    }
}
