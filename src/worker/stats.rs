//! Per-worker counters. They are plain `Cell`s owned by one worker thread;
//! the control thread never reads them directly but asks the worker for a
//! copy between requests, so counting costs no atomic and no lock.

use crate::basic::ErrorKind;
use std::cell::Cell;

macro_rules! counters {
    ($( $(#[$doc:meta])* $name:ident ),* $(,)?) => {
        /// Live counters of one worker.
        #[derive(Debug, Default)]
        pub(crate) struct Stats {
            $( $(#[$doc])* pub(crate) $name: Cell<u64>, )*
            /// Failures by kind ([`ErrorKind`]'s table names each counter).
            pub(crate) errors: [Cell<u64>; ErrorKind::COUNT],
        }

        /// A copy of a worker's counters, sent to the control thread.
        #[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
        pub(crate) struct StatsSnapshot {
            $( pub(crate) $name: u64, )*
            pub(crate) errors: [u64; ErrorKind::COUNT],
        }

        impl Stats {
            pub(crate) fn snapshot(&self) -> StatsSnapshot {
                StatsSnapshot {
                    $( $name: self.$name.get(), )*
                    errors: std::array::from_fn(|i| self.errors[i].get()),
                }
            }
        }

        impl StatsSnapshot {
            /// Counter names and values, in declaration order.
            pub(crate) fn fields(&self) -> Vec<(&'static str, u64)> {
                let mut v = vec![ $( (stringify!($name), self.$name), )* ];
                v.extend(ErrorKind::ALL.iter().map(|k| (k.counter(), self.errors[k.index()])));
                v
            }

            /// Field-wise `self - before` (a counter never goes down; a
            /// gauge that did reads 0: diff pages show counters only).
            pub(crate) fn delta(&self, before: &StatsSnapshot) -> StatsSnapshot {
                StatsSnapshot {
                    $( $name: self.$name.saturating_sub(before.$name), )*
                    errors: std::array::from_fn(|i| {
                        self.errors[i].saturating_sub(before.errors[i])
                    }),
                }
            }

            /// Field-wise sum (gauges sum to the process total too).
            pub(crate) fn add(&mut self, o: &StatsSnapshot) {
                $( self.$name += o.$name; )*
                for (a, b) in self.errors.iter_mut().zip(o.errors) {
                    *a += b;
                }
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
    /// Of `req_total`: HTTP/1.x requests over TLS.
    req_https,
    /// Of `req_total`: HTTP/2 streams (over TLS or h2c).
    req_h2,
    /// Requests that were retried at least once (BFE's
    /// `ClientReqWithRetry`).
    req_with_retry,
    /// Requests that went to another sub-cluster at least once (BFE's
    /// `ClientReqWithCrossRetry`).
    req_with_cross_retry,
    /// Responses sent, by class.
    resp_1xx,
    resp_2xx,
    resp_3xx,
    resp_4xx,
    resp_5xx,
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
    /// Upstream connections that could not be opened (refused, timed out).
    upstream_connect_fail,
    /// Requests sent on a pooled upstream connection.
    upstream_reuse,
    /// Idle upstream connections held now (gauge).
    upstream_idle,
    /// Idle upstream connections closed because the backend closed,
    /// half-closed or reset them (seen by the sweeper within 50 ms, or
    /// by the check before reuse); never handed to a request.
    upstream_idle_peer_closed,
    /// Idle upstream connections closed because the backend sent bytes on
    /// them while idle; never handed to a request.
    upstream_idle_stray_bytes,
    /// Configuration snapshots this worker switched to.
    snapshot_swaps,
    /// WebSocket handshakes the backend accepted: 101 relayed, tunnel
    /// opened.
    web_socket_upgrade,
    /// WebSocket tunnels open now (gauge).
    web_socket_active,
    /// Tunnel bytes from clients to backends (BFE's `WebSocketBytesRecv`).
    web_socket_bytes_recv,
    /// Tunnel bytes from backends to clients (BFE's `WebSocketBytesSent`).
    web_socket_bytes_sent,
    /// WebSocket handshakes the backend answered with anything but a 101
    /// (relayed as a normal response; BFE's `WebSocketErrBackendReject`).
    web_socket_err_backend_reject,
    /// Tunnels ended by a read or write error (BFE's `WebSocketErrTransfer`).
    web_socket_err_transfer,
    /// Tunnels closed because no byte moved either way for the cluster's
    /// `TimeoutReadClient`.
    web_socket_err_idle,
    /// PROXY protocol (`Layer4LoadBalancer = PROXY`), BFE's `bfe_proxy`
    /// counters: the header could not be read (peer closed, timeout,
    /// larger than `MaxProxyHeaderBytes`); the connection was closed.
    proxy_err_read_header,
    /// No PROXY signature: the connection was served as a direct one.
    proxy_err_no_proxy_protocol,
    /// The v1 (`PROXY `) signature was seen.
    proxy_matched_v1_signature,
    /// The v2 (binary) signature was seen.
    proxy_matched_v2_signature,
    /// A signature was seen but the header was malformed; closed.
    proxy_err_invalid_header,
    /// v1 headers read.
    proxy_normal_v1_header,
    /// v2 headers read.
    proxy_normal_v2_header,
    /// TLS handshakes started (BFE's `TlsHandshakeAll`).
    tls_handshake_all,
    /// TLS handshakes completed (BFE's `TlsHandshakeSucc`).
    tls_handshake_succ,
    /// HTTP/2 connections whose preface and SETTINGS arrived.
    h2_conns,
    /// HTTP/2 streams reset as malformed (RFC 9113 §8).
    h2_malformed,
    /// HTTP/2 connections ended by a protocol error or GOAWAY.
    h2_conn_errors,
    /// HTTP/2 streams refused (REFUSED_STREAM) because the connection
    /// already had twice its concurrent-stream limit of stream tasks
    /// running: streams the client reset whose backend had not answered.
    h2_refused_streams,
}

impl Stats {
    #[inline]
    pub(crate) fn inc(c: &Cell<u64>) {
        c.set(c.get() + 1);
    }

    #[inline]
    pub(crate) fn dec(c: &Cell<u64>) {
        c.set(c.get().saturating_sub(1));
    }

    /// Count a failure in its kind's counter.
    #[inline]
    pub(crate) fn error(&self, kind: ErrorKind) {
        Stats::inc(&self.errors[kind.index()]);
    }

    pub(crate) fn count_status(&self, status: u16) {
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
