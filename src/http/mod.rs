//! The HTTP/1.1 codec.
//!
//! Heads are parsed with `httparse` straight out of a connection's read
//! buffer and kept as offsets ([`Span`]) into it: no header is copied into a
//! `String`, and the header index `Vec` is reused across requests of one
//! connection. Bodies are never buffered whole: [`framing`] says how long a
//! body is, [`chunked`] decodes and re-encodes chunked coding as it streams.
//! What is forwarded is always re-framed canonically by [`mod@write`].

pub mod chunked;
mod edits;
pub mod framing;
mod head;
mod message;
mod request;
mod response;
pub mod write;

pub use edits::HeaderEdits;
pub use framing::BodyKind;
pub(crate) use head::{content_length_list, trim};
pub use head::{is_hop_by_hop, HeaderSpan, Span, Version};
pub use message::status_reason;
pub use request::{parse_request, ParseError, RequestHead, RequestLimits};
pub use response::{parse_response, ResponseHead};

/// Most headers one head may carry; more is answered 431 (request) or
/// treated as a broken backend (response).
pub const MAX_HEADERS: usize = 128;
