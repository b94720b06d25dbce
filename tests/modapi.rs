//! The module contract end to end: a test-only module's table checked at
//! start, reloaded through `/reload/<name>`, its counters summed over
//! workers on `/monitor/<name>`, and `-t`-style checks listing every
//! module's problems at once.

mod common;

use common::client;
use common::conf::{Cluster, ConfDir, Layout};
use common::origin::Origin;
use ringfront::basic::Response;
use ringfront::module::conf::{conf_path, read_json, resolve, IniConf};
use ringfront::module::{
    Handler, InitCtx, Module, ModuleConf, ModuleError, ModuleRegistry, Point, Reloaded, Ret,
    WebHandlers,
};
use ringfront::server::{self, ServerOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `mod_table`: answers every request itself with the `Reply` of its
/// data file, and counts connections and requests.
struct ModTable {
    name: &'static str,
}

#[derive(Clone)]
struct Table {
    reply: String,
}

impl ModTable {
    /// `[Basic] DataPath` of the module conf, resolved against the root.
    fn data_path(&self, root: &Path) -> Result<PathBuf, Vec<ModuleError>> {
        let mut ini = IniConf::read(root, &conf_path(root, self.name))
            .map_err(|e| ModuleError::confs(self.name, &e))?;
        let p = ini.string("Basic", "DataPath").unwrap_or_default();
        ini.finish()
            .map_err(|e| ModuleError::confs(self.name, &e))?;
        Ok(resolve(root, &p))
    }

    fn load(&self, root: &Path, path: &Path) -> Result<(Table, String), Vec<ModuleError>> {
        let v = read_json(root, path, |j, o| {
            j.need_str(o, "Reply", "").map(String::from)
        })
        .map_err(|e| ModuleError::confs(self.name, &e))?;
        Ok((
            Table {
                reply: v.value.clone(),
            },
            v.label(),
        ))
    }
}

fn joined(errs: Vec<ModuleError>) -> String {
    errs.iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

impl Module for ModTable {
    fn name(&self) -> &'static str {
        self.name
    }

    fn check(&self, root: &Path) -> Result<ModuleConf, Vec<ModuleError>> {
        let path = self.data_path(root)?;
        Ok(ModuleConf::new(self.load(root, &path)?.0))
    }

    fn web(&self, web: &mut WebHandlers) {
        let me = ModTable { name: self.name };
        web.reload(format!("{}.data", self.name), move |ctx| {
            let path = match ctx.path {
                Some(p) => p.to_path_buf(),
                None => me.data_path(ctx.conf_root).map_err(joined)?,
            };
            let (t, version) = me.load(ctx.conf_root, &path).map_err(joined)?;
            Ok(Reloaded {
                conf: ModuleConf::new(t),
                version: Some(version),
            })
        });
        web.monitor(self.name);
    }

    fn init(&self, ctx: &mut InitCtx<'_>) -> Result<(), ModuleError> {
        let table = ctx.conf::<Table>()?;
        let counters = ctx.counters(&["CONN_TOTAL", "REQ_TOTAL"])?;
        let c = counters.clone();
        ctx.callbacks().add_handler(
            Point::Accept,
            Handler::Accept(Box::new(move |_| {
                c.inc(0);
                Ret::GoOn
            })),
        )?;
        ctx.callbacks().add_handler(
            Point::BeforeLocation,
            Handler::Request(Box::new(move |_| {
                counters.inc(1);
                let body = table.borrow().reply.clone();
                (Ret::Response, Some(Response::new(200).with_body(body)))
            })),
        )
    }
}

fn registry() -> ModuleRegistry {
    let mut r = ringfront::modules::registry();
    r.register(Arc::new(ModTable { name: "mod_table" }));
    r.register(Arc::new(ModTable { name: "mod_table2" }));
    r
}

fn write_module(d: &ConfDir, name: &str, reply: &str, version: &str) {
    d.write(
        &format!("{name}/{name}.conf"),
        &format!("[Basic]\nDataPath = {name}/table.data\n"),
    );
    d.write_json(
        &format!("{name}/table.data"),
        &serde_json::json!({"Version": version, "Reply": reply}),
    );
}

fn setup(workers: usize) -> (Origin, ConfDir) {
    let o = Origin::named("origin");
    let mut l = Layout::single(Cluster::simple("c", &[o.addr]));
    l.workers = workers;
    l.modules = vec!["mod_table".into(), "mod_noop".into()];
    let d = l.write();
    write_module(&d, "mod_table", "hello", "v1");
    (o, d)
}

#[test]
fn reload_swaps_table_and_bad_reload_changes_nothing() {
    let (_o, d) = setup(2);
    let h = common::start(d.path(), Some(registry()));
    assert_eq!(client::get(h.http_addr, "example.org", "/").text(), "hello");

    write_module(&d, "mod_table", "bye", "v2");
    let r = common::reload(&h, "mod_table.data");
    assert!(r["error"].is_null(), "{r}");
    assert_eq!(r["version"], "table.data=v2");
    for _ in 0..6 {
        assert_eq!(client::get(h.http_addr, "example.org", "/").text(), "bye");
    }

    d.write("mod_table/table.data", "{\"Version\": \"v3\", ");
    let r = common::reload(&h, "mod_table.data");
    let err = r["error"].as_str().unwrap_or_default();
    assert!(err.contains("mod_table/table.data"), "{r}");
    assert_eq!(client::get(h.http_addr, "example.org", "/").text(), "bye");

    let r = common::reload(&h, "no_such_thing");
    assert!(r["error"].as_str().is_some(), "{r}");

    let (_, status) = common::monitor_get(&h, "/monitor/module_status");
    let v: serde_json::Value = serde_json::from_str(&status).expect("json");
    assert_eq!(v["enabled"], serde_json::json!(["mod_noop", "mod_table"]));
    assert_eq!(v["state"]["mod_table"]["reloads"], 1);
}

#[test]
fn counters_sum_over_workers_in_every_format() {
    let (_o, d) = setup(2);
    let h = common::start(d.path(), Some(registry()));
    for _ in 0..8 {
        client::get(h.http_addr, "example.org", "/");
    }
    let (s, json) = common::monitor_get(&h, "/monitor/mod_table");
    assert_eq!(s, 200, "{json}");
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(v["Prefix"], "mod_table");
    assert_eq!(v["Kind"], "total");
    assert_eq!(v["CounterData"]["REQ_TOTAL"], 8, "{json}");
    assert_eq!(v["CounterData"]["CONN_TOTAL"], 8, "{json}");
    let (_, kv) = common::monitor_get(&h, "/monitor/mod_table?format=kv");
    assert!(kv.contains("mod_table_REQ_TOTAL: 8\n"), "{kv}");
    let (_, noah) = common::monitor_get(&h, "/monitor/mod_table?format=noah");
    assert_eq!(noah, kv);
    let (_, prom) = common::monitor_get(&h, "/monitor/mod_table?format=prometheus");
    assert!(
        prom.contains("# TYPE mod_table_REQ_TOTAL counter\nmod_table_REQ_TOTAL 8\n"),
        "{prom}"
    );
    let (s, diff) = common::monitor_get(&h, "/monitor/mod_table.diff");
    assert_eq!(s, 200);
    assert!(
        diff.contains("\"Prefix\":\"mod_table_diff\",\"Kind\":\"delta\""),
        "{diff}"
    );
    let (s, bad) = common::monitor_get(&h, "/monitor/mod_table?format=xml");
    assert_eq!(s, 400);
    assert!(
        serde_json::from_str::<serde_json::Value>(&bad).is_ok(),
        "{bad}"
    );
    assert_eq!(
        common::monitor_get(&h, "/monitor/proxy_state?format=xml").0,
        400
    );

    let (_, list) = common::monitor_get(&h, "/monitor");
    for name in [
        "proxy_state",
        "bal_state",
        "module_status",
        "module_handlers",
        "mod_table",
    ] {
        assert!(list.contains(&format!("/monitor/{name}\"")), "{list}");
    }
    let (_, list) = common::monitor_get(&h, "/reload");
    for name in [
        "server_data_conf",
        "gslb_data_conf",
        "name_conf",
        "tls_conf",
        "mod_table.data",
    ] {
        assert!(list.contains(&format!("/reload/{name}\"")), "{list}");
    }
}

#[test]
fn module_handlers_lists_points_in_run_order() {
    let (_o, d) = setup(1);
    let h = common::start(d.path(), Some(registry()));
    let (s, body) = common::monitor_get(&h, "/monitor/module_handlers");
    assert_eq!(s, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        v["0#HandleAccept"],
        serde_json::json!(["mod_noop", "mod_table"])
    );
    assert_eq!(
        v["2#HandleBeforeLocation"],
        serde_json::json!(["mod_noop", "mod_table"])
    );
    assert_eq!(v["5#HandleForward"], serde_json::json!(["mod_noop"]));
}

/// A connection to the monitor from 127.0.0.2 (loopback, but not the
/// address BFE allows).
fn get_from_127_0_0_2(port: u16, path: &str) -> String {
    use std::os::fd::FromRawFd;
    // SAFETY: plain socket calls on a descriptor this function owns; it is
    // handed to TcpStream, which closes it.
    let stream = unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0, "socket");
        let addr = |ip: [u8; 4], port: u16| libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: port.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from_ne_bytes(ip),
            },
            sin_zero: [0; 8],
        };
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        let local = addr([127, 0, 0, 2], 0);
        assert_eq!(
            libc::bind(fd, &local as *const _ as *const libc::sockaddr, len),
            0
        );
        let remote = addr([127, 0, 0, 1], port);
        assert_eq!(
            libc::connect(fd, &remote as *const _ as *const libc::sockaddr, len),
            0
        );
        std::net::TcpStream::from_raw_fd(fd)
    };
    let mut s = stream;
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: m\r\n\r\n").as_bytes())
        .expect("send");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[test]
fn reload_only_from_127_0_0_1() {
    let (_o, d) = setup(1);
    let h = common::start(d.path(), Some(registry()));
    let port = h.monitor_addr.expect("monitor").port();
    write_module(&d, "mod_table", "changed", "v2");
    let reply = get_from_127_0_0_2(port, "/reload/mod_table.data");
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(
        reply.contains("{\"error\":\"reload is not allowed from [127.0.0.2:"),
        "{reply}"
    );
    assert_eq!(client::get(h.http_addr, "example.org", "/").text(), "hello");
}

#[test]
fn check_lists_problems_of_every_module_at_once() {
    let (_o, d) = setup(1);
    let mut l = Layout::single(Cluster::simple("c", &["127.0.0.1:1".parse().unwrap()]));
    l.modules = vec!["mod_table".into(), "mod_table2".into()];
    d.write("bfe.conf", &l.bfe_conf());
    d.write(
        "mod_table/mod_table.conf",
        "[Basic]\nDataPath = x\nTypo = 1\n",
    );
    write_module(&d, "mod_table2", "x", "v");
    d.write_json(
        "mod_table2/table.data",
        &serde_json::json!({"Version": "v"}),
    );
    let mut opts = ServerOptions::new(d.path());
    opts.modules = registry();
    let errs = match server::check(&opts) {
        Ok(_) => panic!("checked a broken module conf"),
        Err(e) => e,
    };
    let all = errs.join("\n");
    assert!(
        all.contains("module mod_table: mod_table/mod_table.conf: Basic.Typo: line 3: unknown key"),
        "{all}"
    );
    assert!(
        all.contains("module mod_table2: mod_table2/table.data: Reply:"),
        "{all}"
    );
    match server::start(opts) {
        Ok(_) => panic!("started with broken module confs"),
        Err(e) => assert!(e.contains("mod_table2"), "{e}"),
    }
}
