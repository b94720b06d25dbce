//! mod_block: two ACLs, as BFE's.
//!
//! - HandleAccept: the global IP blocklist, checked on the TCP peer (not the
//!   client address a trusted proxy claims). A listed peer's connection is
//!   closed before anything is read (`Ret::Close`).
//! - HandleFoundProduct: per-product rules, `global` first. The first rule
//!   whose condition holds decides for both lists: `ALLOW` lets the request
//!   through, `CLOSE` closes the connection without an answer. The rule's
//!   name is published as `mod_block.block_info`.

pub mod conf;

use crate::basic::{ErrorKind, Request, Response, Session};
use crate::module::conf::{ProductRules, Rule, GLOBAL_PRODUCT};
use crate::module::joined;
use crate::module::{
    AcceptPoint, Counters, InitCtx, Module, ModuleConf, ModuleError, Reloaded, RequestPoint, Ret,
    Tables, WebHandlers,
};
use conf::{Action, BlockConf, BlockRule, NAME};
use std::path::Path;
use std::sync::Arc;

/// Counter keys, BFE's names (`ModuleBlockState`).
pub const COUNTERS: [&str; 7] = [
    "CONN_TOTAL",
    "CONN_ACCEPT",
    "CONN_REFUSE",
    "REQ_TOTAL",
    "REQ_ACCEPT",
    "REQ_REFUSE",
    "WRONG_COMMAND",
];
const CONN_TOTAL: usize = 0;
const CONN_ACCEPT: usize = 1;
const CONN_REFUSE: usize = 2;
const REQ_TOTAL: usize = 3;
const REQ_ACCEPT: usize = 4;
const REQ_REFUSE: usize = 5;

/// The request-context key BFE's mod_block sets (`CtxBlockInfo`).
pub const BLOCK_INFO: &str = "mod_block.block_info";

/// HandleAccept: close connections from listed peers.
pub fn accept(conf: &BlockConf, c: &Counters, ses: &Session) -> Ret {
    c.inc(CONN_TOTAL);
    let ip = ses.peer.ip();
    if conf.ips.contains(ip) {
        ses.set_error(ErrorKind::Block.into());
        if conf.open_debug {
            log::debug!("{NAME}: refuse connection from {}", ses.peer);
        }
        c.inc(CONN_REFUSE);
        return Ret::Close;
    }
    if conf.open_debug {
        log::debug!("{NAME}: accept connection from {}", ses.peer);
    }
    c.inc(CONN_ACCEPT);
    Ret::GoOn
}

/// HandleFoundProduct: `global`'s rules, then the product's.
pub fn found_product(conf: &BlockConf, c: &Counters, req: &mut Request) -> (Ret, Option<Response>) {
    c.inc(REQ_TOTAL);
    if !conf.any_rules {
        return (Ret::GoOn, None);
    }
    if conf.has_global {
        if let Some(ret) = apply(conf, c, req, conf.rules.global()) {
            return (ret, None);
        }
    }
    let rules = match req.product_name() {
        Some(p) if p != GLOBAL_PRODUCT && conf.rules.has_product(p) => conf.rules.product(p),
        _ => return (Ret::GoOn, None),
    };
    match apply(conf, c, req, rules) {
        Some(ret) => (ret, None),
        None => {
            c.inc(REQ_ACCEPT);
            (Ret::GoOn, None)
        }
    }
}

/// The first matching rule of `rules`, applied; `None` when none matched.
fn apply(
    conf: &BlockConf,
    c: &Counters,
    req: &mut Request,
    rules: &[Rule<BlockRule>],
) -> Option<Ret> {
    let rule = ProductRules::first_match(rules, &*req)?;
    req.ctx.publish(BLOCK_INFO, rule.name.clone());
    match rule.action {
        Action::Allow => {
            if conf.open_debug {
                log::debug!("{NAME}: rule {:?} allows the request", rule.name);
            }
            c.inc(REQ_ACCEPT);
            Some(Ret::GoOn)
        }
        Action::Close => {
            if conf.open_debug {
                log::debug!("{NAME}: rule {:?} blocks {}", rule.name, req.client_ip);
            }
            req.fail(ErrorKind::Block, "mod_block: BLOCK");
            c.inc(REQ_REFUSE);
            Some(Ret::Close)
        }
    }
}

pub struct ModBlock;

impl Module for ModBlock {
    fn name(&self) -> &'static str {
        NAME
    }

    fn check(&self, root: &Path) -> Result<ModuleConf, Vec<ModuleError>> {
        Ok(ModuleConf::new(conf::load(root)?))
    }

    fn web(&self, web: &mut WebHandlers) {
        web.reload(format!("{NAME}.product_rule_table"), |ctx| {
            let cur = ctx.table::<BlockConf>(NAME)?;
            let path = ctx.data_path(&cur.rule_path);
            let rules = conf::load_rules(ctx.conf_root, path).map_err(joined)?;
            let next = BlockConf {
                any_rules: !rules.products().is_empty(),
                has_global: !rules.global().is_empty(),
                rules: Arc::new(rules),
                ..cur.clone()
            };
            Ok(Reloaded {
                conf: ModuleConf::new(next),
                version: None,
            })
        });
        web.reload(format!("{NAME}.global_ip_table"), |ctx| {
            let cur = ctx.table::<BlockConf>(NAME)?;
            let path = ctx.data_path(&cur.ip_path);
            let ips = conf::load_ips(ctx.conf_root, path).map_err(joined)?;
            let next = BlockConf {
                ips: Arc::new(ips),
                ..cur.clone()
            };
            Ok(Reloaded {
                conf: ModuleConf::new(next),
                version: None,
            })
        });
        web.monitor(NAME);
    }

    fn init(&self, ctx: &mut InitCtx<'_>) -> Result<(), ModuleError> {
        let tables: Tables<BlockConf> = ctx.conf()?;
        let c = ctx.counters(&COUNTERS)?;
        let (t2, c2) = (tables.clone(), c.clone());
        let cbs = ctx.callbacks();
        cbs.on_accept(AcceptPoint::Accept, move |ses| {
            accept(&tables.borrow(), &c, ses)
        });
        cbs.on_request(RequestPoint::FoundProduct, move |req| {
            found_product(&t2.borrow(), &c2, req)
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests;
