//! Built-in modules, in the fixed order their handlers run at every callback
//! point. A module is added here once, with its position in that order.

pub mod mod_header;
pub mod mod_noop;
pub mod mod_redirect;
pub mod mod_rewrite;

use crate::module::ModuleRegistry;
use std::sync::Arc;

/// The registry of every built-in module, in run order. Embedders and
/// tests `register` their own modules after these.
pub fn registry() -> ModuleRegistry {
    let mut r = ModuleRegistry::new();
    r.register(Arc::new(mod_noop::ModNoop));
    r.register(Arc::new(mod_redirect::ModRedirect));
    r.register(Arc::new(mod_rewrite::ModRewrite));
    r.register(Arc::new(mod_header::ModHeader));
    r
}
