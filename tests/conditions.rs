//! Every condition primitive routing real requests on loopback: one rule
//! per primitive, each to its own cluster and origin. Each case sends one
//! request the primitive should accept (it lands on the case's origin) and
//! one it should refuse (it falls through to `default_t()`). An `X-Case`
//! header keeps each rule to its own requests.
//!
//! Addresses are real too: the client binds a chosen 127.0.0.x source and
//! connects to a chosen 127.0.0.x destination (the VIP); a small test
//! module marks one source as trusted and lets `X-Real-Client` replace the
//! client address, as mod_trust_clientip would.

mod common;

use common::client::{self, parse_response};
use common::conf::{Cluster, Layout};
use common::origin::{Origin, Reply};
use ringfront::module::{AcceptPoint, Handler, InitCtx, Module, ModuleError, Point, Ret};
use ringfront::route::RequestFacts;
use std::io::Write;
use std::net::{Ipv4Addr, TcpStream};
use std::os::fd::FromRawFd;
use std::sync::Arc;
use std::time::Duration;

/// One request: where from, where to, and what.
#[derive(Clone)]
struct Send {
    from: Ipv4Addr,
    to: Ipv4Addr,
    method: &'static str,
    host: &'static str,
    target: &'static str,
    headers: Vec<&'static str>,
}

fn get(target: &'static str) -> Send {
    Send {
        from: Ipv4Addr::LOCALHOST,
        to: Ipv4Addr::LOCALHOST,
        method: "GET",
        host: "example.org",
        target,
        headers: Vec::new(),
    }
}

impl Send {
    fn host(mut self, h: &'static str) -> Self {
        self.host = h;
        self
    }
    fn method(mut self, m: &'static str) -> Self {
        self.method = m;
        self
    }
    fn header(mut self, h: &'static str) -> Self {
        self.headers.push(h);
        self
    }
    fn from(mut self, last: u8) -> Self {
        self.from = Ipv4Addr::new(127, 0, 0, last);
        self
    }
    fn to(mut self, last: u8) -> Self {
        self.to = Ipv4Addr::new(127, 0, 0, last);
        self
    }
}

struct Case {
    name: &'static str,
    cond: &'static str,
    hit: Send,
    miss: Send,
    /// Where `hit` lands: the case's own origin, or `default` for
    /// primitives that cannot hold while routing a plain-HTTP request.
    hit_lands: Where,
}

#[derive(PartialEq)]
enum Where {
    Own,
    Default,
}

fn case(name: &'static str, cond: &'static str, hit: Send, miss: Send) -> Case {
    Case {
        name,
        cond,
        hit,
        miss,
        hit_lands: Where::Own,
    }
}

fn never(name: &'static str, cond: &'static str, hit: Send) -> Case {
    Case {
        name,
        cond,
        miss: hit.clone(),
        hit,
        hit_lands: Where::Default,
    }
}

fn cases() -> Vec<Case> {
    vec![
        case(
            "cip_trusted",
            "req_cip_trusted()",
            get("/").from(9),
            get("/").from(8),
        ),
        case(
            "cip_range",
            r#"req_cip_range("127.0.0.20", "127.0.0.29")"#,
            get("/").from(25),
            // Same socket peer, but the client address was replaced.
            get("/").from(25).header("X-Real-Client: 10.0.0.1"),
        ),
        // The core believes a trusted session's X-Real-Ip, else the first
        // X-Forwarded-For entry; an untrusted peer's are ignored.
        case(
            "cip_real_ip_trusted",
            r#"req_cip_range("10.9.9.9", "10.9.9.9")"#,
            get("/").from(9).header("X-Real-Ip: 10.9.9.9"),
            get("/").from(8).header("X-Real-Ip: 10.9.9.9"),
        ),
        case(
            "cip_xff_trusted",
            r#"req_cip_range("10.9.9.8", "10.9.9.8")"#,
            get("/")
                .from(9)
                .header("X-Forwarded-For: 10.9.9.8, 10.1.1.1"),
            get("/")
                .from(9)
                .header("X-Forwarded-For: 10.1.1.1, 10.9.9.8"),
        ),
        case(
            "sip_range",
            r#"ses_sip_range("127.0.0.40", "127.0.0.40")"#,
            get("/").from(40).header("X-Real-Client: 10.0.0.1"),
            get("/").from(41).header("X-Real-Client: 127.0.0.40"),
        ),
        case(
            "vip_in",
            r#"req_vip_in("127.0.0.2|10.0.0.1")"#,
            get("/").to(2),
            get("/").to(1),
        ),
        case(
            "vip_range",
            r#"req_vip_range("127.0.0.3", "127.0.0.4")"#,
            get("/").to(4),
            get("/").to(5),
        ),
        case(
            "ses_vip_range",
            r#"ses_vip_range("127.0.0.6", "127.0.0.6")"#,
            get("/").to(6),
            get("/").to(7),
        ),
        never("proto_secure", "req_proto_secure()", get("/")),
        never("sni_in", r#"ses_tls_sni_in("example.org")"#, get("/")),
        case(
            "method_in",
            r#"req_method_in("put|DELETE")"#,
            get("/").method("DELETE"),
            get("/").method("GET"),
        ),
        case(
            "host_in",
            r#"req_host_in("api.example.org|api.example.net")"#,
            get("/").host("API.example.org:8080"),
            get("/").host("api2.example.org"),
        ),
        case(
            "host_suffix_in",
            r#"req_host_suffix_in(".img.example.org")"#,
            get("/").host("a.img.example.org"),
            get("/").host("img.example.org"),
        ),
        case(
            "host_regmatch",
            r#"req_host_regmatch(`^shop[0-9]+\.`)"#,
            get("/").host("shop12.example.org"),
            get("/").host("shop.example.org"),
        ),
        case(
            "port_in",
            r#"req_port_in("8081|8082")"#,
            get("/").host("example.org:8082"),
            get("/").host("example.org"),
        ),
        case(
            "path_in",
            r#"req_path_in("/exact path", false)"#,
            get("/exact%20path"),
            get("/exact%20path/"),
        ),
        case(
            "path_prefix_in",
            r#"req_path_prefix_in("/pre/", true)"#,
            get("/PRE/x"),
            get("/pr/x"),
        ),
        case(
            "path_suffix_in",
            r#"req_path_suffix_in(".jpg|.png", false)"#,
            get("/a/b.jpg"),
            get("/a/b.JPG"),
        ),
        case(
            "path_contain",
            r#"req_path_contain("admin", true)"#,
            get("/x/Admin/y"),
            get("/x/adm/y"),
        ),
        case(
            "path_element_prefix_in",
            r#"req_path_element_prefix_in("/elem", false)"#,
            get("/elem/x"),
            get("/element"),
        ),
        case(
            "path_regmatch",
            r#"req_path_regmatch(`^/item/[0-9]+$`)"#,
            get("/item/%34%32"),
            get("/item/4a"),
        ),
        case(
            "url_regmatch",
            r#"req_url_regmatch(`\?v=2$`)"#,
            get("/u?v=2"),
            get("/u?v=20"),
        ),
        case("query_exist", "req_query_exist()", get("/q?a"), get("/q?")),
        case(
            "query_key_in",
            r#"req_query_key_in("debug|trace")"#,
            get("/?x=1&trace"),
            get("/?tracer=1"),
        ),
        case(
            "query_key_prefix_in",
            r#"req_query_key_prefix_in("utm_")"#,
            get("/?utm_source=x"),
            get("/?xutm_=1"),
        ),
        case(
            "query_value_in",
            r#"req_query_value_in("lang", "zh cn", false)"#,
            get("/?lang=zh+cn"),
            get("/?lang=zh-cn"),
        ),
        case(
            "query_value_prefix_in",
            r#"req_query_value_prefix_in("id", "ab", true)"#,
            get("/?id=ABc"),
            get("/?id=cab"),
        ),
        case(
            "query_value_suffix_in",
            r#"req_query_value_suffix_in("f", ".pdf", false)"#,
            get("/?f=x%2Epdf"),
            get("/?f=x.pdfx"),
        ),
        case(
            "query_value_contain",
            r#"req_query_value_contain("q", "rust", true)"#,
            get("/?q=I+love+RUST"),
            get("/?q=rus"),
        ),
        case(
            "query_value_regmatch",
            r#"req_query_value_regmatch("n", `^\d{3}$`)"#,
            get("/?n=123"),
            get("/?n=1234"),
        ),
        case(
            "cookie_key_in",
            r#"req_cookie_key_in("session|sid")"#,
            get("/").header("Cookie: a=1; session=x"),
            get("/").header("Cookie: sessionid=x"),
        ),
        case(
            "cookie_value_in",
            r#"req_cookie_value_in("ab", "b|", false)"#,
            get("/").header("Cookie: x=1").header("Cookie: ab=b"),
            // A missing cookie is no match, not even for "".
            get("/"),
        ),
        case(
            "cookie_value_prefix_in",
            r#"req_cookie_value_prefix_in("v", "beta", true)"#,
            get("/").header("Cookie: v=BETA-2"),
            get("/").header("Cookie: v=alpha"),
        ),
        case(
            "cookie_value_suffix_in",
            r#"req_cookie_value_suffix_in("v", "-canary", false)"#,
            get("/").header("Cookie: v=\"1-canary\""),
            get("/").header("Cookie: v=1-Canary"),
        ),
        case(
            "cookie_value_contain",
            r#"req_cookie_value_contain("v", "gold", false)"#,
            get("/").header("Cookie: v=xgoldx"),
            get("/").header("Cookie: w=gold; v=x"),
        ),
        case(
            "header_key_in",
            r#"req_header_key_in("X-Debug|X-Trace")"#,
            get("/").header("x-debug: 1"),
            get("/").header("X-Debugger: 1"),
        ),
        case(
            "header_value_in",
            r#"req_header_value_in("X-Tier", "gold|silver", false)"#,
            get("/").header("X-Tier: silver"),
            get("/").header("X-Tier: Gold"),
        ),
        case(
            "header_value_prefix_in",
            r#"req_header_value_prefix_in("X-Ver", "2.", false)"#,
            get("/").header("X-Ver: 2.1"),
            get("/").header("X-Ver: 12.1"),
        ),
        case(
            "header_value_suffix_in",
            r#"req_header_value_suffix_in("X-Ver", "-RC", true)"#,
            get("/").header("X-Ver: 3.0-rc"),
            get("/").header("X-Ver: 3.0-rc1"),
        ),
        case(
            "header_value_contain",
            r#"req_header_value_contain("Accept", "json", true)"#,
            get("/").header("Accept: application/JSON"),
            get("/").header("Accept: text/html"),
        ),
        case(
            "header_value_regmatch",
            r#"req_header_value_regmatch("X-Id", `^[a-f0-9]{8}$`)"#,
            get("/").header("X-Id: deadbeef"),
            get("/").header("X-Id: DEADBEEF"),
        ),
        case(
            "ua_regmatch",
            r#"req_ua_regmatch("(?i)bot")"#,
            get("/").header("User-Agent: Googlebot/2.1"),
            get("/").header("User-Agent: curl/8"),
        ),
        never("res_code_in", r#"res_code_in("200")"#, get("/")),
        never(
            "res_header_key_in",
            r#"res_header_key_in("Content-Length")"#,
            get("/"),
        ),
        never(
            "res_header_value_in",
            r#"res_header_value_in("Content-Length", "", false)"#,
            get("/"),
        ),
        case(
            "time_range",
            r#"bfe_time_range("20190204203000H", "20190204204500H")"#,
            get("/").header("X-Bfe-Debug-Time: 20190204204000H"),
            get("/").header("X-Bfe-Debug-Time: 20190204204600H"),
        ),
        case(
            "periodic_time_range",
            r#"bfe_periodic_time_range("080000Z", "090000Z", "")"#,
            get("/").header("X-Bfe-Debug-Time: 20240101163000H"),
            get("/").header("X-Bfe-Debug-Time: 20240101093001Z"),
        ),
        case(
            "cip_hash_in",
            cip_bucket_cond(),
            get("/").from(31),
            get("/").from(32),
        ),
        case(
            "header_value_hash_in",
            // Buckets as BFE computes them: test-uid-0002 is 4073,
            // test-uid-0003 is 4055 (BFE's build_test.go).
            r#"req_header_value_hash_in("X-Uid", "4073|5000-9999", false)"#,
            get("/").header("X-Uid: test-uid-0002"),
            get("/").header("X-Uid: test-uid-0003"),
        ),
        case(
            "query_value_hash_in",
            r#"req_query_value_hash_in("uid", "5968", true)"#,
            get("/?uid=TEST-uid-0001"),
            get("/?uid=test-uid-0002"),
        ),
        case(
            "cookie_value_hash_in",
            r#"req_cookie_value_hash_in("uid", "4055", false)"#,
            get("/").header("Cookie: a=1; uid=test-uid-0003"),
            get("/").header("Cookie: a=1; uid=test-uid-0002"),
        ),
        case(
            "proto_match",
            r#"req_proto_match("http/1.1") && req_path_in("/p", false)"#,
            get("/p"),
            get("/q"),
        ),
        never("proto_match_https", r#"req_proto_match("https")"#, get("/")),
        case(
            "host_tag_in",
            // example.org is listed under host tag "p_tag"; other.org
            // reaches the product as DefaultProduct, with no host tag.
            r#"req_host_tag_in("other|P_TAG")"#,
            get("/"),
            get("/").host("other.org"),
        ),
        case(
            "tag_match",
            r#"req_tag_match("t", "gray")"#,
            get("/").header("X-Tag: gray:42"),
            get("/").header("X-Tag: blue"),
        ),
        case(
            "context_value_in",
            r#"req_context_value_in("mod_test.ctx", "a|b", true)"#,
            get("/").header("X-Ctx: B"),
            get("/").header("X-Ctx: c"),
        ),
    ]
}

/// `req_cip_hash_in` holding for client 127.0.0.31 and not for
/// 127.0.0.32, from the bucket BFE's hash gives each.
fn cip_bucket_cond() -> &'static str {
    use ringfront::route::condition::hash::bucket;
    let hit = bucket(b"127.0.0.31", false);
    assert_ne!(hit, bucket(b"127.0.0.32", false));
    Box::leak(format!(r#"req_cip_hash_in("{hit}")"#).into_boxed_str())
}

/// Marks 127.0.0.9 as a trusted source and takes the client address from
/// `X-Real-Client`, as mod_trust_clientip does for trusted proxies; adds
/// tag `t` from `X-Tag` and publishes `mod_test.ctx` from `X-Ctx`.
struct TrustForTest;

impl Module for TrustForTest {
    fn name(&self) -> &'static str {
        "mod_test_trust"
    }

    fn init(&self, ctx: &mut InitCtx<'_>) -> Result<(), ModuleError> {
        let cbs = ctx.callbacks();
        cbs.on_accept(AcceptPoint::Accept, |ses| {
            ses.set_trusted(ses.peer.ip() == Ipv4Addr::new(127, 0, 0, 9));
            Ret::GoOn
        });
        cbs.add_handler(
            Point::BeforeLocation,
            Handler::Request(Box::new(|req| {
                let real = req
                    .header(b"X-Real-Client")
                    .and_then(|v| std::str::from_utf8(v).ok())
                    .and_then(|v| v.parse().ok());
                if let Some(ip) = real {
                    req.client_ip = ip;
                }
                // What mod_tag and other modules would add, for the
                // tag and context primitives.
                let tag = req.header(b"X-Tag").map(|v| v.to_vec());
                if let Some(tag) = tag {
                    req.add_tag("t", &String::from_utf8_lossy(&tag));
                }
                let ctx = req.header(b"X-Ctx").map(|v| v.to_vec());
                if let Some(v) = ctx {
                    req.ctx.publish("mod_test.ctx", String::from_utf8_lossy(&v));
                }
                (Ret::GoOn, None)
            })),
        )?;
        Ok(())
    }
}

/// A TCP connection from `from` (any 127.0.0.x) to `to:port`.
fn connect(from: Ipv4Addr, to: Ipv4Addr, port: u16) -> TcpStream {
    let addr = |ip: Ipv4Addr, port: u16| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(ip).to_be(),
        },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: plain socket calls on a descriptor this function owns; the
    // sockaddr_in values outlive the calls that read them.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket");
        let stream = TcpStream::from_raw_fd(fd);
        let src = addr(from, 0);
        let rc = libc::bind(fd, &src as *const _ as *const libc::sockaddr, len);
        assert_eq!(rc, 0, "bind {from}: {}", std::io::Error::last_os_error());
        let dst = addr(to, port);
        let rc = libc::connect(fd, &dst as *const _ as *const libc::sockaddr, len);
        assert_eq!(rc, 0, "connect {to}: {}", std::io::Error::last_os_error());
        stream
    }
}

fn send(port: u16, case: &str, r: &Send) -> String {
    let mut s = connect(r.from, r.to, port);
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {}\r\nX-Case: {case}\r\nConnection: close\r\n",
        r.method, r.target, r.host
    );
    for h in &r.headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    let raw = client::read_to_close(&mut s);
    let resp = parse_response(&raw)
        .unwrap_or_else(|| panic!("{case}: no response in {:?}", String::from_utf8_lossy(&raw)));
    assert_eq!(resp.status, 200, "{case}: {}", resp.text());
    resp.text()
}

#[test]
fn each_primitive_routes_its_requests() {
    let cases = cases();
    let fallback = Origin::named("default");
    let origins: Vec<Origin> = cases
        .iter()
        .map(|c| {
            let name = c.name;
            Origin::start(move |_| Reply::text(name))
        })
        .collect();
    let mut l = Layout::single(Cluster::simple("default", &[fallback.addr]));
    let mut rules = Vec::new();
    for (c, o) in cases.iter().zip(&origins) {
        l.clusters.push(Cluster::simple(c.name, &[o.addr]));
        let guarded = format!(
            "req_header_value_in(\"X-Case\", \"{}\", false) && ({})",
            c.name, c.cond
        );
        rules.push((guarded, c.name.to_string()));
    }
    rules.push(("default_t()".into(), "default".into()));
    l.rules = vec![("p".into(), rules)];
    l.modules = vec!["mod_test_trust".into()];
    let d = l.write();

    let mut registry = ringfront::modules::registry();
    registry.register(Arc::new(TrustForTest));
    let h = common::start(d.path(), Some(registry));
    let port = h.http_addr.port();

    let mut wrong = Vec::new();
    for c in &cases {
        let want_hit = match c.hit_lands {
            Where::Own => c.name,
            Where::Default => "default",
        };
        let hit = send(port, c.name, &c.hit);
        let miss = send(port, c.name, &c.miss);
        if hit != want_hit || miss != "default" {
            wrong.push(format!(
                "{}: hit went to {hit} (want {want_hit}), miss went to {miss}",
                c.name
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // Every origin that should have been reached was reached exactly once.
    for (c, o) in cases.iter().zip(&origins) {
        let want = usize::from(c.hit_lands == Where::Own);
        assert_eq!(o.count(), want, "{}", c.name);
    }
}

/// A condition that does not compile stops the load, naming the rule and
/// the column; a good one next to it does not hide the error.
#[test]
fn bad_condition_refuses_to_start() {
    let o = Origin::named("A");
    let mut l = Layout::single(Cluster::simple("c", &[o.addr]));
    l.rules = vec![(
        "p".into(),
        vec![
            (r#"req_path_in("/a", false)"#.into(), "c".into()),
            (
                r#"req_cip_range("10.0.0.9", "10.0.0.1")"#.into(),
                "c".into(),
            ),
        ],
    )];
    let d = l.write();
    let err = match ringfront::server::start(ringfront::server::ServerOptions::new(d.path())) {
        Ok(_) => panic!("started with a bad condition"),
        Err(e) => e,
    };
    assert!(
        err.contains("route_rule.data: ProductRule.p[1].Cond: column 27: req_cip_range"),
        "{err}"
    );
}
