//! One forwarding attempt as the retry loop ([`super::forward`]), the
//! upstream exchange ([`super::upstream`]) and the relay
//! ([`super::relay`]) share it: where it goes, and how it ended.

use super::downstream::Disposition;
use crate::basic::ErrorKind;
use std::net::SocketAddr;

/// How one attempt on one backend ended.
pub(crate) enum Outcome {
    /// Response relayed.
    Done(Disposition),
    /// Could not connect: try another backend.
    ConnectFailed,
    /// A pooled connection turned out closed before anything was received:
    /// the same request may be sent again on a fresh connection.
    Stale,
    /// The backend failed before its response head arrived (write error,
    /// read error, timeout, unparsable head). Counts against its health; a
    /// body-less GET may be retried at `RetryLevel` 1.
    /// The kind says which (`BackendBroken`, `BackendTimeout`).
    NoResponse(ErrorKind),
    /// The response head arrived but the response cannot be relayed.
    BadResponse(ErrorKind),
    /// Finished without a backend response to relay (client gone, handler
    /// closed, or an answer was already sent).
    Ended(Disposition),
}

/// Where one attempt goes.
#[derive(Clone, Copy)]
pub(crate) struct Target {
    pub sub: usize,
    /// The balancer's backend, or None when HandleForward steered the
    /// request elsewhere (then no backend's health is touched).
    pub index: Option<usize>,
    pub addr: SocketAddr,
    /// A re-send on a fresh connection after a stale pooled one.
    pub fresh: bool,
}
