//! `mod_header`: BFE's default forwarding headers, and rule-based edits of
//! request and response headers and cookies, with BFE's `%variables`.
//!
//! - HandleAfterLocation: unless `DisableDefaultHeader`, set
//!   `X-Forwarded-Host`, `X-Forwarded-Port`, `X-Real-Ip`, `X-Real-Port`
//!   and `X-Bfe-Ip`; then apply the request-side (`REQ_*`) rules of
//!   product `global`, then of the request's product. GoOn.
//! - HandleReadResponse: the response-side (`RSP_*`) rules of `global`,
//!   then of the product, with `res_*` conditions seeing the response.
//!   GoOn.
//!
//! In each list every matching rule applies all its actions in order; a
//! matching rule with `Last` ends that list. Values are expanded into one
//! buffer per worker, reused request after request.

pub mod action;
pub mod conf;
pub mod cookie;
pub mod vars;

use crate::basic::{text, Request, Response};
use crate::module::{
    joined, InitCtx, Module, ModuleConf, ModuleError, Reloaded, RequestPoint, ResponsePoint, Ret,
    Tables, WebHandlers,
};
use crate::route::RequestFacts;
use conf::{HeaderRule, HeaderTable, NAME};
use std::cell::RefCell;
use std::path::Path;

pub struct ModHeader;

/// Per-worker scratch buffers for expanded values.
#[derive(Default)]
pub struct Scratch {
    pub value: String,
    pub other: String,
}

/// `name: <prior values joined ", ">, <add>`, or `add` alone (BFE's
/// `modHeaderForwardedAddr`).
fn append_forwarded(req: &mut Request, name: &str, add: &str, buf: &mut String) {
    buf.clear();
    req.each_header(&mut |n, v| {
        if n.eq_ignore_ascii_case(name.as_bytes()) {
            buf.push_str(&String::from_utf8_lossy(v));
            buf.push_str(", ");
        }
        true
    });
    buf.push_str(add);
    req.set_header(name, buf);
}

/// BFE's default headers (X-Forwarded-For is the lifecycle's: it always
/// appends the client, see docs/modules/mod_header.md).
pub fn set_default_headers(req: &mut Request, s: &mut Scratch) {
    s.other.clear();
    s.other.push_str(&String::from_utf8_lossy(req.host()));
    if !s.other.is_empty() {
        append_forwarded(req, "X-Forwarded-Host", &s.other, &mut s.value);
    }
    s.other.clear();
    text::push_u64(&mut s.other, req.ses.peer.port().into());
    append_forwarded(req, "X-Forwarded-Port", &s.other, &mut s.value);
    s.value.clear();
    text::push_ip(&mut s.value, req.client_ip);
    req.set_header("X-Real-Ip", &s.value);
    s.value.clear();
    text::push_u64(&mut s.value, vars::client_port(req).unwrap_or(0).into());
    req.set_header("X-Real-Port", &s.value);
    s.value.clear();
    text::push_ip(&mut s.value, req.ses.local.ip());
    req.set_header("X-Bfe-Ip", &s.value);
}

fn req_rules(t: &HeaderTable, req: &mut Request, rules: &[HeaderRule], s: &mut Scratch) {
    for rule in rules {
        if rule.cond.eval(req) {
            for a in &rule.actions {
                action::apply_req(a, req, &t.server_name, s);
            }
            if rule.last {
                break;
            }
        }
    }
}

fn rsp_rules(
    t: &HeaderTable,
    req: &mut Request,
    res: &mut Response,
    rules: &[HeaderRule],
    s: &mut Scratch,
) {
    for rule in rules {
        if rule.cond.eval(&req.with_response(res)) {
            for a in &rule.actions {
                action::apply_rsp(a, req, res, &t.server_name, s);
            }
            if rule.last {
                break;
            }
        }
    }
}

fn debug_headers<'a>(what: &str, it: impl Iterator<Item = (&'a [u8], &'a [u8])>) {
    let list: Vec<String> = it
        .map(|(n, v)| {
            format!(
                "{}: {}",
                String::from_utf8_lossy(n),
                String::from_utf8_lossy(v)
            )
        })
        .collect();
    log::debug!("{NAME}:{what}:headers={list:?}");
}

/// HandleAfterLocation.
pub fn req_handler(t: &HeaderTable, req: &mut Request, s: &mut Scratch) -> (Ret, Option<Response>) {
    if !t.disable_default {
        set_default_headers(req, s);
    }
    if t.is_empty() {
        return (Ret::GoOn, None);
    }
    if t.open_debug {
        debug_headers("before", req.headers());
    }
    if let Some(g) = t.global() {
        req_rules(t, req, &g.req, s);
    }
    if let Some(p) = req.product_name().and_then(|p| t.rules(p)) {
        req_rules(t, req, &p.req, s);
    }
    if t.open_debug {
        debug_headers("after", req.headers());
    }
    (Ret::GoOn, None)
}

/// HandleReadResponse.
pub fn rsp_handler(t: &HeaderTable, req: &mut Request, res: &mut Response, s: &mut Scratch) -> Ret {
    if t.is_empty() {
        return Ret::GoOn;
    }
    if let Some(g) = t.global() {
        rsp_rules(t, req, res, &g.rsp, s);
    }
    if let Some(p) = req.product_name().and_then(|p| t.rules(p)) {
        rsp_rules(t, req, res, &p.rsp, s);
    }
    if t.open_debug {
        debug_headers("after", res.headers());
    }
    Ret::GoOn
}

impl Module for ModHeader {
    fn name(&self) -> &'static str {
        NAME
    }

    fn check(&self, root: &Path) -> Result<ModuleConf, Vec<ModuleError>> {
        Ok(ModuleConf::new(conf::load_all(root)?))
    }

    /// `/reload/mod_header` (`?path=` loads another file); the conf file
    /// is read at start only, as in BFE.
    fn web(&self, web: &mut WebHandlers) {
        web.reload(NAME, |ctx| {
            let cur = ctx.table::<HeaderTable>(NAME)?;
            let path = ctx.data_path(&cur.data_path);
            let mut t = conf::load_data(ctx.conf_root, path).map_err(joined)?;
            // The conf file's settings are kept: it is read at start only.
            t.data_path = cur.data_path.clone();
            t.disable_default = cur.disable_default;
            t.open_debug = cur.open_debug;
            t.server_name = cur.server_name.clone();
            Ok(Reloaded {
                conf: ModuleConf::new(t),
                version: None,
            })
        });
    }

    fn init(&self, ctx: &mut InitCtx<'_>) -> Result<(), ModuleError> {
        let table: Tables<HeaderTable> = ctx.conf()?;
        let scratch = std::rc::Rc::new(RefCell::new(Scratch::default()));
        let (t2, s2) = (table.clone(), scratch.clone());
        let cbs = ctx.callbacks();
        cbs.on_request(RequestPoint::AfterLocation, move |req| {
            req_handler(&table.borrow(), req, &mut scratch.borrow_mut())
        });
        cbs.on_response(ResponsePoint::ReadResponse, move |req, res| {
            rsp_handler(&t2.borrow(), req, res, &mut s2.borrow_mut())
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::basic::RequestBuilder;
    use crate::modules::mod_rewrite::tests::{routed, temp_file};

    fn load(config: &str) -> Result<HeaderTable, String> {
        let text = format!(r#"{{"Version": "t", "Config": {config}}}"#);
        let (dir, f) = temp_file("hd", &text);
        let r = conf::load_data(&dir, &f);
        std::fs::remove_dir_all(dir).unwrap();
        r.map(|mut t| {
            t.server_name = "box1".into();
            t
        })
        .map_err(joined)
    }

    fn h<'a>(req: &'a Request, n: &str) -> Option<&'a str> {
        req.header(n.as_bytes())
            .map(|v| std::str::from_utf8(v).unwrap())
    }

    fn rh<'a>(res: &'a Response, n: &str) -> Option<&'a str> {
        res.header(n).map(|v| std::str::from_utf8(v).unwrap())
    }

    #[test]
    fn default_headers_as_bfe_sets_them() {
        let t = load("{}").unwrap();
        let mut req = routed(
            "p",
            RequestBuilder::get("example.org", "/")
                .peer("192.0.2.7:5555")
                .local("10.0.0.1:80")
                .header("X-Forwarded-Host", "a.example")
                .header("X-Forwarded-Port", "1")
                .header("X-Real-Ip", "6.6.6.6"),
        );
        req_handler(&t, &mut req, &mut Scratch::default());
        assert_eq!(h(&req, "x-forwarded-host"), Some("a.example, example.org"));
        assert_eq!(h(&req, "x-forwarded-port"), Some("1, 5555"));
        assert_eq!(h(&req, "x-real-ip"), Some("192.0.2.7"));
        assert_eq!(h(&req, "x-real-port"), Some("5555"));
        assert_eq!(h(&req, "x-bfe-ip"), Some("10.0.0.1"));

        let mut off = t.clone();
        off.disable_default = true;
        let mut req = routed("p", RequestBuilder::get("example.org", "/"));
        req_handler(&off, &mut req, &mut Scratch::default());
        assert_eq!(h(&req, "x-real-ip"), None);
        assert_eq!(h(&req, "x-forwarded-host"), None);
    }

    #[test]
    fn request_rules_global_then_product_with_last_and_variables() {
        let t = load(
            r#"{
            "global": [
                {"cond": "default_t()", "actions": [
                    {"cmd": "REQ_HEADER_SET", "params": ["x-who", "g %bfe_client_ip:%bfe_client_port %%bfe_vip"]},
                    {"cmd": "REQ_HEADER_ADD", "params": ["X-Multi", "1"]}], "last": true},
                {"cond": "default_t()", "actions": [{"cmd": "REQ_HEADER_SET", "params": ["X-Never", "1"]}], "last": false}
            ],
            "p": [
                {"cond": "req_header_key_in(\"X-Who\")", "actions": [
                    {"cmd": "REQ_HEADER_ADD", "params": ["X-Multi", "2"]},
                    {"cmd": "REQ_HEADER_SET", "params": ["X-Info", "%bfe_request_host|%bfe_vip|%bfe_server_name|%bfe_log_id|%bfe_protocol"]},
                    {"cmd": "REQ_HEADER_DEL", "params": ["x-drop"]},
                    {"cmd": "REQ_HEADER_RENAME", "params": ["X-Old", "X-New"]},
                    {"cmd": "REQ_HEADER_RENAME", "params": ["X-Keep", "X-Taken"]},
                    {"cmd": "REQ_HEADER_MOD", "params": ["scheme_set", "referer", "https"]},
                    {"cmd": "REQ_COOKIE_SET", "params": ["uid", "%bfe_cip"]},
                    {"cmd": "REQ_COOKIE_DEL", "params": ["gone"]}
                ], "last": false}
            ]}"#,
        )
        .unwrap();
        let mut req = routed(
            "p",
            RequestBuilder::get("example.org", "/")
                .peer("192.0.2.7:5555")
                .local("10.0.0.1:80")
                .header("X-Drop", "x")
                .header("X-Old", "o")
                .header("X-Keep", "k")
                .header("X-Taken", "t")
                .header("Referer", "http://r.example/a")
                .header("Cookie", "gone=1; uid=old; z=2"),
        );
        req.log_id = Some("L1".into());
        req_handler(&t, &mut req, &mut Scratch::default());
        assert_eq!(h(&req, "x-who"), Some("g 192.0.2.7:5555 %bfe_vip"));
        let multi: Vec<&[u8]> = req
            .headers()
            .filter(|(n, _)| n.eq_ignore_ascii_case(b"x-multi"))
            .map(|(_, v)| v)
            .collect();
        assert_eq!(multi, [&b"1"[..], b"2"]);
        assert_eq!(h(&req, "x-never"), None, "Last ends the global list");
        assert_eq!(h(&req, "x-info"), Some("example.org|10.0.0.1|box1|L1|http"));
        assert_eq!(h(&req, "x-drop"), None);
        assert_eq!((h(&req, "x-old"), h(&req, "x-new")), (None, Some("o")));
        assert_eq!(
            (h(&req, "x-keep"), h(&req, "x-taken")),
            (Some("k"), Some("t"))
        );
        assert_eq!(h(&req, "referer"), Some("https://r.example/a"));
        assert_eq!(h(&req, "cookie"), Some("uid=192.0.2.7; z=2"));
        // Canonical names on the wire.
        assert!(req.headers().any(|(n, _)| n == b"X-Who"));
    }

    #[test]
    fn response_rules_see_the_response() {
        let t = load(
            r#"{
            "global": [{"cond": "res_code_in(\"404\")", "actions": [{"cmd": "RSP_HEADER_SET", "params": ["X-Missing", "yes"]}], "last": false}],
            "p": [
                {"cond": "res_header_value_in(\"X-Up\", \"a\", false)", "actions": [
                    {"cmd": "RSP_HEADER_DEL", "params": ["x-up"]},
                    {"cmd": "RSP_HEADER_MOD", "params": ["query_add", "Location", "k", "v"]},
                    {"cmd": "RSP_COOKIE_SET", "params": ["sid", "%bfe_cip", "example.org", "/", "Mon, 02 Jan 2006 15:04:05 MST", "60", "true", "true"]},
                    {"cmd": "RSP_COOKIE_DEL", "params": ["old", "example.org", "/"]},
                    {"cmd": "REQ_HEADER_SET", "params": ["X-Req-Side", "1"]}
                ], "last": true}
            ]}"#,
        )
        .unwrap();
        let mut req = routed(
            "p",
            RequestBuilder::get("example.org", "/").peer("192.0.2.7"),
        );
        let mut res = Response::new(302)
            .with_header("X-Up", "a")
            .with_header("Location", "http://x.example/p?a=1#f")
            .with_header("Set-Cookie", "old=1; Path=/; Domain=example.org")
            .with_header("Set-Cookie", "keep=2");
        assert_eq!(
            rsp_handler(&t, &mut req, &mut res, &mut Scratch::default()),
            Ret::GoOn
        );
        assert_eq!(rh(&res, "x-missing"), None);
        assert_eq!(rh(&res, "x-up"), None);
        assert_eq!(rh(&res, "location"), Some("http://x.example/p?a=1&k=v#f"));
        let cookies: Vec<String> = res
            .header_values("set-cookie")
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect();
        assert_eq!(
            cookies,
            [
                "keep=2",
                "sid=192.0.2.7; Path=/; Domain=example.org; Expires=Mon, 02 Jan 2006 15:04:05 GMT; Max-Age=60; HttpOnly; Secure"
            ]
        );
        // The request side of the same rule is not applied here.
        assert_eq!(h(&req, "x-req-side"), None);
        let mut res = Response::new(404);
        rsp_handler(&t, &mut req, &mut res, &mut Scratch::default());
        assert_eq!(rh(&res, "x-missing"), Some("yes"));
    }

    #[test]
    fn session_variables_from_the_tls_session() {
        let t = load(
            r#"{"p": [{"cond": "default_t()", "actions": [
                {"cmd": "REQ_HEADER_SET", "params": ["X-Tls", "%bfe_protocol %bfe_ssl_version %bfe_bip"]}
            ], "last": true}]}"#,
        )
        .unwrap();
        let mut req = routed(
            "p",
            RequestBuilder::get("example.org", "/").tls(Some("example.org")),
        );
        req_handler(&t, &mut req, &mut Scratch::default());
        assert_eq!(h(&req, "x-tls"), Some("https TLSv1.3 unknown"));
    }

    #[test]
    fn refuses_what_bfe_refuses() {
        let one = |a: &str| {
            format!(r#"{{"p": [{{"cond": "default_t()", "actions": [{a}], "last": true}}]}}"#)
        };
        let e = load(&one(
            r#"{"cmd": "REQ_HEADER_SET", "params": ["X-A", "%bfe_nope"]}"#,
        ))
        .unwrap_err();
        assert!(e.contains("not valid: %bfe_nope"), "{e}");
        let e = load(&one(
            r#"{"cmd": "REQ_HEADER_SET", "params": ["X-A", "%bfe_cookie_uid"]}"#,
        ))
        .unwrap_err();
        assert!(e.contains("not valid"), "{e}");
        let e = load(&one(r#"{"cmd": "REQ_HEADER_PUT", "params": ["X-A", "1"]}"#)).unwrap_err();
        assert!(e.contains("invalid cmd:REQ_HEADER_PUT"), "{e}");
        let e = load(r#"{"p": [{"cond": "default_t()", "actions": [{"cmd": "REQ_HEADER_DEL", "params": ["X-A"]}]}]}"#)
            .unwrap_err();
        assert!(
            e.contains("last: missing") || e.contains("Last: missing"),
            "{e}"
        );
        let e =
            load(r#"{"p": [{"cond": "default_t()", "actions": [], "last": true}]}"#).unwrap_err();
        assert!(e.contains("no Actions"), "{e}");
    }

    #[test]
    fn shipped_sample_loads_and_registers_two_handlers() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf");
        let t = conf::load_all(&root).expect("BFE's sample loads");
        assert_eq!(t.version, "init version");
        let mut req = routed("example_product", RequestBuilder::get("a", "/header/x"));
        let mut res = Response::new(200);
        rsp_handler(&t, &mut req, &mut res, &mut Scratch::default());
        assert_eq!(rh(&res, "x-proxied-by"), Some("bfe"));
        let set = crate::modules::registry()
            .select(&[NAME.to_string()])
            .unwrap();
        let tables = set.check(&root).unwrap();
        let (cbs, _) = set.build_callbacks(&root, 0, tables).unwrap();
        use crate::module::Point;
        for p in Point::ALL {
            let want = matches!(p, Point::AfterLocation | Point::ReadResponse) as usize;
            assert_eq!(cbs.list(p).len(), want, "{p}");
        }
    }
}
