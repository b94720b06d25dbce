//! Backend health through the real proxy: passive marking after FailNum
//! failures, active probes that bring a backend back, `backend_state` on the
//! monitor port, and reloads that keep health (and lose no request).

mod common;

use common::client::{self, Conn};
use common::conf::{Cluster, Layout};
use common::origin::{refused_addr, Origin, Reply};
use ringfront::server::ServerHandle;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// An origin answering `name` in one write and closing the connection, so
/// ringfront pools nothing to it: once it is gone, it is gone.
fn closing(name: &'static str) -> Origin {
    Origin::start_on("127.0.0.1:0", closing_handler(name))
}

fn closing_handler(name: &'static str) -> common::origin::Handler {
    Arc::new(move |_| Reply::Raw {
        bytes: format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{name}",
            name.len()
        )
        .into_bytes(),
        close: true,
    })
}

fn bal_state(h: &ServerHandle) -> Value {
    let (status, body) = common::monitor_get(h, "/monitor/backend_state");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// The `backend_state` entry of the backend at `addr`.
fn backend(h: &ServerHandle, addr: SocketAddr) -> Value {
    let v = bal_state(h);
    v["backends"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["addr"] == addr.to_string())
        .cloned()
        .unwrap_or_else(|| panic!("{addr} not in {v}"))
}

fn up_down(h: &ServerHandle, addr: SocketAddr) -> (u64, u64) {
    let b = backend(h, addr);
    (b["up"].as_u64().unwrap(), b["down"].as_u64().unwrap())
}

/// Poll for up to five seconds.
fn within_5s(mut cond: impl FnMut() -> bool) -> bool {
    (0..500).any(|_| {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
        false
    })
}

fn get_text(addr: SocketAddr) -> (u16, String) {
    let r = client::get(addr, "example.org", "/");
    (r.status, r.text())
}

#[test]
fn killed_backend_leaves_after_fail_num_and_returns_after_restart() {
    let a = closing("A");
    let b = closing("B");
    let a_addr = a.addr;
    let conf = json!({"CheckConf": {"FailNum": 3, "SuccNum": 2, "CheckInterval": 100,
        "Uri": "/health", "Host": "example.org", "StatusCode": 200}});
    let d = Layout::single(Cluster::simple("c", &[a.addr, b.addr]).with_conf(conf)).write();
    let h = common::start(d.path(), None);
    for _ in 0..4 {
        assert_eq!(get_text(h.http_addr).0, 200);
    }
    assert!(a.count() >= 1 && b.count() >= 1);
    assert_eq!(up_down(&h, a_addr), (1, 0));

    drop(a);
    assert!(within_5s(|| std::net::TcpStream::connect(a_addr).is_err()));
    for _ in 0..30 {
        assert_eq!(get_text(h.http_addr), (200, "B".to_string()));
    }
    // Exactly FailNum requests tried the dead backend (and were retried on
    // B); after that it received no traffic.
    assert_eq!(common::counter(&h, "err_backend_connect"), 3);
    assert_eq!(common::counter(&h, "backend_down"), 1);
    let st = backend(&h, a_addr);
    assert_eq!((st["up"].as_u64(), st["down"].as_u64()), (Some(0), Some(1)));
    assert_eq!(st["probing"], 1);
    assert_eq!(common::counter(&h, "probes_active"), 1);

    // Back on the same port: the probe sees SuccNum good checks in a row.
    let a = Origin::start_on(&a_addr.to_string(), closing_handler("A"));
    assert!(
        within_5s(|| up_down(&h, a_addr) == (1, 0)),
        "A never came back"
    );
    let checks: Vec<_> = a
        .requests()
        .into_iter()
        .filter(|r| r.target == "/health")
        .collect();
    assert!(checks.len() >= 2, "{checks:?}");
    assert_eq!(checks[0].method, "GET");
    assert_eq!(checks[0].header("host"), Some("example.org"));
    assert_eq!(common::counter(&h, "backend_up"), 1);
    assert!(within_5s(|| common::counter(&h, "probes_active") == 0));
    let served_before = a.count();
    let mut names = Vec::new();
    for _ in 0..10 {
        names.push(get_text(h.http_addr).1);
    }
    assert!(names.iter().any(|n| n == "A"), "{names:?}");
    assert!(a.count() > served_before);
}

#[test]
fn tcp_check_only_connects() {
    let a = closing("A");
    let a_addr = a.addr;
    let b = closing("B");
    let conf = json!({"CheckConf": {"Schem": "tcp", "FailNum": 1, "CheckInterval": 50}});
    let d = Layout::single(Cluster::simple("c", &[a.addr, b.addr]).with_conf(conf)).write();
    let h = common::start(d.path(), None);
    drop(a);
    assert!(within_5s(|| std::net::TcpStream::connect(a_addr).is_err()));
    for _ in 0..4 {
        assert_eq!(get_text(h.http_addr).0, 200);
    }
    assert_eq!(up_down(&h, a_addr), (0, 1));
    let a = Origin::start_on(&a_addr.to_string(), closing_handler("A"));
    assert!(within_5s(|| up_down(&h, a_addr) == (1, 0)));
    // The check connected, and sent nothing.
    assert!(a.conns.load(Ordering::SeqCst) >= 1);
    assert!(a.requests().is_empty(), "{:?}", a.requests());
}

#[test]
fn bal_state_sums_workers() {
    let good = closing("G");
    let dead = refused_addr();
    let conf = json!({"CheckConf": {"FailNum": 1, "CheckInterval": 60000}});
    let mut l = Layout::single(Cluster::simple("c", &[good.addr, dead]).with_conf(conf));
    l.workers = 2;
    let d = l.write();
    let h = common::start(d.path(), None);
    for _ in 0..20 {
        assert_eq!(get_text(h.http_addr), (200, "G".to_string()));
    }
    let v = bal_state(&h);
    assert_eq!(v["workers"], 2);
    let g = backend(&h, good.addr);
    assert_eq!((g["up"].as_u64(), g["down"].as_u64()), (Some(2), Some(0)));
    assert_eq!(g["cluster"], "c");
    assert_eq!(g["subcluster"], "c.all");
    assert_eq!(g["name"], "c.all.0");
    // Each worker that tried the dead backend took it down (and probes it);
    // the others still see it up.
    let x = backend(&h, dead);
    let marked = common::counter(&h, "backend_down");
    assert!(marked >= 1);
    assert_eq!(x["down"].as_u64(), Some(marked));
    assert_eq!(x["up"].as_u64(), Some(2 - marked));
    assert_eq!(x["probing"].as_u64(), Some(marked));
}

#[test]
fn bal_state_counts_requests_in_flight() {
    let slow =
        Origin::start(|_| Reply::Delay(Duration::from_millis(600), Box::new(Reply::text("S"))));
    let d = Layout::single(Cluster::simple("c", &[slow.addr])).write();
    let h = common::start(d.path(), None);
    let addr = h.http_addr;
    let t = std::thread::spawn(move || get_text(addr));
    assert!(within_5s(|| backend(&h, slow.addr)["conns"] == 1));
    assert_eq!(t.join().unwrap(), (200, "S".to_string()));
    assert!(within_5s(|| backend(&h, slow.addr)["conns"] == 0));
}

/// Write the cluster table and gslb data for `c` and reload.
fn reload(h: &ServerHandle, d: &common::conf::ConfDir, l: &Layout) {
    d.write_json("cluster_conf/cluster_table.data", &l.cluster_table());
    d.write_json("cluster_conf/gslb.data", &l.gslb());
    let r = common::reload(h, "gslb_data_conf");
    assert!(r["error"].is_null(), "{r}");
}

#[test]
fn reload_keeps_health_of_unchanged_backends_and_ends_probes_of_removed_ones() {
    let good = closing("G");
    let dead = refused_addr();
    let conf = json!({"CheckConf": {"FailNum": 1, "CheckInterval": 60000}});
    let mut l = Layout::single(Cluster::simple("c", &[good.addr, dead]).with_conf(conf));
    let d = l.write();
    let h = common::start(d.path(), None);
    for _ in 0..4 {
        assert_eq!(get_text(h.http_addr).0, 200);
    }
    assert_eq!(common::counter(&h, "err_backend_connect"), 1);
    assert_eq!(up_down(&h, dead), (0, 1));

    // A new backend joins; the dead one stays, and stays down, still probed.
    let other = closing("O");
    l.clusters[0].subs[0].2.push((other.addr, 1));
    reload(&h, &d, &l);
    assert_eq!(up_down(&h, dead), (0, 1));
    assert_eq!(common::counter(&h, "probes_active"), 1);
    for _ in 0..10 {
        assert_eq!(get_text(h.http_addr).0, 200);
    }
    assert_eq!(common::counter(&h, "err_backend_connect"), 1);
    assert!(other.count() >= 1);

    // The dead backend leaves the configuration: its probe ends now, not
    // after its minute-long interval.
    l.clusters[0].subs[0].2.retain(|(a, _)| *a != dead);
    reload(&h, &d, &l);
    assert!(within_5s(|| common::counter(&h, "probes_active") == 0));
    assert_eq!(common::counter(&h, "snapshot_swaps"), 2);
}

#[test]
fn reloads_under_load_lose_no_request() {
    let (a, b, c) = (closing("A"), closing("B"), closing("C"));
    let mut l = Layout::single(Cluster {
        name: "c".into(),
        subs: vec![
            ("c.one".into(), 1, vec![(a.addr, 1), (b.addr, 1)]),
            ("c.two".into(), 1, vec![(c.addr, 1)]),
        ],
        blackhole: 0,
        conf: json!({"GslbBasic": {"HashConf": {"HashStrategy": 3}}}),
    });
    l.workers = 2;
    let d = l.write();
    let h = common::start(d.path(), None);
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..2)
        .map(|n| {
            let (addr, stop, done) = (h.http_addr, stop.clone(), done.clone());
            std::thread::spawn(move || {
                let mut i = 0usize;
                let mut conn = Conn::open(addr);
                while !stop.load(Ordering::Relaxed) {
                    // Mostly keep-alive, now and then a new connection.
                    if i % 10 == 9 {
                        conn = Conn::open(addr);
                    }
                    let req = format!("GET /{n}/{i} HTTP/1.1\r\nHost: example.org\r\n\r\n");
                    conn.send(req.as_bytes());
                    let r = conn.response(false).expect("a response");
                    assert_eq!(r.status, 200, "request {i}: {}", r.text());
                    i += 1;
                    done.fetch_add(1, Ordering::Relaxed);
                }
                i
            })
        })
        .collect();
    for round in 0..20 {
        // Alternate sub-cluster weights and the backends of "c.one".
        l.clusters[0].subs[0].1 = 1 + round % 3;
        if round % 2 == 0 {
            l.clusters[0].subs[0].2.truncate(1);
        } else {
            l.clusters[0].subs[0].2 = vec![(a.addr, 1), (b.addr, 2)];
        }
        let before = done.load(Ordering::Relaxed);
        reload(&h, &d, &l);
        assert!(within_5s(|| done.load(Ordering::Relaxed) > before + 2));
    }
    stop.store(true, Ordering::Relaxed);
    let total: usize = clients.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(total >= 40, "only {total} requests");
    assert_eq!(
        common::counter(&h, "snapshot_swaps"),
        40,
        "20 reloads × 2 workers"
    );
    assert_eq!(common::counter(&h, "resp_5xx"), 0);
    assert_eq!(a.count() + b.count() + c.count(), total);
}
