//! When each step of a request happened and how many bytes it moved: the
//! figures BFE's access log reads (`$all_time`, `$proxy_delay`,
//! `$connect_time`, `$res_len`, …). Instants are set by the lifecycle as
//! the request passes each step, on workers where a module asked for them
//! (`Callbacks::record_timings`, at init): reading the clock at every step
//! costs more than a small request's whole routing, so nothing pays for it
//! unless something reads it. `None` means the step never happened, or
//! timings are off. Byte counts are always kept.

use std::time::{Duration, Instant};

#[derive(Debug, Clone, Default)]
pub struct RequestStat {
    /// Request head and body bytes read from the client.
    pub header_len_in: u64,
    pub body_len_in: u64,
    /// Response head and body bytes written to the client.
    pub header_len_out: u64,
    pub body_len_out: u64,
    /// Whether any attempt went to another sub-cluster (cross retry).
    pub cross_cluster: bool,
    /// When each step happened; only where timings are on (boxed, so a
    /// request without them carries and initialises eight bytes).
    pub times: Option<Box<StepTimes>>,
}

/// The instants of a request's steps (see [`RequestStat`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct StepTimes {
    /// The request head started to arrive.
    pub read_start: Option<Instant>,
    /// The request head was read whole.
    pub read_end: Option<Instant>,
    /// The product was found.
    pub product_found: Option<Instant>,
    /// The cluster was found.
    pub cluster_found: Option<Instant>,
    /// The first forwarding attempt started.
    pub cluster_start: Option<Instant>,
    /// The last attempt's response head arrived, or the attempts ended.
    pub cluster_end: Option<Instant>,
    /// The last attempt started.
    pub backend_start: Option<Instant>,
    /// The last attempt's connection was ready (connected or pooled).
    pub backend_connected: Option<Instant>,
    /// The last attempt's response head arrived.
    pub backend_end: Option<Instant>,
    /// Writing the response to the client started / ended.
    pub response_start: Option<Instant>,
    pub response_end: Option<Instant>,
}

impl RequestStat {
    /// Record now as the time of one step, when timings are on.
    #[inline]
    pub(crate) fn mark(&mut self, step: impl FnOnce(&mut StepTimes) -> &mut Option<Instant>) {
        if let Some(t) = self.times.as_deref_mut() {
            *step(t) = Some(Instant::now());
        }
    }

    /// `to - from`, when both happened and in that order.
    pub fn between(from: Option<Instant>, to: Option<Instant>) -> Option<Duration> {
        to?.checked_duration_since(from?)
    }
}
