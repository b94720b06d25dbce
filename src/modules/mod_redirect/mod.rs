//! `mod_redirect`: answer requests with a redirect, by product rules
//! (BFE's mod_redirect).
//!
//! It runs at HandleFoundProduct. The product's rules are tried in order;
//! the first whose condition holds makes the `Location` with its single
//! action, sets the rule's `Status` and returns `Redirect` (the lifecycle
//! writes the answer; HandleReadResponse does not run). No match: GoOn.
//! A product without rules costs one table lookup (none when the table is
//! empty).

pub mod conf;

use crate::basic::{Request, Response};
use crate::module::{
    joined, InitCtx, Module, ModuleConf, ModuleError, Reloaded, RequestPoint, Ret, Tables,
    WebHandlers,
};
use crate::route::bytes::decoded_query;
use crate::route::condition::params::query_key_is;
use crate::route::condition::params::query_pairs;
use crate::route::RequestFacts;
use conf::{Action, RedirectTable, NAME};
use std::path::Path;

pub struct ModRedirect;

/// The request's `path?query` as Go's `URL.RequestURI` gives it.
fn request_uri(req: &Request, out: &mut String) {
    let path = String::from_utf8_lossy(req.path());
    out.push_str(if path.is_empty() { "/" } else { &path });
    let q = req.query();
    if !q.is_empty() {
        out.push('?');
        out.push_str(&String::from_utf8_lossy(q));
    }
}

/// The decoded value of the first query pair named `key` ("" if none).
fn query_get(req: &Request, key: &str) -> String {
    query_pairs(req.query())
        .find(|(k, _)| query_key_is(k, key.as_bytes()))
        .map(|(_, v)| String::from_utf8_lossy(&decoded_query(v).collect::<Vec<u8>>()).into_owned())
        .unwrap_or_default()
}

/// The `Location` an action makes for this request.
pub fn location(action: &Action, req: &Request) -> String {
    match action {
        Action::UrlSet(u) => u.clone(),
        Action::UrlFromQuery(k) => query_get(req, k),
        Action::UrlPrefixAdd(prefix) => {
            let mut s = prefix.clone();
            request_uri(req, &mut s);
            s
        }
        Action::SchemeSet(scheme) => {
            let mut s = format!("{scheme}://{}", String::from_utf8_lossy(req.host()));
            request_uri(req, &mut s);
            s
        }
    }
}

/// HandleFoundProduct: the first matching rule redirects.
pub fn redirect_handler(t: &RedirectTable, req: &mut Request) -> (Ret, Option<Response>) {
    let Some(product) = req.product_name() else {
        return (Ret::GoOn, None);
    };
    let Some(rules) = t.rules(product) else {
        return (Ret::GoOn, None);
    };
    let rules: &[conf::RedirectRule] = rules;
    match rules.iter().find(|r| r.cond.eval(req)) {
        Some(rule) => {
            let url = location(&rule.action, req);
            if t.open_debug {
                log::debug!(
                    "{NAME}:after:redirectUrl={url}, redirectCode={}",
                    rule.status
                );
            }
            req.set_redirect(&url, rule.status);
            (Ret::Redirect, None)
        }
        None => {
            if t.open_debug {
                log::debug!("{NAME}:after:not need redirect");
            }
            (Ret::GoOn, None)
        }
    }
}

impl Module for ModRedirect {
    fn name(&self) -> &'static str {
        NAME
    }

    fn check(&self, root: &Path) -> Result<ModuleConf, Vec<ModuleError>> {
        Ok(ModuleConf::new(conf::load_all(root)?.0))
    }

    /// `/reload/mod_redirect` (`?path=` loads another file); answers
    /// `"version": "<file>=<Version>"` as BFE does.
    fn web(&self, web: &mut WebHandlers) {
        web.reload(NAME, |ctx| {
            let cur = ctx.table::<RedirectTable>(NAME)?;
            let path = ctx.data_path(&cur.data_path);
            let (mut t, version) =
                conf::load_data(ctx.conf_root, path, cur.open_debug).map_err(joined)?;
            t.data_path = cur.data_path.clone();
            Ok(Reloaded {
                conf: ModuleConf::new(t),
                version: Some(version),
            })
        });
    }

    fn init(&self, ctx: &mut InitCtx<'_>) -> Result<(), ModuleError> {
        let table: Tables<RedirectTable> = ctx.conf()?;
        ctx.callbacks()
            .on_request(RequestPoint::FoundProduct, move |req| {
                redirect_handler(&table.borrow(), req)
            });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::basic::RequestBuilder;
    use crate::modules::mod_rewrite::tests::{routed, temp_file};

    fn load(config: &str) -> Result<RedirectTable, String> {
        let text = format!(r#"{{"Version": "v7", "Config": {config}}}"#);
        let (dir, f) = temp_file("rd", &text);
        let r = conf::load_data(&dir, &f, false);
        std::fs::remove_dir_all(dir).unwrap();
        match r {
            Ok((t, version)) => {
                assert_eq!(version, "rules.data=v7");
                Ok(t)
            }
            Err(e) => Err(joined(e)),
        }
    }

    fn rule(cmd: &str, param: &str, status: u16) -> String {
        format!(
            r#"{{"p": [{{"Cond": "req_path_prefix_in(\"/r\", false)", "Actions": [{{"Cmd": "{cmd}", "Params": ["{param}"]}}], "Status": {status}}}]}}"#
        )
    }

    fn redirected(t: &RedirectTable, b: RequestBuilder) -> Option<(String, u16)> {
        let mut req = routed("p", b);
        match redirect_handler(t, &mut req) {
            (Ret::Redirect, None) => req.redirect.map(|r| (r.url.clone(), r.code)),
            (Ret::GoOn, None) => None,
            other => panic!("unexpected {:?}", other.0),
        }
    }

    #[test]
    fn every_action_makes_its_location() {
        let get = |t: &str| RequestBuilder::get("example.org:8080", t);
        let t = load(&rule("URL_SET", "https://example.com/x", 301)).unwrap();
        assert_eq!(
            redirected(&t, get("/r?a=1")),
            Some(("https://example.com/x".into(), 301))
        );
        assert_eq!(redirected(&t, get("/other")), None);

        let t = load(&rule("URL_FROM_QUERY", "to", 302)).unwrap();
        assert_eq!(
            redirected(&t, get("/r?x=1&to=http%3A%2F%2Fa.example%2Fb+c")),
            Some(("http://a.example/b c".into(), 302))
        );
        assert_eq!(redirected(&t, get("/r")), Some((String::new(), 302)));

        let t = load(&rule("URL_PREFIX_ADD", "http://b.example", 307)).unwrap();
        assert_eq!(
            redirected(&t, get("/r/x%20y?q=1")),
            Some(("http://b.example/r/x%20y?q=1".into(), 307))
        );

        let t = load(&rule("SCHEME_SET", "HTTPS", 308)).unwrap();
        assert_eq!(
            redirected(&t, get("/r/p?q")),
            Some(("https://example.org:8080/r/p?q".into(), 308))
        );
        // Another product has no rules.
        let mut req = routed("other", get("/r"));
        assert!(matches!(redirect_handler(&t, &mut req), (Ret::GoOn, None)));
    }

    #[test]
    fn first_match_wins() {
        let t = load(
            r#"{"p": [
            {"Cond": "req_path_prefix_in(\"/a\", false)", "Actions": [{"Cmd": "URL_SET", "Params": ["/one"]}], "Status": 302},
            {"Cond": "default_t()", "Actions": [{"Cmd": "URL_SET", "Params": ["/two"]}], "Status": 303}
        ]}"#,
        )
        .unwrap();
        let b = |t: &str| RequestBuilder::get("e", t);
        assert_eq!(redirected(&t, b("/a")), Some(("/one".into(), 302)));
        assert_eq!(redirected(&t, b("/b")), Some(("/two".into(), 303)));
    }

    #[test]
    fn refuses_what_bfe_refuses() {
        let e = load(&rule("SCHEME_SET", "ftp", 301)).unwrap_err();
        assert!(e.contains("scheme ftp invalid"), "{e}");
        let e = load(&rule("url_set", "/x", 301)).unwrap_err();
        assert!(e.contains("invalid cmd:url_set"), "{e}");
        let e = load(&rule("URL_SET", "/x", 0)).unwrap_err();
        assert!(e.contains("redirect code not provided"), "{e}");
        let e = load(&rule("URL_SET", "/x", 200)).unwrap_err();
        assert!(e.contains("Status: 200 is not a redirect code"), "{e}");
        let e = load(
            r#"{"p": [{"Cond": "default_t()", "Actions": [{"Cmd": "URL_SET"}], "Status": 301}]}"#,
        )
        .unwrap_err();
        assert!(e.contains("no Params"), "{e}");
        let e = load(r#"{"p": [{"Cond": "default_t()", "Actions": [{"Cmd": "URL_SET", "Params": ["a"]}, {"Cmd": "URL_SET", "Params": ["b"]}], "Status": 301}]}"#)
            .unwrap_err();
        assert!(e.contains("only support exclusive action"), "{e}");
        let e =
            load(r#"{"p": [{"Cond": "default_t()", "Actions": [], "Status": 301}]}"#).unwrap_err();
        assert!(e.contains("no Actions"), "{e}");
        let e = load(
            r#"{"p": [{"Cond": "default_t()", "Actions": [{"Cmd": "URL_SET", "Params": ["a"]}]}]}"#,
        )
        .unwrap_err();
        assert!(e.contains("Status: missing"), "{e}");
    }

    #[test]
    fn shipped_sample_loads_and_registers_at_found_product() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf");
        let (t, version) = conf::load_all(&root).expect("BFE's sample loads");
        assert_eq!(version, "redirect.data=init version");
        let mut req = routed("example_product", RequestBuilder::get("a", "/redirect"));
        assert!(matches!(
            redirect_handler(&t, &mut req),
            (Ret::Redirect, None)
        ));
        let set = crate::modules::registry()
            .select(&[NAME.to_string()])
            .unwrap();
        let tables = set.check(&root).unwrap();
        let (cbs, _) = set.build_callbacks(&root, 0, tables).unwrap();
        for p in crate::module::Point::ALL {
            let want = (p == crate::module::Point::FoundProduct) as usize;
            assert_eq!(cbs.list(p).len(), want, "{p}");
        }
    }
}
