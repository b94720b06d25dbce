//! mod_tag: tags requests by rule, for later `req_tag_match` conditions.
//!
//! At HandleFoundProduct (as BFE), every rule of the request's product
//! whose condition holds appends its `TagValue` to the request's tag
//! `TagName`; a matching rule with `Last` stops. Routing to a cluster
//! happens after HandleFoundProduct, so route rules see the tags, as do
//! every later module (mod_tag is #6 in BFE's order). Rules are evaluated
//! in order against the request as tagged so far. The handler always
//! returns `GoOn`. No `global` fallback: only the product's own rules
//! apply, as in BFE.
//!
//! Reload: `/reload/mod_tag` (`?path=` to read another file), answering
//! `tag_rule.data=<Version>`. BFE's mod_tag has no monitor page.

pub mod conf;

use crate::basic::{Request, Response};
use crate::module::{
    joined, InitCtx, Module, ModuleConf, ModuleError, Reloaded, RequestPoint, Ret, Tables,
    WebHandlers,
};
use conf::TagTable;
use std::path::Path;
use std::rc::Rc;

pub const NAME: &str = "mod_tag";

pub struct ModTag;

impl Module for ModTag {
    fn name(&self) -> &'static str {
        NAME
    }

    fn check(&self, root: &Path) -> Result<ModuleConf, Vec<ModuleError>> {
        let c = conf::read_conf(root)?;
        let (table, _) = load(root, &c.data_path, c.open_debug)?;
        Ok(ModuleConf::new(table))
    }

    fn web(&self, web: &mut WebHandlers) {
        web.reload(NAME, |ctx| {
            let cur = ctx.table::<TagTable>(NAME)?;
            let path = ctx.data_path(&cur.data_path);
            let (mut table, version) = load(ctx.conf_root, path, cur.open_debug).map_err(joined)?;
            table.data_path = cur.data_path.clone();
            Ok(Reloaded {
                conf: ModuleConf::new(table),
                version: Some(version),
            })
        });
    }

    fn init(&self, ctx: &mut InitCtx<'_>) -> Result<(), ModuleError> {
        let table = ctx.conf::<TagTable>()?;
        ctx.callbacks()
            .on_request(RequestPoint::FoundProduct, move |req| {
                (tag_request(&table, req), None::<Response>)
            });
        Ok(())
    }
}

/// The rule file at `path`: the table and its version label.
fn load(
    root: &Path,
    path: &Path,
    open_debug: bool,
) -> Result<(TagTable, String), Vec<ModuleError>> {
    let v = conf::load_rules(root, path)?;
    let label = v.label();
    let empty = v
        .value
        .products()
        .iter()
        .all(|p| v.value.product(p).is_empty());
    let table = TagTable {
        rules: v.value,
        open_debug,
        data_path: path.to_path_buf(),
        empty,
    };
    Ok((table, label))
}

/// HandleFoundProduct: add the tags of the product's matching rules.
/// A product without rules costs one map lookup.
pub fn tag_request(table: &Tables<TagTable>, req: &mut Request) -> Ret {
    let Some(product) = req.route.product else {
        return Ret::GoOn;
    };
    if table.borrow().empty {
        return Ret::GoOn;
    }
    // The generation outlives the borrow of `req` the tags need.
    let gen = Rc::clone(&req.gen);
    let name = gen.snapshot.route.product_name(product);
    let t = table.borrow();
    let rules = t.rules.product(name);
    for r in rules {
        if !r.cond.eval(&*req) {
            continue;
        }
        if t.open_debug {
            log::info!(
                "{NAME}: product {name}: add tag {}:{}",
                r.rule.name,
                r.rule.value
            );
        }
        req.add_tag(&r.rule.name, &r.rule.value);
        if r.rule.last {
            break;
        }
    }
    Ret::GoOn
}

/// For tests: a table from rule-file text.
#[cfg(test)]
fn table_from(text: &str) -> Tables<TagTable> {
    let dir = std::env::temp_dir().join(format!("rf-mod-tag-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    // A fresh name per call: parallel tests may write the same text at once.
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let p = dir.join(format!("{:x}-{n}.data", fxhash::hash64(text)));
    std::fs::write(&p, text).expect("write test data");
    let v = conf::load_rules(&dir, &p).expect("rules load");
    Tables::new(TagTable {
        rules: v.value,
        open_debug: false,
        data_path: p,
        empty: false,
    })
}

#[cfg(test)]
mod tests;
