//! mod_trust_clientip: marks connections whose TCP peer is in a table of
//! trusted ranges (load balancers, other BFE tiers in front of this one).
//!
//! It owns the trust decision only, at HandleAccept, as BFE does: the
//! session's `trusted` flag. What follows from it is the core's and other
//! modules' business: before HandleBeforeLocation the lifecycle takes a
//! trusted request's client address from `X-Real-Ip` / `X-Forwarded-For`
//! (`proxy::lifecycle`), `req_cip_trusted()` reads the flag, and mod_logid
//! keeps a trusted `X-Bfe-Log-Id`. Without this module no session is
//! trusted.

pub mod conf;

use crate::basic::Session;
use crate::module::{
    joined, AcceptPoint, Counters, InitCtx, Module, ModuleConf, ModuleError, Reloaded, Ret, Tables,
    WebHandlers,
};
use crate::modules::ip_table::is_private;
use conf::{TrustConf, NAME};
use std::path::Path;
use std::sync::Arc;

/// Counter keys, BFE's names (`ModuleTrustClientIPState`).
pub const COUNTERS: [&str; 4] = [
    "CONN_TOTAL",
    "CONN_TRUST_CLIENTIP",
    "CONN_ADDR_INTERNAL",
    "CONN_ADDR_INTERNAL_NOT_TRUST",
];
const CONN_TOTAL: usize = 0;
const CONN_TRUST: usize = 1;
const CONN_INTERNAL: usize = 2;
const CONN_INTERNAL_NOT_TRUST: usize = 3;

pub struct ModTrustClientIp;

/// HandleAccept: trust the session when its TCP peer is in the table.
pub fn accept(conf: &TrustConf, c: &Counters, ses: &Session) -> Ret {
    c.inc(CONN_TOTAL);
    let ip = ses.peer.ip();
    let trusted = conf.table.contains(ip);
    if trusted {
        c.inc(CONN_TRUST);
    }
    ses.set_trusted(trusted);
    if is_private(ip) {
        c.inc(CONN_INTERNAL);
        if !trusted {
            c.inc(CONN_INTERNAL_NOT_TRUST);
        }
    }
    if conf.open_debug {
        log::debug!("{NAME}: peer {ip} trusted={trusted}");
    }
    Ret::GoOn
}

impl Module for ModTrustClientIp {
    fn name(&self) -> &'static str {
        NAME
    }

    fn check(&self, root: &Path) -> Result<ModuleConf, Vec<ModuleError>> {
        Ok(ModuleConf::new(conf::load(root)?))
    }

    fn web(&self, web: &mut WebHandlers) {
        web.reload(NAME, |ctx| {
            let cur = ctx.table::<TrustConf>(NAME)?;
            let path = ctx.data_path(&cur.data_path);
            let (table, version) = conf::load_data(ctx.conf_root, path).map_err(joined)?;
            let next = TrustConf {
                table: Arc::new(table),
                version,
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
        let tables: Tables<TrustConf> = ctx.conf()?;
        let c = ctx.counters(&COUNTERS)?;
        ctx.callbacks().on_accept(AcceptPoint::Accept, move |ses| {
            accept(&tables.borrow(), &c, ses)
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests;
