//! ringfront: a BFE-compatible layer-7 reverse proxy, thread-per-core on
//! io_uring.
//!
//! A map of the crate, in the order a request meets it:
//! - [`server`]: process start-up (listen addresses, one instance per
//!   port), the control thread (monitor port, reloads, SIGHUP), and each
//!   worker thread's main function and accept loops.
//! - `worker`: one pinned thread per core's state: its monoio runtime,
//!   module state, pools and counters.
//! - [`http`]: the zero-copy HTTP/1.1 codec (heads as offsets, body framing).
//! - `proxy`: one client connection's lifecycle and its nine callback points.
//! - [`module`]: BFE's module framework (points, handler lists, return values).
//! - [`modules`]: the built-in modules.
//! - [`route`]: host table, route rules and the condition language.
//! - `balance`: GSLB sub-cluster choice and backend balancing.
//! - `tls`: TLS termination for the HTTPS listener (rustls, per worker);
//!   loading `tls_conf/` is part of [`config`].
//! - `probe`: active health checks of backends marked down.
//! - `upstream`: per-worker keep-alive pools to backends.
//! - [`config`]: bfe.conf and the JSON data files, validated into snapshots.
//! - [`sys`]: the few `libc` calls std and monoio do not offer, wrapped
//!   (signals, the open-file limit); [`logging`]: the log sink.
//!
//! Signals are dispatched in `main.rs` (see `docs/operations.md`).

// The public API is what module authors, embedders and the binary use;
// everything else is crate-private, so unused code shows up as dead.
#![warn(unreachable_pub)]

#[cfg(test)]
mod alloc_tests;
pub(crate) mod balance;
pub mod basic;
pub mod config;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod logging;
pub mod module;
pub mod modules;
pub(crate) mod probe;
pub(crate) mod proxy;
pub mod route;
pub mod server;
pub mod sys;
pub(crate) mod tls;
pub(crate) mod upstream;
pub(crate) mod worker;
