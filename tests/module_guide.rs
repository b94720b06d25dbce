//! The example module of docs/writing-a-module.md, compiled and tested, so
//! the guide cannot drift from the API. The code between the `guide:`
//! markers is what the guide shows; keep the two in step.

mod common;

// guide: module
use ringfront::basic::{Request, Response};
use ringfront::module::{InitCtx, Module, ModuleError, RequestPoint, ResponsePoint, Ret};
use ringfront::route::{Cond, RequestFacts};
use std::cell::Cell;
use std::path::Path;
use std::rc::Rc;

/// One rule: when `cond` holds for a response, set `name: value` on it.
pub struct StampRule {
    pub cond: Cond,
    pub name: String,
    pub value: String,
}

/// What the handlers of one worker share: the rules (immutable) and a
/// counter (a `Cell`: handlers are `Fn`, and never leave their thread).
pub struct Stamp {
    pub rules: Vec<StampRule>,
    pub stamped: Cell<u64>,
}

/// Per-request state, stored in `req.ctx` under its own type.
pub struct StampedBy(pub String);

/// HandleFoundProduct: remember who asked for a stamp.
pub fn note_caller(req: &mut Request) -> (Ret, Option<Response>) {
    if let Some(who) = req.header(b"x-stamp-by") {
        let who = String::from_utf8_lossy(who).into_owned();
        req.ctx.insert(StampedBy(who));
    }
    (Ret::GoOn, None)
}

/// HandleReadResponse: apply every rule whose condition holds for this
/// request and its response.
pub fn stamp_response(st: &Stamp, req: &mut Request, res: &mut Response) -> Ret {
    for rule in &st.rules {
        // `with_response` lets res_* primitives see `res`; on the bare
        // request they are false.
        if rule.cond.eval(&req.with_response(res)) {
            res.set_header(&rule.name, &rule.value);
            st.stamped.set(st.stamped.get() + 1);
        }
    }
    if let Some(StampedBy(who)) = req.ctx.get::<StampedBy>() {
        res.set_header("X-Stamped-By", who);
    }
    Ret::GoOn
}

pub struct ModStamp;

impl Module for ModStamp {
    fn name(&self) -> &'static str {
        "mod_stamp"
    }

    fn init(&self, ctx: &mut InitCtx<'_>) -> Result<(), ModuleError> {
        let cbs = ctx.callbacks();
        let text = r#"res_code_in("404|410") && req_path_prefix_in("/static/", false)"#;
        let cond = Cond::compile(text).map_err(|e| ModuleError {
            module: "mod_stamp".to_string(),
            file: String::new(),
            reason: format!("{text}: {}", e.msg),
        })?;
        let st = Rc::new(Stamp {
            rules: vec![StampRule {
                cond,
                name: "Cache-Control".to_string(),
                value: "max-age=60".to_string(),
            }],
            stamped: Cell::new(0),
        });
        cbs.on_request(RequestPoint::FoundProduct, note_caller);
        cbs.on_response(ResponsePoint::ReadResponse, move |req, res| {
            stamp_response(&st, req, res)
        });
        Ok(())
    }
}
// guide: end

// guide: fail
use ringfront::basic::{ErrorKind, ProxyError};

/// HandleFoundProduct: refuse a path, and record why for the access log.
pub fn refuse_admin(req: &mut Request) -> (Ret, Option<Response>) {
    if req.path().starts_with(b"/admin/") {
        req.fail(
            ProxyError::with_status(ErrorKind::HandlerAbort, 403),
            "mod_stamp: /admin/ is not served here",
        );
        return (Ret::Response, Some(Response::error(403)));
    }
    (Ret::GoOn, None)
}
// guide: end

// guide: tests
use ringfront::basic::RequestBuilder;
use ringfront::module::Point;

fn stamp() -> Stamp {
    Stamp {
        rules: vec![StampRule {
            cond: Cond::compile(r#"res_code_in("404")"#).unwrap(),
            name: "Cache-Control".to_string(),
            value: "max-age=60".to_string(),
        }],
        stamped: Cell::new(0),
    }
}

#[test]
fn stamps_a_404_and_leaves_a_200_alone() {
    let st = stamp();
    let mut req = RequestBuilder::get("example.org", "/static/a.css").build();
    let mut res = Response::new(404);
    assert_eq!(stamp_response(&st, &mut req, &mut res), Ret::GoOn);
    assert_eq!(res.header("cache-control"), Some(&b"max-age=60"[..]));

    let mut ok = Response::new(200).with_header("Cache-Control", "no-store");
    stamp_response(&st, &mut req, &mut ok);
    assert_eq!(ok.header("Cache-Control"), Some(&b"no-store"[..]));
    assert_eq!(st.stamped.get(), 1);
}

#[test]
fn context_carries_the_caller_from_found_product_to_read_response() {
    let st = stamp();
    let mut req = RequestBuilder::get("example.org", "/")
        .header("X-Stamp-By", "ops")
        .build();
    assert!(matches!(note_caller(&mut req), (Ret::GoOn, None)));
    let mut res = Response::new(200);
    stamp_response(&st, &mut req, &mut res);
    assert_eq!(res.header("x-stamped-by"), Some(&b"ops"[..]));
}

#[test]
fn init_registers_one_handler_per_point_it_uses() {
    // The framework's own path: check on the control side, init on a
    // worker; no server needed.
    let mut registry = ringfront::module::ModuleRegistry::new();
    registry.register(std::sync::Arc::new(ModStamp));
    let set = registry.select(&["mod_stamp".to_string()]).unwrap();
    let root = Path::new(".");
    let tables = set.check(root).unwrap();
    let (cbs, _state) = set.build_callbacks(root, 0, tables).unwrap();
    for p in Point::ALL {
        let want = matches!(p, Point::FoundProduct | Point::ReadResponse) as usize;
        assert_eq!(cbs.list(p).len(), want, "{p}");
    }
    // The lists run as the lifecycle runs them.
    let mut req = RequestBuilder::get("example.org", "/static/gone.png").build();
    let (ret, res) = cbs.run_request(Point::FoundProduct, &mut req);
    assert_eq!(ret, Ret::GoOn);
    assert!(res.is_none());
    let mut res = Response::new(410);
    assert_eq!(
        cbs.run_response(Point::ReadResponse, &mut req, &mut res),
        Ret::GoOn
    );
    assert_eq!(res.header("Cache-Control"), Some(&b"max-age=60"[..]));
}

#[test]
fn refuse_admin_answers_403_and_records_the_reason() {
    let mut req = RequestBuilder::get("example.org", "/admin/users").build();
    let (ret, res) = refuse_admin(&mut req);
    assert_eq!((ret, res.map(|r| r.status())), (Ret::Response, Some(403)));
    assert_eq!(req.error_kind(), Some(ErrorKind::HandlerAbort));
    let mut req = RequestBuilder::get("example.org", "/").build();
    assert!(matches!(refuse_admin(&mut req), (Ret::GoOn, None)));
    assert_eq!(req.error_kind(), None);
}
// guide: end

/// Every Rust block in docs/writing-a-module.md is code that compiles:
/// it appears verbatim in this file or in the source it quotes.
#[test]
fn the_guide_quotes_only_code_that_compiles() {
    let guide = include_str!("../docs/writing-a-module.md");
    let sources = [
        include_str!("module_guide.rs"),
        include_str!("../src/modules/mod_noop.rs"),
        include_str!("../src/modules/mod.rs"),
    ];
    let mut blocks = 0;
    let mut rest = guide;
    while let Some(start) = rest.find("```rust\n") {
        let body = &rest[start + "```rust\n".len()..];
        let end = body.find("```").expect("closed code block");
        let code = &body[..end];
        assert!(
            sources.iter().any(|s| s.contains(code)),
            "guide block not found in the sources:\n{code}"
        );
        blocks += 1;
        rest = &body[end + 3..];
    }
    assert!(blocks >= 5, "{blocks} blocks");
}

/// The same module behind the real server: the condition sees the
/// backend's response at HandleReadResponse.
#[test]
fn stamps_backend_responses_through_the_server() {
    use common::conf::{Cluster, Layout};
    use common::origin::{Origin, Reply};
    use std::sync::Arc;

    let origin = Origin::start(|seen| {
        if seen.target.starts_with("/static/gone") {
            Reply::raw("HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\ngone")
        } else {
            Reply::text("here")
        }
    });
    let mut l = Layout::single(Cluster::simple("c", &[origin.addr]));
    l.modules = vec!["mod_stamp".into()];
    let d = l.write();
    let mut registry = ringfront::modules::registry();
    registry.register(Arc::new(ModStamp));
    let h = common::start(d.path(), Some(registry));

    let gone = common::client::raw(
        h.http_addr,
        b"GET /static/gone.png HTTP/1.1\r\nHost: example.org\r\nX-Stamp-By: ops\r\nConnection: close\r\n\r\n",
    );
    let r = common::client::parse_response(&gone).unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(r.header("cache-control"), Some("max-age=60"));
    assert_eq!(r.header("x-stamped-by"), Some("ops"));

    let here = common::client::get(h.http_addr, "example.org", "/static/here.png");
    assert_eq!(here.status, 200);
    assert_eq!(here.header("cache-control"), None);
    assert_eq!(here.header("x-stamped-by"), None);
}
