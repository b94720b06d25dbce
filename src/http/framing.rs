//! How long a message body is (RFC 9112 §6.3).

/// The framing of one message body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BodyKind {
    /// No body at all.
    #[default]
    None,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked transfer coding, ending with the last chunk and trailers.
    Chunked,
    /// Everything until the sender closes (responses only).
    UntilClose,
}

impl BodyKind {
    pub fn is_none(&self) -> bool {
        matches!(self, BodyKind::None)
    }
}

/// Whether a response to this request method with this status can carry a
/// body at all: never for HEAD, 1xx, 204 and 304.
pub fn response_has_body(request_is_head: bool, status: u16) -> bool {
    !(request_is_head || (100..200).contains(&status) || status == 204 || status == 304)
}
