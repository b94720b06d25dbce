//! Module counters, as go-lib's `metrics` package shows them on the
//! monitor port: per-worker `Cell`s on the request path, copied to the
//! control thread on demand, summed over workers and rendered in BFE's
//! JSON, `key: value` and Prometheus shapes.

use std::cell::Cell;
use std::fmt::Write;

/// One worker's counters for one monitor page. Counting is a plain
/// `Cell` update: no atomic, no lock.
#[derive(Debug)]
pub struct Counters {
    keys: Vec<String>,
    cells: Vec<Cell<u64>>,
}

impl Counters {
    pub(crate) fn new(keys: &[&str]) -> Self {
        Counters {
            keys: keys.iter().map(|k| k.to_string()).collect(),
            cells: keys.iter().map(|_| Cell::new(0)).collect(),
        }
    }

    /// Add one to counter `i` (its index in the declared keys).
    #[inline]
    pub fn inc(&self, i: usize) {
        self.add(i, 1);
    }

    /// Add `n` to counter `i`; an index out of range is ignored, so a
    /// miscounted handler cannot take the worker down.
    #[inline]
    pub fn add(&self, i: usize, n: u64) {
        if let Some(c) = self.cells.get(i) {
            c.set(c.get().wrapping_add(n));
        }
    }

    pub fn get(&self, i: usize) -> u64 {
        self.cells.get(i).map_or(0, Cell::get)
    }

    /// A copy to send to the control thread.
    pub fn snapshot(&self) -> CounterValues {
        self.keys
            .iter()
            .cloned()
            .zip(self.cells.iter().map(Cell::get))
            .collect()
    }
}

/// Counter keys and values, in declaration order.
pub type CounterValues = Vec<(String, u64)>;

/// go-lib's counter naming: `_` before every upper-case letter but the
/// first, then all upper case (`ConnTotal` -> `CONN_TOTAL`).
pub fn counter_key(field: &str) -> String {
    let mut out = String::with_capacity(field.len() + 4);
    for (i, c) in field.chars().enumerate() {
        if i > 0 && c.is_ascii_uppercase() {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// Add `from` into `into` key by key (workers declare the same keys in the
/// same order, but a key missing on one side is still kept).
pub fn merge(into: &mut CounterValues, from: &[(String, u64)]) {
    for (k, v) in from {
        match into.iter_mut().find(|(ik, _)| ik == k) {
            Some((_, iv)) => *iv = iv.wrapping_add(*v),
            None => into.push((k.clone(), *v)),
        }
    }
}

/// `now - before`, per key (a key new since `before` counts from zero).
pub fn delta(now: &[(String, u64)], before: &[(String, u64)]) -> CounterValues {
    now.iter()
        .map(|(k, v)| {
            let b = before.iter().find(|(bk, _)| bk == k).map_or(0, |(_, b)| *b);
            (k.clone(), v.saturating_sub(b))
        })
        .collect()
}

/// How a monitor page is rendered (`?format=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Kv,
    Prometheus,
}

impl Format {
    /// `json` (default), `kv` (alias `noah`) or `prometheus`; anything else
    /// is an error, as in go-lib.
    pub fn parse(v: Option<&str>) -> Result<Format, String> {
        match v {
            None | Some("" | "json") => Ok(Format::Json),
            Some("kv" | "noah") => Ok(Format::Kv),
            Some("prometheus") => Ok(Format::Prometheus),
            Some(other) => Err(format!("format not support: {other}")),
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Kv => "text/plain",
            Format::Prometheus => "text/plain; version=0.0.4",
        }
    }
}

/// Render counters under `prefix`; `delta` selects the `.diff` shape.
pub fn render(prefix: &str, counters: &[(String, u64)], format: Format, delta: bool) -> String {
    let mut o = String::new();
    match format {
        Format::Json => {
            let kind = if delta { "delta" } else { "total" };
            let _ = write!(
                o,
                "{{\"Prefix\":{},\"Kind\":\"{kind}\",\"GaugeData\":{{}},\"CounterData\":{{",
                json_str(prefix)
            );
            for (i, (k, v)) in counters.iter().enumerate() {
                let sep = if i > 0 { "," } else { "" };
                let _ = write!(o, "{sep}{}:{v}", json_str(k));
            }
            o.push_str("},\"StateData\":{}}\n");
        }
        Format::Kv => {
            for (k, v) in counters {
                let _ = writeln!(o, "{prefix}_{k}: {v}");
            }
        }
        Format::Prometheus => {
            for (k, v) in counters {
                let _ = writeln!(o, "# TYPE {prefix}_{k} counter\n{prefix}_{k} {v}");
            }
        }
    }
    o
}

/// A JSON array of strings.
pub fn json_str_list<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let items: Vec<String> = items.map(json_str).collect();
    format!("[{}]", items.join(","))
}

/// A JSON string literal.
pub fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals(v: &[(&str, u64)]) -> CounterValues {
        v.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn go_lib_naming() {
        assert_eq!(counter_key("ConnTotal"), "CONN_TOTAL");
        assert_eq!(counter_key("All2XX"), "ALL2_X_X");
        assert_eq!(
            counter_key("NoLogidFromUpperBfe"),
            "NO_LOGID_FROM_UPPER_BFE"
        );
    }

    #[test]
    fn counting_and_merging() {
        let a = Counters::new(&["A", "B"]);
        a.inc(0);
        a.add(1, 5);
        a.add(7, 1);
        let mut total = a.snapshot();
        merge(&mut total, &vals(&[("A", 2), ("C", 1)]));
        assert_eq!(total, vals(&[("A", 3), ("B", 5), ("C", 1)]));
        let d = delta(&total, &vals(&[("A", 1), ("B", 5)]));
        assert_eq!(d, vals(&[("A", 2), ("B", 0), ("C", 1)]));
    }

    #[test]
    fn formats() {
        let c = vals(&[("CONN_TOTAL", 12)]);
        assert_eq!(
            render("mod_x", &c, Format::Json, false),
            "{\"Prefix\":\"mod_x\",\"Kind\":\"total\",\"GaugeData\":{},\"CounterData\":{\"CONN_TOTAL\":12},\"StateData\":{}}\n"
        );
        assert!(render("mod_x_diff", &c, Format::Json, true).contains("\"Kind\":\"delta\""));
        assert_eq!(
            render("mod_x", &c, Format::Kv, false),
            "mod_x_CONN_TOTAL: 12\n"
        );
        assert_eq!(
            render("mod_x", &c, Format::Prometheus, false),
            "# TYPE mod_x_CONN_TOTAL counter\nmod_x_CONN_TOTAL 12\n"
        );
        assert_eq!(Format::parse(Some("noah")), Ok(Format::Kv));
        assert_eq!(Format::parse(None), Ok(Format::Json));
        assert!(Format::parse(Some("xml")).is_err());
    }
}
