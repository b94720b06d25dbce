//! The monitor port's formats: JSON, `key:value` lines, and Prometheus text.

use crate::worker::StatsSnapshot;
use std::fmt::Write;

/// Counters that are levels rather than running totals.
const GAUGES: [&str; 4] = [
    "conn_active",
    "req_active",
    "upstream_idle",
    "probes_active",
];

pub(super) use crate::module::Format;

/// A monitor request line, split into path and query parameters.
pub(super) struct MonitorRequest {
    pub method: String,
    pub path: String,
    query: Vec<(String, String)>,
}

impl MonitorRequest {
    pub(super) fn parse(raw: &[u8]) -> Option<MonitorRequest> {
        let line = raw.split(|&b| b == b'\n').next()?;
        let line = std::str::from_utf8(line).ok()?.trim_end_matches('\r');
        let mut it = line.split(' ');
        let method = it.next()?.to_string();
        let target = it.next()?;
        let (path, q) = target.split_once('?').unwrap_or((target, ""));
        let query = q
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_string(), v.to_string())
            })
            .collect();
        Some(MonitorRequest {
            method,
            path: path.to_string(),
            query,
        })
    }

    pub(super) fn param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

pub(super) use crate::module::monitor::json_str;

/// `ringfront_state`: ringfront's counters by their own names, summed over
/// workers, optionally per worker (BFE's `proxy_state` is in `bfe_state`).
pub(super) fn ringfront_state(
    workers: &[StatsSnapshot],
    format: Format,
    per_worker: bool,
) -> String {
    let mut total = StatsSnapshot::default();
    for w in workers {
        total.add(w);
    }
    let mut o = String::new();
    match format {
        Format::Json => {
            o.push('{');
            let _ = write!(o, "\"workers\":{}", workers.len());
            for (k, v) in total.fields() {
                let _ = write!(o, ",\"{k}\":{v}");
            }
            if per_worker {
                o.push_str(",\"per_worker\":[");
                for (i, w) in workers.iter().enumerate() {
                    if i > 0 {
                        o.push(',');
                    }
                    o.push('{');
                    for (j, (k, v)) in w.fields().into_iter().enumerate() {
                        if j > 0 {
                            o.push(',');
                        }
                        let _ = write!(o, "\"{k}\":{v}");
                    }
                    o.push('}');
                }
                o.push(']');
            }
            o.push_str("}\n");
        }
        Format::Kv => {
            let _ = writeln!(o, "workers:{}", workers.len());
            for (k, v) in total.fields() {
                let _ = writeln!(o, "{k}:{v}");
            }
            if per_worker {
                for (i, w) in workers.iter().enumerate() {
                    for (k, v) in w.fields() {
                        let _ = writeln!(o, "worker{i}.{k}:{v}");
                    }
                }
            }
        }
        Format::Prometheus => {
            for (idx, (k, v)) in total.fields().into_iter().enumerate() {
                let kind = if GAUGES.contains(&k) {
                    "gauge"
                } else {
                    "counter"
                };
                let name = if kind == "counter" && !k.ends_with("_total") {
                    format!("ringfront_proxy_{k}_total")
                } else {
                    format!("ringfront_proxy_{k}")
                };
                let _ = writeln!(o, "# TYPE {name} {kind}");
                if per_worker {
                    for (i, w) in workers.iter().enumerate() {
                        let _ = writeln!(o, "{name}{{worker=\"{i}\"}} {}", w.fields()[idx].1);
                    }
                } else {
                    let _ = writeln!(o, "{name} {v}");
                }
            }
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_sum_workers() {
        let a = StatsSnapshot {
            req_total: 2,
            ..Default::default()
        };
        let b = StatsSnapshot {
            req_total: 3,
            conn_active: 1,
            ..Default::default()
        };
        let j = ringfront_state(&[a, b], Format::Json, false);
        assert!(j.contains("\"req_total\":5"));
        assert!(j.contains("\"workers\":2"));
        let kv = ringfront_state(&[a, b], Format::Kv, false);
        assert!(kv.contains("req_total:5\n"));
        let p = ringfront_state(&[a, b], Format::Prometheus, true);
        assert!(p.contains("# TYPE ringfront_proxy_req_total counter"));
        assert!(p.contains("ringfront_proxy_conn_active{worker=\"1\"} 1"));
    }

    #[test]
    fn request_line() {
        let r = MonitorRequest::parse(b"GET /monitor/proxy_state?format=kv&x HTTP/1.1\r\n\r\n")
            .unwrap();
        assert_eq!(r.path, "/monitor/proxy_state");
        assert_eq!(r.param("format"), Some("kv"));
        assert_eq!(r.param("x"), Some(""));
    }
}
