//! `/monitor/backend_latency`: backend response-time histograms per
//! product and per cluster, merged over workers. Prometheus output is a
//! pair of histogram families with `# HELP`, `# TYPE`, cumulative
//! `_bucket{le=…}`, `_sum` (seconds) and `_count`; JSON and `kv` carry
//! the same numbers with per-bucket (not cumulative) counts.

use super::monitor::json_str;
use crate::module::Format;
use crate::worker::{Hist, LatencyByName, BOUNDS_US};
use std::fmt::Write;

pub(super) const NAME: &str = "backend_latency";

/// The two label kinds: (JSON key, Prometheus family, label, help).
const FAMILIES: [(&str, &str, &str, &str); 2] = [
    (
        "Products",
        "ringfront_product_backend_response_seconds",
        "product",
        "Time from a request sent to a backend to its response head, per product.",
    ),
    (
        "Clusters",
        "ringfront_cluster_backend_response_seconds",
        "cluster",
        "Time from a request sent to a backend to its response head, per cluster.",
    ),
];

pub(super) fn render(l: &LatencyByName, format: Format) -> String {
    let lists = [&l.products, &l.clusters];
    let mut o = String::new();
    match format {
        Format::Json => {
            let bounds: Vec<String> = BOUNDS_US.iter().map(|b| (b / 1000).to_string()).collect();
            let _ = write!(o, "{{\"BoundsMs\":[{}]", bounds.join(","));
            for ((key, ..), list) in FAMILIES.iter().zip(lists) {
                let _ = write!(o, ",\"{key}\":{{");
                for (i, (name, h)) in list.iter().enumerate() {
                    let sep = if i > 0 { "," } else { "" };
                    let counts: Vec<String> = h.counts.iter().map(u64::to_string).collect();
                    let _ = write!(
                        o,
                        "{sep}{}:{{\"Count\":{},\"SumUs\":{},\"Counters\":[{}]}}",
                        json_str(name),
                        h.count(),
                        h.sum_us,
                        counts.join(",")
                    );
                }
                o.push('}');
            }
            o.push_str("}\n");
        }
        Format::Kv => {
            for ((_, _, label, _), list) in FAMILIES.iter().zip(lists) {
                for (name, h) in list.iter() {
                    let _ = writeln!(o, "{NAME}_{label}_{name}_Count: {}", h.count());
                    let _ = writeln!(o, "{NAME}_{label}_{name}_SumUs: {}", h.sum_us);
                    for (i, n) in h.counts.iter().enumerate() {
                        let _ = writeln!(o, "{NAME}_{label}_{name}_Counters_{i}: {n}");
                    }
                }
            }
        }
        Format::Prometheus => {
            for ((_, family, label, help), list) in FAMILIES.iter().zip(lists) {
                let _ = writeln!(o, "# HELP {family} {help}\n# TYPE {family} histogram");
                for (name, h) in list.iter() {
                    prometheus_one(&mut o, family, label, name, h);
                }
            }
        }
    }
    o
}

fn prometheus_one(o: &mut String, family: &str, label: &str, name: &str, h: &Hist) {
    let name = prom_label(name);
    let mut cum = 0;
    for (i, b) in BOUNDS_US.iter().enumerate() {
        cum += h.counts[i];
        let le = *b as f64 / 1e6;
        let _ = writeln!(o, "{family}_bucket{{{label}=\"{name}\",le=\"{le}\"}} {cum}");
    }
    let _ = writeln!(
        o,
        "{family}_bucket{{{label}=\"{name}\",le=\"+Inf\"}} {}",
        h.count()
    );
    let _ = writeln!(
        o,
        "{family}_sum{{{label}=\"{name}\"}} {}",
        h.sum_us as f64 / 1e6
    );
    let _ = writeln!(o, "{family}_count{{{label}=\"{name}\"}} {}", h.count());
}

/// A label value as Prometheus' text format wants it escaped.
fn prom_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
