//! Reloading routing through the monitor port while traffic flows.

mod common;

use common::client;
use common::conf::{Cluster, Layout};
use common::origin::{Origin, Reply};
use std::time::Duration;

#[test]
fn reload_switches_routes_and_in_flight_request_finishes_on_old() {
    let a = Origin::start(|s| {
        if s.target == "/slow" {
            Reply::Delay(Duration::from_millis(800), Box::new(Reply::text("A-slow")))
        } else {
            Reply::text("A")
        }
    });
    let b = Origin::named("B");
    let mut l = Layout::single(Cluster::simple("ca", &[a.addr]));
    l.clusters.push(Cluster::simple("cb", &[b.addr]));
    let d = l.write();
    let h = common::start(d.path(), None);
    assert_eq!(client::get(h.http_addr, "example.org", "/").text(), "A");

    let addr = h.http_addr;
    let slow = std::thread::spawn(move || client::get(addr, "example.org", "/slow"));
    std::thread::sleep(Duration::from_millis(200));

    l.rules = vec![("p".into(), vec![("default_t()".into(), "cb".into())])];
    d.write_json("server_data_conf/route_rule.data", &l.route_rule());
    let r = common::reload(&h, "server_data_conf");
    assert!(r["error"].is_null(), "{r}");

    assert_eq!(client::get(h.http_addr, "example.org", "/").text(), "B");
    let r = slow.join().unwrap();
    assert_eq!((r.status, r.text().as_str()), (200, "A-slow"));
    assert_eq!(common::counter(&h, "snapshot_swaps"), 1);
}

#[test]
fn bad_reload_is_rejected_and_changes_nothing() {
    let a = Origin::named("A");
    let l = Layout::single(Cluster::simple("ca", &[a.addr]));
    let d = l.write();
    let h = common::start(d.path(), None);
    d.write(
        "server_data_conf/route_rule.data",
        "{ \"Version\": \"broken\", ",
    );
    let r = common::reload(&h, "server_data_conf");
    let body = r["error"].as_str().unwrap_or_default().to_string();
    assert!(!body.is_empty(), "{r}");
    assert!(
        body.contains("route_rule.data"),
        "error names the file: {body}"
    );
    // A rule pointing at a cluster that does not exist is refused too.
    let mut bad = l.route_rule();
    bad["ProductRule"]["p"][0]["ClusterName"] = serde_json::json!("missing_cluster");
    d.write_json("server_data_conf/route_rule.data", &bad);
    let r = common::reload(&h, "server_data_conf");
    let body = r["error"].as_str().unwrap_or_default().to_string();
    assert!(!body.is_empty(), "{r}");
    assert!(body.contains("missing_cluster"), "{body}");
    assert_eq!(client::get(h.http_addr, "example.org", "/").text(), "A");
    assert_eq!(common::counter(&h, "snapshot_swaps"), 0);
}

#[test]
fn monitor_formats() {
    let a = Origin::named("A");
    let d = Layout::single(Cluster::simple("ca", &[a.addr])).write();
    let h = common::start(d.path(), None);
    client::get(h.http_addr, "example.org", "/");
    let (s, json) = common::monitor_get(&h, "/monitor/ringfront_state?format=json");
    assert_eq!(s, 200);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["req_total"], 1);
    let (_, prom) = common::monitor_get(&h, "/monitor/ringfront_state?format=prometheus");
    assert!(
        prom.contains("# TYPE ringfront_proxy_req_total counter\nringfront_proxy_req_total 1\n"),
        "{prom}"
    );
    let (_, kv) = common::monitor_get(&h, "/monitor/ringfront_state?format=kv&per_worker=1");
    assert!(kv.contains("worker0.req_total:1"), "{kv}");
    assert_eq!(common::monitor_get(&h, "/monitor/nothing").0, 404);
}
