//! Built-in modules, in the fixed order their handlers run at every callback
//! point. A module is added here once, with its position in that order.

pub mod mod_access;
pub mod mod_noop;

use crate::module::ModuleRegistry;
use std::sync::Arc;

/// The registry of every built-in module, in run order. Embedders and
/// tests `register` their own modules after these.
pub fn registry() -> ModuleRegistry {
    let mut r = ModuleRegistry::new();
    r.register(Arc::new(mod_noop::ModNoop));
    // #26 in BFE's order.
    r.register(Arc::new(mod_access::ModAccess::new()));
    r
}
