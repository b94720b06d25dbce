//! Built-in modules, in the fixed order their handlers run at every callback
//! point. A module is added here once, with its position in that order.

pub mod ip_table;
pub mod mod_access;
pub mod mod_block;
pub mod mod_header;
pub mod mod_http_code;
pub mod mod_logid;
pub mod mod_noop;
pub mod mod_prison;
pub mod mod_redirect;
pub mod mod_rewrite;
pub mod mod_session_sticky;
pub mod mod_tag;
pub mod mod_trust_clientip;
#[cfg(test)]
pub(crate) mod test_conf;

use crate::module::ModuleRegistry;
use std::sync::Arc;

/// The registry of every built-in module, in run order (BFE's fixed list,
/// `spec/modules.md` §1.2; the numbers are BFE's positions). Embedders and
/// tests `register` their own modules after these.
pub fn registry() -> ModuleRegistry {
    let mut r = ModuleRegistry::new();
    // BFE #1, #2: the client address and log ids come first, as every
    // later module may read them.
    r.register(Arc::new(mod_trust_clientip::ModTrustClientIp));
    r.register(Arc::new(mod_logid::ModLogId));
    // BFE #6.
    r.register(Arc::new(mod_tag::ModTag));
    // BFE #9, #10.
    r.register(Arc::new(mod_block::ModBlock));
    r.register(Arc::new(mod_prison::ModPrison));
    // BFE #16, #18, #19.
    r.register(Arc::new(mod_redirect::ModRedirect));
    r.register(Arc::new(mod_rewrite::ModRewrite));
    r.register(Arc::new(mod_header::ModHeader));
    // BFE #25, #26: counters and the log see the request as finished.
    r.register(Arc::new(mod_http_code::ModHttpCode));
    r.register(Arc::new(mod_access::ModAccess::new()));
    // BFE #34.
    r.register(Arc::new(mod_session_sticky::ModSessionSticky));
    // ringfront's own, after BFE's: measures what the framework costs.
    r.register(Arc::new(mod_noop::ModNoop));
    r
}
