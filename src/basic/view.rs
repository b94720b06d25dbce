//! A request together with its response, as conditions see them at
//! HandleReadResponse and HandleRequestFinish.
//!
//! A bare [`Request`] answers no `res_*` question: `res_code_in`,
//! `res_header_key_in` and `res_header_value_in` are false on it, as BFE's
//! are before `req.HttpResponse` exists. A Response handler that evaluates
//! a rule against the response it was given wraps both:
//!
//! ```
//! use ringfront::basic::{RequestBuilder, Response, ResponseView};
//! use ringfront::route::Cond;
//! let req = RequestBuilder::get("example.org", "/").build();
//! let res = Response::new(404).with_header("X-A", "b");
//! let cond = Cond::compile(r#"res_code_in("404") && res_header_value_in("X-A", "b", false)"#)
//!     .unwrap();
//! assert!(cond.eval(&ResponseView::new(&req, &res)));
//! assert!(cond.eval(&req.with_response(&res)));
//! assert!(!cond.eval(&req));
//! ```

use super::request::Request;
use super::response::Response;
use crate::route::RequestFacts;
use std::net::IpAddr;

/// A request and the response being sent for it: every request fact is
/// the request's, and the `res_*` facts are the response's.
#[derive(Clone, Copy)]
pub struct ResponseView<'a> {
    pub req: &'a Request,
    pub res: &'a Response,
}

impl<'a> ResponseView<'a> {
    pub fn new(req: &'a Request, res: &'a Response) -> Self {
        ResponseView { req, res }
    }
}

impl Request {
    /// This request seen with `res` as its response, for conditions that
    /// use the `res_*` primitives.
    pub fn with_response<'a>(&'a self, res: &'a Response) -> ResponseView<'a> {
        ResponseView { req: self, res }
    }
}

impl RequestFacts for ResponseView<'_> {
    fn method(&self) -> &[u8] {
        self.req.method()
    }

    fn host(&self) -> &[u8] {
        self.req.host()
    }

    fn path(&self) -> &[u8] {
        self.req.path()
    }

    fn query(&self) -> &[u8] {
        self.req.query()
    }

    fn uri(&self) -> &[u8] {
        self.req.uri()
    }

    fn header(&self, name: &[u8]) -> Option<&[u8]> {
        RequestFacts::header(self.req, name)
    }

    fn each_header(&self, f: &mut dyn FnMut(&[u8], &[u8]) -> bool) {
        self.req.each_header(f)
    }

    fn client_ip(&self) -> IpAddr {
        RequestFacts::client_ip(self.req)
    }

    fn vip(&self) -> IpAddr {
        self.req.vip()
    }

    fn local_port(&self) -> u16 {
        self.req.local_port()
    }

    fn is_tls(&self) -> bool {
        self.req.is_tls()
    }

    fn tls_sni(&self) -> Option<&[u8]> {
        self.req.tls_sni()
    }

    fn client_trusted(&self) -> bool {
        self.req.client_trusted()
    }

    fn peer_ip(&self) -> IpAddr {
        self.req.peer_ip()
    }

    fn protocol(&self) -> &[u8] {
        self.req.protocol()
    }

    fn host_tag(&self) -> &[u8] {
        self.req.host_tag()
    }

    fn tag_values(&self, name: &str) -> &[String] {
        self.req.tag_values(name)
    }

    fn context_value(&self, key: &str) -> Option<&str> {
        self.req.context_value(key)
    }

    fn response_status(&self) -> Option<u16> {
        Some(self.res.status())
    }

    /// First value after the handlers' edits; the name is compared
    /// case-insensitively. Header names are ASCII, so a name that is not
    /// UTF-8 names no header.
    fn response_header(&self, name: &[u8]) -> Option<&[u8]> {
        self.res.header(std::str::from_utf8(name).ok()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::basic::RequestBuilder;
    use crate::route::Cond;

    fn cond(text: &str) -> Cond {
        Cond::compile(text).unwrap_or_else(|e| panic!("{text}: {e:?}"))
    }

    fn req() -> Request {
        RequestBuilder::get("Example.org", "/static/a.css?v=1")
            .header("Accept-Encoding", "gzip")
            .client("192.0.2.9")
            .build()
    }

    #[test]
    fn response_primitives_read_the_response() {
        let req = req();
        let res = Response::new(404)
            .with_header("X-A", "b")
            .with_header("Content-Type", "text/HTML")
            .with_header("X-Empty", "");
        let view = req.with_response(&res);
        let holds = |text: &str| cond(text).eval(&view);
        assert!(holds(
            r#"res_code_in("404") && res_header_value_in("X-A", "b", false)"#
        ));
        assert!(holds(r#"res_code_in("500|404")"#));
        assert!(!holds(r#"res_code_in("200")"#));
        // Names are case-insensitive; values fold case only when asked.
        assert!(holds(r#"res_header_key_in("x-a")"#));
        assert!(holds(r#"res_header_key_in("Server|content-type")"#));
        assert!(!holds(r#"res_header_key_in("Server")"#));
        // A header with an empty value counts as absent for the key test,
        // and a missing header reads as "" for the value test (as in BFE).
        assert!(!holds(r#"res_header_key_in("X-Empty")"#));
        assert!(holds(r#"res_header_value_in("Server", "", false)"#));
        assert!(holds(
            r#"res_header_value_in("content-type", "text/html", true)"#
        ));
        assert!(!holds(
            r#"res_header_value_in("content-type", "text/html", false)"#
        ));
    }

    #[test]
    fn the_same_condition_on_the_bare_request_is_false() {
        let req = req();
        let res = Response::new(404).with_header("X-A", "b");
        for text in [
            r#"res_code_in("404") && res_header_value_in("X-A", "b", false)"#,
            r#"res_code_in("404")"#,
            r#"res_header_key_in("X-A")"#,
            r#"res_header_value_in("X-A", "b", false)"#,
            // Even the value test that matches a missing header.
            r#"res_header_value_in("Server", "", false)"#,
        ] {
            let c = cond(text);
            assert!(c.eval(&ResponseView::new(&req, &res)), "{text}");
            assert!(!c.eval(&req), "{text} on the bare request");
        }
    }

    #[test]
    fn request_primitives_still_read_the_request() {
        let req = req();
        let res = Response::new(200).with_header("Content-Type", "text/css");
        let view = ResponseView {
            req: &req,
            res: &res,
        };
        for text in [
            r#"req_host_in("example.org")"#,
            r#"req_path_prefix_in("/static/", false)"#,
            r#"req_query_value_in("v", "1", false)"#,
            r#"req_header_value_contain("Accept-Encoding", "gzip", false)"#,
            r#"req_method_in("GET")"#,
            r#"req_cip_range("192.0.2.0", "192.0.2.255")"#,
            r#"ses_sip_range("192.0.2.1", "192.0.2.1")"#,
            r#"req_vip_in("127.0.0.1")"#,
            r#"!req_proto_secure()"#,
            r#"req_path_suffix_in(".css", false) && res_header_value_in("Content-Type", "text/css", false)"#,
        ] {
            let c = cond(text);
            assert!(c.eval(&view), "{text}");
            assert_eq!(
                c.eval(&req),
                !text.contains("res_"),
                "{text} on the bare request"
            );
        }
    }

    #[test]
    fn edits_made_by_handlers_are_seen() {
        let mut req = req();
        req.set_path("/other");
        let mut res = Response::new(200).with_header("X-A", "b");
        res.set_status(503);
        res.set_header("X-A", "c");
        res.add_header("X-New", "1");
        let view = req.with_response(&res);
        assert!(cond(r#"req_path_in("/other", false)"#).eval(&view));
        assert!(cond(r#"res_code_in("503")"#).eval(&view));
        assert!(cond(r#"res_header_value_in("x-a", "c", false)"#).eval(&view));
        assert!(cond(r#"res_header_key_in("X-New")"#).eval(&view));
        res.del_header("x-a");
        let view = req.with_response(&res);
        assert!(!cond(r#"res_header_key_in("X-A")"#).eval(&view));
    }

    #[test]
    fn tags_context_protocol_and_host_tag_of_a_request() {
        let mut snap = crate::config::Snapshot::empty();
        let p = snap.route.add_product("p");
        snap.route.add_tagged_host("example.org", "exampleTag", p);
        let mut req = RequestBuilder::get("Example.org", "/")
            .snapshot(snap)
            .build();
        let (found, tag) = req
            .gen
            .snapshot
            .route
            .find_product_tagged(req.host(), req.vip())
            .unwrap();
        req.route.product = Some(found);
        req.route.host_tag = tag;
        req.add_tag("lane", "gray:1");
        req.ctx.publish("mod_geo.country_iso_code", "CN");
        let res = Response::new(200);
        let bare = |t: &str| cond(t).eval(&req);
        let viewed = |t: &str| cond(t).eval(&req.with_response(&res));
        let checks: [&dyn Fn(&str) -> bool; 2] = [&bare, &viewed];
        for holds in checks {
            assert!(holds(r#"req_host_tag_in("exampletag")"#));
            assert!(holds(r#"req_tag_match("lane", "gray")"#));
            assert!(holds(
                r#"req_context_value_in("mod_geo.country_iso_code", "CN", false)"#
            ));
            assert!(holds(r#"req_proto_match("HTTP/1.1")"#));
        }
        let tls = RequestBuilder::get("a.org", "/").tls(Some("a.org")).build();
        assert!(cond(r#"req_proto_match("https")"#).eval(&tls));
        assert!(!cond(r#"req_host_tag_in("exampleTag")"#).eval(&tls));
    }
}
