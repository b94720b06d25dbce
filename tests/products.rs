//! Choosing the product, through the real server: host tags, exact names
//! before `*.` wildcards, the VIP table when the host is unknown, then
//! DefaultProduct. Each product routes to its own origin.

mod common;

use common::client::{parse_response, read_to_close};
use common::conf::{Cluster, Layout};
use common::origin::{Origin, Reply};
use serde_json::json;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

const PRODUCTS: [&str; 6] = ["exact", "wild", "deep", "multi", "vip", "fallback"];

/// GET / with `host`, sent to `vip` on the proxy's port; the origin's name.
fn product_for(port: u16, vip: Ipv4Addr, host: &str) -> String {
    let mut s = TcpStream::connect(SocketAddr::from((vip, port))).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let req = format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let raw = read_to_close(&mut s);
    let r = parse_response(&raw).expect("response");
    format!("{} {}", r.status, r.text())
}

#[test]
fn host_then_vip_then_default_product() {
    let origins: Vec<Origin> = PRODUCTS
        .iter()
        .map(|&p| Origin::start(move |_| Reply::text(p)))
        .collect();
    let mut l = Layout::single(Cluster::simple("c_exact", &[origins[0].addr]));
    for (p, o) in PRODUCTS.iter().zip(&origins).skip(1) {
        l.clusters
            .push(Cluster::simple(&format!("c_{p}"), &[o.addr]));
    }
    let d = l.write();
    d.write_json(
        "server_data_conf/host_rule.data",
        &json!({
            "Version": "t",
            "DefaultProduct": "fallback",
            "Hosts": {
                "t_exact": ["a.example.com", "www.example.org."],
                "t_wild": ["*.example.com"],
                "t_deep": ["*.b.example.com"],
                "t_first": ["first.example.net"],
                "t_second": ["second.example.net"]
            },
            "HostTags": {
                "exact": ["t_exact"],
                "wild": ["t_wild"],
                "deep": ["t_deep"],
                "multi": ["t_first", "t_second"],
                "fallback": []
            }
        }),
    );
    d.write_json(
        "server_data_conf/vip_rule.data",
        &json!({"Version": "t", "Vips": {"vip": ["127.0.0.2", "::ffff:127.0.0.3"]}}),
    );
    let mut rules = serde_json::Map::new();
    for p in PRODUCTS {
        rules.insert(
            p.into(),
            json!([{"Cond": "default_t()", "ClusterName": format!("c_{p}")}]),
        );
    }
    d.write_json(
        "server_data_conf/route_rule.data",
        &json!({"Version": "t", "ProductRule": rules}),
    );
    let h = common::start(d.path(), None);
    let port = h.http_addr.port();
    let lo = Ipv4Addr::LOCALHOST;
    let vip = Ipv4Addr::new(127, 0, 0, 2);
    let mapped_vip = Ipv4Addr::new(127, 0, 0, 3);
    for (to, host, want) in [
        // Exact names, case and port and a trailing dot aside.
        (lo, "a.example.com", "exact"),
        (lo, "A.Example.COM:8080", "exact"),
        (lo, "www.example.org", "exact"),
        // Exact before wildcard; the most specific wildcard first; a
        // wildcard covers any depth below its suffix but not the suffix.
        (lo, "x.example.com", "wild"),
        (lo, "y.z.example.com", "wild"),
        (lo, "x.b.example.com", "deep"),
        (lo, "b.example.com", "wild"),
        (lo, "example.com", "fallback"),
        // Two host tags of one product.
        (lo, "first.example.net", "multi"),
        (lo, "second.example.net", "multi"),
        // Unknown host: the address the client connected to decides…
        (vip, "unknown.example", "vip"),
        (mapped_vip, "unknown.example", "vip"),
        // …but a known host still wins over the VIP…
        (vip, "a.example.com", "exact"),
        // …and elsewhere DefaultProduct takes it.
        (lo, "unknown.example", "fallback"),
        (lo, "", "fallback"),
    ] {
        assert_eq!(
            product_for(port, to, host),
            format!("200 {want}"),
            "{host} via {to}"
        );
    }
}

/// Without DefaultProduct an unknown host on an unknown VIP has no product.
#[test]
fn no_product_without_default() {
    let o = Origin::named("A");
    let mut l = Layout::single(Cluster::simple("c", &[o.addr]));
    l.default_product = None;
    l.hosts = vec![("p".into(), vec!["a.example.com".into()])];
    let d = l.write();
    d.write_json(
        "server_data_conf/vip_rule.data",
        &json!({"Version": "t", "Vips": {"p": ["127.0.0.2"]}}),
    );
    let h = common::start(d.path(), None);
    let port = h.http_addr.port();
    assert_eq!(
        product_for(port, Ipv4Addr::new(127, 0, 0, 2), "b.example.com"),
        "200 A"
    );
    let miss = product_for(port, Ipv4Addr::LOCALHOST, "b.example.com");
    assert!(miss.starts_with("500 "), "{miss}");
}
