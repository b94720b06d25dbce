//! Whole-directory loads: a valid example set and the cross-file checks.

use super::{ConfErrors, ServerConf, Snapshot};
use crate::route::test_req::Req;
use std::net::IpAddr;
use std::path::PathBuf;

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const HOST: &str = r#"{"Version":"h1","DefaultProduct":null,
  "Hosts":{"exampleTag":["example.org","*.example.net"]},"HostTags":{"example_product":["exampleTag"]}}"#;
const VIP: &str = r#"{"Version":"v1","Vips":{"example_product":["10.0.0.1"]}}"#;
const ROUTE: &str = r#"{"Version":"r1",
  "BasicRule":{"example_product":[{"Hostname":["*.example.net"],"Path":["/a*"],"ClusterName":"c1"},
                                  {"Hostname":["example.org"],"Path":[],"ClusterName":"ADVANCED_MODE"}]},
  "ProductRule":{"example_product":[{"Cond":"req_path_prefix_in(\"/api\", false)","ClusterName":"c1"},
                                    {"Cond":"default_t()","ClusterName":"c2"}]}}"#;
const CC: &str = r#"{"Version":"cc1","Config":{
  "c1":{"BackendConf":{"TimeoutConnSrv":2000,"TimeoutResponseHeader":50000,"MaxIdleConnsPerHost":0,"RetryLevel":0},
        "CheckConf":{"Schem":"http","Uri":"/health","Host":"example.org","StatusCode":200,"FailNum":10,"CheckInterval":1000},
        "GslbBasic":{"CrossRetry":0,"RetryMax":2,"HashConf":{"HashStrategy":1,"HashHeader":"","SessionSticky":false}},
        "ClusterBasic":{"TimeoutReadClient":30000,"TimeoutWriteClient":60000,"TimeoutReadClientAgain":30000}},
  "c2":{}}}"#;
const GSLB: &str = r#"{"Hostname":"gslb-sch","Ts":"0",
  "Clusters":{"c1":{"GSLB_BLACKHOLE":0,"c1.sub1":100},"c2":{"c2.a":1,"c2.b":3}}}"#;
const TABLE: &str = r#"{"Version":"t1","Config":{
  "c1":{"c1.sub1":[{"Addr":"127.0.0.1","Name":"rs1","Port":8181,"Weight":10}]},
  "c2":{"c2.a":[{"Addr":"::1","Name":"a","Port":1,"Weight":1}],"c2.b":[{"Addr":"127.0.0.2","Name":"b","Port":2,"Weight":0},{"Addr":"127.0.0.3","Name":"c","Port":3,"Weight":5}]}}}"#;

fn setup(tag: &str, files: &[(&str, &str)]) -> (Dir, ServerConf) {
    let dir = std::env::temp_dir().join(format!("rf-snap-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("server_data_conf")).unwrap();
    std::fs::create_dir_all(dir.join("cluster_conf")).unwrap();
    let defaults = [
        ("server_data_conf/host_rule.data", HOST),
        ("server_data_conf/vip_rule.data", VIP),
        ("server_data_conf/route_rule.data", ROUTE),
        ("server_data_conf/cluster_conf.data", CC),
        ("cluster_conf/gslb.data", GSLB),
        ("cluster_conf/cluster_table.data", TABLE),
    ];
    for (name, text) in defaults {
        let text = files
            .iter()
            .find(|(n, _)| name.ends_with(n))
            .map_or(text, |(_, t)| t);
        std::fs::write(dir.join(name), text).unwrap();
    }
    std::fs::write(dir.join("bfe.conf"), "[Server]\nHttpPort = 0\n").unwrap();
    let server = ServerConf::load(&dir).unwrap();
    (Dir(dir), server)
}

fn load(tag: &str, files: &[(&str, &str)]) -> Result<Snapshot, ConfErrors> {
    let (dir, server) = setup(tag, files);
    Snapshot::load(&dir.0, &server)
}

fn err_keys(e: &ConfErrors) -> Vec<(String, String)> {
    e.0.iter()
        .map(|e| (e.file.clone(), e.key.clone()))
        .collect()
}

#[test]
fn example_loads_and_routes() {
    let s = load("ok", &[]).unwrap();
    assert_eq!(
        s.version,
        "host_rule=h1 vip_rule=v1 route_rule=r1 cluster_conf=cc1 gslb=0 cluster_table=t1"
    );
    let vip: IpAddr = "10.0.0.1".parse().unwrap();
    let other: IpAddr = "10.9.9.9".parse().unwrap();
    let p = s.route.find_product(b"Example.org:80", other).unwrap();
    assert_eq!(s.route.product_name(p), "example_product");
    assert_eq!(s.route.find_product(b"unknown", vip), Some(p));
    assert_eq!(s.route.find_product(b"unknown", other), None);
    let c1 = s.clusters.id_of("c1").unwrap();
    let c2 = s.clusters.id_of("c2").unwrap();
    assert_eq!(
        s.route.find_cluster(p, &Req::get("x.example.net", "/a/b")),
        Some(c1)
    );
    assert_eq!(
        s.route.find_cluster(p, &Req::get("example.org", "/api/x")),
        Some(c1)
    );
    assert_eq!(
        s.route.find_cluster(p, &Req::get("example.org", "/x")),
        Some(c2)
    );
    let c = s.clusters.get(c1);
    assert_eq!(c.check.fail_num, 10);
    assert_eq!(c.blackhole_weight, 0);
    assert_eq!(c.subclusters.len(), 1);
    assert_eq!(
        c.subclusters[0].backends[0].addr.to_string(),
        "127.0.0.1:8181"
    );
    let c = s.clusters.get(c2);
    assert_eq!(
        c.subclusters.iter().map(|s| s.weight).collect::<Vec<_>>(),
        [1, 3]
    );
    assert_eq!(c.backend.max_idle_conns_per_host, 2);
    assert!(s.names.is_empty());
}

#[test]
fn errors_from_all_files_are_collected() {
    let e = load(
        "many",
        &[
            ("host_rule.data", r#"{"Hosts":{},"HostTags":{}}"#),
            (
                "cluster_conf.data",
                r#"{"Version":"x","Config":{"c1":{"GslbBasic":{"RetryMax":"2"}},"c2":{}}}"#,
            ),
            ("cluster_table.data", "{\n\"Version\": \"t\",\n  bad\n}"),
        ],
    )
    .unwrap_err();
    let keys = err_keys(&e);
    assert!(
        keys.contains(&("server_data_conf/host_rule.data".into(), "Version".into())),
        "{keys:?}"
    );
    assert!(keys.contains(&(
        "server_data_conf/cluster_conf.data".into(),
        "Config.c1.GslbBasic.RetryMax".into()
    )));
    let syntax =
        e.0.iter()
            .find(|e| e.file == "cluster_conf/cluster_table.data")
            .unwrap();
    assert!(
        syntax.reason.contains("line 3 column 3"),
        "{}",
        syntax.reason
    );
}

#[test]
fn cross_references_are_checked() {
    let route = r#"{"Version":"r","ProductRule":{"ghost":[{"Cond":"default_t()","ClusterName":"c1"}],
        "example_product":[{"Cond":"default_t(","ClusterName":"c1"},{"Cond":"default_t()","ClusterName":"c9"}]}}"#;
    let gslb =
        r#"{"Hostname":"h","Ts":"1","Clusters":{"c1":{"c1.sub1":1,"c1.nope":1},"c2":{"c2.a":0}}}"#;
    let e = load("xref", &[("route_rule.data", route), ("gslb.data", gslb)]).unwrap_err();
    let keys = err_keys(&e);
    for (f, k) in [
        ("server_data_conf/route_rule.data", "ProductRule.ghost"),
        (
            "server_data_conf/route_rule.data",
            "ProductRule.example_product[0].Cond",
        ),
        (
            "server_data_conf/route_rule.data",
            "ProductRule.example_product[1].ClusterName",
        ),
        ("cluster_conf/gslb.data", "Clusters.c1.c1.nope"),
        ("cluster_conf/gslb.data", "Clusters.c2"),
    ] {
        assert!(
            keys.contains(&(f.into(), k.into())),
            "missing {f} {k} in {keys:?}"
        );
    }
    let cond = e.0.iter().find(|e| e.key.ends_with("[0].Cond")).unwrap();
    assert!(cond.reason.starts_with("column "), "{}", cond.reason);
}

#[test]
fn backend_and_host_checks() {
    let table = r#"{"Version":"t","Config":{"c1":{"c1.sub1":[{"Addr":"localhost","Name":"a","Port":0,"Weight":-1}]},
        "c2":{"c2.a":[{"Addr":"1.1.1.1","Name":"a","Port":1,"Weight":0}],"c2.b":[{"Addr":"1.1.1.1","Name":"b","Port":1,"Weight":1}]}}}"#;
    let host = r#"{"Version":"h","Hosts":{"t1":["a.com"],"t2":["A.com","x*.com"],"t3":["b.com"]},
        "HostTags":{"example_product":["t1","t2"]},"DefaultProduct":"nope"}"#;
    let e = load(
        "backend",
        &[("cluster_table.data", table), ("host_rule.data", host)],
    )
    .unwrap_err();
    let keys = err_keys(&e);
    for (f, k) in [
        (
            "cluster_conf/cluster_table.data",
            "Config.c1.c1.sub1[0].Addr",
        ),
        (
            "cluster_conf/cluster_table.data",
            "Config.c1.c1.sub1[0].Port",
        ),
        (
            "cluster_conf/cluster_table.data",
            "Config.c1.c1.sub1[0].Weight",
        ),
        ("cluster_conf/cluster_table.data", "Config.c2.c2.a"),
        ("server_data_conf/host_rule.data", "Hosts.t2[0]"),
        ("server_data_conf/host_rule.data", "Hosts.t2[1]"),
        ("server_data_conf/host_rule.data", "Hosts.t3"),
        ("server_data_conf/host_rule.data", "DefaultProduct"),
    ] {
        assert!(
            keys.contains(&(f.into(), k.into())),
            "missing {f} {k} in {keys:?}"
        );
    }
}

#[test]
fn name_conf_is_optional_but_checked_when_present() {
    let (dir, server) = setup("names", &[]);
    std::fs::write(
        &server.name_conf,
        r#"{"Version":"n","Config":{"svc":[{"Host":"127.0.0.1","Port":6439,"Weight":10}]}}"#,
    )
    .unwrap();
    let s = Snapshot::load(&dir.0, &server).unwrap();
    assert_eq!(s.names["svc"][0].addr.port(), 6439);
    std::fs::write(
        &server.name_conf,
        r#"{"Version":"n","Config":{"svc":[{"Host":"x","Port":6439,"Weight":10}]}}"#,
    )
    .unwrap();
    let e = Snapshot::load(&dir.0, &server).unwrap_err();
    assert_eq!(e.0[0].key, "Config.svc[0].Host");
}

#[test]
fn missing_file_is_reported() {
    let (dir, server) = setup("missing", &[]);
    std::fs::remove_file(&server.gslb_conf).unwrap();
    let e = Snapshot::load(&dir.0, &server).unwrap_err();
    assert_eq!(e.0[0].file, "cluster_conf/gslb.data");
    assert!(e.0[0].reason.contains("cannot read"));
}

#[test]
fn snapshot_is_clone_and_send() {
    fn check<T: Clone + Send + 'static>() {}
    check::<Snapshot>();
}

#[test]
fn independent_checks_survive_a_broken_neighbour() {
    // host_rule and cluster_conf unreadable: route conditions and cluster
    // names, and gslb against cluster_table, are still checked; whether a
    // product exists cannot be judged, so it is not reported.
    let route = r#"{"Version":"r","ProductRule":{"ghost":[{"Cond":"nope()","ClusterName":"c9"}]}}"#;
    let gslb = r#"{"Hostname":"h","Ts":"1","Clusters":{"c1":{"c1.sub1":1,"c1.gone":1}}}"#;
    let e = load(
        "neighbours",
        &[
            ("host_rule.data", "{"),
            ("cluster_conf.data", "[]"),
            ("route_rule.data", route),
            ("gslb.data", gslb),
        ],
    )
    .unwrap_err();
    let keys = err_keys(&e);
    for (f, k) in [
        ("server_data_conf/host_rule.data", ""),
        ("server_data_conf/cluster_conf.data", ""),
        (
            "server_data_conf/route_rule.data",
            "ProductRule.ghost[0].Cond",
        ),
        (
            "server_data_conf/route_rule.data",
            "ProductRule.ghost[0].ClusterName",
        ),
        ("cluster_conf/gslb.data", "Clusters.c1.c1.gone"),
    ] {
        assert!(
            keys.contains(&(f.into(), k.into())),
            "missing {f} {k} in {keys:?}"
        );
    }
    assert!(
        !keys.iter().any(|(_, k)| k == "ProductRule.ghost"),
        "{keys:?}"
    );
}
