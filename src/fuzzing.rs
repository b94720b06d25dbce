//! The crate-internal pure functions the fuzz targets (`fuzz/`) drive,
//! reachable from outside the crate only through here. Not an API: hidden
//! from the docs, and free to change with the targets.
//!
//! Everything else the targets need (the HTTP/1.1 codec, the condition
//! language, the INI and JSON config readers) is already public.

/// The PROXY protocol reader's decision on the bytes a connection starts
/// with ([`ProxyScan`]), given `MaxProxyHeaderBytes`; the accept path calls
/// it on every peek, so it must decide the same way however the bytes are
/// split.
pub use crate::proxy::proxy_protocol::{scan as proxy_protocol_scan, Scan as ProxyScan};

/// An HTTP/2 stream's request head, after the RFC 9113 §8 checks, rendered
/// as the HTTP/1.1 head the parser then reads.
pub use crate::proxy::h2::render_head as h2_render_head;
