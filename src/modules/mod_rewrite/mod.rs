//! `mod_rewrite`: rewrite the Host, path and query of the request that is
//! forwarded, by product rules (BFE's mod_rewrite).
//!
//! It runs at HandleAfterLocation, after routing, so a rewrite never
//! changes the product or cluster chosen. Every rule of the request's
//! product whose condition holds has its actions applied in order; a
//! matching rule with `Last` stops the list. Always GoOn.
//! A product without rules costs one table lookup (none when the table is
//! empty).

pub mod action;
pub mod conf;

use crate::basic::{Request, Response};
use crate::module::{
    joined, InitCtx, Module, ModuleConf, ModuleError, Reloaded, RequestPoint, Ret, Tables,
    WebHandlers,
};
use crate::route::RequestFacts;
use conf::{RewriteTable, NAME};
use std::path::Path;

pub struct ModRewrite;

/// HandleAfterLocation: apply the product's matching rules.
pub fn rewrite_handler(t: &RewriteTable, req: &mut Request) -> (Ret, Option<Response>) {
    let Some(product) = req.product_name() else {
        return (Ret::GoOn, None);
    };
    let Some(rules) = t.rules(product) else {
        return (Ret::GoOn, None);
    };
    // The table is borrowed for the request's lifetime; `rules` does not
    // borrow the request, so the actions may edit it.
    let rules: &[conf::RewriteRule] = rules;
    if t.open_debug {
        log::debug!(
            "{NAME}:before:host={}, path={}, query={}",
            String::from_utf8_lossy(req.host()),
            String::from_utf8_lossy(req.path()),
            String::from_utf8_lossy(req.query())
        );
    }
    for rule in rules {
        if rule.cond.eval(req) {
            for a in &rule.actions {
                a.apply(req);
            }
            if rule.last {
                break;
            }
        }
    }
    if t.open_debug {
        log::debug!(
            "{NAME}:after:host={}, path={}, query={}",
            String::from_utf8_lossy(req.host()),
            String::from_utf8_lossy(req.path()),
            String::from_utf8_lossy(req.query())
        );
    }
    (Ret::GoOn, None)
}

impl Module for ModRewrite {
    fn name(&self) -> &'static str {
        NAME
    }

    fn check(&self, root: &Path) -> Result<ModuleConf, Vec<ModuleError>> {
        Ok(ModuleConf::new(conf::load_all(root)?))
    }

    /// `/reload/mod_rewrite` (`?path=` loads another file); the conf file
    /// is read at start only, as in BFE.
    fn web(&self, web: &mut WebHandlers) {
        web.reload(NAME, |ctx| {
            let cur = ctx.table::<RewriteTable>(NAME)?;
            let path = ctx.data_path(&cur.data_path);
            let mut t = conf::load_data(ctx.conf_root, path, cur.open_debug).map_err(joined)?;
            t.data_path = cur.data_path.clone();
            Ok(Reloaded {
                conf: ModuleConf::new(t),
                version: None,
            })
        });
    }

    fn init(&self, ctx: &mut InitCtx<'_>) -> Result<(), ModuleError> {
        let table: Tables<RewriteTable> = ctx.conf()?;
        ctx.callbacks()
            .on_request(RequestPoint::AfterLocation, move |req| {
                rewrite_handler(&table.borrow(), req)
            });
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::basic::RequestBuilder;
    use crate::config::Snapshot;

    /// A request routed to `product`.
    pub(crate) fn routed(product: &str, b: RequestBuilder) -> Request {
        let mut s = Snapshot::empty();
        let id = s.route.add_product(product);
        let mut req = b.snapshot(s).build();
        req.route.product = Some(id);
        req
    }

    /// A file with `text` in a fresh temp dir; returns (dir, file).
    pub(crate) fn temp_file(tag: &str, text: &str) -> (std::path::PathBuf, std::path::PathBuf) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("rf-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("rules.data");
        std::fs::write(&f, text).unwrap();
        (dir, f)
    }

    fn table(config: &str) -> RewriteTable {
        let text = format!(r#"{{"Version": "t", "Config": {config}}}"#);
        let (dir, f) = temp_file("rw", &text);
        let t = conf::load_data(&dir, &f, false).unwrap();
        std::fs::remove_dir_all(dir).unwrap();
        t
    }

    fn table_err(config: &str) -> String {
        let text = format!(r#"{{"Version": "t", "Config": {config}}}"#);
        let (dir, f) = temp_file("rw", &text);
        let e = conf::load_data(&dir, &f, false).unwrap_err();
        std::fs::remove_dir_all(dir).unwrap();
        joined(e)
    }

    fn run(t: &RewriteTable, target: &str) -> Request {
        let mut req = routed("p", RequestBuilder::get("example.org", target));
        assert!(matches!(rewrite_handler(t, &mut req), (Ret::GoOn, None)));
        req
    }

    #[test]
    fn path_actions() {
        let t = table(
            r#"{"p": [
            {"Cond": "req_path_prefix_in(\"/add\", false)", "Actions": [{"Cmd": "PATH_PREFIX_ADD", "Params": ["/bfe/"]}], "Last": true},
            {"Cond": "req_path_prefix_in(\"/trim\", false)", "Actions": [{"cmd": "path_prefix_trim", "params": ["/trim"]}], "Last": true},
            {"Cond": "req_path_in(\"/set\", false)", "Actions": [{"Cmd": "PATH_SET", "Params": ["/new path"]}], "Last": true},
            {"Cond": "req_path_prefix_in(\"/host\", false)", "Actions": [{"Cmd": "HOST_SET_FROM_PATH_PREFIX"}], "Last": false}
        ]}"#,
        );
        assert_eq!(run(&t, "/add/x?q=1").path(), b"/bfe/add/x");
        assert_eq!(run(&t, "/add/x?q=1").query(), b"q=1");
        assert_eq!(run(&t, "/trim/a").path(), b"/a");
        assert_eq!(run(&t, "/trimmed").path(), b"/med");
        assert_eq!(run(&t, "/set").path(), b"/new%20path");
        let r = run(&t, "/host.example/a/b");
        assert_eq!((r.host(), r.path()), (&b"host.example"[..], &b"/a/b"[..]));
        // Fewer than two slashes: unchanged.
        let r = run(&t, "/hostonly");
        assert_eq!(
            (r.host(), r.path()),
            (&b"example.org"[..], &b"/hostonly"[..])
        );
        // Another product: untouched.
        let mut req = routed("q", RequestBuilder::get("example.org", "/add/x"));
        rewrite_handler(&t, &mut req);
        assert_eq!(req.path(), b"/add/x");
    }

    #[test]
    fn query_and_host_actions_and_last() {
        let t = table(
            r#"{"p": [
            {"Cond": "default_t()", "Actions": [{"Cmd": "QUERY_ADD", "Params": ["a", "1"]}, {"Cmd": "HOST_SET", "Params": ["h.example"]}], "Last": false},
            {"Cond": "req_host_in(\"h.example\")", "Actions": [{"Cmd": "QUERY_RENAME", "Params": ["b", "c"]}], "Last": true},
            {"Cond": "default_t()", "Actions": [{"Cmd": "QUERY_DEL", "Params": ["a"]}], "Last": false}
        ]}"#,
        );
        let r = run(&t, "/x?b=2&bb=3");
        assert_eq!(r.host(), b"h.example");
        // The third rule is not reached: the second matched with Last.
        assert_eq!(r.query(), b"c=2&bb=3&a=1");
        let r = run(&t, "/x");
        assert_eq!(r.query(), b"a=1");

        let t = table(
            r#"{"p": [
            {"Cond": "default_t()", "Actions": [{"Cmd": "QUERY_DEL_ALL_EXCEPT", "Params": ["k", "m"]}], "Last": false},
            {"Cond": "default_t()", "Actions": [{"Cmd": "QUERY_DEL", "Params": ["m"]}], "Last": false}
        ]}"#,
        );
        assert_eq!(run(&t, "/?a=1&k=2&m=3&z=4&bare").query(), b"k=2&bare");
        assert_eq!(run(&t, "/?a=1").query(), b"");
    }

    #[test]
    fn refuses_what_bfe_refuses() {
        let e = table_err(
            r#"{"p": [{"Cond": "default_t()", "Actions": [{"Cmd": "HOST_SUFFIX_REPLACE", "Params": ["a", "b"]}], "Last": true}]}"#,
        );
        assert!(e.contains("invalid cmd:HOST_SUFFIX_REPLACE"), "{e}");
        let e = table_err(
            r#"{"p": [{"Cond": "default_t()", "Actions": [{"Cmd": "REQ_HEADER_SET", "Params": ["X-Bfe-A", "b"]}], "Last": true}]}"#,
        );
        assert!(e.contains("not allowed Cmd: REQ_HEADER_SET"), "{e}");
        let e = table_err(r#"{"p": [{"Cond": "default_t()", "Actions": []}]}"#);
        assert!(e.contains("Last: missing"), "{e}");
        let e = table_err(
            r#"{"p": [{"Cond": "default_t()", "Actions": [{"Cmd": "QUERY_ADD", "Params": ["a"]}], "Last": true}]}"#,
        );
        assert!(e.contains("num of params:[ok:2, now:1]"), "{e}");
        let e = table_err(
            r#"{"p": [{"Cond": "default_t()", "Actions": [{"Cmd": "PATH_SET", "Params": [""]}], "Last": true}]}"#,
        );
        assert!(e.contains("empty Params"), "{e}");
        let e = table_err(r#"{"p": [{"Cond": "bogus(", "Actions": [], "Last": true}]}"#);
        assert!(e.contains("Cond"), "{e}");
        // Empty Actions is allowed.
        table(r#"{"p": [{"Cond": "default_t()", "Actions": [], "Last": true}]}"#);
    }

    #[test]
    fn shipped_sample_loads_and_registers_at_after_location() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf");
        let t = conf::load_all(&root).expect("BFE's sample loads");
        assert_eq!(t.version, "init version");
        let mut req = routed("example_product", RequestBuilder::get("a", "/rewrite/x"));
        rewrite_handler(&t, &mut req);
        assert_eq!(req.path(), b"/bfe/rewrite/x");

        let set = crate::modules::registry()
            .select(&[NAME.to_string()])
            .unwrap();
        let tables = set.check(&root).unwrap();
        let (cbs, _) = set.build_callbacks(&root, 0, tables).unwrap();
        for p in crate::module::Point::ALL {
            let want = (p == crate::module::Point::AfterLocation) as usize;
            assert_eq!(cbs.list(p).len(), want, "{p}");
        }
    }
}
