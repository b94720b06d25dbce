//! `mod_probe`, a module compiled only for tests: it records every callback
//! point it sees and returns, at each point, what the test told it to.

use ringfront::basic::Response;
use ringfront::module::{Handler, InitCtx, Module, ModuleError, ModuleRegistry, Point, Ret};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// What a test sets and reads. Shared by every worker's instance (a test
/// convenience; real modules keep per-worker state).
#[derive(Default)]
pub struct Script {
    /// (session id, worker, point) in the order seen.
    pub seen: Vec<(u64, usize, Point)>,
    /// Value to return at a point (GoOn when absent).
    pub returns: HashMap<Point, Ret>,
    /// Whether a Request-type handler attaches a response.
    pub with_response: bool,
    /// Points at which the handler panics (after recording the point).
    pub panics: HashSet<Point>,
    /// The response's Content-Length as HandleRequestFinish saw it, per
    /// request: the head must still be readable after its body streamed.
    pub finish_lengths: Vec<Option<String>>,
    /// The response status HandleRequestFinish saw, per request (0: no
    /// response was sent).
    pub finish_statuses: Vec<u16>,
}

pub type Shared = Arc<Mutex<Script>>;

pub struct Probe {
    script: Shared,
}

impl Probe {
    /// A registry of the built-in modules plus `mod_probe`.
    pub fn registry(script: Shared) -> ModuleRegistry {
        let mut r = ringfront::modules::registry();
        r.register(Arc::new(Probe { script }));
        r
    }
}

fn note(s: &Shared, ses: u64, worker: usize, p: Point) -> Ret {
    let (ret, panic) = {
        let mut g = s.lock().unwrap();
        g.seen.push((ses, worker, p));
        let ret = g.returns.get(&p).copied().unwrap_or(Ret::GoOn);
        (ret, g.panics.contains(&p))
    };
    // The lock is released first, so the script stays usable.
    if panic {
        panic!("mod_probe scripted panic at {}", p.name());
    }
    ret
}

impl Module for Probe {
    fn name(&self) -> &'static str {
        "mod_probe"
    }

    fn init(&self, ctx: &mut InitCtx<'_>) -> Result<(), ModuleError> {
        for p in Point::ALL {
            let s = self.script.clone();
            let h = match p.handler_type() {
                ringfront::module::HandlerType::Accept => {
                    Handler::Accept(Box::new(move |ses| note(&s, ses.id, ses.worker, p)))
                }
                ringfront::module::HandlerType::Request => Handler::Request(Box::new(move |req| {
                    let r = note(&s, req.ses.id, req.ses.worker, p);
                    if r == Ret::Redirect {
                        req.set_redirect("http://elsewhere.example/", 302);
                    }
                    let with = s.lock().unwrap().with_response;
                    let res =
                        with.then(|| Response::new(403).with_body(format!("probe {}", p.name())));
                    (r, res)
                })),
                ringfront::module::HandlerType::Forward => {
                    Handler::Forward(Box::new(move |req| note(&s, req.ses.id, req.ses.worker, p)))
                }
                ringfront::module::HandlerType::Response => {
                    Handler::Response(Box::new(move |req, res| {
                        let r = note(&s, req.ses.id, req.ses.worker, p);
                        if p == Point::RequestFinish {
                            let len = res.header("content-length");
                            let len = len.map(|v| String::from_utf8_lossy(v).into_owned());
                            let mut g = s.lock().unwrap();
                            g.finish_lengths.push(len);
                            g.finish_statuses.push(res.status());
                        }
                        if p == Point::ReadResponse {
                            res.set_header("X-Probe", "seen");
                            match r {
                                Ret::Redirect => req.set_redirect("http://elsewhere.example/", 307),
                                Ret::Response => {
                                    req.reply =
                                        Some(Box::new(Response::new(418).with_body("probe reply")))
                                }
                                _ => {}
                            }
                        }
                        r
                    }))
                }
                ringfront::module::HandlerType::Finish => {
                    Handler::Finish(Box::new(move |ses| note(&s, ses.id, ses.worker, p)))
                }
            };
            ctx.callbacks().add_handler(p, h)?;
        }
        Ok(())
    }
}
