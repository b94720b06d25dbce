//! Writing a BFE-style conf dir for one test.

use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A conf dir under the system temp dir, removed on drop.
pub struct ConfDir {
    pub path: PathBuf,
}

impl Drop for ConfDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

impl ConfDir {
    pub fn write(&self, rel: &str, content: &str) {
        let p = self.path.join(rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(p, content).unwrap();
    }

    pub fn write_json(&self, rel: &str, v: &Value) {
        self.write(rel, &serde_json::to_string_pretty(v).unwrap());
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A sub-cluster: name, GSLB weight, backends with their weights.
pub type Sub = (String, u32, Vec<(SocketAddr, u32)>);

/// One cluster: sub-clusters with their GSLB weight and backends
/// (address, weight).
#[derive(Clone)]
pub struct Cluster {
    pub name: String,
    pub subs: Vec<Sub>,
    pub blackhole: u32,
    /// Merged over the defaults below (`BackendConf`, `GslbBasic`, …).
    pub conf: Value,
}

impl Cluster {
    /// One sub-cluster with equal-weight backends.
    pub fn simple(name: &str, backends: &[SocketAddr]) -> Self {
        Cluster {
            name: name.to_string(),
            subs: vec![(
                format!("{name}.all"),
                100,
                backends.iter().map(|a| (*a, 1)).collect(),
            )],
            blackhole: 0,
            conf: json!({}),
        }
    }

    pub fn with_conf(mut self, conf: Value) -> Self {
        self.conf = conf;
        self
    }
}

/// Everything a test routes: products with hosts and rules, clusters,
/// plus extra bfe.conf lines.
pub struct Layout {
    pub workers: usize,
    /// product → hostnames
    pub hosts: Vec<(String, Vec<String>)>,
    pub default_product: Option<String>,
    /// product → [(condition, cluster)]
    pub rules: Vec<(String, Vec<(String, String)>)>,
    pub clusters: Vec<Cluster>,
    pub server_extra: String,
    pub modules: Vec<String>,
    pub tail: String,
}

impl Layout {
    /// One product answering every host, everything to `cluster`.
    pub fn single(cluster: Cluster) -> Self {
        Layout {
            workers: 1,
            hosts: vec![("p".into(), vec!["example.org".into()])],
            default_product: Some("p".into()),
            rules: vec![(
                "p".into(),
                vec![("default_t()".into(), cluster.name.clone())],
            )],
            clusters: vec![cluster],
            server_extra: String::new(),
            modules: Vec::new(),
            tail: String::new(),
        }
    }

    pub fn write(&self) -> ConfDir {
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("ringfront-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        let d = ConfDir { path };
        d.write("bfe.conf", &self.bfe_conf());
        d.write_json("server_data_conf/host_rule.data", &self.host_rule());
        d.write_json(
            "server_data_conf/vip_rule.data",
            &json!({"Version": "t", "Vips": {}}),
        );
        d.write_json("server_data_conf/route_rule.data", &self.route_rule());
        d.write_json(
            "server_data_conf/name_conf.data",
            &json!({"Version": "t", "Config": {}}),
        );
        d.write_json("server_data_conf/cluster_conf.data", &self.cluster_conf());
        d.write_json("cluster_conf/gslb.data", &self.gslb());
        d.write_json("cluster_conf/cluster_table.data", &self.cluster_table());
        d
    }

    pub fn bfe_conf(&self) -> String {
        let mut s = format!(
            "[Server]\nHttpPort = 0\nMonitorPort = 0\nMonitorEnabled = true\nMaxCpus = {}\nClientReadTimeout = 5\nClientWriteTimeout = 5\nGracefulShutdownTimeout = 2\n",
            self.workers
        );
        for m in &self.modules {
            s.push_str(&format!("Modules = {m}\n"));
        }
        s.push_str(&self.server_extra);
        s.push_str(&self.tail);
        s
    }

    pub fn host_rule(&self) -> Value {
        let mut hosts = serde_json::Map::new();
        let mut tags = serde_json::Map::new();
        for (p, hs) in &self.hosts {
            hosts.insert(format!("{p}_tag"), json!(hs));
            tags.insert(p.clone(), json!([format!("{p}_tag")]));
        }
        json!({"Version": "t", "DefaultProduct": self.default_product, "Hosts": hosts, "HostTags": tags})
    }

    pub fn route_rule(&self) -> Value {
        let mut pr = serde_json::Map::new();
        for (p, rules) in &self.rules {
            let list: Vec<Value> = rules
                .iter()
                .map(|(c, cl)| json!({"Cond": c, "ClusterName": cl}))
                .collect();
            pr.insert(p.clone(), json!(list));
        }
        json!({"Version": "t", "ProductRule": pr})
    }

    pub fn cluster_conf(&self) -> Value {
        let mut m = serde_json::Map::new();
        for c in &self.clusters {
            let mut base = json!({
                "BackendConf": {"TimeoutConnSrv": 1000, "TimeoutResponseHeader": 3000, "MaxIdleConnsPerHost": 16, "RetryLevel": 0},
                "CheckConf": {"Schem": "http", "Uri": "/health", "Host": "example.org", "StatusCode": 200, "FailNum": 1000, "CheckInterval": 1000},
                "GslbBasic": {"CrossRetry": 0, "RetryMax": 2, "HashConf": {"HashStrategy": 1, "HashHeader": "", "SessionSticky": false}},
                "ClusterBasic": {"TimeoutReadClient": 3000, "TimeoutWriteClient": 3000, "TimeoutReadClientAgain": 5000}
            });
            merge(&mut base, &c.conf);
            m.insert(c.name.clone(), base);
        }
        json!({"Version": "t", "Config": m})
    }

    pub fn gslb(&self) -> Value {
        let mut m = serde_json::Map::new();
        for c in &self.clusters {
            let mut subs = serde_json::Map::new();
            subs.insert("GSLB_BLACKHOLE".into(), json!(c.blackhole));
            for (s, w, _) in &c.subs {
                subs.insert(s.clone(), json!(w));
            }
            m.insert(c.name.clone(), Value::Object(subs));
        }
        json!({"Hostname": "t", "Ts": "0", "Clusters": m})
    }

    pub fn cluster_table(&self) -> Value {
        let mut m = serde_json::Map::new();
        for c in &self.clusters {
            let mut subs = serde_json::Map::new();
            for (s, _, backends) in &c.subs {
                let list: Vec<Value> = backends
                    .iter()
                    .enumerate()
                    .map(|(i, (a, w))| json!({"Addr": a.ip().to_string(), "Name": format!("{s}.{i}"), "Port": a.port(), "Weight": w}))
                    .collect();
                subs.insert(s.clone(), json!(list));
            }
            m.insert(c.name.clone(), Value::Object(subs));
        }
        json!({"Version": "t", "Config": m})
    }
}

fn merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                merge(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, o) => *b = o.clone(),
    }
}
