//! Which modules exist, in which fixed order they run, and turning the
//! `Modules =` lines of bfe.conf into the set that runs: checked once on
//! the control thread, then initialised on every worker.

use super::init::{InitCtx, WorkerModules};
use super::{Callbacks, Module, ModuleConf, ModuleError, Point, WebHandlers};
use std::path::Path;
use std::sync::Arc;

/// The modules this binary knows, in the fixed order their handlers run at
/// each callback point (BFE's rule: binary order, not the order of the
/// `Modules =` lines). The built-ins come from [`crate::modules::registry`].
#[derive(Clone, Default)]
pub struct ModuleRegistry {
    known: Vec<Arc<dyn Module>>,
}

impl ModuleRegistry {
    /// An empty registry; embedders usually start from
    /// [`crate::modules::registry`] instead.
    pub fn new() -> Self {
        ModuleRegistry::default()
    }

    /// Add a module after those already known (replacing one of the same
    /// name). Embedders and tests use this to run their own modules.
    pub fn register(&mut self, module: Arc<dyn Module>) {
        let name = module.name();
        self.known.retain(|m| m.name() != name);
        self.known.push(module);
    }

    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.known.iter().map(|m| m.name())
    }

    /// Resolve `Modules =` names into the set to run, in registry order.
    /// An unknown name is an error naming it.
    pub fn select(&self, enabled: &[String]) -> Result<ModuleSet, ModuleError> {
        for name in enabled {
            if !self.known.iter().any(|m| m.name() == name) {
                return Err(ModuleError {
                    module: name.clone(),
                    file: "bfe.conf".to_string(),
                    reason: format!(
                        "unknown module in Modules (known: {})",
                        self.names().collect::<Vec<_>>().join(", ")
                    ),
                });
            }
        }
        let chosen = self
            .known
            .iter()
            .filter(|m| enabled.iter().any(|e| e == m.name()))
            .cloned()
            .collect();
        Ok(ModuleSet { chosen })
    }
}

/// Every enabled module's table, in run order. Cloning copies the tables
/// (one copy per worker).
#[derive(Clone, Default, Debug)]
pub struct ModuleTables {
    tables: Vec<(&'static str, ModuleConf)>,
}

impl ModuleTables {
    pub fn get(&self, module: &str) -> Option<&ModuleConf> {
        self.tables
            .iter()
            .find(|(n, _)| *n == module)
            .map(|(_, c)| c)
    }

    /// Replace a module's table after a reload validated.
    pub fn set(&mut self, module: &str, conf: ModuleConf) {
        if let Some((_, c)) = self.tables.iter_mut().find(|(n, _)| *n == module) {
            *c = conf;
        }
    }
}

/// The enabled modules, in run order.
#[derive(Clone, Default)]
pub struct ModuleSet {
    chosen: Vec<Arc<dyn Module>>,
}

impl ModuleSet {
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.chosen.iter().map(|m| m.name())
    }

    /// Run every module's `check` (control thread, start and `-t`): all
    /// tables, or every problem of every module.
    pub fn check(&self, conf_root: &Path) -> Result<ModuleTables, Vec<ModuleError>> {
        let mut tables = Vec::with_capacity(self.chosen.len());
        let mut errors = Vec::new();
        for m in &self.chosen {
            match m.check(conf_root) {
                Ok(t) => tables.push((m.name(), t)),
                Err(e) => errors.extend(e),
            }
        }
        if errors.is_empty() {
            Ok(ModuleTables { tables })
        } else {
            Err(errors)
        }
    }

    /// Ask every enabled module to reopen its files (SIGUSR1).
    pub fn reopen(&self) {
        for m in &self.chosen {
            m.reopen();
        }
    }

    /// Each module's declared reloads and monitor pages, in run order.
    pub fn web(&self) -> Vec<(&'static str, WebHandlers)> {
        self.chosen
            .iter()
            .map(|m| {
                let mut w = WebHandlers::default();
                m.web(&mut w);
                (m.name(), w)
            })
            .collect()
    }

    /// Init every module on the calling (worker) thread with this worker's
    /// copy of the tables.
    pub fn build_callbacks(
        &self,
        conf_root: &Path,
        worker: usize,
        tables: ModuleTables,
    ) -> Result<(Callbacks, WorkerModules), ModuleError> {
        let mut cbs = Callbacks::new();
        let mut out = WorkerModules::default();
        let mut tables = tables.tables;
        for m in &self.chosen {
            let name = m.name();
            let conf = tables
                .iter_mut()
                .find(|(n, _)| *n == name)
                .map(|(_, c)| std::mem::take(c));
            let web = {
                let mut w = WebHandlers::default();
                m.web(&mut w);
                w
            };
            cbs.set_current_module(name);
            let mut ctx = InitCtx {
                cbs: &mut cbs,
                conf_root,
                worker,
                module: name,
                conf,
                claimed: None,
                pages: &web.monitors,
                out: &mut out,
            };
            m.init(&mut ctx)?;
        }
        cbs.set_current_module("");
        out.handlers = Point::ALL
            .iter()
            .map(|&p| (p, cbs.list(p).module_names().collect()))
            .collect();
        Ok((cbs, out))
    }
}
