//! Every way a request or connection can fail, in one table: the status the
//! client gets (when an answer is still possible), the proxy_state counter
//! that counts it, and the code BFE's access log writes (`$error`,
//! `$ses_error`). Failure sites name a kind; they never pick a status or a
//! counter themselves.

use std::fmt;

/// Why a request or connection failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ErrorKind {
    /// Malformed, ambiguous or oversized request (status from the parser).
    ClientBadRequest,
    /// The client was too slow: head or body not read in time.
    ClientTimeout,
    /// The client went away, or a write to it failed.
    ClientClose,
    /// The TLS handshake failed or timed out.
    ClientTlsHandshake,
    /// No product for the request's host or VIP.
    NoProduct,
    /// No cluster matched in the product's route rules.
    NoCluster,
    /// A GSLB blackhole sub-cluster was chosen: closed without an answer.
    GslbBlackhole,
    /// Connecting to a backend failed (counted per attempt).
    BackendConnect,
    /// No backend answered after every attempt.
    BackendUnavailable,
    /// The backend's response head did not arrive in time.
    BackendTimeout,
    /// The backend broke its response or the connection to it.
    BackendBroken,
    /// mod_block refused the connection or the request.
    Block,
    /// mod_prison refused a request over its rule's limit.
    Prison,
    /// A module handler ended the request (Close, or Finish at Forward).
    HandlerAbort,
    /// A module handler panicked (caught; answered 500 and closed).
    HandlerPanic,
    /// A connection task panicked outside a handler (caught; closed).
    ConnPanic,
}

impl ErrorKind {
    /// Every kind, in counter order.
    pub const ALL: [ErrorKind; 16] = [
        ErrorKind::ClientBadRequest,
        ErrorKind::ClientTimeout,
        ErrorKind::ClientClose,
        ErrorKind::ClientTlsHandshake,
        ErrorKind::NoProduct,
        ErrorKind::NoCluster,
        ErrorKind::GslbBlackhole,
        ErrorKind::BackendConnect,
        ErrorKind::BackendUnavailable,
        ErrorKind::BackendTimeout,
        ErrorKind::BackendBroken,
        ErrorKind::Block,
        ErrorKind::Prison,
        ErrorKind::HandlerAbort,
        ErrorKind::HandlerPanic,
        ErrorKind::ConnPanic,
    ];
    pub const COUNT: usize = Self::ALL.len();

    /// The table: (access-log code, proxy_state counter, default status).
    /// A status of 0 means nothing is sent (the connection just closes).
    const fn row(self) -> (&'static str, &'static str, u16) {
        match self {
            ErrorKind::ClientBadRequest => ("CLIENT_BAD_REQUEST", "err_bad_request", 400),
            ErrorKind::ClientTimeout => ("CLIENT_TIMEOUT", "err_client_timeout", 408),
            ErrorKind::ClientClose => ("CLIENT_CLOSE", "err_client_closed", 0),
            ErrorKind::ClientTlsHandshake => ("CLIENT_TLS_HANDSHAKE", "err_tls_handshake", 0),
            ErrorKind::NoProduct => ("BK_FIND_PRODUCT", "err_no_product", 500),
            ErrorKind::NoCluster => ("BK_NO_CLUSTER", "err_no_cluster", 500),
            ErrorKind::GslbBlackhole => ("GSLB_BLACKHOLE", "err_blackhole", 0),
            ErrorKind::BackendConnect => ("BK_CONNECT_BACKEND", "err_backend_connect", 502),
            ErrorKind::BackendUnavailable => ("BK_NO_BACKEND", "err_backend_unavailable", 502),
            ErrorKind::BackendTimeout => ("BK_RESP_HEADER_TIMEOUT", "err_backend_timeout", 504),
            ErrorKind::BackendBroken => ("BK_TRANSPORT_BROKEN", "err_backend_broken", 502),
            ErrorKind::Block => ("BLOCK", "err_block", 0),
            ErrorKind::Prison => ("PRISON", "err_prison", 0),
            ErrorKind::HandlerAbort => ("HANDLER_ABORT", "err_handler_abort", 500),
            ErrorKind::HandlerPanic => ("HANDLER_PANIC", "err_handler_panic", 500),
            ErrorKind::ConnPanic => ("CONN_PANIC", "err_conn_panic", 0),
        }
    }

    /// The code the access log writes (BFE's names where BFE has one).
    pub const fn code(self) -> &'static str {
        self.row().0
    }

    /// The proxy_state counter this kind is counted in.
    pub const fn counter(self) -> &'static str {
        self.row().1
    }

    /// The status the client gets by default; 0 when nothing is sent.
    pub const fn status(self) -> u16 {
        self.row().2
    }

    /// Position in [`ErrorKind::ALL`], for counter arrays.
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A failure with the status actually answered (a parser's 414 or 431 is
/// still a `ClientBadRequest`; a backend that failed before its head may
/// be a 502 or a 504).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyError {
    pub kind: ErrorKind,
    /// 0 when nothing is sent.
    pub status: u16,
}

impl ProxyError {
    /// The kind with its table status.
    pub const fn new(kind: ErrorKind) -> Self {
        ProxyError {
            kind,
            status: kind.status(),
        }
    }

    /// The kind answered with another status than the table's.
    pub const fn with_status(kind: ErrorKind, status: u16) -> Self {
        ProxyError { kind, status }
    }
}

impl From<ErrorKind> for ProxyError {
    fn from(kind: ErrorKind) -> Self {
        ProxyError::new(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_complete_and_indexes_match() {
        for (i, k) in ErrorKind::ALL.iter().enumerate() {
            assert_eq!(k.index(), i);
            assert!(!k.code().is_empty());
            assert!(k.counter().starts_with("err_"));
        }
        let mut counters: Vec<_> = ErrorKind::ALL.iter().map(|k| k.counter()).collect();
        counters.sort();
        counters.dedup();
        assert_eq!(counters.len(), ErrorKind::COUNT);
        assert_eq!(ProxyError::new(ErrorKind::BackendTimeout).status, 504);
    }
}
