//! Built-in modules, in the fixed order their handlers run at every callback
//! point. A module is added here once, with its position in that order.

use crate::module::ModuleRegistry;

/// Register every built-in module, in run order.
pub fn register_builtin(_registry: &mut ModuleRegistry) {}
