//! BFE's eleven core modules together, on BFE's own shipped files: the
//! `conf/mod_*/` samples of bfenetworks/bfe (ringfront's `conf/` holds them
//! unchanged) enabled as BFE's default bfe.conf enables them, for the
//! product they are written for (`example_product`). What BFE documents
//! for those samples must happen through the real server: blocked
//! requests closed, the header rule's header present, the rewrite and the
//! redirect applied, the prison limiting, tags steering a route rule, log
//! ids and default headers reaching the backend, response classes counted,
//! and lines in the sample's access-log template; then a reload taking
//! effect and a broken one changing nothing.

mod common;
mod guard_util;

use common::conf::{Cluster, Layout};
use common::origin::Origin;
use guard_util::{copy_samples, counters, get_from, ONE};
use std::path::Path;
use std::time::Duration;

/// BFE's default bfe.conf order (the run order is BFE's fixed one anyway).
const MODULES: [&str; 11] = [
    "mod_trust_clientip",
    "mod_block",
    "mod_header",
    "mod_rewrite",
    "mod_redirect",
    "mod_logid",
    "mod_tag",
    "mod_access",
    "mod_prison",
    "mod_session_sticky",
    "mod_http_code",
];

/// Samples whose files live in `conf/<module>/` (mod_logid and
/// mod_http_code have none in BFE's tree).
const WITH_SAMPLES: [&str; 9] = [
    "mod_trust_clientip",
    "mod_block",
    "mod_header",
    "mod_rewrite",
    "mod_redirect",
    "mod_tag",
    "mod_access",
    "mod_prison",
    "mod_session_sticky",
];

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if p.is_dir() {
            copy_tree(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool, last: impl Fn() -> String) {
    for _ in 0..300 {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("timed out waiting for {what}; last seen:\n{}", last());
}

#[test]
fn bfe_default_modules_on_bfe_samples_behave_as_bfe_documents() {
    let a = Origin::named("A");
    let tagged = Origin::named("TAGGED");
    let mut l = Layout::single(Cluster::simple("c", &[a.addr]));
    l.clusters.push(Cluster::simple("tagged", &[tagged.addr]));
    l.hosts = vec![("example_product".into(), vec!["example.org".into()])];
    l.default_product = Some("example_product".into());
    // mod_tag's sample tags requests for example.org with tag1=bfe, at
    // HandleFoundProduct: before the route rules pick the cluster.
    l.rules = vec![(
        "example_product".into(),
        vec![
            (
                r#"req_tag_match("tag1", "bfe") && req_path_prefix_in("/tagged", false)"#.into(),
                "tagged".into(),
            ),
            ("default_t()".into(), "c".into()),
        ],
    )];
    l.modules = MODULES.iter().map(|m| m.to_string()).collect();
    let written = l.write();
    // BFE's mod_access sample logs to `../log`, beside the conf dir: the
    // conf root is one level down so that the log stays in this test's dir.
    let root = written.path().join("conf");
    std::fs::create_dir_all(&root).unwrap();
    for f in ["bfe.conf", "server_data_conf", "cluster_conf"] {
        let p = written.path().join(f);
        if p.is_dir() {
            copy_tree(&p, &root.join(f));
        } else {
            std::fs::copy(&p, root.join(f)).unwrap();
        }
    }
    for m in WITH_SAMPLES {
        copy_samples(&root, m);
    }
    let log = written.path().join("log").join("access.log");
    let h = common::start(&root, None);

    // mod_header: RSP_HEADER_SET X-Proxied-By: bfe under /header; the
    // default headers and mod_logid's id reach the backend.
    let r = get_from(ONE, &h, "/header/x", &[("X-Real-Ip", "1.2.3.4")]).expect("answer");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("X-Proxied-By"), Some("bfe"));
    let seen = a.requests().pop().expect("origin saw /header/x");
    assert_eq!(seen.target, "/header/x");
    // 127.0.0.1 is outside the sample's trusted 10.0.0.0/8: its own
    // X-Real-Ip does not make it someone else.
    assert_eq!(seen.header("X-Real-Ip"), Some("127.0.0.1"));
    let id = seen.header("X-Bfe-Log-Id").expect("log id").to_string();
    assert!(
        id.len() >= 16 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id}"
    );

    // mod_rewrite: PATH_PREFIX_ADD /bfe/ under /rewrite.
    let r = get_from(ONE, &h, "/rewrite/a?q=1", &[]).expect("answer");
    assert_eq!(r.status, 200);
    assert_eq!(a.requests().pop().unwrap().target, "/bfe/rewrite/a?q=1");

    // mod_redirect: URL_SET https://example.org, 301; the backend never
    // sees the request.
    let before = a.count();
    let r = get_from(ONE, &h, "/redirect/x", &[]).expect("answer");
    assert_eq!(r.status, 301);
    assert_eq!(r.header("Location"), Some("https://example.org"));
    assert_eq!(a.count(), before);

    // mod_block: CLOSE for /limit: no answer at all.
    assert!(get_from(ONE, &h, "/limit", &[]).is_none());
    assert_eq!(a.count(), before);

    // mod_tag + route rule: tagged requests go to the other cluster.
    let r = get_from(ONE, &h, "/tagged", &[]).expect("answer");
    assert_eq!(r.text(), "TAGGED");

    // mod_prison: 5 requests per 10 s per UID cookie under /prison (one
    // worker), then closed.
    let cookie = [("Cookie", "UID=alice")];
    for i in 0..5 {
        let r = get_from(ONE, &h, "/prison", &cookie);
        assert_eq!(r.map(|r| r.status), Some(200), "request {i}");
    }
    assert!(get_from(ONE, &h, "/prison", &cookie).is_none(), "jailed");
    let other = get_from(ONE, &h, "/prison", &[("Cookie", "UID=bob")]);
    assert_eq!(other.map(|r| r.status), Some(200), "another UID is free");

    // mod_http_code: 2xx and the redirect counted.
    let c = counters(&h, "mod_http_code");
    assert!(c["ALL2_X_X"].as_u64().unwrap() >= 9, "{c}");
    assert_eq!(c["ALL3_X_X"].as_u64(), Some(1), "{c}");
    assert_eq!(common::counter(&h, "err_block"), 1);
    assert_eq!(common::counter(&h, "err_prison"), 1);

    // mod_access: lines in the sample's template, for every request,
    // including the refused ones with their error.
    let mut text = String::new();
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    wait_for(
        "access-log lines",
        || {
            text = read();
            text.contains("error: PRISON") && text.matches("SESSION_LOG").count() >= 12
        },
        read,
    );
    assert!(
        text.contains("REQUEST_LOG") && text.contains("host: example.org product: example_product"),
        "{text}"
    );
    assert!(text.contains("status: 301"), "{text}");
    assert!(text.contains("error: BLOCK"), "{text}");
    assert!(text.contains("clientip: 127.0.0.1 "), "{text}");

    // A reload takes effect without a restart; a broken file changes
    // nothing and the reply says why.
    let hdr = root.join("mod_header/header_rule.data");
    let good = std::fs::read_to_string(&hdr).unwrap();
    std::fs::write(&hdr, good.replace("\"bfe\"", "\"ringfront\"")).unwrap();
    let rep = common::reload(&h, "mod_header");
    assert!(rep["error"].is_null(), "{rep}");
    let r = get_from(ONE, &h, "/header/y", &[]).expect("answer");
    assert_eq!(r.header("X-Proxied-By"), Some("ringfront"));
    std::fs::write(&hdr, "{ not json").unwrap();
    let rep = common::reload(&h, "mod_header");
    assert!(!rep["error"].is_null(), "{rep}");
    let r = get_from(ONE, &h, "/header/z", &[]).expect("answer");
    assert_eq!(r.header("X-Proxied-By"), Some("ringfront"));
}

/// `ringfront -t` accepts ringfront's default conf dir, which enables the
/// eleven modules on BFE's samples.
#[test]
fn default_conf_dir_checks_clean() {
    let conf = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf");
    let text = std::fs::read_to_string(conf.join("bfe.conf")).unwrap();
    for m in MODULES {
        assert!(
            text.contains(&format!("Modules = {m}\n")),
            "{m} not enabled"
        );
    }
    let (code, out) = guard_util::check(&conf);
    assert_eq!(code, Some(0), "{out}");
}
