//! Proof that lookups do not allocate: a counting allocator that only
//! counts on the thread that asked, so parallel tests do not interfere.
//!
//! At the crate root because it exercises routing and balancing together;
//! under either one it would make the two import each other. The
//! modules' common paths are proved here too (`core_modules`), for the same
//! reason: under `modules` the proof would import this file and this file
//! the modules.

mod core_modules;

use crate::balance::{hash_key, Balancer};
use crate::config::HashConf;
use crate::route::test_req::Req;
use crate::route::{BasicRules, Cond, RouteTable, Target};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::IpAddr;

struct Counting;

thread_local! {
    static COUNT: Cell<Option<usize>> = const { Cell::new(None) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = COUNT.try_with(|c| c.set(c.get().map(|n| n + 1)));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

pub(crate) fn allocations(f: impl FnOnce()) -> usize {
    COUNT.with(|c| c.set(Some(0)));
    f();
    COUNT.with(|c| c.replace(None)).unwrap_or(0)
}

#[test]
fn route_lookups_do_not_allocate() {
    let mut t = RouteTable::default();
    let p = t.add_product("p");
    t.add_host("*.a.com", p);
    let mut basic = BasicRules::default();
    basic
        .insert(&["*.a.com".into()], &["/static*".into()], Target::Advanced)
        .unwrap();
    t.product_mut(p).unwrap().basic = Some(basic);
    let cond = r#"!req_method_in("POST") && (req_host_in("x.a.com") || req_path_prefix_in("/q", true))
        && req_header_value_in("X-A", "1|2", false) && req_path_in("/static/A", false)"#;
    t.product_mut(p)
        .unwrap()
        .rules
        .push((Cond::compile(cond).unwrap(), 3));
    let req = Req::get("X.A.com:80", "/static/%41")
        .with_header("X-A", "2")
        .with_header("Cookie", "k=v");
    let vip: IpAddr = "10.1.1.1".parse().unwrap();
    let hash = HashConf {
        hash_strategy: 0,
        hash_header: "Cookie:k".into(),
        session_sticky: false,
    };
    let mut bal = Balancer::default();
    // Warm-up: the thread's buffer for decoding `%41` is set up once.
    let _ = t.find_cluster(0, &req);
    let n = allocations(|| {
        let prod = t.find_product(&req.host, vip).unwrap();
        assert_eq!(t.find_cluster(prod, &req), Some(3));
        assert_ne!(hash_key(&hash, &req), 0);
        assert_eq!(bal.pick_backend(0, 0, &[]), None);
    });
    assert_eq!(n, 0);
}

/// Every primitive, evaluated on a request that makes each one decode,
/// parse or search. The first round is a warm-up: the worker's decoding
/// buffer and each regex's match cache are set up once per thread; from
/// then on evaluation allocates nothing.
#[test]
fn every_primitive_evaluates_without_allocating() {
    let conds = [
        "default_t()",
        "req_cip_trusted()",
        "req_proto_secure()",
        r#"req_cip_range("192.0.2.0", "192.0.2.255")"#,
        r#"ses_sip_range("192.0.2.0", "192.0.2.255")"#,
        r#"req_vip_in("10.0.0.1|::1")"#,
        r#"req_vip_range("10.0.0.0", "10.0.0.9")"#,
        r#"ses_vip_range("10.0.0.0", "10.0.0.9")"#,
        r#"req_method_in("get")"#,
        r#"req_host_in("x.a.com")"#,
        r#"req_host_suffix_in(".A.COM")"#,
        r#"req_host_regmatch("^X")"#,
        r#"req_port_in("8080")"#,
        r#"req_path_in("/p q/A", true)"#,
        r#"req_path_prefix_in("/p q", false)"#,
        r#"req_path_suffix_in("/a", true)"#,
        r#"req_path_contain(" q", false)"#,
        r#"req_path_element_prefix_in("/p q", false)"#,
        r#"req_path_regmatch("^/p q/")"#,
        r#"req_url_regmatch("%20")"#,
        "req_query_exist()",
        r#"req_query_key_in("k")"#,
        r#"req_query_key_prefix_in("k")"#,
        r#"req_query_value_in("k", "a b", false)"#,
        r#"req_query_value_prefix_in("k", "a", false)"#,
        r#"req_query_value_suffix_in("k", "B", true)"#,
        r#"req_query_value_contain("k", " ", false)"#,
        r#"req_query_value_regmatch("k", "^a b$")"#,
        r#"req_cookie_key_in("sid")"#,
        r#"req_cookie_value_in("sid", "v1", false)"#,
        r#"req_cookie_value_prefix_in("sid", "v", false)"#,
        r#"req_cookie_value_suffix_in("sid", "1", false)"#,
        r#"req_cookie_value_contain("sid", "v", false)"#,
        r#"req_header_key_in("X-A")"#,
        r#"req_header_value_in("X-A", "2", false)"#,
        r#"req_header_value_prefix_in("X-A", "2", false)"#,
        r#"req_header_value_suffix_in("X-A", "2", false)"#,
        r#"req_header_value_contain("X-A", "2", false)"#,
        r#"req_header_value_regmatch("X-A", "2")"#,
        r#"req_ua_regmatch("curl")"#,
        r#"res_code_in("200")"#,
        r#"res_header_key_in("Server")"#,
        r#"res_header_value_in("Server", "s", false)"#,
        r#"ses_tls_sni_in("x.a.com")"#,
        r#"bfe_time_range("20190204203000H", "20190204204500H")"#,
        r#"bfe_periodic_time_range("000000Z", "235959Z", "")"#,
        r#"req_cip_hash_in("0-9999")"#,
        r#"req_query_value_hash_in("k", "0-9999", true)"#,
        r#"req_header_value_hash_in("X-A", "0-9999", false)"#,
        r#"req_cookie_value_hash_in("sid", "0-9999", true)"#,
        r#"req_proto_match("HTTPS")"#,
        r#"req_host_tag_in("t1")"#,
        r#"req_tag_match("lane", "gray")"#,
        r#"req_context_value_in("mod_geo.country_iso_code", "cn", true)"#,
    ];
    let compiled: Vec<Cond> = conds.iter().map(|c| Cond::compile(c).unwrap()).collect();
    let req = Req::get("X.A.com:8080", "/p%20q/%41?k=a+b")
        .with_header("X-A", "2")
        .with_header("Cookie", "sid=v1")
        .with_header("User-Agent", "curl/8")
        .with_header("X-Bfe-Debug-Time", "20190204203500H")
        .over_tls(Some("x.a.com"))
        .with_response(200, &[("Server", "s")]);
    let mut req = req;
    req.trusted = true;
    req.host_tag = "t1".into();
    req.tags.push(("lane".into(), vec!["gray:canary".into()]));
    req.context
        .push(("mod_geo.country_iso_code".into(), "CN".into()));
    let all = |out: &mut [bool]| {
        for (o, c) in out.iter_mut().zip(&compiled) {
            *o = c.eval(&req);
        }
    };
    let mut warm = vec![false; compiled.len()];
    all(&mut warm);
    let mut hot = vec![false; compiled.len()];
    let n = allocations(|| all(&mut hot));
    assert_eq!(n, 0);
    assert_eq!(warm, hot);
    let missed: Vec<_> = conds.iter().zip(&hot).filter(|(_, m)| !**m).collect();
    assert!(missed.is_empty(), "{missed:?}");
}

/// mod_rewrite and mod_redirect on a request whose product has no rules,
/// and mod_header's response side with no rule for it, allocate nothing.
#[test]
fn modules_without_rules_for_the_product_do_not_allocate() {
    use crate::basic::{RequestBuilder, Response};
    use crate::modules::{mod_header, mod_redirect, mod_rewrite};
    use std::path::Path;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf");
    let rw = mod_rewrite::conf::load_all(&root).expect("sample");
    let rd = mod_redirect::conf::load_all(&root).expect("sample").0;
    let hd = mod_header::conf::load_all(&root).expect("sample");
    let mut s = crate::config::Snapshot::empty();
    let id = s.route.add_product("other_product");
    let mut req = RequestBuilder::get("example.org", "/rewrite/redirect/header")
        .snapshot(s)
        .build();
    req.route.product = Some(id);
    let mut res = Response::new(200);
    let mut scratch = mod_header::Scratch::default();
    let n = allocations(|| {
        for _ in 0..10 {
            mod_redirect::redirect_handler(&rd, &mut req);
            mod_rewrite::rewrite_handler(&rw, &mut req);
            mod_header::rsp_handler(&hd, &mut req, &mut res, &mut scratch);
        }
    });
    assert_eq!(n, 0);
}

#[test]
fn access_log_lines_do_not_allocate() {
    use crate::basic::{RequestBuilder, Response};
    use crate::modules::mod_access::format::{Fmt, Now, Subject};
    use crate::modules::mod_access::template::{compile, expand_request, Domain};
    // BFE's shipped templates, COMBINED, and the JSON form of the first.
    let req_tpl = "REQUEST_LOG $time clientip: $remote_addr serverip: $server_addr host: $host product: $product user_agent: ${User-Agent}req_header status: $status_code error: $error";
    let ses_tpl = "SESSION_LOG  $time clientip: $ses_clientip start_time: $ses_start_time end_time: $ses_end_time overhead: $ses_overhead read_total: $ses_read_total write_total: $ses_write_total keepalive_num: $ses_keepalive_num error: $ses_error";
    let rq = compile(req_tpl, Domain::Request).unwrap();
    let combined = compile(expand_request("COMBINED"), Domain::Request).unwrap();
    let ses = compile(ses_tpl, Domain::Session).unwrap();
    let req = RequestBuilder::get("example.org", "/a?b=1")
        .header("User-Agent", "curl/8")
        .header("Referer", "http://r/")
        .build();
    let res = Response::new(200).with_header("Content-Type", "text/plain");
    let mut fmt = Fmt::default();
    let mut out = Vec::with_capacity(1 << 20);
    let run = |fmt: &mut Fmt, out: &mut Vec<u8>| {
        let r = Subject::Request(&req, &res);
        fmt.line(out, &rq, false, &r, &mut Now::new());
        fmt.line(out, &combined, false, &r, &mut Now::new());
        fmt.line(out, &rq, true, &r, &mut Now::new());
        fmt.line(
            out,
            &ses,
            false,
            &Subject::Session(&req.ses),
            &mut Now::new(),
        );
    };
    // The first lines fill the per-second time caches and the scratch.
    run(&mut fmt, &mut out);
    let n = allocations(|| {
        for _ in 0..100 {
            run(&mut fmt, &mut out);
        }
    });
    assert_eq!(n, 0);
    assert!(out.len() > 100 * 200);
}
