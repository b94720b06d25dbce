//! BFE's counter pages (`proxy_state`, `bal_state`, `tls_state`,
//! `http_state`, `http2_state`, `proxy_protocol_state`,
//! `websocket_state`, each with `_diff`), built from the workers' summed
//! [`StatsSnapshot`] and rendered the way go-lib's `metrics` package
//! renders a `MetricsData`: JSON `{"Prefix","Kind","GaugeData",
//! "CounterData","StateData"}` (keys sorted, as Go's encoder writes maps),
//! `kv` lines `<prefix>_<KEY>: <value>`, Prometheus text. BFE initialises
//! every one of these with the prefix `proxy_state`, so they all carry it.
//!
//! A page lists the BFE counters ringfront has data for; a few ringfront
//! counters with no BFE equivalent are added under go-lib-style names.

use super::monitor::json_str;
use crate::basic::ErrorKind;
use crate::module::Format;
use crate::worker::StatsSnapshot;
use std::fmt::Write;

/// BFE's prefix for all of the server's metrics (`KP_PROXY_STATE`).
const PREFIX: &str = "proxy_state";

/// One metric: go-lib key, gauge or counter, Prometheus help, value.
struct Metric {
    key: &'static str,
    gauge: bool,
    help: &'static str,
    get: fn(&StatsSnapshot) -> u64,
}

const fn c(key: &'static str, help: &'static str, get: fn(&StatsSnapshot) -> u64) -> Metric {
    Metric {
        key,
        gauge: false,
        help,
        get,
    }
}

const fn g(key: &'static str, help: &'static str, get: fn(&StatsSnapshot) -> u64) -> Metric {
    Metric {
        key,
        gauge: true,
        help,
        get,
    }
}

fn err(s: &StatsSnapshot, k: ErrorKind) -> u64 {
    s.errors[k.index()]
}

const PROXY_STATE: &[Metric] = &[
    c("CLIENT_CONN_SERVED", "Client connections accepted.", |s| {
        s.conn_accepted
    }),
    g("CLIENT_CONN_ACTIVE", "Client connections open now.", |s| {
        s.conn_active
    }),
    c("CLIENT_REQ_SERVED", "Requests whose head was read.", |s| {
        s.req_total
    }),
    c(
        "HTTP_CLIENT_REQ_SERVED",
        "HTTP/1.x requests over plain TCP.",
        |s| s.req_total.saturating_sub(s.req_https + s.req_h2),
    ),
    c(
        "HTTPS_CLIENT_REQ_SERVED",
        "HTTP/1.x requests over TLS.",
        |s| s.req_https,
    ),
    c(
        "HTTP2_CLIENT_REQ_SERVED",
        "HTTP/2 requests (streams).",
        |s| s.req_h2,
    ),
    c(
        "CLIENT_REQ_WITH_RETRY",
        "Requests retried at least once.",
        |s| s.req_with_retry,
    ),
    c(
        "CLIENT_REQ_WITH_CROSS_RETRY",
        "Requests sent to another sub-cluster.",
        |s| s.req_with_cross_retry,
    ),
    g("CLIENT_REQ_ACTIVE", "Requests being processed now.", |s| {
        s.req_active
    }),
    c(
        "HTTP2_CLIENT_CONN_SERVED",
        "HTTP/2 connections whose preface arrived.",
        |s| s.h2_conns,
    ),
    c(
        "ERR_CLIENT_BAD_REQUEST",
        "Requests refused as malformed.",
        |s| err(s, ErrorKind::ClientBadRequest),
    ),
    c(
        "ERR_CLIENT_TIMEOUT",
        "Clients too slow to send a request.",
        |s| err(s, ErrorKind::ClientTimeout),
    ),
    c(
        "ERR_CLIENT_CLOSE",
        "Clients that closed before the answer.",
        |s| err(s, ErrorKind::ClientClose),
    ),
    c(
        "ERR_BK_FIND_PRODUCT",
        "Requests that matched no product.",
        |s| err(s, ErrorKind::NoProduct),
    ),
    c(
        "ERR_BK_NO_CLUSTER",
        "Requests that matched no cluster.",
        |s| err(s, ErrorKind::NoCluster),
    ),
    c(
        "ERR_BK_CONNECT_BACKEND",
        "Backend connections that failed.",
        |s| err(s, ErrorKind::BackendConnect),
    ),
    c(
        "ERR_BK_RESP_HEADER_TIMEOUT",
        "Backend response heads that timed out.",
        |s| err(s, ErrorKind::BackendTimeout),
    ),
    c(
        "ERR_BK_TRANSPORT_BROKEN",
        "Backend connections broken mid-answer.",
        |s| err(s, ErrorKind::BackendBroken),
    ),
    c(
        "PANIC_CLIENT_CONN_SERVE",
        "Client connections ended by a panic.",
        |s| err(s, ErrorKind::ConnPanic),
    ),
    c("TLS_HANDSHAKE_ALL", "TLS handshakes started.", |s| {
        s.tls_handshake_all
    }),
    c("TLS_HANDSHAKE_SUCC", "TLS handshakes completed.", |s| {
        s.tls_handshake_succ
    }),
];

const BAL_STATE: &[Metric] = &[
    c(
        "ERR_BK_NO_BACKEND",
        "Requests with no backend up to send to.",
        |s| err(s, ErrorKind::BackendUnavailable),
    ),
    c(
        "ERR_GSLB_BLACKHOLE",
        "Connections dropped by GSLB_BLACKHOLE.",
        |s| err(s, ErrorKind::GslbBlackhole),
    ),
];

const TLS_STATE: &[Metric] = &[
    c("TLS_HANDSHAKE_ALL", "TLS handshakes started.", |s| {
        s.tls_handshake_all
    }),
    c("TLS_HANDSHAKE_SUCC", "TLS handshakes completed.", |s| {
        s.tls_handshake_succ
    }),
    c(
        "TLS_HANDSHAKE_ERR",
        "TLS handshakes failed or timed out.",
        |s| err(s, ErrorKind::ClientTlsHandshake),
    ),
];

const HTTP_STATE: &[Metric] = &[
    c("HTTP_BACKEND_CONN_ALL", "Backend connections tried.", |s| {
        s.upstream_connect + s.upstream_connect_fail
    }),
    c(
        "HTTP_BACKEND_CONN_SUCC",
        "Backend connections opened.",
        |s| s.upstream_connect,
    ),
    c(
        "HTTP_BACKEND_CONN_REUSE",
        "Requests sent on a pooled backend connection.",
        |s| s.upstream_reuse,
    ),
];

const HTTP2_STATE: &[Metric] = &[
    c(
        "H2_CONN_SERVED",
        "HTTP/2 connections whose preface arrived.",
        |s| s.h2_conns,
    ),
    c(
        "H2_ERR_MALFORMED_STREAM",
        "HTTP/2 streams reset as malformed.",
        |s| s.h2_malformed,
    ),
    c(
        "H2_ERR_CONN",
        "HTTP/2 connections ended by a protocol error.",
        |s| s.h2_conn_errors,
    ),
    c(
        "H2_ERR_REFUSED_STREAM",
        "HTTP/2 streams refused: the connection had twice its stream limit running.",
        |s| s.h2_refused_streams,
    ),
];

const PROXY_PROTOCOL_STATE: &[Metric] = &[
    c(
        "PROXY_ERR_READ_HEADER",
        "PROXY headers that could not be read.",
        |s| s.proxy_err_read_header,
    ),
    c(
        "PROXY_ERR_NO_PROXY_PROTOCOL",
        "Connections without a PROXY header.",
        |s| s.proxy_err_no_proxy_protocol,
    ),
    c(
        "PROXY_MATCHED_V1_SIGNATURE",
        "PROXY v1 signatures seen.",
        |s| s.proxy_matched_v1_signature,
    ),
    c(
        "PROXY_MATCHED_V2_SIGNATURE",
        "PROXY v2 signatures seen.",
        |s| s.proxy_matched_v2_signature,
    ),
    c(
        "PROXY_ERR_INVALID_HEADER",
        "Malformed PROXY headers.",
        |s| s.proxy_err_invalid_header,
    ),
    c("PROXY_NORMAL_V1_HEADER", "PROXY v1 headers read.", |s| {
        s.proxy_normal_v1_header
    }),
    c("PROXY_NORMAL_V2_HEADER", "PROXY v2 headers read.", |s| {
        s.proxy_normal_v2_header
    }),
];

const WEBSOCKET_STATE: &[Metric] = &[
    c(
        "WEB_SOCKET_ERR_BACKEND_REJECT",
        "Handshakes the backend refused.",
        |s| s.web_socket_err_backend_reject,
    ),
    c(
        "WEB_SOCKET_ERR_TRANSFER",
        "Tunnels ended by an I/O error.",
        |s| s.web_socket_err_transfer,
    ),
    c("WEB_SOCKET_BYTES_RECV", "Tunnel bytes from clients.", |s| {
        s.web_socket_bytes_recv
    }),
    c("WEB_SOCKET_BYTES_SENT", "Tunnel bytes to clients.", |s| {
        s.web_socket_bytes_sent
    }),
    c("WEB_SOCKET_UPGRADE", "Tunnels opened.", |s| {
        s.web_socket_upgrade
    }),
    g("WEB_SOCKET_ACTIVE", "Tunnels open now.", |s| {
        s.web_socket_active
    }),
    c(
        "WEB_SOCKET_ERR_IDLE",
        "Tunnels closed for inactivity.",
        |s| s.web_socket_err_idle,
    ),
];

/// BFE's page names, in BFE's registration order.
const PAGES: [(&str, &[Metric]); 7] = [
    ("proxy_state", PROXY_STATE),
    ("bal_state", BAL_STATE),
    ("tls_state", TLS_STATE),
    ("http_state", HTTP_STATE),
    ("http2_state", HTTP2_STATE),
    ("proxy_protocol_state", PROXY_PROTOCOL_STATE),
    ("websocket_state", WEBSOCKET_STATE),
];

/// The page names (each also served as `<name>_diff`).
pub(super) fn names() -> impl Iterator<Item = &'static str> {
    PAGES.iter().map(|(n, _)| *n)
}

/// Render page `name` of `s`; `delta` when `s` holds the last interval's
/// deltas (`<name>_diff`: counters only, prefix `proxy_state_diff`).
pub(super) fn render(name: &str, s: &StatsSnapshot, format: Format, delta: bool) -> Option<String> {
    let (_, metrics) = PAGES.iter().find(|(n, _)| *n == name)?;
    let prefix = if delta {
        format!("{PREFIX}_diff")
    } else {
        PREFIX.to_string()
    };
    let shown: Vec<&Metric> = metrics.iter().filter(|m| !(delta && m.gauge)).collect();
    Some(match format {
        Format::Json => json(&prefix, s, &shown, delta),
        Format::Kv => {
            let mut o = String::new();
            for m in &shown {
                let _ = writeln!(o, "{prefix}_{}: {}", m.key, (m.get)(s));
            }
            o
        }
        Format::Prometheus => {
            let mut o = String::new();
            for m in &shown {
                let kind = if m.gauge { "gauge" } else { "counter" };
                let when = if delta { " (last interval)" } else { "" };
                let _ = writeln!(
                    o,
                    "# HELP {prefix}_{k} {h}{when}\n# TYPE {prefix}_{k} {kind}\n{prefix}_{k} {v}",
                    k = m.key,
                    h = m.help,
                    v = (m.get)(s)
                );
            }
            o
        }
    })
}

/// go-lib's JSON: gauges and counters in maps with sorted keys.
fn json(prefix: &str, s: &StatsSnapshot, shown: &[&Metric], delta: bool) -> String {
    let map = |gauge: bool| {
        let mut kv: Vec<(&str, u64)> = shown
            .iter()
            .filter(|m| m.gauge == gauge)
            .map(|m| (m.key, (m.get)(s)))
            .collect();
        kv.sort_unstable();
        let body: Vec<String> = kv.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
        format!("{{{}}}", body.join(","))
    };
    format!(
        "{{\"Prefix\":{},\"Kind\":\"{}\",\"GaugeData\":{},\"CounterData\":{},\"StateData\":{{}}}}\n",
        json_str(prefix),
        if delta { "delta" } else { "total" },
        map(true),
        map(false)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_lib_shapes() {
        let s = StatsSnapshot {
            req_total: 3,
            req_active: 1,
            ..Default::default()
        };
        let j = render("proxy_state", &s, Format::Json, false).unwrap();
        let v: serde_json::Value = serde_json::from_str(&j).unwrap();
        assert_eq!(v["Prefix"], "proxy_state");
        assert_eq!(v["Kind"], "total");
        assert_eq!(v["CounterData"]["CLIENT_REQ_SERVED"], 3);
        assert_eq!(v["GaugeData"]["CLIENT_REQ_ACTIVE"], 1);
        let d = render("proxy_state", &s, Format::Json, true).unwrap();
        let v: serde_json::Value = serde_json::from_str(&d).unwrap();
        assert_eq!(v["Prefix"], "proxy_state_diff");
        assert_eq!(v["Kind"], "delta");
        assert!(v["GaugeData"].as_object().unwrap().is_empty());
        let kv = render("proxy_state", &s, Format::Kv, false).unwrap();
        assert!(kv.contains("proxy_state_CLIENT_REQ_SERVED: 3\n"), "{kv}");
        let p = render("bal_state", &s, Format::Prometheus, false).unwrap();
        assert!(
            p.starts_with("# HELP proxy_state_ERR_BK_NO_BACKEND "),
            "{p}"
        );
        assert!(p.contains("# TYPE proxy_state_ERR_BK_NO_BACKEND counter\n"));
        assert!(render("nothing", &s, Format::Json, false).is_none());
    }
}
