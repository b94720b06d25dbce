//! One client connection, as Accept, Handshake and Finish handlers see it.

use super::context::Context;
use std::net::SocketAddr;
use std::time::Instant;

#[derive(Debug)]
pub struct Session {
    /// Unique within the worker.
    pub id: u64,
    /// Index of the worker (core) serving the connection.
    pub worker: usize,
    pub client: SocketAddr,
    /// The listener address the client connected to (the VIP).
    pub local: SocketAddr,
    pub is_tls: bool,
    pub tls_sni: Option<String>,
    /// Whether the client address is trusted (set by mod_trust_clientip).
    pub trusted: bool,
    pub started: Instant,
    /// Requests served on this connection so far.
    pub requests: u64,
    /// Modules' per-connection state.
    pub ctx: Context,
}

impl Session {
    pub fn new(id: u64, worker: usize, client: SocketAddr, local: SocketAddr) -> Self {
        Session {
            id,
            worker,
            client,
            local,
            is_tls: false,
            tls_sni: None,
            trusted: false,
            started: Instant::now(),
            requests: 0,
            ctx: Context::default(),
        }
    }
}
