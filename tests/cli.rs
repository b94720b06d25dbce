//! The real binary: `-t` validation output and exit status, start-up
//! errors, and serving on a conf dir.

mod common;

use common::conf::{Cluster, Layout};
use common::origin::Origin;
use std::process::Command;

fn ringfront() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ringfront"))
}

/// `ringfront -t -c DIR`.
fn check(dir: &std::path::Path) -> std::process::Output {
    ringfront()
        .arg("-t")
        .arg("-c")
        .arg(dir)
        .output()
        .expect("run ringfront -t")
}

#[test]
fn check_accepts_good_conf() {
    let o = Origin::named("A");
    let d = Layout::single(Cluster::simple("c", &[o.addr])).write();
    let out = check(d.path());
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "configuration OK"
    );
}

#[test]
fn check_names_file_key_and_reason() {
    let o = Origin::named("A");
    let l = Layout::single(Cluster::simple("c", &[o.addr]));
    let d = l.write();
    d.write(
        "bfe.conf",
        &format!(
            "{}MaxHeaderBytes = lots\nModules = mod_unknown\n",
            l.bfe_conf()
        ),
    );
    d.write("cluster_conf/gslb.data", "{\"Clusters\": ");
    let out = check(d.path());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bfe.conf") && err.contains("MaxHeaderBytes"),
        "{err}"
    );
}

#[test]
fn check_reports_data_file_errors() {
    let o = Origin::named("A");
    let l = Layout::single(Cluster::simple("c", &[o.addr]));
    let d = l.write();
    d.write("cluster_conf/gslb.data", "{\"Clusters\": ");
    let mut rr = l.route_rule();
    rr["ProductRule"]["p"][0]["Cond"] = serde_json::json!("req_path_prefix_in(\"/a\"");
    d.write_json("server_data_conf/route_rule.data", &rr);
    let out = check(d.path());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("gslb.data"), "{err}");
    assert!(err.contains("route_rule.data"), "{err}");
}

#[test]
fn binary_serves_and_stops_on_sigterm() {
    let o = Origin::named("from-origin");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut l = Layout::single(Cluster::simple("c", &[o.addr]));
    l.server_extra = String::new();
    let d = l.write();
    d.write(
        "bfe.conf",
        &l.bfe_conf()
            .replace("HttpPort = 0", &format!("HttpPort = {port}"))
            .replace("MonitorEnabled = true", "MonitorEnabled = false"),
    );
    let mut child = ringfront().arg("-c").arg(d.path()).spawn().unwrap();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let ok = common::eventually(|| std::net::TcpStream::connect(addr).is_ok());
    assert!(ok, "binary did not start listening");
    assert_eq!(
        common::client::get(addr, "example.org", "/").text(),
        "from-origin"
    );
    // SIGTERM: graceful stop, exit 0.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}
