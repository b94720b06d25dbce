//! A module's init on one worker thread: register handlers, claim the
//! worker's copy of the module table, declare counters. What it builds
//! stays on that worker ([`WorkerModules`]).

use super::counters::{CounterValues, Counters};
use super::{Callbacks, ModuleConf, ModuleError, Point, Tables};
use std::any::Any;
use std::path::Path;
use std::rc::Rc;

/// What [`super::Module::init`] gets on each worker.
pub struct InitCtx<'a> {
    pub(crate) cbs: &'a mut Callbacks,
    pub(crate) conf_root: &'a Path,
    pub(crate) worker: usize,
    pub(crate) module: &'static str,
    /// This module's table until [`InitCtx::conf`] claims it.
    pub(crate) conf: Option<ModuleConf>,
    /// The handle made by the first `conf` call, for later calls.
    pub(crate) claimed: Option<Box<dyn Any>>,
    /// Monitor pages the module declared in `web`.
    pub(crate) pages: &'a [String],
    pub(crate) out: &'a mut WorkerModules,
}

impl InitCtx<'_> {
    /// The callback registry to add handlers into.
    pub fn callbacks(&mut self) -> &mut Callbacks {
        self.cbs
    }

    /// The configuration directory (`-c`).
    pub fn conf_root(&self) -> &Path {
        self.conf_root
    }

    /// Which worker this init runs on.
    pub fn worker(&self) -> usize {
        self.worker
    }

    /// This worker's handle to the module's table, the value `check`
    /// returned (or the last reload). Handlers capture a clone of it.
    pub fn conf<T: Any + Clone + Send + Sync>(&mut self) -> Result<Tables<T>, ModuleError> {
        if let Some(t) = self.claimed.as_ref() {
            return t
                .downcast_ref::<Tables<T>>()
                .cloned()
                .ok_or_else(|| self.err("configuration table claimed as another type"));
        }
        let conf = self.conf.take().unwrap_or_default();
        let value = conf
            .take::<T>()
            .map_err(|_| self.err("configuration table is not of the type init asks for"))?;
        let tables = Tables::new(value);
        let swap_into = tables.clone();
        self.out.slots.push(Slot {
            module: self.module,
            swap: Box::new(move |c: ModuleConf| match c.take::<T>() {
                Ok(v) => {
                    swap_into.replace(v);
                    true
                }
                Err(_) => false,
            }),
        });
        self.claimed = Some(Box::new(tables.clone()));
        Ok(tables)
    }

    /// Counters shown on the monitor page named after the module; `keys`
    /// are the final names (`CONN_TOTAL`, see [`super::counter_key`]).
    pub fn counters(&mut self, keys: &[&str]) -> Result<Rc<Counters>, ModuleError> {
        self.counters_for(self.module, keys)
    }

    /// Counters for another page the module declared in `web`.
    pub fn counters_for(&mut self, page: &str, keys: &[&str]) -> Result<Rc<Counters>, ModuleError> {
        if !self.pages.iter().any(|p| p == page) {
            return Err(self.err(&format!(
                "counters for monitor page {page}, which the module does not declare"
            )));
        }
        let c = Rc::new(Counters::new(keys));
        self.out.counters.push((page.to_string(), c.clone()));
        Ok(c)
    }

    fn err(&self, reason: &str) -> ModuleError {
        ModuleError {
            module: self.module.to_string(),
            file: String::new(),
            reason: reason.to_string(),
        }
    }
}

/// Replaces one module's table on this worker.
pub(crate) struct Slot {
    module: &'static str,
    swap: Box<dyn Fn(ModuleConf) -> bool>,
}

/// A worker's module state: table handles to swap on reload, counters to
/// copy for the monitor, and the handler lists as init left them.
#[derive(Default)]
pub struct WorkerModules {
    pub(crate) slots: Vec<Slot>,
    pub(crate) counters: Vec<(String, Rc<Counters>)>,
    pub(crate) handlers: Vec<(Point, Vec<&'static str>)>,
}

impl WorkerModules {
    /// Put a reloaded table in place. Runs between requests, so no handler
    /// holds a borrow. False when the table has the wrong type.
    pub fn swap(&self, module: &str, conf: &ModuleConf) -> bool {
        self.slots
            .iter()
            .filter(|s| s.module == module)
            .all(|s| (s.swap)(conf.clone()))
    }

    /// A copy of every page's counters (a page declared twice is merged).
    pub fn counters(&self) -> Vec<(String, CounterValues)> {
        let mut out: Vec<(String, CounterValues)> = Vec::new();
        for (page, c) in &self.counters {
            let snap = c.snapshot();
            match out.iter_mut().find(|(p, _)| p == page) {
                Some((_, v)) => super::counters::merge(v, &snap),
                None => out.push((page.clone(), snap)),
            }
        }
        out
    }

    /// The module names at each callback point, in run order.
    pub fn handlers(&self) -> Vec<(Point, Vec<&'static str>)> {
        self.handlers.clone()
    }
}
