//! `ringfront -t` on broken configuration directories: the real binary
//! names file, key or JSON path, and reason for each problem, lists every
//! problem of a directory rather than the first, exits 1, and never
//! crashes.

mod common;

use common::conf::{Cluster, ConfDir, Layout};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::process::Command;

struct Checked {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn check(d: &ConfDir) -> Checked {
    let out = Command::new(env!("CARGO_BIN_EXE_ringfront"))
        .arg("-t")
        .arg("-c")
        .arg(d.path())
        .output()
        .expect("run ringfront");
    Checked {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn layout() -> Layout {
    let backend: SocketAddr = "127.0.0.1:9".parse().unwrap();
    Layout::single(Cluster::simple("c", &[backend]))
}

/// Replace one JSON file with `f` applied to what the layout writes.
fn edit(d: &ConfDir, file: &str, base: Value, f: impl FnOnce(&mut Value)) {
    let mut v = base;
    f(&mut v);
    d.write_json(file, &v);
}

fn cond(l: &Layout, d: &ConfDir, c: &str) {
    edit(d, "server_data_conf/route_rule.data", l.route_rule(), |v| {
        v["ProductRule"]["p"][0]["Cond"] = json!(c)
    });
}

fn bfe_conf(l: &Layout, d: &ConfDir, extra: &str) {
    d.write("bfe.conf", &format!("{}{extra}", l.bfe_conf()));
}

type Breakage = fn(&Layout, &ConfDir);

/// Each broken variant, and the fragments one line of `-t`'s output must
/// hold: the file, the key or JSON path, and the reason.
fn variants() -> Vec<(&'static str, Breakage, &'static [&'static str])> {
    vec![
        (
            "JSON syntax",
            |_, d| d.write("server_data_conf/host_rule.data", "{\"Version\": \"t\",\n"),
            &[
                "server_data_conf/host_rule.data: ",
                "invalid JSON at line 2",
            ],
        ),
        (
            "unknown cluster",
            |l, d| {
                edit(d, "server_data_conf/route_rule.data", l.route_rule(), |v| {
                    v["ProductRule"]["p"][0]["ClusterName"] = json!("nope")
                })
            },
            &[
                "route_rule.data: ProductRule.p[0].ClusterName: ",
                "cluster \"nope\" is not defined",
            ],
        ),
        (
            "condition syntax",
            |l, d| cond(l, d, r#"req_path_in("/a", false) &&"#),
            &[
                "route_rule.data: ProductRule.p[0].Cond: ",
                "column 28: unexpected end",
            ],
        ),
        (
            "unknown primitive",
            |l, d| cond(l, d, "default_t() || req_nope()"),
            &["ProductRule.p[0].Cond: column 16: unknown primitive req_nope"],
        ),
        (
            "argument type",
            |l, d| cond(l, d, r#"req_path_in("/a", "yes")"#),
            &["ProductRule.p[0].Cond: column 19: ", "must be a boolean"],
        ),
        (
            "argument count",
            |l, d| cond(l, d, r#"req_host_in("a.com", true)"#),
            &["ProductRule.p[0].Cond: column 1: ", "takes 1 argument"],
        ),
        (
            "bad regex",
            |l, d| cond(l, d, r#"req_path_regmatch("a(b")"#),
            &[
                "ProductRule.p[0].Cond: column 19: ",
                "bad regular expression: unclosed group",
            ],
        ),
        (
            "bad escape",
            |l, d| cond(l, d, r#"req_path_regmatch("\d+")"#),
            &["ProductRule.p[0].Cond: column 20: unknown escape"],
        ),
        (
            "reversed IP range",
            |l, d| cond(l, d, r#"req_cip_range("10.0.0.9", "10.0.0.1")"#),
            &["ProductRule.p[0].Cond: column 27: ", "before start"],
        ),
        (
            "bad time",
            |l, d| cond(l, d, r#"bfe_time_range("20190204203000H", "2019")"#),
            &["ProductRule.p[0].Cond: column 35: ", "time-zone letter"],
        ),
        (
            "unsupported BFE primitive",
            |l, d| cond(l, d, r#"ses_tls_client_auth()"#),
            &["ProductRule.p[0].Cond: ", "not supported by ringfront"],
        ),
        (
            "unknown product in ProductRule",
            |l, d| {
                edit(d, "server_data_conf/route_rule.data", l.route_rule(), |v| {
                    v["ProductRule"]["ghost"] = json!([{"Cond": "default_t()", "ClusterName": "c"}])
                })
            },
            &["route_rule.data: ProductRule.ghost: ", "product \"ghost\""],
        ),
        (
            "unknown product in BasicRule",
            |l, d| {
                edit(d, "server_data_conf/route_rule.data", l.route_rule(), |v| {
                    v["BasicRule"] = json!({"ghost": [{"Hostname": ["a.com"], "ClusterName": "c"}]})
                })
            },
            &["route_rule.data: BasicRule.ghost: ", "product \"ghost\""],
        ),
        (
            "bad BasicRule path",
            |l, d| {
                edit(d, "server_data_conf/route_rule.data", l.route_rule(), |v| {
                    v["BasicRule"] = json!({"p": [{"Path": ["/a*b"], "ClusterName": "c"}]})
                })
            },
            &[
                "route_rule.data: BasicRule.p[0].Path[0]: ",
                "invalid path pattern",
            ],
        ),
        (
            "rule without ClusterName",
            |l, d| {
                edit(d, "server_data_conf/route_rule.data", l.route_rule(), |v| {
                    v["ProductRule"]["p"][0] = json!({"Cond": "default_t()"})
                })
            },
            &["route_rule.data: ProductRule.p[0].ClusterName: missing"],
        ),
        (
            "missing Version",
            |l, d| {
                edit(d, "server_data_conf/route_rule.data", l.route_rule(), |v| {
                    v.as_object_mut().unwrap().remove("Version");
                })
            },
            &["route_rule.data: Version: missing"],
        ),
        (
            "unknown sub-cluster",
            |l, d| {
                edit(d, "cluster_conf/gslb.data", l.gslb(), |v| {
                    v["Clusters"]["c"]["c.gone"] = json!(10)
                })
            },
            &["gslb.data: Clusters.c.c.gone: ", "sub-cluster \"c.gone\""],
        ),
        (
            "gslb cluster without backends",
            |l, d| {
                edit(d, "cluster_conf/gslb.data", l.gslb(), |v| {
                    v["Clusters"]["x"] = json!({"x.a": 1})
                })
            },
            &["gslb.data: Clusters.x: ", "not in cluster_table"],
        ),
        (
            "routed cluster missing from gslb",
            |l, d| {
                edit(d, "cluster_conf/gslb.data", l.gslb(), |v| {
                    v["Clusters"] = json!({})
                })
            },
            &[
                "route_rule.data: ProductRule.p[0].ClusterName: ",
                "not defined in gslb",
            ],
        ),
        (
            "missing file",
            |_, d| std::fs::remove_file(d.path().join("cluster_conf/cluster_table.data")).unwrap(),
            &["cluster_conf/cluster_table.data: cannot read"],
        ),
        (
            "wrong type in cluster_conf",
            |l, d| {
                edit(
                    d,
                    "server_data_conf/cluster_conf.data",
                    l.cluster_conf(),
                    |v| v["Config"]["c"]["BackendConf"]["TimeoutConnSrv"] = json!("fast"),
                )
            },
            &[
                "cluster_conf.data: Config.c.BackendConf.TimeoutConnSrv: ",
                "must be an integer",
            ],
        ),
        (
            "wrong type in host_rule",
            |l, d| {
                edit(d, "server_data_conf/host_rule.data", l.host_rule(), |v| {
                    v["Hosts"]["p_tag"] = json!("example.org")
                })
            },
            &["host_rule.data: Hosts.p_tag: must be an array"],
        ),
        (
            "backend port out of range",
            |l, d| {
                edit(
                    d,
                    "cluster_conf/cluster_table.data",
                    l.cluster_table(),
                    |v| v["Config"]["c"]["c.all"][0]["Port"] = json!(70000),
                )
            },
            &["cluster_table.data: Config.c.c.all[0].Port: ", "70000"],
        ),
        (
            "bad VIP",
            |_, d| {
                d.write_json(
                    "server_data_conf/vip_rule.data",
                    &json!({"Version": "t", "Vips": {"p": ["10.0.0.300"]}}),
                )
            },
            &["vip_rule.data: Vips.p[0]: ", "not an IP address"],
        ),
        (
            "unknown DefaultProduct",
            |l, d| {
                edit(d, "server_data_conf/host_rule.data", l.host_rule(), |v| {
                    v["DefaultProduct"] = json!("nope")
                })
            },
            &["host_rule.data: DefaultProduct: ", "\"nope\""],
        ),
        (
            "host tag without product",
            |l, d| {
                edit(d, "server_data_conf/host_rule.data", l.host_rule(), |v| {
                    v["Hosts"]["stray"] = json!(["stray.example"])
                })
            },
            &[
                "host_rule.data: Hosts.stray: ",
                "does not appear in HostTags",
            ],
        ),
        (
            "bad name_conf",
            |_, d| {
                d.write_json(
                    "server_data_conf/name_conf.data",
                    &json!({"Version": "t", "Config": {"svc": [{"Host": "127.0.0.1", "Port": "x", "Weight": 1}]}}),
                )
            },
            &["name_conf.data: Config.svc[0].Port: ", "must be an integer"],
        ),
        (
            "bad bfe.conf value",
            |l, d| bfe_conf(l, d, "MaxHeaderBytes = lots\n"),
            &["bfe.conf: Server.MaxHeaderBytes: ", "not an integer"],
        ),
        (
            "unknown bfe.conf key",
            |l, d| bfe_conf(l, d, "MaxHeaderByte = 10\n"),
            &["bfe.conf: Server.MaxHeaderByte: ", "unknown key"],
        ),
        (
            "bfe.conf key not acted on",
            |l, d| bfe_conf(l, d, "AcceptNum = 4\n"),
            &["bfe.conf: Server.AcceptNum: ", "not supported yet: "],
        ),
        (
            "bfe.conf section not acted on",
            |l, d| bfe_conf(l, d, "[SessionCache]\nSessionCacheDisabled = false\n"),
            &[
                "bfe.conf: SessionCache.SessionCacheDisabled: ",
                "not supported yet: ",
            ],
        ),
        (
            "unknown module",
            |l, d| bfe_conf(l, d, "Modules = mod_nope\n"),
            &["mod_nope", "bfe.conf", "unknown module"],
        ),
        (
            "bfe.conf names a missing file",
            |l, d| bfe_conf(l, d, "RouteRuleConf = server_data_conf/nope.data\n"),
            &["server_data_conf/nope.data: cannot read"],
        ),
        (
            "bfe.conf syntax",
            |_, d| d.write("bfe.conf", "[Server\nHttpPort = 0\n"),
            &["bfe.conf: "],
        ),
    ]
}

#[test]
fn each_broken_variant_is_named() {
    let variants = variants();
    assert!(variants.len() >= 20);
    let mut failures = Vec::new();
    for (name, breakage, want) in &variants {
        let l = layout();
        let d = l.write();
        breakage(&l, &d);
        let r = check(&d);
        let line = r
            .stderr
            .lines()
            .find(|line| want.iter().all(|w| line.contains(w)));
        if r.code != Some(1)
            || line.is_none()
            || r.stderr.contains("panicked")
            || r.stdout.contains("configuration OK")
        {
            failures.push(format!(
                "{name}: exit {:?}, want a line with {want:?}\n{}",
                r.code, r.stderr
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Problems in six files at once: every one is listed, then the count.
#[test]
fn every_problem_is_listed() {
    let l = layout();
    let d = l.write();
    bfe_conf(&l, &d, "ClientReadTimeout = soon\n");
    edit(&d, "server_data_conf/host_rule.data", l.host_rule(), |v| {
        v["DefaultProduct"] = json!("nope")
    });
    d.write_json(
        "server_data_conf/vip_rule.data",
        &json!({"Version": "t", "Vips": {"p": ["nowhere"]}}),
    );
    edit(
        &d,
        "server_data_conf/route_rule.data",
        l.route_rule(),
        |v| {
            v["ProductRule"]["p"] = json!([
                {"Cond": "req_host_in(\"a.com:80\")", "ClusterName": "c"},
                {"Cond": "default_t()", "ClusterName": "missing"}
            ])
        },
    );
    edit(&d, "cluster_conf/gslb.data", l.gslb(), |v| {
        v["Clusters"]["c"]["c.gone"] = json!(1)
    });
    edit(
        &d,
        "cluster_conf/cluster_table.data",
        l.cluster_table(),
        |v| v["Config"]["c"]["c.all"][0]["Weight"] = json!(-1),
    );
    let r = check(&d);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    let expected = [
        "bfe.conf: Server.ClientReadTimeout: ",
        "host_rule.data: DefaultProduct: ",
        "vip_rule.data: Vips.p[0]: ",
        "route_rule.data: ProductRule.p[0].Cond: column 13: ",
        "route_rule.data: ProductRule.p[1].ClusterName: ",
        "gslb.data: Clusters.c.c.gone: ",
        "cluster_table.data: Config.c.c.all[0].Weight: ",
    ];
    for want in expected {
        assert!(
            r.stderr.contains(want),
            "missing {want:?} in:\n{}",
            r.stderr
        );
    }
    let count = format!("configuration has {} problem(s)", expected.len());
    assert!(r.stderr.contains(&count), "{}", r.stderr);
}

#[test]
fn good_directory_is_ok() {
    let l = layout();
    let d = l.write();
    let r = check(&d);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.stdout.trim(), "configuration OK");
}
