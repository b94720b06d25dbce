//! mod_prison: BFE's frequency limiting. For every rule whose condition
//! holds, the request's access signature (built as the rule's
//! `AccessSignConf` says) is counted in a window of `CheckPeriod` seconds;
//! the request that takes the count above `Threshold` sends the signature
//! to "prison" for `StayPeriod` seconds (plus what is left of the window),
//! and every request with that signature is then denied with the rule's
//! action. Rules of product `global` run first, then the product's.
//!
//! The counters and prison tables are per worker (a `RefCell`, no lock): a
//! limit of N is N per worker. A client whose requests all reach one worker
//! (one keep-alive connection, for instance) is limited at exactly N; one
//! spreading its connections over W workers can get up to W × N through.
//! Memory is bounded per rule and worker by `AccessDictSize` and
//! `PrisonDictSize` entries (least recently used evicted first).

pub mod conf;
mod lru;
mod sign;

use crate::basic::{ErrorKind, ProxyError, Request, Response};
use crate::module::conf::ProductMap;
use crate::module::conf::GLOBAL_PRODUCT;
use crate::module::joined;
use crate::module::{
    Counters, InitCtx, Module, ModuleConf, ModuleError, Reloaded, RequestPoint, Ret, Tables,
    WebHandlers,
};
use conf::{Action, PrisonConf, PrisonRule, NAME};
use lru::Lru;
use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Counter keys, BFE's names (`ModulePrisonState`).
pub const COUNTERS: [&str; 2] = ["ALL_CHECKED", "ALL_PRISON"];
const ALL_CHECKED: usize = 0;
const ALL_PRISON: usize = 1;

/// The request-context key BFE's mod_prison sets (`ReqCtxPrisonInfo`).
pub const PRISON_INFO: &str = "mod_prison.prison_info";

/// A signature's count in its current window.
struct Access {
    count: u64,
    start_ns: u64,
}

/// One rule's tables on one worker.
struct RuleState {
    name: String,
    access: Lru<Access>,
    /// Signature → when it is let out (ns on the worker's clock).
    prison: Lru<u64>,
}

impl RuleState {
    fn new(rule: &PrisonRule) -> Self {
        RuleState {
            name: rule.name.clone(),
            access: Lru::new(rule.access_dict_size),
            prison: Lru::new(rule.prison_dict_size),
        }
    }
}

/// The worker's tables for the rule generation it last saw.
#[derive(Default)]
struct WorkerState {
    generation: u64,
    /// Product → one state per rule, in rule order.
    products: ProductMap<Vec<RuleState>>,
}

impl WorkerState {
    /// Follow a reload: rules whose product and name stay keep their
    /// counters and prisoners (tables only grow, as in BFE); others start
    /// empty.
    fn rebuild(&mut self, conf: &PrisonConf) {
        let mut old = std::mem::take(&mut self.products);
        for product in conf.rules.products() {
            let mut prev = old.remove(product).unwrap_or_default();
            let states = conf
                .rules
                .product(product)
                .iter()
                .map(|r| match prev.iter().position(|s| s.name == r.rule.name) {
                    Some(i) => {
                        let mut s = prev.swap_remove(i);
                        s.access.enlarge(r.rule.access_dict_size);
                        s.prison.enlarge(r.rule.prison_dict_size);
                        s
                    }
                    None => RuleState::new(&r.rule),
                })
                .collect();
            self.products.insert(product.to_string(), states);
        }
        self.generation = conf.generation;
    }
}

/// One worker's mod_prison.
pub struct Prison {
    tables: Tables<PrisonConf>,
    counters: Rc<Counters>,
    state: RefCell<WorkerState>,
    signer: sign::Signer,
    epoch: Instant,
}

impl Prison {
    pub fn new(tables: Tables<PrisonConf>, counters: Rc<Counters>) -> Self {
        Prison {
            tables,
            counters,
            state: RefCell::new(WorkerState::default()),
            signer: sign::Signer::new(),
            epoch: Instant::now(),
        }
    }

    fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// HandleFoundProduct.
    pub fn found_product(&self, req: &mut Request) -> (Ret, Option<Response>) {
        let conf = self.tables.borrow();
        if !conf.any_rules {
            return (Ret::GoOn, None);
        }
        let mut st = self.state.borrow_mut();
        if st.generation != conf.generation {
            st.rebuild(&conf);
        }
        let gen = req.gen.clone();
        let product = req
            .route
            .product
            .map(|p| gen.snapshot.route.product_name(p));
        let lists = [
            Some(GLOBAL_PRODUCT),
            product.filter(|p| *p != GLOBAL_PRODUCT),
        ];
        for name in lists.into_iter().flatten() {
            let rules = conf.rules.product(name);
            if rules.is_empty() {
                continue;
            }
            let Some(states) = st.products.get_mut(name) else {
                continue;
            };
            for (r, state) in rules.iter().zip(states.iter_mut()) {
                if !r.cond.eval(&*req) {
                    continue;
                }
                if let Some(ret) = self.check_rule(&conf, &r.rule, state, req) {
                    return ret;
                }
            }
        }
        (Ret::GoOn, None)
    }

    /// Count and judge one matching rule; `Some` when the request ends.
    fn check_rule(
        &self,
        conf: &PrisonConf,
        rule: &PrisonRule,
        state: &mut RuleState,
        req: &mut Request,
    ) -> Option<(Ret, Option<Response>)> {
        self.counters.inc(ALL_CHECKED);
        let sig = self.signer.sign(rule, req)?;
        let now = self.now_ns();
        if !record_and_check(rule, state, sig, now, req) {
            return None;
        }
        self.counters.inc(ALL_PRISON);
        if conf.open_debug {
            log::debug!("{NAME}: rule {:?} denies {}", rule.name, req.client_ip);
        }
        match &rule.action {
            Action::Close => {
                req.fail(ErrorKind::Prison, "mod_prison: PRISON");
                Some((Ret::Close, None))
            }
            Action::Finish => {
                req.fail(
                    ProxyError::with_status(ErrorKind::Prison, 403),
                    "mod_prison: PRISON",
                );
                Some((Ret::Finish, Some(Response::error(403))))
            }
            Action::Pass => None,
            Action::ReqHeaderSet(name, value) => {
                req.set_header(name, value);
                None
            }
        }
    }
}

/// BFE's `recordAndCheck`: deny a prisoner; else count the access, jail
/// the signature when the count passes the threshold, and judge again (so
/// request Threshold+1 of a window is the first denied).
fn record_and_check(
    rule: &PrisonRule,
    st: &mut RuleState,
    sig: u128,
    now: u64,
    req: &mut Request,
) -> bool {
    if should_deny(rule, st, sig, now, req) {
        return true;
    }
    let a = st.access.get_or_insert(sig, || Access {
        count: 0,
        start_ns: now,
    });
    let window_end = a.start_ns.saturating_add(rule.check_period_ns);
    if window_end < now {
        a.count = 0;
        a.start_ns = now;
    }
    a.count += 1;
    if a.count > rule.threshold {
        let rest = a
            .start_ns
            .saturating_add(rule.check_period_ns)
            .saturating_sub(now);
        let free = now.saturating_add(rule.stay_period_ns).saturating_add(rest);
        st.prison.insert(sig, free);
        st.access.remove(sig);
    }
    should_deny(rule, st, sig, now, req)
}

/// Whether `sig` is in prison now; an expired entry is removed. Publishes
/// `mod_prison.prison_info` whenever an entry was seen, as BFE does.
fn should_deny(
    rule: &PrisonRule,
    st: &mut RuleState,
    sig: u128,
    now: u64,
    req: &mut Request,
) -> bool {
    let Some(&mut free) = st.prison.get_mut(sig) else {
        return false;
    };
    let expired = now >= free;
    if expired {
        st.prison.remove(sig);
    }
    req.ctx
        .publish(PRISON_INFO, prison_info(rule, free, now, expired));
    !expired
}

/// BFE's `PrisonInfo` as JSON; `FreeTime` in Unix seconds.
fn prison_info(rule: &PrisonRule, free: u64, now: u64, expired: bool) -> String {
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let free_wall = wall.saturating_add(free).saturating_sub(now) / 1_000_000_000;
    format!(
        "{{\"PrisonType\":\"{NAME}\",\"PrisonName\":{},\"FreeTime\":{free_wall},\"IsExpired\":{expired},\"Action\":\"{}\"}}",
        serde_json::Value::String(rule.name.clone()),
        rule.action.cmd()
    )
}

pub struct ModPrison;

impl Module for ModPrison {
    fn name(&self) -> &'static str {
        NAME
    }

    fn check(&self, root: &Path) -> Result<ModuleConf, Vec<ModuleError>> {
        Ok(ModuleConf::new(conf::load(root)?))
    }

    fn web(&self, web: &mut WebHandlers) {
        web.reload(NAME, |ctx| {
            let cur = ctx.table::<PrisonConf>(NAME)?;
            let path = ctx.data_path(&cur.rule_path);
            let (rules, version) = conf::load_rules(ctx.conf_root, path).map_err(joined)?;
            let next = PrisonConf {
                any_rules: !rules.products().is_empty(),
                has_global: !rules.global().is_empty(),
                rules: Arc::new(rules),
                generation: conf::next_generation(),
                version: version.clone(),
                ..cur.clone()
            };
            Ok(Reloaded {
                conf: ModuleConf::new(next),
                version: Some(version),
            })
        });
        web.monitor(NAME);
    }

    fn init(&self, ctx: &mut InitCtx<'_>) -> Result<(), ModuleError> {
        let tables: Tables<PrisonConf> = ctx.conf()?;
        let c = ctx.counters(&COUNTERS)?;
        let p = Prison::new(tables, c);
        ctx.callbacks()
            .on_request(RequestPoint::FoundProduct, move |req| p.found_product(req));
        Ok(())
    }
}

#[cfg(test)]
mod tests;
