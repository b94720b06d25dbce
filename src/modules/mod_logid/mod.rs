//! mod_logid: a session id for every connection (HandleAccept) and a log
//! id for every request (HandleBeforeLocation), sent upstream in
//! `X-Bfe-Log-Id`. A trusted session (mod_trust_clientip) that brings its
//! own `X-Bfe-Log-Id` keeps it, so one id follows a request through every
//! BFE tier.
//!
//! Ids are 32 lower-case hex digits (16 random bytes) as BFE's, drawn from a
//! per-worker generator seeded from the OS: an id costs two multiplications
//! and one 32-byte string, no lock and no system call.

use crate::basic::{Request, Response, Session};
use crate::module::{
    AcceptPoint, Counters, InitCtx, Module, ModuleError, RequestPoint, Ret, WebHandlers,
};
use crate::route::RequestFacts;
use std::cell::Cell;
use std::hash::{BuildHasher, Hasher};
use std::rc::Rc;

pub const NAME: &str = "mod_logid";
/// BFE's `bfe_basic.HeaderBfeLogId`.
pub const HEADER: &str = "X-Bfe-Log-Id";
/// Counter keys, BFE's names (`ModuleLogIdState`).
pub const COUNTERS: [&str; 1] = ["NO_LOGID_FROM_UPPER_BFE"];

/// A per-worker wyrand generator: fast, 64-bit state, good enough for ids
/// that must be unique, not secret.
pub struct IdGen {
    state: Cell<u64>,
}

impl IdGen {
    /// Seeded from the OS (std's `RandomState` keys) and the worker index.
    pub fn new(worker: usize) -> Self {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(worker);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        IdGen {
            state: Cell::new(h.finish()),
        }
    }

    fn next(&self) -> u64 {
        let s = self.state.get().wrapping_add(0xa076_1d64_78bd_642f);
        self.state.set(s);
        let t = u128::from(s).wrapping_mul(u128::from(s ^ 0xe703_7ed1_a0b4_28db));
        ((t >> 64) as u64) ^ (t as u64)
    }

    /// 32 lower-case hex digits.
    pub fn id(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut buf = [0u8; 32];
        for (k, word) in [self.next(), self.next()].into_iter().enumerate() {
            for (i, b) in buf[k * 16..(k + 1) * 16].iter_mut().enumerate() {
                *b = HEX[((word >> ((15 - i) * 4)) & 0xf) as usize];
            }
        }
        // Hex digits: always UTF-8; one copy instead of 32 char pushes.
        String::from_utf8(buf.to_vec()).unwrap_or_default()
    }
}

/// HandleAccept: the session's id.
pub fn accept(g: &IdGen, ses: &Session) -> Ret {
    ses.set_session_id(g.id());
    Ret::GoOn
}

/// HandleBeforeLocation: keep a trusted upstream's log id, else make one
/// and set it on the request (replacing whatever the client sent).
pub fn before_location(g: &IdGen, c: &Counters, req: &mut Request) -> (Ret, Option<Response>) {
    if req.ses.trusted() {
        match req.header(b"x-bfe-log-id") {
            Some(v) if !v.is_empty() => {
                // BFE leaves its own log id empty here; ringfront logs the
                // id the request carries (see docs/modules/mod_logid.md).
                req.log_id = Some(String::from_utf8_lossy(v).into_owned());
                return (Ret::GoOn, None);
            }
            _ => c.inc(0),
        }
    }
    let id = g.id();
    req.set_header(HEADER, &id);
    req.log_id = Some(id);
    (Ret::GoOn, None)
}

pub struct ModLogId;

impl Module for ModLogId {
    fn name(&self) -> &'static str {
        NAME
    }

    fn web(&self, web: &mut WebHandlers) {
        web.monitor(NAME);
    }

    fn init(&self, ctx: &mut InitCtx<'_>) -> Result<(), ModuleError> {
        let g = Rc::new(IdGen::new(ctx.worker()));
        let c = ctx.counters(&COUNTERS)?;
        let g2 = g.clone();
        let cbs = ctx.callbacks();
        cbs.on_accept(AcceptPoint::Accept, move |ses| accept(&g, ses));
        cbs.on_request(RequestPoint::BeforeLocation, move |req| {
            before_location(&g2, &c, req)
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::basic::RequestBuilder;

    fn is_id(s: &str) -> bool {
        s.len() == 32
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    }

    #[test]
    fn ids_are_32_hex_and_differ() {
        let g = IdGen::new(0);
        let (a, b) = (g.id(), g.id());
        assert!(is_id(&a) && is_id(&b), "{a} {b}");
        assert_ne!(a, b);
        assert_ne!(IdGen::new(1).id(), IdGen::new(1).id());
    }

    #[test]
    fn accept_gives_the_session_an_id() {
        let g = IdGen::new(0);
        let ses = RequestBuilder::get("h", "/").session();
        assert_eq!(ses.session_id(), None);
        assert_eq!(accept(&g, &ses), Ret::GoOn);
        assert!(is_id(ses.session_id().unwrap_or("")));
    }

    #[test]
    fn untrusted_client_id_is_replaced() {
        let (g, c) = (IdGen::new(0), Counters::new(&COUNTERS));
        let mut req = RequestBuilder::get("h", "/")
            .header("X-Bfe-Log-Id", "forged")
            .build();
        assert!(matches!(
            before_location(&g, &c, &mut req),
            (Ret::GoOn, None)
        ));
        let id = req.log_id.clone().unwrap_or_default();
        assert!(is_id(&id));
        assert_eq!(req.header(b"x-bfe-log-id"), Some(id.as_bytes()));
        assert_eq!(c.get(0), 0);
    }

    #[test]
    fn trusted_id_is_kept_and_missing_one_counted() {
        let (g, c) = (IdGen::new(0), Counters::new(&COUNTERS));
        let mut req = RequestBuilder::get("h", "/")
            .trusted()
            .header("X-Bfe-Log-Id", "upstream-1")
            .build();
        before_location(&g, &c, &mut req);
        assert_eq!(req.log_id.as_deref(), Some("upstream-1"));
        assert_eq!(req.header(b"x-bfe-log-id"), Some(&b"upstream-1"[..]));
        let mut req = RequestBuilder::get("h", "/").trusted().build();
        before_location(&g, &c, &mut req);
        assert!(is_id(req.log_id.as_deref().unwrap_or("")));
        assert_eq!(c.get(0), 1);
    }
}
