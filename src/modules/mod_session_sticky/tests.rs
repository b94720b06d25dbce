use super::*;
use crate::basic::RequestBuilder;
use crate::config::Snapshot;

/// A fresh file name per call: tests run in parallel and two of them may
/// write the same rules at the same moment.
fn unique(rules: &str) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{:x}-{}.data",
        fxhash::hash64(rules),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rf-sticky-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn table(rules: &str) -> Tables<StickyTable> {
    let d = dir("t");
    let p = d.join(unique(rules));
    std::fs::write(&p, rules).unwrap();
    Tables::new(load_table(&d, &p, 10000, false).expect("rules load"))
}

fn load_err(rules: &str) -> String {
    let d = dir("e");
    let p = d.join(unique(rules));
    std::fs::write(&p, rules).unwrap();
    match conf::load_rules(&d, &p) {
        Ok(_) => panic!("loaded {rules}"),
        Err(e) => joined(e),
    }
}

fn request(product: &str, cookie: Option<&str>) -> Request {
    let mut s = Snapshot::empty();
    let id = s.route.add_product(product);
    let mut b = RequestBuilder::get("example.org", "/?sid=q1").snapshot(s);
    if let Some(c) = cookie {
        b = b.header("Cookie", c);
    }
    let mut req = b.build();
    req.route.product = Some(id);
    req
}

const COOKIE_RULES: &str = r#"{"Version": "1", "Config": {
    "global": [{"Cond": "default_t()", "CookieKey": "g"}],
    "p": [{"Cond": "req_path_in(\"/\", false)", "MaskCode": "mask1", "StandbyMaskCode": "mask0",
           "Domain": ".example.org", "Path": "/", "MaxAge": 600, "HttpOnly": true, "Secure": true}]}}"#;

fn backend(port: u16, sub: &str) -> StickyBackend {
    StickyBackend {
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        subcluster: sub.into(),
    }
}

fn cookie_for(port: u16, sub: &str, mask: &[u8], renew: Option<i64>) -> String {
    let bk = CookieBackend {
        ip: "127.0.0.1".into(),
        port: port as i64,
        subcluster: sub.into(),
        renew_time: renew,
    };
    codec::encode(&bk, mask)
}

#[test]
fn a_valid_cookie_asks_the_balancer_for_its_backend() {
    let t = table(COOKIE_RULES);
    let c = RefCell::new(StickyCache::new(10));
    let v = cookie_for(8001, "sub1", b"mask1", None);
    let mut req = request("p", Some(&format!("bfe_ssbl={v}")));
    assert_eq!(decode(&t, &c, &mut req), Ret::GoOn);
    assert_eq!(req.ctx.get::<StickyBackend>(), Some(&backend(8001, "sub1")));
    let st = req.ctx.get::<StickyState>().unwrap();
    assert_eq!(st.rule, 0);
    assert!(st.decoded.is_some());

    // The standby mask still decodes; garbage does not.
    let v = cookie_for(8002, "sub1", b"mask0", None);
    let mut req = request("p", Some(&format!("bfe_ssbl={v}")));
    decode(&t, &c, &mut req);
    assert_eq!(req.ctx.get::<StickyBackend>(), Some(&backend(8002, "sub1")));
    let mut req = request("p", Some("bfe_ssbl=bm90IGpzb24"));
    decode(&t, &c, &mut req);
    assert!(req.ctx.get::<StickyBackend>().is_none());
    assert!(req.ctx.get::<StickyState>().unwrap().decoded.is_none());
}

#[test]
fn global_rules_back_up_products_without_an_entry() {
    let t = table(COOKIE_RULES);
    let c = RefCell::new(StickyCache::new(10));
    let v = cookie_for(8003, "s", b"defaultmask", None);
    // Product "q" has no entry: global's rule (cookie "g") applies.
    let mut req = request("q", Some(&format!("bfe_ssbl={v}; g={v}")));
    decode(&t, &c, &mut req);
    assert_eq!(req.ctx.get::<StickyBackend>(), Some(&backend(8003, "s")));
    // No rule anywhere: nothing stored.
    let empty = table(r#"{"Version": "0", "Config": {"global": []}}"#);
    let mut req = request("q", Some(&format!("bfe_ssbl={v}")));
    decode(&empty, &c, &mut req);
    assert!(req.ctx.get::<StickyState>().is_none());
}

#[test]
fn the_cookie_is_set_when_missing_changed_or_due() {
    let t = table(COOKIE_RULES);
    let tb = t.borrow();
    let rule = &tb.rules.product("p")[0].rule;
    let used = backend(8001, "sub1");
    let now = 1_700_000_000;
    let c = cookie_to_set(rule, None, &used, now).expect("no cookie yet");
    let (kv, attrs) = c.split_once("; ").unwrap();
    assert_eq!(
        attrs,
        "Path=/; Domain=example.org; Max-Age=600; HttpOnly; Secure"
    );
    let value = kv.strip_prefix("bfe_ssbl=").unwrap();
    let back = codec::decode(value.as_bytes(), b"mask1", b"x").unwrap();
    assert_eq!((back.port, back.subcluster.as_str()), (8001, "sub1"));
    // RenewWindow defaults to MaxAge/2: renew at now + 600 - 300.
    assert_eq!(back.renew_time, Some(now + 300));

    let same = CookieBackend {
        renew_time: Some(now + 10),
        ..back.clone()
    };
    assert_eq!(cookie_to_set(rule, Some(&same), &used, now), None);
    assert!(cookie_to_set(rule, Some(&same), &used, now + 10).is_some());
    assert!(cookie_to_set(rule, Some(&same), &backend(8002, "sub1"), now).is_some());
    assert!(cookie_to_set(rule, Some(&same), &backend(8001, "sub2"), now).is_some());
}

#[test]
fn encode_skips_responses_not_from_a_backend() {
    let t = table(COOKIE_RULES);
    let c = RefCell::new(StickyCache::new(10));
    let mut req = request("p", None);
    decode(&t, &c, &mut req);
    let mut res = Response::new(200);
    assert_eq!(encode(&t, &c, &mut req, &mut res), Ret::GoOn);
    assert!(res.header("set-cookie").is_none());
}

#[test]
fn sticky_rules_read_cookie_then_header_then_query() {
    let t = table(
        r#"{"Version": "1", "Config": {"p": [{"Cond": "default_t()", "Type": "Sticky",
            "CookieKey": "sid", "Header": "X-Sid", "URIParam": "sid"}]}}"#,
    );
    let tb = t.borrow();
    let rule = &tb.rules.product("p")[0].rule;
    let req = request("p", Some("sid=c1"));
    assert_eq!(sticky_id(rule, &req).as_deref(), Some("c1"));
    let req = request("p", None);
    assert_eq!(sticky_id(rule, &req).as_deref(), Some("q1"));
    drop(tb);

    let c = RefCell::new(StickyCache::new(10));
    c.borrow_mut().insert("q1", backend(9000, "s"));
    let mut req = request("p", None);
    decode(&t, &c, &mut req);
    assert_eq!(req.ctx.get::<StickyBackend>(), Some(&backend(9000, "s")));
}

#[test]
fn response_cookie_is_read_from_set_cookie() {
    let res = Response::new(200)
        .with_header("Set-Cookie", "other=1; Path=/")
        .with_header("Set-Cookie", "sid=\"abc\"; HttpOnly");
    assert_eq!(response_cookie(&res, "sid").as_deref(), Some("abc"));
    assert_eq!(response_cookie(&res, "nope"), None);
}

#[test]
fn bad_rules_are_refused_with_bfe_checks() {
    let r = |rule: &str| format!(r#"{{"Version": "1", "Config": {{"p": [{rule}]}}}}"#);
    for (rule, want) in [
        (r#"{"Type": "Cookie"}"#, "Cond"),
        (r#"{"Cond": "default_t()", "MaskCode": "abc"}"#, "MaskCode"),
        (
            r#"{"Cond": "default_t()", "StandbyMaskCode": "ab"}"#,
            "StandbyMaskCode",
        ),
        (r#"{"Cond": "default_t()", "CookieKey": "  "}"#, "CookieKey"),
        (r#"{"Cond": "default_t()", "MaxAge": -1}"#, "MaxAge"),
        (r#"{"Cond": "default_t()", "Path": "x"}"#, "Path"),
        (r#"{"Cond": "default_t()", "Type": "cookie"}"#, "Type"),
        (r#"{"Cond": "default_t()", "Type": "Sticky"}"#, "CookieKey"),
        (r#"{"Cond": "default_t()", "Domain": "a b"}"#, "Domain"),
        (
            r#"{"Cond": "default_t()", "Type": "Sticky", "CookieKey": "s", "StickyRequestField": "id"}"#,
            "StickyRequestField",
        ),
    ] {
        let e = load_err(&r(rule));
        assert!(e.contains(want), "{rule}: {e}");
    }
    assert!(load_err(r#"{"Config": {}}"#).contains("Version"));
    assert!(load_err(r#"{"Version": "1"}"#).contains("Config"));
}

#[test]
fn conf_refuses_redis_and_unknown_keys() {
    let d = dir("conf");
    std::fs::create_dir_all(d.join(NAME)).unwrap();
    let write =
        |text: &str| std::fs::write(d.join(NAME).join(format!("{NAME}.conf")), text).unwrap();
    write("[Basic]\nCacheType = redis\n");
    let e = joined(conf::read_conf(&d).unwrap_err());
    assert!(
        e.contains("mod_session_sticky.conf")
            && e.contains("CacheType")
            && e.contains("Redis client"),
        "{e}"
    );
    write("[Basic]\nCacheSize = 5\nBogus = 1\n");
    assert!(joined(conf::read_conf(&d).unwrap_err()).contains("Bogus"));
    write("[Basic]\nCacheSize = 5\n");
    let c = conf::read_conf(&d).unwrap();
    assert_eq!(c.cache_size, conf::MIN_CACHE_SIZE);
    assert_eq!(
        c.data_path,
        d.join("mod_session_sticky/session_sticky.data")
    );
}

#[test]
fn bfe_sample_conf_loads_unchanged() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf");
    let m = ModSessionSticky
        .check(&root)
        .expect("conf/mod_session_sticky loads");
    let t = m.get::<StickyTable>().unwrap();
    assert_eq!(t.version, "0");
    assert_eq!(t.cache_size, 100000);
    assert!(t.rules.global().is_empty());
}
