//! Per-worker counters. They are plain `Cell`s owned by one worker thread;
//! the control thread never reads them directly but asks the worker for a
//! copy between requests, so counting costs no atomic and no lock.

use std::cell::Cell;

macro_rules! counters {
    ($( $(#[$doc:meta])* $name:ident ),* $(,)?) => {
        /// Live counters of one worker.
        #[derive(Debug, Default)]
        pub struct Stats {
            $( $(#[$doc])* pub $name: Cell<u64>, )*
        }

        /// A copy of a worker's counters, sent to the control thread.
        #[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
        pub struct StatsSnapshot {
            $( pub $name: u64, )*
        }

        impl Stats {
            pub fn snapshot(&self) -> StatsSnapshot {
                StatsSnapshot { $( $name: self.$name.get(), )* }
            }
        }

        impl StatsSnapshot {
            /// Counter names and values, in declaration order.
            pub fn fields(&self) -> Vec<(&'static str, u64)> {
                vec![ $( (stringify!($name), self.$name), )* ]
            }

            /// Field-wise sum (gauges sum to the process total too).
            pub fn add(&mut self, o: &StatsSnapshot) {
                $( self.$name += o.$name; )*
            }
        }
    };
}

counters! {
    /// Client connections accepted.
    conn_accepted,
    /// Client connections open now (gauge).
    conn_active,
    /// Connections refused because the worker was at `MaxConnsPerWorker`.
    conn_refused,
    /// Requests whose head was read completely.
    req_total,
    /// Requests being processed now (gauge).
    req_active,
    /// Responses sent, by class.
    resp_1xx,
    resp_2xx,
    resp_3xx,
    resp_4xx,
    resp_5xx,
    /// Malformed requests (400/414/417/431/501).
    err_bad_request,
    /// TLS handshakes that failed or timed out.
    err_tls_handshake,
    /// Client too slow: head or body not read in time.
    err_client_timeout,
    /// Client went away before the response was complete.
    err_client_closed,
    /// No product for the host (500).
    err_no_product,
    /// No cluster matched in the product's route rules (500).
    err_no_cluster,
    /// Request dropped by a GSLB blackhole.
    err_blackhole,
    /// Connecting to a backend failed (each attempt).
    err_backend_connect,
    /// No backend answered after all retries (502).
    err_backend_unavailable,
    /// Backend response head timed out (504).
    err_backend_timeout,
    /// Backend sent a broken response or closed mid-body.
    err_backend_broken,
    /// Connections closed or answered by a handler's return value.
    err_handler_abort,
    /// Module handlers that panicked (caught; answered 500 and closed).
    err_handler_panic,
    /// Connection tasks that panicked outside a handler (caught; closed).
    err_conn_panic,
    /// Retries made (same or other sub-cluster).
    retries,
    /// Attempts in another sub-cluster than GSLB chose (`CrossRetry`),
    /// also when the chosen one had no backend up to try first.
    retries_cross,
    /// Backends this worker took out of rotation (`FailNum` failures).
    backend_down,
    /// Backends its probes brought back.
    backend_up,
    /// Health probes running now (gauge).
    probes_active,
    /// Health checks made by probes.
    probe_checks,
    /// Health checks that failed.
    probe_failures,
    /// Upstream connections opened.
    upstream_connect,
    /// Requests sent on a pooled upstream connection.
    upstream_reuse,
    /// Idle upstream connections held now (gauge).
    upstream_idle,
    /// Configuration snapshots this worker switched to.
    snapshot_swaps,
}

impl Stats {
    #[inline]
    pub fn inc(c: &Cell<u64>) {
        c.set(c.get() + 1);
    }

    #[inline]
    pub fn dec(c: &Cell<u64>) {
        c.set(c.get().saturating_sub(1));
    }

    pub fn count_status(&self, status: u16) {
        let c = match status {
            100..=199 => &self.resp_1xx,
            200..=299 => &self.resp_2xx,
            300..=399 => &self.resp_3xx,
            400..=499 => &self.resp_4xx,
            _ => &self.resp_5xx,
        };
        Stats::inc(c);
    }
}
