//! One client connection, as every handler sees it.
//!
//! A session is shared (`Rc<Session>`): on HTTP/2 several requests of one
//! connection are alive at once, each holding the session. What handlers may
//! change after accept (the client address, trust, the error) sits in
//! `Cell`s, and module state in a `RefCell`'d context; a session never
//! leaves its worker thread.

use super::context::Context;
use super::error::ProxyError;
use std::cell::{Cell, OnceCell, RefCell, RefMut};
use std::net::SocketAddr;
use std::time::Instant;

/// What the TLS handshake established (HTTPS listener only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsInfo {
    /// The server name the client asked for (SNI), if any.
    pub sni: Option<String>,
    /// The protocol ALPN chose (`h2`, `http/1.1`), if any.
    pub alpn: Option<Vec<u8>>,
    /// `TLSv1_3`, `TLSv1_2`; empty where the TLS stream does not say.
    pub version: &'static str,
}

#[derive(Debug)]
pub struct Session {
    /// Unique within the worker.
    pub id: u64,
    /// Index of the worker (core) serving the connection.
    pub worker: usize,
    /// The client's address as the connection tells it (BFE's
    /// `Session.RemoteAddr`, `ses_sip`): the TCP peer, or the source of the
    /// PROXY protocol header when a layer-4 balancer sent one.
    pub peer: SocketAddr,
    /// The address the client connected to (the VIP and port): the
    /// listener's socket address, or the destination of the PROXY header.
    pub local: SocketAddr,
    /// The listener's own socket address (`$server_addr`); differs from
    /// `local` only behind a PROXY header.
    pub server_addr: SocketAddr,
    /// The layer-4 balancer's address (BFE's `BalancerAddr`): the TCP peer
    /// when a PROXY header gave the addresses above, else `None`.
    pub balancer: Option<SocketAddr>,
    /// When the connection was accepted.
    pub started: Instant,
    /// The client's address: the peer, unless something in front of
    /// ringfront tells better (PROXY protocol, a trusted proxy's headers).
    client: Cell<SocketAddr>,
    /// Whether the client's own headers about its address are believed
    /// (mod_trust_clientip).
    trusted: Cell<bool>,
    tls: OnceCell<TlsInfo>,
    /// BFE's `SessionId` (mod_logid sets it at HandleAccept).
    session_id: OnceCell<String>,
    requests: Cell<u64>,
    bytes_in: Cell<u64>,
    bytes_out: Cell<u64>,
    /// Of `bytes_out`, the bytes of response heads (per-request head and
    /// body lengths are differences of these two at the request's end).
    head_out: Cell<u64>,
    /// Whether a request asked for `100-continue`.
    use_100: Cell<bool>,
    error: Cell<Option<ProxyError>>,
    /// Whether HandleFinish ran (it runs once, also after a panic).
    finished: Cell<bool>,
    ctx: RefCell<Context>,
}

impl Session {
    pub fn new(id: u64, worker: usize, peer: SocketAddr, local: SocketAddr) -> Self {
        Session {
            id,
            worker,
            peer,
            local,
            server_addr: local,
            balancer: None,
            started: Instant::now(),
            client: Cell::new(peer),
            trusted: Cell::new(false),
            tls: OnceCell::new(),
            session_id: OnceCell::new(),
            requests: Cell::new(0),
            bytes_in: Cell::new(0),
            bytes_out: Cell::new(0),
            head_out: Cell::new(0),
            use_100: Cell::new(false),
            error: Cell::new(None),
            finished: Cell::new(false),
            ctx: RefCell::new(Context::default()),
        }
    }

    /// The client's address (see the field).
    pub fn client(&self) -> SocketAddr {
        self.client.get()
    }

    pub fn set_client(&self, addr: SocketAddr) {
        self.client.set(addr);
    }

    pub fn trusted(&self) -> bool {
        self.trusted.get()
    }

    pub fn set_trusted(&self, trusted: bool) {
        self.trusted.set(trusted);
    }

    pub fn is_tls(&self) -> bool {
        self.tls.get().is_some()
    }

    pub fn tls(&self) -> Option<&TlsInfo> {
        self.tls.get()
    }

    /// Record the handshake's result; once per connection.
    pub fn set_tls(&self, info: TlsInfo) {
        let _ = self.tls.set(info);
    }

    pub fn tls_sni(&self) -> Option<&str> {
        self.tls.get()?.sni.as_deref()
    }

    /// BFE's session id (`$ses_id`), when mod_logid gave one.
    pub fn session_id(&self) -> Option<&str> {
        self.session_id.get().map(String::as_str)
    }

    /// Give the session its id; once per connection (later calls are
    /// ignored).
    pub fn set_session_id(&self, id: String) {
        let _ = self.session_id.set(id);
    }

    /// Requests served on this connection so far.
    pub fn requests(&self) -> u64 {
        self.requests.get()
    }

    pub fn count_request(&self) {
        self.requests.set(self.requests.get() + 1);
    }

    pub fn bytes_in(&self) -> u64 {
        self.bytes_in.get()
    }

    pub fn bytes_out(&self) -> u64 {
        self.bytes_out.get()
    }

    pub fn add_bytes_in(&self, n: u64) {
        self.bytes_in.set(self.bytes_in.get() + n);
    }

    pub fn add_bytes_out(&self, n: u64) {
        self.bytes_out.set(self.bytes_out.get() + n);
    }

    /// Response head bytes written so far (part of `bytes_out`).
    pub fn head_out(&self) -> u64 {
        self.head_out.get()
    }

    /// A response head of `n` bytes was written (also counted in
    /// `bytes_out` by the caller's `add_bytes_out`).
    pub fn add_head_out(&self, n: u64) {
        self.head_out.set(self.head_out.get() + n);
    }

    pub fn use_100(&self) -> bool {
        self.use_100.get()
    }

    pub fn set_use_100(&self) {
        self.use_100.set(true);
    }

    /// Why the connection failed, if it did (`$ses_error`).
    pub fn error(&self) -> Option<ProxyError> {
        self.error.get()
    }

    pub fn set_error(&self, e: ProxyError) {
        self.error.set(Some(e));
    }

    /// True the first time only: HandleFinish runs once per connection.
    pub(crate) fn begin_finish(&self) -> bool {
        !self.finished.replace(true)
    }

    /// Modules' per-connection state. Borrow briefly: never across an await.
    pub fn ctx(&self) -> RefMut<'_, Context> {
        self.ctx.borrow_mut()
    }
}
