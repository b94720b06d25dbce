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
//! [`conn`] holds steps 1–2 and 7–8, [`route_request`] steps 3–4,
//! [`forward`] steps 5–6 (with [`retry`] choosing each attempt's backend),
//! [`reply`] the answers ringfront makes itself.

mod body;
mod conn;
mod forward;
mod guard;
mod io;
mod reply;
mod retry;
mod route_request;
mod tls;

pub use conn::serve;
pub(crate) use reply::write_local;
