//! The monitor port as a BFE operator's tools read it: BFE's page names
//! and JSON shapes (go-lib's `MetricsData`, BFE's version and table
//! structs), `*_diff` pages over `MonitorInterval`, format errors, reload
//! listing and replies, Prometheus text (parsed by the Prometheus Python
//! client) with per-product and per-cluster latency histograms, and
//! configuration versions that change on reload.

mod common;

use common::client;
use common::conf::{Cluster, ConfDir, Layout};
use common::origin::Origin;
use ringfront::server::ServerHandle;
use serde_json::{json, Value};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The JSON of a monitor page that must answer 200.
fn page(h: &ServerHandle, path: &str) -> Value {
    let (status, body) = common::monitor_get(h, path);
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

/// `path` fetched with curl, as a scraper would.
fn curl(h: &ServerHandle, path: &str) -> String {
    let port = h.monitor_addr.expect("monitor").port();
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .output()
        .expect("curl (apt-get install curl)");
    assert!(out.status.success(), "curl {path}: {out:?}");
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Two products on two clusters: `p` (example.org) → `ca`, `q` (q.test) → `cb`.
fn two_products(a: &Origin, b: &Origin) -> Layout {
    let mut l = Layout::single(Cluster::simple("ca", &[a.addr]));
    l.clusters.push(Cluster::simple("cb", &[b.addr]));
    l.hosts.push(("q".into(), vec!["q.test".into()]));
    l.rules
        .push(("q".into(), vec![("default_t()".into(), "cb".into())]));
    l
}

fn assert_metrics_shape(v: &Value, prefix: &str, kind: &str) {
    assert_eq!(v["Prefix"], prefix, "{v}");
    assert_eq!(v["Kind"], kind, "{v}");
    for k in ["GaugeData", "CounterData", "StateData"] {
        assert!(v[k].is_object(), "{k} in {v}");
    }
}

#[test]
fn bfe_counter_pages_answer_in_go_lib_shape() {
    let a = Origin::named("A");
    let mut l = Layout::single(Cluster::simple("ca", &[a.addr]));
    l.server_extra.push_str("HttpsPort = 0\n");
    let d = l.write();
    common::tls::write_files(&d);
    let h = common::start(d.path(), None);
    for _ in 0..2 {
        assert_eq!(client::get(h.http_addr, "example.org", "/").status, 200);
    }
    let mut tls = common::tls::connect_any(h.https_addr.expect("https"), Some("example.org"))
        .expect("TLS handshake");
    let raw = common::tls::exchange(
        &mut tls,
        b"GET / HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n",
    );
    assert!(
        raw.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&raw)
    );
    drop(tls);

    for name in [
        "proxy_state",
        "bal_state",
        "tls_state",
        "http_state",
        "http2_state",
        "proxy_protocol_state",
        "websocket_state",
    ] {
        let v = page(&h, &format!("/monitor/{name}"));
        assert_metrics_shape(&v, "proxy_state", "total");
        let v = page(&h, &format!("/monitor/{name}_diff"));
        assert_metrics_shape(&v, "proxy_state_diff", "delta");
        assert!(v["GaugeData"].as_object().unwrap().is_empty(), "{v}");
    }
    let v = page(&h, "/monitor/proxy_state");
    assert_eq!(v["CounterData"]["CLIENT_REQ_SERVED"], 3, "{v}");
    assert_eq!(v["CounterData"]["HTTP_CLIENT_REQ_SERVED"], 2, "{v}");
    assert_eq!(v["CounterData"]["HTTPS_CLIENT_REQ_SERVED"], 1, "{v}");
    assert_eq!(v["CounterData"]["HTTP2_CLIENT_REQ_SERVED"], 0, "{v}");
    assert_eq!(v["CounterData"]["CLIENT_REQ_WITH_RETRY"], 0, "{v}");
    assert!(
        v["CounterData"]["CLIENT_CONN_SERVED"].as_u64() >= Some(1),
        "{v}"
    );
    assert!(v["GaugeData"]["CLIENT_CONN_ACTIVE"].is_u64(), "{v}");
    assert!(common::eventually(|| {
        page(&h, "/monitor/proxy_state")["CounterData"]["TLS_HANDSHAKE_SUCC"] == 1
    }));
    assert_eq!(
        page(&h, "/monitor/tls_state")["CounterData"]["TLS_HANDSHAKE_ALL"],
        1
    );
    let v = page(&h, "/monitor/http_state");
    // Three requests, each on a new or a pooled backend connection.
    let conns = v["CounterData"]["HTTP_BACKEND_CONN_SUCC"].as_u64().unwrap();
    assert!(conns >= 1, "{v}");
    assert_eq!(v["CounterData"]["HTTP_BACKEND_CONN_ALL"], conns, "{v}");
    assert_eq!(
        v["CounterData"]["HTTP_BACKEND_CONN_REUSE"]
            .as_u64()
            .unwrap()
            + conns,
        3,
        "{v}"
    );
    let v = page(&h, "/monitor/bal_state");
    for k in ["ERR_BK_NO_BACKEND", "ERR_GSLB_BLACKHOLE"] {
        assert_eq!(v["CounterData"][k], 0, "{k}: {v}");
    }
    let v = page(&h, "/monitor/proxy_protocol_state");
    assert_eq!(v["CounterData"]["PROXY_NORMAL_V1_HEADER"], 0, "{v}");

    let (_, kv) = common::monitor_get(&h, "/monitor/proxy_state?format=kv");
    assert!(kv.contains("proxy_state_CLIENT_REQ_SERVED: 3\n"), "{kv}");
    // BFE's noah is another name for kv.
    let (_, noah) = common::monitor_get(&h, "/monitor/proxy_state?format=noah");
    assert!(
        noah.contains("proxy_state_CLIENT_REQ_SERVED: 3\n"),
        "{noah}"
    );
}

#[test]
fn retries_and_failed_connects_are_counted_per_request() {
    let a = Origin::named("A");
    let dead = common::origin::refused_addr();
    // Equal weights: one of two requests starts on the refused backend
    // and is retried on the other.
    let d = Layout::single(Cluster::simple("ca", &[dead, a.addr])).write();
    let h = common::start(d.path(), None);
    for _ in 0..2 {
        assert_eq!(client::get(h.http_addr, "example.org", "/").text(), "A");
    }
    let v = page(&h, "/monitor/proxy_state");
    assert_eq!(v["CounterData"]["CLIENT_REQ_WITH_RETRY"], 1, "{v}");
    assert_eq!(v["CounterData"]["CLIENT_REQ_WITH_CROSS_RETRY"], 0, "{v}");
    assert_eq!(v["CounterData"]["ERR_BK_CONNECT_BACKEND"], 1, "{v}");
    let v = page(&h, "/monitor/http_state");
    assert_eq!(v["CounterData"]["HTTP_BACKEND_CONN_ALL"], 2, "{v}");
    assert_eq!(v["CounterData"]["HTTP_BACKEND_CONN_SUCC"], 1, "{v}");
}

#[test]
fn http2_requests_are_counted_apart() {
    let a = Origin::named("A");
    let d = Layout::single(Cluster::simple("ca", &[a.addr])).write();
    let h = common::start(d.path(), None);
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--http2-prior-knowledge"])
        .args(["-H", "Host: example.org"])
        .arg(format!("http://127.0.0.1:{}/", h.http_addr.port()))
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "A", "{out:?}");
    let v = page(&h, "/monitor/proxy_state");
    assert_eq!(v["CounterData"]["HTTP2_CLIENT_REQ_SERVED"], 1, "{v}");
    assert_eq!(v["CounterData"]["HTTP2_CLIENT_CONN_SERVED"], 1, "{v}");
    assert_eq!(v["CounterData"]["HTTP_CLIENT_REQ_SERVED"], 0, "{v}");
    let v = page(&h, "/monitor/http2_state");
    assert_eq!(v["CounterData"]["H2_CONN_SERVED"], 1, "{v}");
}

/// Seconds into the current `interval`-second window.
fn into_window(interval: u64) -> u64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    now.as_secs() % interval
}

#[test]
fn diff_pages_show_the_last_interval() {
    let a = Origin::named("A");
    let l = Layout::single(Cluster::simple("ca", &[a.addr]));
    let d = l.write();
    let h = common::start(d.path(), None);
    let diff = |h: &ServerHandle| {
        page(h, "/monitor/proxy_state_diff")["CounterData"]["CLIENT_REQ_SERVED"]
            .as_u64()
            .unwrap()
    };
    // Send the traffic well inside one 20-second window, so that it all
    // lands in one interval's delta.
    while !(1..15).contains(&into_window(20)) {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(diff(&h), 0, "no traffic yet");
    for _ in 0..3 {
        assert_eq!(client::get(h.http_addr, "example.org", "/").status, 200);
    }
    // The totals move at once; the delta once the window closes.
    assert_eq!(
        page(&h, "/monitor/proxy_state")["CounterData"]["CLIENT_REQ_SERVED"],
        3
    );
    let mut seen = 0;
    for _ in 0..250 {
        seen = diff(&h);
        if seen == 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(seen, 3, "proxy_state_diff after the interval ended");
    let (_, kv) = common::monitor_get(&h, "/monitor/proxy_state_diff?format=kv");
    assert!(
        kv.contains("proxy_state_diff_CLIENT_REQ_SERVED: 3\n"),
        "{kv}"
    );
}

#[test]
fn unknown_format_is_400_and_unknown_page_404() {
    let a = Origin::named("A");
    let d = Layout::single(Cluster::simple("ca", &[a.addr])).write();
    let h = common::start(d.path(), None);
    for path in [
        "/monitor/proxy_state?format=bogus",
        "/monitor/bal_state_diff?format=bogus",
        "/monitor/host_table_version?format=bogus",
        // BFE's version pages have no Prometheus form.
        "/monitor/host_table_version?format=prometheus",
    ] {
        let (s, body) = common::monitor_get(&h, path);
        assert_eq!(s, 400, "{path}: {body}");
        let v: Value = serde_json::from_str(&body).expect("json error");
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{v}");
    }
    let (s, body) = common::monitor_get(&h, "/monitor/proxy_state?format=bogus");
    assert!(body.contains("bogus"), "{s}: {body}");
    let (s, body) = common::monitor_get(&h, "/monitor/no_such_page");
    assert_eq!(s, 404);
    assert!(body.contains("no_such_page"), "{body}");
}

#[test]
fn monitor_and_reload_lists_name_every_page() {
    let a = Origin::named("A");
    let d = Layout::single(Cluster::simple("ca", &[a.addr])).write();
    let h = common::start(d.path(), None);
    let (s, list) = common::monitor_get(&h, "/reload");
    assert_eq!(s, 200);
    for name in [
        "server_data_conf",
        "gslb_data_conf",
        "name_conf",
        "tls_conf",
    ] {
        assert!(
            list.contains(&format!("<a href=\"/reload/{name}\">{name}</a>")),
            "{list}"
        );
    }
    let (_, list) = common::monitor_get(&h, "/monitor");
    for name in [
        "proxy_state",
        "proxy_state_diff",
        "bal_state",
        "bal_state_diff",
        "tls_state",
        "http_state",
        "http2_state",
        "proxy_protocol_state",
        "websocket_state",
        "host_table_status",
        "host_table_version",
        "cluster_table_version",
        "bal_table_status",
        "bal_table_version",
        "module_status",
        "module_handlers",
        "backend_latency",
    ] {
        assert!(
            list.contains(&format!("/monitor/{name}\"")),
            "{name}: {list}"
        );
        // Every listed page answers.
        assert_eq!(
            common::monitor_get(&h, &format!("/monitor/{name}")).0,
            200,
            "{name}"
        );
    }
}

#[test]
fn reload_replies_are_bfe_json() {
    let a = Origin::named("A");
    let l = Layout::single(Cluster::simple("ca", &[a.addr]));
    let d = l.write();
    let h = common::start(d.path(), None);
    for name in ["server_data_conf", "gslb_data_conf", "name_conf"] {
        let (s, body) = common::monitor_get(&h, &format!("/reload/{name}"));
        assert_eq!((s, body.as_str()), (200, "{\"error\":null}"), "{name}");
    }
    d.write("server_data_conf/host_rule.data", "{");
    let (s, body) = common::monitor_get(&h, "/reload/server_data_conf");
    assert_eq!(s, 200);
    let v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v.as_object().map(|o| o.len()), Some(1), "{v}");
    assert!(
        v["error"]
            .as_str()
            .is_some_and(|e| e.contains("host_rule.data")),
        "{v}"
    );
    let v = common::reload(&h, "no_such_conf");
    assert!(
        v["error"]
            .as_str()
            .is_some_and(|e| e.contains("no_such_conf")),
        "{v}"
    );
}

/// Prometheus text, parsed by the Prometheus project's own Python client:
/// every family's samples as `name{labels} value` lines.
fn parse_prometheus(text: &str) -> String {
    let script = [
        "import sys",
        "from prometheus_client.parser import text_string_to_metric_families as p",
        "for f in p(sys.stdin.read()):",
        "    print('FAMILY', f.name, f.type, repr(f.documentation))",
        "    for s in f.samples:",
        "        l = ','.join(k + '=' + v for k, v in sorted(s.labels.items()))",
        "        print(s.name + '{' + l + '}', float(s.value))",
    ]
    .join("\n");
    let mut child = Command::new("python3")
        .args(["-c", &script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "prometheus_client could not parse (pip install prometheus_client):\n{}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn prometheus_has_help_and_latency_histograms_per_product_and_cluster() {
    let a = Origin::named("A");
    let b = Origin::named("B");
    let d = two_products(&a, &b).write();
    let h = common::start(d.path(), None);
    for _ in 0..3 {
        assert_eq!(client::get(h.http_addr, "example.org", "/").text(), "A");
    }
    assert_eq!(client::get(h.http_addr, "q.test", "/").text(), "B");

    let text = curl(&h, "/monitor/backend_latency?format=prometheus");
    for line in [
        "# HELP ringfront_product_backend_response_seconds ",
        "# TYPE ringfront_product_backend_response_seconds histogram",
        "# HELP ringfront_cluster_backend_response_seconds ",
        "ringfront_product_backend_response_seconds_bucket{product=\"p\",le=\"0.001\"} ",
        "ringfront_cluster_backend_response_seconds_bucket{cluster=\"cb\",le=\"+Inf\"} 1",
    ] {
        assert!(text.contains(line), "{line}:\n{text}");
    }
    let parsed = parse_prometheus(&text);
    for line in [
        "FAMILY ringfront_product_backend_response_seconds histogram",
        "ringfront_product_backend_response_seconds_count{product=p} 3.0",
        "ringfront_product_backend_response_seconds_bucket{le=+Inf,product=q} 1.0",
        "ringfront_cluster_backend_response_seconds_count{cluster=ca} 3.0",
        "ringfront_cluster_backend_response_seconds_bucket{cluster=cb,le=10} 1.0",
    ] {
        assert!(parsed.contains(line), "{line}:\n{parsed}");
    }
    // The same histograms as JSON.
    let v = page(&h, "/monitor/backend_latency");
    assert_eq!(v["Products"]["p"]["Count"], 3, "{v}");
    assert_eq!(v["Clusters"]["cb"]["Count"], 1, "{v}");
    assert_eq!(
        v["Clusters"]["ca"]["Counters"].as_array().map(Vec::len),
        Some(v["BoundsMs"].as_array().unwrap().len() + 1)
    );

    // The counter pages: HELP and TYPE for every metric.
    let text = curl(&h, "/monitor/proxy_state?format=prometheus");
    assert!(
        text.contains("# HELP proxy_state_CLIENT_REQ_SERVED "),
        "{text}"
    );
    assert!(
        text.contains(
            "# TYPE proxy_state_CLIENT_REQ_SERVED counter\nproxy_state_CLIENT_REQ_SERVED 4\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("# TYPE proxy_state_CLIENT_CONN_ACTIVE gauge\n"),
        "{text}"
    );
    let parsed = parse_prometheus(&text);
    assert!(
        parsed.contains("FAMILY proxy_state_CLIENT_REQ_SERVED counter"),
        "{parsed}"
    );
}

#[test]
fn latency_survives_a_reload() {
    let a = Origin::named("A");
    let b = Origin::named("B");
    let l = two_products(&a, &b);
    let d = l.write();
    let h = common::start(d.path(), None);
    client::get(h.http_addr, "example.org", "/");
    // The reload renumbers nothing here, but the worker starts new arrays:
    // what was counted before stays under its names.
    assert!(common::reload(&h, "server_data_conf")["error"].is_null());
    client::get(h.http_addr, "example.org", "/");
    let v = page(&h, "/monitor/backend_latency");
    assert_eq!(v["Products"]["p"]["Count"], 2, "{v}");
    assert_eq!(v["Clusters"]["ca"]["Count"], 2, "{v}");
}

fn set_versions(d: &ConfDir, l: &Layout, v: &str) {
    let mut host = l.host_rule();
    host["Version"] = json!(v);
    d.write_json("server_data_conf/host_rule.data", &host);
    let mut gslb = l.gslb();
    gslb["Ts"] = json!(format!("ts-{v}"));
    gslb["Hostname"] = json!("scheduler-1");
    d.write_json("cluster_conf/gslb.data", &gslb);
    let mut cc = l.cluster_conf();
    cc["Version"] = json!(format!("cc-{v}"));
    d.write_json("server_data_conf/cluster_conf.data", &cc);
}

#[test]
fn versions_tables_and_load_time_change_after_reload() {
    let a = Origin::named("A");
    let b = Origin::named("B");
    let l = two_products(&a, &b);
    let d = l.write();
    set_versions(&d, &l, "v1");
    let h = common::start(d.path(), None);

    assert_eq!(
        page(&h, "/monitor/host_table_version"),
        json!({"HostTag": "v1", "Vip": "t", "ProductRoute": "t"})
    );
    assert_eq!(
        page(&h, "/monitor/cluster_table_version"),
        json!({"ClusterConfVer": "cc-v1"})
    );
    assert_eq!(
        page(&h, "/monitor/bal_table_version"),
        json!({"ClusterTableConfVer": "t", "GslbConfTimeStamp": "ts-v1", "GslbConfSrc": "scheduler-1"})
    );
    assert_eq!(
        page(&h, "/monitor/host_table_status"),
        json!({"HostTableSize": 2, "HostTagTableSize": 2, "VipTableSize": 0,
               "ProductRouteTableSize": 2, "ProductBasicRouteTableSize": 0})
    );
    assert_eq!(
        page(&h, "/monitor/bal_table_status"),
        json!({"Balancers": {
            "ca": {"SubClusters": {"ca.all": {"BackendNum": 1}}, "BackendNum": 1},
            "cb": {"SubClusters": {"cb.all": {"BackendNum": 1}}, "BackendNum": 1}},
            "BackendNum": 2})
    );
    let (_, kv) = common::monitor_get(&h, "/monitor/host_table_version?format=kv");
    assert!(kv.contains("HostTag:v1\n"), "{kv}");

    let before = page(&h, "/monitor/config_state");
    assert_eq!(before["Reloads"], 0);
    assert_eq!(before["HostTag"], "v1");
    let hash = before["ContentHash"].as_str().unwrap().to_string();
    assert_eq!(hash.len(), 16, "{before}");
    let loaded = before["LoadedAt"].as_u64().unwrap();
    assert!(loaded > 1_700_000_000, "{before}");

    // A reload of the same files: same hash, later load time.
    std::thread::sleep(Duration::from_millis(1100));
    assert!(common::reload(&h, "server_data_conf")["error"].is_null());
    let same = page(&h, "/monitor/config_state");
    assert_eq!(same["ContentHash"], hash.as_str());
    assert!(same["LoadedAt"].as_u64().unwrap() > loaded, "{same}");

    set_versions(&d, &l, "v2");
    assert!(common::reload(&h, "gslb_data_conf")["error"].is_null());
    assert_eq!(page(&h, "/monitor/host_table_version")["HostTag"], "v2");
    assert_eq!(
        page(&h, "/monitor/cluster_table_version")["ClusterConfVer"],
        "cc-v2"
    );
    assert_eq!(
        page(&h, "/monitor/bal_table_version")["GslbConfTimeStamp"],
        "ts-v2"
    );
    let after = page(&h, "/monitor/config_state");
    assert_eq!(after["Reloads"], 2);
    assert_ne!(after["ContentHash"], hash.as_str(), "{after}");

    // A refused reload changes no version.
    d.write("server_data_conf/host_rule.data", "{");
    assert!(common::reload(&h, "server_data_conf")["error"].is_string());
    assert_eq!(page(&h, "/monitor/config_state"), after);
}

#[test]
fn module_status_and_handlers_in_bfe_shape_with_versions() {
    let a = Origin::named("A");
    let mut l = Layout::single(Cluster::simple("ca", &[a.addr]));
    l.modules = vec!["mod_redirect".into(), "mod_header".into()];
    let d = l.write();
    d.write(
        "mod_redirect/mod_redirect.conf",
        "[Basic]\nDataPath = mod_redirect/redirect.data\n",
    );
    let redirects = |v: &str| {
        json!({"Version": v, "Config": {"p": [
            {"Cond": "req_path_prefix_in(\"/old\", false)",
             "Actions": [{"Cmd": "URL_SET", "Params": ["/new"]}], "Status": 301}
        ]}})
    };
    d.write_json("mod_redirect/redirect.data", &redirects("d1"));
    d.write(
        "mod_header/mod_header.conf",
        "[Basic]\nDataPath = mod_header/header_rule.data\n",
    );
    let rules = |v: &str| {
        json!({"Version": v, "Config": {"p": [
            {"cond": "default_t()", "actions": [
                {"cmd": "RSP_HEADER_SET", "params": ["X-Version", v]}
            ], "last": true}
        ]}})
    };
    d.write_json("mod_header/header_rule.data", &rules("r1"));
    let h = common::start(d.path(), None);

    let v = page(&h, "/monitor/module_status");
    assert!(
        v["available"].as_array().unwrap().len() >= 11,
        "every module the binary has: {v}"
    );
    let enabled: Vec<&str> = v["enabled"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert_eq!(enabled.len(), 2, "{v}");
    assert!(enabled.contains(&"mod_header") && enabled.contains(&"mod_redirect"));
    let state = &v["state"]["mod_header"];
    assert_eq!(state["reloads"], 0, "{v}");
    let loaded = state["loaded_at"].as_u64().unwrap();

    let v = page(&h, "/monitor/module_handlers");
    let points: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert!(
        points.iter().any(|k| k.ends_with("#HandleAfterLocation")),
        "{v}"
    );
    assert!(
        v.as_object()
            .unwrap()
            .values()
            .any(|m| m == &json!(["mod_header"])),
        "{v}"
    );
    assert!(
        v.as_object()
            .unwrap()
            .values()
            .any(|m| m == &json!(["mod_redirect"])),
        "{v}"
    );

    std::thread::sleep(Duration::from_millis(1100));
    d.write_json("mod_header/header_rule.data", &rules("r2"));
    let r = common::reload(&h, "mod_header");
    assert!(r["error"].is_null(), "{r}");
    let v = page(&h, "/monitor/module_status");
    let state = &v["state"]["mod_header"];
    assert_eq!(state["reloads"], 1, "{v}");
    assert!(state["loaded_at"].as_u64().unwrap() > loaded, "{v}");
    // mod_header's reload reports no version (as BFE's); mod_redirect's does.
    assert!(r.get("version").is_none(), "{r}");
    assert!(state["version"].is_null(), "{v}");
    assert!(v["state"]["mod_redirect"]["version"].is_null(), "{v}");
    d.write_json("mod_redirect/redirect.data", &redirects("d2"));
    let r = common::reload(&h, "mod_redirect");
    assert_eq!(r, json!({"error": null, "version": "redirect.data=d2"}));
    let v = page(&h, "/monitor/module_status");
    assert_eq!(
        v["state"]["mod_redirect"]["version"], "redirect.data=d2",
        "{v}"
    );
    assert_eq!(v["state"]["mod_redirect"]["reloads"], 1, "{v}");
    assert_eq!(
        client::get(h.http_addr, "example.org", "/").header("x-version"),
        Some("r2")
    );
}
