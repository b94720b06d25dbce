//! Which modules exist, in which fixed order they run, and building one
//! worker's callbacks from the `Modules =` lines of bfe.conf.

use super::{Callbacks, Module, ModuleError};
use std::path::Path;
use std::sync::Arc;

/// Makes a fresh module instance; called once on every worker thread so each
/// worker owns its module state.
pub type ModuleFactory = Arc<dyn Fn() -> Box<dyn Module> + Send + Sync>;

/// The modules this binary knows, in the fixed order their handlers run at
/// each callback point (BFE's rule: binary order, not the order of the
/// `Modules =` lines).
#[derive(Clone, Default)]
pub struct ModuleRegistry {
    known: Vec<(&'static str, ModuleFactory)>,
}

impl ModuleRegistry {
    /// The built-in modules of ringfront, in their documented order.
    pub fn builtin() -> Self {
        let mut r = ModuleRegistry::default();
        crate::modules::register_builtin(&mut r);
        r
    }

    /// Add a module after those already known. Embedders and tests use this
    /// to run their own modules through the same framework.
    pub fn register(&mut self, name: &'static str, factory: ModuleFactory) {
        self.known.retain(|(n, _)| *n != name);
        self.known.push((name, factory));
    }

    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.known.iter().map(|(n, _)| *n)
    }

    /// Resolve `Modules =` names into the set to run, in registry order.
    /// An unknown name is an error naming it.
    pub fn select(&self, enabled: &[String]) -> Result<ModuleSet, ModuleError> {
        for name in enabled {
            if !self.known.iter().any(|(n, _)| n == name) {
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
            .filter(|(n, _)| enabled.iter().any(|e| e == n))
            .cloned()
            .collect();
        Ok(ModuleSet { chosen })
    }
}

/// The enabled modules, in run order; sent to every worker at start.
#[derive(Clone, Default)]
pub struct ModuleSet {
    chosen: Vec<(&'static str, ModuleFactory)>,
}

impl ModuleSet {
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.chosen.iter().map(|(n, _)| *n)
    }

    /// Instantiate and init every module on the calling (worker) thread.
    pub fn build_callbacks(
        &self,
        conf_root: &Path,
    ) -> Result<(Callbacks, Vec<Box<dyn Module>>), ModuleError> {
        let mut cbs = Callbacks::new();
        let mut modules = Vec::with_capacity(self.chosen.len());
        for (name, factory) in &self.chosen {
            let mut m = factory();
            cbs.set_current_module(name);
            m.init(&mut cbs, conf_root)?;
            modules.push(m);
        }
        cbs.set_current_module("");
        Ok((cbs, modules))
    }
}
