//! Built-in modules, in the fixed order their handlers run at every callback
//! point. A module is added here once, with its position in that order.

pub mod mod_header;
pub mod mod_noop;
pub mod mod_redirect;
pub mod mod_rewrite;
pub mod mod_session_sticky;
pub mod mod_tag;

use crate::module::ModuleRegistry;
use std::sync::Arc;

/// The registry of every built-in module, in run order (BFE's fixed list,
/// `spec/modules.md` §1.2; the numbers are BFE's positions). Embedders and
/// tests `register` their own modules after these.
pub fn registry() -> ModuleRegistry {
    let mut r = ModuleRegistry::new();
    // ringfront's own: measures the framework's cost.
    r.register(Arc::new(mod_noop::ModNoop));
    // BFE #6.
    r.register(Arc::new(mod_tag::ModTag));
    // BFE #16.
    r.register(Arc::new(mod_redirect::ModRedirect));
    // BFE #18.
    r.register(Arc::new(mod_rewrite::ModRewrite));
    // BFE #19.
    r.register(Arc::new(mod_header::ModHeader));
    // BFE #34.
    r.register(Arc::new(mod_session_sticky::ModSessionSticky));
    r
}
