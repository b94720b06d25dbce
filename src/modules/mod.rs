//! Built-in modules, in the fixed order their handlers run at every callback
//! point. A module is added here once, with its position in that order.

#[cfg(test)]
mod alloc_guard;
pub mod ip_table;
pub mod mod_block;
pub mod mod_http_code;
pub mod mod_logid;
pub mod mod_noop;
pub mod mod_prison;
pub mod mod_trust_clientip;
#[cfg(test)]
mod test_conf;

use crate::module::ModuleRegistry;
use std::sync::Arc;

/// The registry of every built-in module, in run order. Embedders and
/// tests `register` their own modules after these.
pub fn registry() -> ModuleRegistry {
    let mut r = ModuleRegistry::new();
    r.register(Arc::new(mod_trust_clientip::ModTrustClientIp));
    r.register(Arc::new(mod_logid::ModLogId));
    r.register(Arc::new(mod_block::ModBlock));
    r.register(Arc::new(mod_prison::ModPrison));
    r.register(Arc::new(mod_http_code::ModHttpCode));
    r.register(Arc::new(mod_noop::ModNoop));
    r
}
