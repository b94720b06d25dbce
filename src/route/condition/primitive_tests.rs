//! Every primitive against hand-made requests: what matches, what does
//! not, and the edges (empty values, ports in Host, percent-encoding,
//! repeated headers, missing cookies, no response yet).

use super::{Cond, CondError, PRIMITIVES};
use crate::route::test_req::Req;

fn ev(cond: &str, req: &Req) -> bool {
    Cond::compile(cond)
        .unwrap_or_else(|e| panic!("{cond}: {e}"))
        .eval(req)
}

fn err(cond: &str) -> CondError {
    match Cond::compile(cond) {
        Ok(_) => panic!("{cond} compiled"),
        Err(e) => e,
    }
}

fn get(target: &str) -> Req {
    Req::get("www.example.com", target)
}

/// Primitives added on the `cond` branch; README.md is edited by the
/// integrator, who lists them there and empties this.
const PENDING_README: &[&str] = &[];

#[test]
fn every_primitive_is_tested_and_documented() {
    let here = include_str!("primitive_tests.rs");
    let readme = include_str!("../../../README.md");
    for p in PRIMITIVES {
        assert!(
            here.contains(&format!("{}(", p.name)),
            "no test uses {}",
            p.name
        );
        let pending = PENDING_README.contains(&p.name);
        assert!(
            pending || readme.contains(p.name),
            "README does not list {}",
            p.name
        );
    }
}

#[test]
fn default_t() {
    assert!(ev("default_t()", &get("/")));
}

#[test]
fn session_flags() {
    let plain = get("/");
    assert!(!ev("req_cip_trusted()", &plain));
    assert!(!ev("req_proto_secure()", &plain));
    let mut trusted = get("/");
    trusted.trusted = true;
    assert!(ev("req_cip_trusted()", &trusted));
    assert!(ev("req_proto_secure()", &get("/").over_tls(None)));
}

#[test]
fn req_cip_range() {
    let r = |ip: &str| get("/").with_client(ip);
    let v4 = r#"req_cip_range("10.0.0.0", "10.0.255.255")"#;
    assert!(ev(v4, &r("10.0.0.0")));
    assert!(ev(v4, &r("10.0.255.255")));
    assert!(ev(v4, &r("::ffff:10.0.3.4")));
    assert!(!ev(v4, &r("10.1.0.0")));
    assert!(!ev(v4, &r("2001:db8::1")));
    let v6 = r#"req_cip_range("2001:db8::", "2001:db8::ff")"#;
    assert!(ev(v6, &r("2001:db8::7f")));
    assert!(!ev(v6, &r("2001:db8::100")));
    assert!(!ev(v6, &r("10.0.0.1")));
    // The client address, not the socket peer.
    let mut proxied = r("10.0.0.9");
    proxied.peer_ip = "192.0.2.7".parse().unwrap();
    assert!(ev(v4, &proxied));
    let e = err(r#"req_cip_range("10.0.0.9", "10.0.0.1")"#);
    assert_eq!(e.column, 27, "{e}");
    assert!(e.msg.contains("before"), "{e}");
    assert_eq!(err(r#"req_cip_range("10.0.0/8", "10.0.0.1")"#).column, 15);
    assert!(err(r#"req_cip_range("1.1.1.1", "::1")"#)
        .msg
        .contains("IPv4"));
}

#[test]
fn ses_sip_range() {
    let mut r = get("/").with_client("10.0.0.9");
    r.peer_ip = "192.0.2.7".parse().unwrap();
    assert!(ev(r#"ses_sip_range("192.0.2.0", "192.0.2.255")"#, &r));
    assert!(!ev(r#"ses_sip_range("10.0.0.0", "10.0.0.255")"#, &r));
}

#[test]
fn vips() {
    let r = get("/").with_vip("10.0.0.7");
    assert!(ev(r#"req_vip_in("10.0.0.1|10.0.0.7")"#, &r));
    assert!(!ev(r#"req_vip_in("10.0.0.1")"#, &r));
    assert!(ev(
        r#"req_vip_in("::1|10.0.0.7")"#,
        &get("/").with_vip("::ffff:10.0.0.7")
    ));
    assert!(ev(r#"req_vip_range("10.0.0.0", "10.0.0.7")"#, &r));
    assert!(!ev(r#"req_vip_range("10.0.0.8", "10.0.0.9")"#, &r));
    assert!(ev(r#"ses_vip_range("10.0.0.7", "10.0.0.7")"#, &r));
    let e = err(r#"req_vip_in("10.0.0.1|nope")"#);
    assert!(e.msg.contains("\"nope\""), "{e}");
    assert!(err(r#"req_vip_in("")"#).msg.contains("invalid IP"));
}

#[test]
fn req_method_in() {
    let r = get("/").with_method("PATCH");
    assert!(ev(r#"req_method_in("get|patch")"#, &r));
    assert!(!ev(r#"req_method_in("GET|POST")"#, &r));
    assert!(!ev(r#"req_method_in("")"#, &r));
}

#[test]
fn req_host_in() {
    let r = Req::get("WWW.Example.COM:8080", "/");
    assert!(ev(r#"req_host_in("a.com|www.example.com")"#, &r));
    assert!(!ev(r#"req_host_in("example.com")"#, &r));
    assert!(ev(r#"req_host_in("")"#, &Req::get("", "/")));
    assert!(!ev(r#"req_host_in("a.com")"#, &Req::get("", "/")));
    let e = err(r#"req_host_in("a.com|b.com:80")"#);
    assert!(e.msg.contains("port"), "{e}");
    assert_eq!(e.column, 13);
}

#[test]
fn req_host_suffix_in_and_regmatch() {
    let r = Req::get("Img.Example.com:443", "/");
    assert!(ev(r#"req_host_suffix_in(".example.COM")"#, &r));
    assert!(!ev(r#"req_host_suffix_in(".example.org|com:443")"#, &r));
    assert!(ev(r#"req_host_regmatch(`^Img\.`)"#, &r));
    // Regex sees the host as sent, without the port and without folding.
    assert!(!ev(r#"req_host_regmatch(`^img\.`)"#, &r));
    assert!(!ev(r#"req_host_regmatch("443")"#, &r));
    assert!(ev(r#"req_host_regmatch("(?i)^img[.]")"#, &r));
    let e = err(r#"req_host_regmatch("(")"#);
    assert!(e.msg.contains("regular expression"), "{e}");
    assert_eq!(e.column, 19);
}

#[test]
fn req_port_in() {
    assert!(ev(
        r#"req_port_in("80|8080")"#,
        &Req::get("a.com:8080", "/")
    ));
    assert!(ev(r#"req_port_in("80")"#, &Req::get("a.com", "/")));
    assert!(!ev(r#"req_port_in("8080")"#, &Req::get("a.com", "/")));
    assert!(ev(r#"req_port_in("8443")"#, &Req::get("[::1]:8443", "/")));
}

#[test]
fn path_comparisons_on_the_decoded_path() {
    let r = get("/Static/img%20one.PNG");
    assert!(ev(r#"req_path_in("/static/img one.png", true)"#, &r));
    assert!(!ev(r#"req_path_in("/static/img one.png", false)"#, &r));
    assert!(!ev(r#"req_path_in("/Static/img%20one.PNG", false)"#, &r));
    assert!(ev(r#"req_path_prefix_in("/x|/Static/", false)"#, &r));
    assert!(ev(r#"req_path_prefix_in("", false)"#, &r));
    assert!(ev(r#"req_path_suffix_in(".png|.jpg", true)"#, &r));
    assert!(!ev(r#"req_path_suffix_in(".png", false)"#, &r));
    assert!(ev(r#"req_path_contain("img one", false)"#, &r));
    assert!(ev(r#"req_path_contain("IMG|nope", true)"#, &r));
    assert!(!ev(r#"req_path_contain("IMG", false)"#, &r));
    // An encoded slash is a slash once decoded, as in Go's URL.Path.
    assert!(ev(r#"req_path_in("/a/b", false)"#, &get("/a%2Fb")));
    // '+' is not a space in a path; a bad escape stays as it is.
    assert!(ev(r#"req_path_in("/a+b%zz", false)"#, &get("/a+b%zz")));
    assert!(ev(r#"req_path_in("", false)"#, &get("")));
}

#[test]
fn req_path_element_prefix_in() {
    let c = r#"req_path_element_prefix_in("/api|/v2/", false)"#;
    assert!(ev(c, &get("/api")));
    assert!(ev(c, &get("/api/x")));
    assert!(ev(c, &get("/v2")));
    assert!(!ev(c, &get("/apix")));
    assert!(!ev(c, &get("/API/x")));
    assert!(ev(
        r#"req_path_element_prefix_in("/API", true)"#,
        &get("/api/x")
    ));
}

#[test]
fn path_and_url_regmatch() {
    let r = get("/item/42%2F7?id=5");
    assert!(ev(r#"req_path_regmatch("^/item/[0-9]+/7$")"#, &r));
    assert!(!ev(r#"req_path_regmatch("%2F")"#, &r));
    // The URL is the raw target, query included.
    assert!(ev(r#"req_url_regmatch(`^/item/42%2F7\?id=\d$`)"#, &r));
    assert!(!ev(r#"req_url_regmatch("^/item/42/7")"#, &r));
    // In "…" strings escapes stay as written, as in BFE: "\\d" is the
    // regex \\d (a backslash, then d), not a digit class.
    assert!(!ev(r#"req_url_regmatch("id=\\d")"#, &r));
    assert!(ev(r#"req_url_regmatch("a\\d")"#, &get("/a\\d")));
    assert!(err(r#"req_path_regmatch("[")"#).msg.contains("regular"));
}

#[test]
fn query_keys_and_existence() {
    let r = get("/?a=1&b&c%5B%5D=x&;skip=1");
    assert!(ev(r#"req_query_key_in("z|b")"#, &r));
    assert!(ev(r#"req_query_key_in("c[]")"#, &r));
    assert!(!ev(r#"req_query_key_in("c%5B%5D")"#, &r));
    assert!(!ev(r#"req_query_key_in("A")"#, &r));
    assert!(!ev(r#"req_query_key_in("skip")"#, &r));
    assert!(ev(r#"req_query_key_prefix_in("x|c[")"#, &r));
    assert!(!ev(r#"req_query_key_prefix_in("d")"#, &r));
    assert!(ev("req_query_exist()", &r));
    assert!(!ev("req_query_exist()", &get("/")));
    assert!(!ev("req_query_exist()", &get("/?")));
    assert!(!ev("req_query_exist()", &get("/?&&")));
    assert!(!ev("req_query_exist()", &get("/?a=%zz")));
}

#[test]
fn query_values_are_decoded() {
    let r = get("/?q=Hello+World%21&q=second&e=&bad=%zz");
    assert!(ev(r#"req_query_value_in("q", "hello world!", true)"#, &r));
    assert!(!ev(r#"req_query_value_in("q", "hello world!", false)"#, &r));
    // First value only, as Go's Values.Get.
    assert!(!ev(r#"req_query_value_in("q", "second", false)"#, &r));
    // Missing and empty keys read as "".
    assert!(ev(r#"req_query_value_in("e", "", false)"#, &r));
    assert!(ev(r#"req_query_value_in("missing", "x|", false)"#, &r));
    // A pair with a bad escape is dropped.
    assert!(ev(r#"req_query_value_in("bad", "", false)"#, &r));
    assert!(ev(r#"req_query_value_prefix_in("q", "Hello ", false)"#, &r));
    assert!(ev(r#"req_query_value_suffix_in("q", "WORLD!", true)"#, &r));
    assert!(ev(r#"req_query_value_contain("q", "o W", false)"#, &r));
    assert!(!ev(r#"req_query_value_contain("q", "o+W", false)"#, &r));
    assert!(ev(
        r#"req_query_value_regmatch("q", `^Hello\sWorld!$`)"#,
        &r
    ));
    assert!(!ev(r#"req_query_value_regmatch("q", "^second$")"#, &r));
}

#[test]
fn cookies() {
    let r = get("/")
        .with_header("Cookie", "sid=abc; theme=\"Dark\"; bad=a,b")
        .with_header("cookie", "sid=second; lang=zh");
    assert!(ev(r#"req_cookie_key_in("x|lang")"#, &r));
    assert!(!ev(r#"req_cookie_key_in("SID")"#, &r));
    assert!(!ev(r#"req_cookie_key_in("bad")"#, &r));
    // The first cookie of a name wins, across repeated headers.
    assert!(ev(r#"req_cookie_value_in("sid", "abc", false)"#, &r));
    assert!(!ev(r#"req_cookie_value_in("sid", "second", false)"#, &r));
    assert!(ev(r#"req_cookie_value_in("theme", "dark", true)"#, &r));
    assert!(ev(r#"req_cookie_value_in("lang", "ZH", true)"#, &r));
    // A missing cookie matches nothing, not even "".
    assert!(!ev(r#"req_cookie_value_in("gone", "", false)"#, &r));
    assert!(!ev(r#"req_cookie_value_in("gone", "", false)"#, &get("/")));
    assert!(ev(r#"req_cookie_value_prefix_in("sid", "ab", false)"#, &r));
    assert!(ev(r#"req_cookie_value_suffix_in("theme", "RK", true)"#, &r));
    assert!(ev(r#"req_cookie_value_contain("theme", "ar", false)"#, &r));
    assert!(!ev(r#"req_cookie_value_contain("theme", "AR", false)"#, &r));
}

#[test]
fn header_keys_and_values() {
    let r = get("/")
        .with_header("X-Env", "Canary")
        .with_header("X-Env", "prod")
        .with_header("X-Empty", "")
        .with_header("User-Agent", "Mozilla/5.0 (iPhone)");
    assert!(ev(r#"req_header_key_in("x-none|X-ENV")"#, &r));
    // Present but empty does not count, as in BFE.
    assert!(!ev(r#"req_header_key_in("X-Empty")"#, &r));
    assert!(ev(r#"req_header_value_in("x-env", "canary", true)"#, &r));
    assert!(!ev(r#"req_header_value_in("X-Env", "canary", false)"#, &r));
    // Repeated header: the first value only.
    assert!(!ev(r#"req_header_value_in("X-Env", "prod", false)"#, &r));
    // Missing header reads as "".
    assert!(ev(r#"req_header_value_in("X-Other", "", true)"#, &r));
    assert!(!ev(r#"req_header_value_in("X-Other", "canary", true)"#, &r));
    assert!(ev(
        r#"req_header_value_prefix_in("X-Env", "Can", false)"#,
        &r
    ));
    assert!(ev(
        r#"req_header_value_suffix_in("X-Env", "ARY", true)"#,
        &r
    ));
    assert!(ev(
        r#"req_header_value_contain("User-Agent", "iphone|android", true)"#,
        &r
    ));
    assert!(!ev(
        r#"req_header_value_contain("User-Agent", "iphone", false)"#,
        &r
    ));
    assert!(ev(r#"req_header_value_regmatch("X-Env", "^C.n")"#, &r));
    assert!(ev(r#"req_ua_regmatch("iPhone|iPad")"#, &r));
    assert!(!ev(r#"req_ua_regmatch("Android")"#, &r));
    // No User-Agent: the regex sees "".
    assert!(ev(r#"req_ua_regmatch("^$")"#, &get("/")));
}

#[test]
fn response_primitives() {
    let before = get("/");
    assert!(!ev(r#"res_code_in("200")"#, &before));
    assert!(!ev(r#"res_header_key_in("Server")"#, &before));
    assert!(!ev(r#"res_header_value_in("Server", "", false)"#, &before));
    let r = get("/").with_response(404, &[("Content-Type", "text/HTML"), ("X-E", "")]);
    assert!(ev(r#"res_code_in("500|404")"#, &r));
    assert!(!ev(r#"res_code_in("200")"#, &r));
    assert!(ev(r#"res_header_key_in("content-type")"#, &r));
    assert!(!ev(r#"res_header_key_in("X-E|Server")"#, &r));
    assert!(ev(
        r#"res_header_value_in("Content-Type", "text/html", true)"#,
        &r
    ));
    assert!(!ev(
        r#"res_header_value_in("Content-Type", "text/html", false)"#,
        &r
    ));
    assert!(ev(r#"res_header_value_in("Server", "", false)"#, &r));
}

#[test]
fn ses_tls_sni_in() {
    let c = r#"ses_tls_sni_in("a.com|WWW.B.com")"#;
    assert!(ev(c, &get("/").over_tls(Some("www.b.com"))));
    assert!(!ev(c, &get("/").over_tls(Some("c.com"))));
    assert!(!ev(c, &get("/").over_tls(None)));
    assert!(!ev(r#"ses_tls_sni_in("")"#, &get("/").over_tls(Some(""))));
    let mut plain = get("/");
    plain.tls_sni = Some(b"a.com".to_vec());
    assert!(!ev(c, &plain));
}

#[test]
fn bfe_time_range() {
    let c = r#"bfe_time_range("20190204203000H", "20190204204500H")"#;
    let at = |t: &str| get("/").with_header("X-Bfe-Debug-Time", t);
    assert!(ev(c, &at("20190204203500H")));
    assert!(ev(c, &at("20190204123500z")));
    assert!(!ev(c, &at("20190204204600H")));
    assert!(!ev(c, &get("/")));
    assert!(ev(
        r#"bfe_time_range("20000101000000Z", "99991231235959Z")"#,
        &get("/")
    ));
    let e = err(r#"bfe_time_range("20190204203000H", "2019020420450H")"#);
    assert_eq!(e.column, 35, "{e}");
    assert!(
        err(r#"bfe_time_range("20190204203000J", "20190204204500H")"#)
            .msg
            .contains("time zone")
    );
    assert!(
        err(r#"bfe_time_range("20190204204500H", "20190204203000H")"#)
            .msg
            .contains("before")
    );
}

#[test]
fn bfe_periodic_time_range() {
    let c = r#"bfe_periodic_time_range("090000H", "173000H", "")"#;
    let at = |t: &str| get("/").with_header("X-Bfe-Debug-Time", t);
    assert!(ev(c, &at("20240102120000H")));
    assert!(!ev(c, &at("20240102173001H")));
    assert!(err(r#"bfe_periodic_time_range("090000H", "173000Z", "")"#)
        .msg
        .contains("zone"));
    assert_eq!(
        err(r#"bfe_periodic_time_range("090000H", "173000H", "Day")"#).column,
        47
    );
}

#[test]
fn unsupported_bfe_primitives_are_named() {
    let e = err(r#"req_body_json_in("a.b", "x", false)"#);
    assert!(e.msg.contains("not supported"), "{e}");
    let e = err("ses_tls_client_auth()");
    assert!(e.msg.contains("client certificates"), "{e}");
    let e = err(r#"ses_tls_client_ca_in("ca1")"#);
    assert!(e.msg.contains("not supported by ringfront"), "{e}");
    assert!(err("req_nope()").msg.contains("unknown primitive req_nope"));
}

#[test]
fn req_cip_hash_in() {
    // Bucket of "192.0.2.1" (the test client), as BFE hashes it.
    let b = super::hash::bucket(b"192.0.2.1", false);
    let r = get("/");
    assert!(ev(&format!(r#"req_cip_hash_in("{b}")"#), &r));
    assert!(ev(
        &format!(r#"req_cip_hash_in("0|{}-{}")"#, b.max(1) - 1, b + 1),
        &r
    ));
    let other = (b + 1) % 10000;
    assert!(!ev(&format!(r#"req_cip_hash_in("{other}")"#), &r));
    // The trusted client address is hashed, not the peer.
    let mut r2 = get("/").with_client("2001:db8::7");
    r2.peer_ip = "192.0.2.1".parse().unwrap();
    assert!(!ev(&format!(r#"req_cip_hash_in("{b}")"#), &r2));
    let e = err(r#"req_cip_hash_in("5-3")"#);
    assert!(e.msg.contains("start is larger"), "{e}");
    assert_eq!(e.column, 17);
}

#[test]
fn value_hash_in_uses_bfe_buckets() {
    // BFE's own expectations (build_test.go): buckets 5968, 4073, 4055.
    let list = "4073|5000-9999";
    let r = get("/?uid=TEST-uid-0001").with_header("X-Bfe-Uid", "TEST-uid-0001");
    assert!(ev(
        &format!(r#"req_header_value_hash_in("x-bfe-uid", "{list}", true)"#),
        &r
    ));
    assert!(ev(r#"req_query_value_hash_in("uid", "5968", true)"#, &r));
    assert!(!ev(r#"req_query_value_hash_in("uid", "5968", false)"#, &r));
    let r = get("/?uid=test-uid-0003").with_header("Cookie", "uid=test-uid-0003");
    assert!(!ev(
        &format!(r#"req_cookie_value_hash_in("uid", "{list}", false)"#),
        &r
    ));
    assert!(ev(r#"req_cookie_value_hash_in("uid", "4055", false)"#, &r));
    assert!(ev(r#"req_query_value_hash_in("uid", "4055", false)"#, &r));
    // A missing cookie fails the fetch; a missing header hashes "".
    assert!(!ev(
        r#"req_cookie_value_hash_in("nope", "0-9999", false)"#,
        &r
    ));
    let empty = super::hash::bucket(b"", false);
    assert!(ev(
        &format!(r#"req_header_value_hash_in("X-None", "{empty}", false)"#),
        &r
    ));
    // Bucket lists are checked at compile time, pointing at the list.
    for bad in ["abc", "100-200|300-", "1-2-3", "100-10000", "100-99"] {
        let e = err(&format!(r#"req_header_value_hash_in("X", "{bad}", true)"#));
        assert_eq!(e.column, 31, "{bad}: {e}");
    }
}

#[test]
fn req_proto_match() {
    let plain = get("/");
    assert!(ev(r#"req_proto_match("http/1.1")"#, &plain));
    // BFE compares the whole protocol, not a list, and not "http".
    assert!(!ev(r#"req_proto_match("http")"#, &plain));
    assert!(!ev(r#"req_proto_match("HTTP/1.1|https")"#, &plain));
    let tls = get("/").over_tls(Some("a.com"));
    assert!(ev(r#"req_proto_match("HTTPS")"#, &tls));
    let mut h10 = get("/");
    h10.proto = Some("HTTP/1.0");
    assert!(ev(r#"req_proto_match("HTTP/1.0")"#, &h10));
}

#[test]
fn req_host_tag_in() {
    let mut r = get("/");
    assert!(!ev(r#"req_host_tag_in("tag1")"#, &r));
    r.host_tag = "exampleTag".into();
    assert!(ev(r#"req_host_tag_in("other|EXAMPLETAG")"#, &r));
    assert!(!ev(r#"req_host_tag_in("example")"#, &r));
}

#[test]
fn req_tag_match() {
    let mut r = get("/");
    assert!(!ev(r#"req_tag_match("tag1", "bfe")"#, &r));
    r.tags
        .push(("tag1".into(), vec!["gray".into(), "bfe:canary".into()]));
    assert!(ev(r#"req_tag_match("tag1", "bfe")"#, &r));
    assert!(ev(r#"req_tag_match("tag1", "gray")"#, &r));
    // The part before the first ':' only, compared exactly.
    assert!(!ev(r#"req_tag_match("tag1", "bfe:canary")"#, &r));
    assert!(!ev(r#"req_tag_match("tag1", "BFE")"#, &r));
    assert!(!ev(r#"req_tag_match("tag2", "bfe")"#, &r));
}

#[test]
fn req_context_value_in() {
    let mut r = get("/");
    // Nothing published: false, even for an empty value.
    assert!(!ev(
        r#"req_context_value_in("mod_geo.country_iso_code", "", false)"#,
        &r
    ));
    r.context
        .push(("mod_geo.country_iso_code".into(), "CN".into()));
    assert!(ev(
        r#"req_context_value_in("mod_geo.country_iso_code", "US|CN", false)"#,
        &r
    ));
    assert!(!ev(
        r#"req_context_value_in("mod_geo.country_iso_code", "cn", false)"#,
        &r
    ));
    assert!(ev(
        r#"req_context_value_in("mod_geo.country_iso_code", "cn", true)"#,
        &r
    ));
    assert!(!ev(r#"req_context_value_in("", "CN", false)"#, &r));
}
