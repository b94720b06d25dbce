//! The proxy lifecycle of one client connection, callback point by
//! callback point (see [`crate::module::Point`] for what each may do):
//!
//! 1. accept → `HandleAccept`
//! 2. read a request head (malformed → 400, too large → 431, URI → 414)
//! 3. `HandleBeforeLocation` → find the product → `HandleFoundProduct`
//! 4. find the cluster → `HandleAfterLocation`
//! 5. choose sub-cluster and backend → `HandleForward` → send (with retries)
//! 6. response head → `HandleReadResponse` → stream the response
//! 7. `HandleRequestFinish` → next request on the connection, or close
//! 8. `HandleFinish` when the connection ends
//!
//! Where each part lives:
//! - [`conn`] (with [`tls`]): one HTTP/1.1 client connection: accept
//!   (after [`proxy_protocol`]'s header, behind a layer-4 balancer),
//!   handshake, idle keep-alive waits, reading request heads, steps 1–2
//!   and 7–8.
//! - [`lifecycle`]: one request through steps 3–4, protocol-neutral.
//! - [`forward`]: step 5, the retry loop ([`retry`] picks each attempt's
//!   backend); each attempt is an [`upstream`] exchange (request out,
//!   response head in) and a [`relay`] (step 6 and HandleRequestFinish).
//! - [`downstream`]: the seam to the client's protocol; [`h1`] is its
//!   HTTP/1.1 implementation and the only place response bytes are written.
//! - [`reply`]: answers ringfront makes itself and what return values mean.
//! - [`upgrade`]: a WebSocket handshake the backend accepted (101), and
//!   [`tunnel`], the byte-for-byte splice that follows (half-close, idle
//!   timeout).
//! - [`body`] and [`io`]: body re-framing and owned-buffer socket I/O.

mod attempt;
mod body;
mod client;
mod conn;
mod downstream;
mod forward;
mod guard;
mod h1;
pub(crate) mod h2;
mod io;
mod lifecycle;
pub(crate) mod proxy_protocol;
mod relay;
mod reply;
mod retry;
mod tls;
mod tunnel;
mod upgrade;
mod upstream;

pub(crate) use conn::serve;
pub(crate) use downstream::Disposition;
pub(crate) use h1::write_local;
