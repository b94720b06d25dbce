//! Built-in modules, in the fixed order their handlers run at every callback
//! point. A module is added here once, with its position in that order.

pub mod mod_noop;

use crate::module::ModuleRegistry;
use std::sync::Arc;

/// Register every built-in module, in run order.
pub fn register_builtin(registry: &mut ModuleRegistry) {
    registry.register("mod_noop", Arc::new(|| Box::new(mod_noop::ModNoop)));
}
