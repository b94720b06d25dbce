//! Walking BFE's JSON data files by hand rather than through serde derive:
//! every problem is reported with its JSON path and loading carries on, so
//! one run lists everything wrong with a configuration.
//!
//! Field names match as Go's `encoding/json` (and BFE's jsoniter) match
//! them: an exact match first, else a case-insensitive one. Unknown fields
//! are ignored, as in BFE. A `null` reads as absent.

use crate::config::ConfError;
use serde_json::{Map, Value};
use std::path::Path;

pub type Obj = Map<String, Value>;

/// Error sink for one file.
pub struct J<'e> {
    pub file: String,
    pub errs: &'e mut Vec<ConfError>,
}

/// How a file is named in errors: relative to the conf dir when inside it.
pub fn label(conf_dir: &Path, path: &Path) -> String {
    path.strip_prefix(conf_dir)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// `a` + `.b`, or `b` at the root.
pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

pub fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

impl J<'_> {
    pub fn err(&mut self, path: &str, reason: impl Into<String>) {
        self.errs
            .push(ConfError::new(self.file.clone(), path, reason));
    }

    /// Reads and parses the file; syntax errors carry line and column.
    pub fn read(&mut self, path: &Path) -> Option<Value> {
        let text = match std::fs::read(path) {
            Ok(t) => t,
            Err(e) => {
                self.err("", format!("cannot read {}: {e}", path.display()));
                return None;
            }
        };
        self.parse(&text)
    }

    pub fn parse(&mut self, text: &[u8]) -> Option<Value> {
        match serde_json::from_slice::<Value>(text) {
            Ok(v) => Some(v),
            Err(e) => {
                let reason = format!(
                    "invalid JSON at line {} column {}: {e}",
                    e.line(),
                    e.column()
                );
                self.err("", reason);
                None
            }
        }
    }

    pub fn obj<'v>(&mut self, v: &'v Value, path: &str) -> Option<&'v Obj> {
        match v {
            Value::Object(m) => Some(m),
            other => {
                self.err(path, format!("must be an object, got {}", kind(other)));
                None
            }
        }
    }

    pub fn arr<'v>(&mut self, v: &'v Value, path: &str) -> Option<&'v Vec<Value>> {
        match v {
            Value::Array(a) => Some(a),
            other => {
                self.err(path, format!("must be an array, got {}", kind(other)));
                None
            }
        }
    }

    pub fn str<'v>(&mut self, v: &'v Value, path: &str) -> Option<&'v str> {
        match v {
            Value::String(s) => Some(s),
            other => {
                self.err(path, format!("must be a string, got {}", kind(other)));
                None
            }
        }
    }

    pub fn bool(&mut self, v: &Value, path: &str) -> Option<bool> {
        match v {
            Value::Bool(b) => Some(*b),
            other => {
                self.err(path, format!("must be a boolean, got {}", kind(other)));
                None
            }
        }
    }

    /// An integer within `[min, max]` (Go's `int` rejects fractions).
    pub fn int(&mut self, v: &Value, path: &str, min: i64, max: i64) -> Option<i64> {
        let Some(n) = v.as_i64() else {
            self.err(path, format!("must be an integer, got {}", kind(v)));
            return None;
        };
        if n < min || n > max {
            let reason = if max == i64::MAX {
                format!("{n} must be >= {min}")
            } else {
                format!("{n} must be in [{min}, {max}]")
            };
            self.err(path, reason);
            return None;
        }
        Some(n)
    }

    /// A field that must be present (and not null).
    pub fn need<'v>(&mut self, m: &'v Obj, key: &str, path: &str) -> Option<&'v Value> {
        let v = field(m, key);
        if v.is_none() {
            self.err(&join(path, key), "missing");
        }
        v
    }

    /// A field that must be present and a string, checked at `path.key`.
    pub fn need_str<'v>(&mut self, m: &'v Obj, key: &str, path: &str) -> Option<&'v str> {
        let v = self.need(m, key, path)?;
        self.str(v, &join(path, key))
    }

    /// A field that must be present and an object, checked at `path.key`.
    pub fn need_obj<'v>(&mut self, m: &'v Obj, key: &str, path: &str) -> Option<&'v Obj> {
        let v = self.need(m, key, path)?;
        self.obj(v, &join(path, key))
    }

    /// A field that must be present and an integer in `min..=max`.
    pub fn need_int(&mut self, m: &Obj, key: &str, path: &str, min: i64, max: i64) -> Option<i64> {
        let v = self.need(m, key, path)?;
        self.int(v, &join(path, key), min, max)
    }

    /// The file's `Version` string (an error when missing; empty then).
    pub fn version(&mut self, root: &Obj) -> String {
        self.need_str(root, "Version", "")
            .unwrap_or_default()
            .to_string()
    }

    /// The entries of `m` whose values are arrays, in name order, each with
    /// its JSON path; entries of another type are reported and skipped.
    pub fn keyed_arrays<'v>(
        &mut self,
        m: &'v Obj,
        base: &str,
    ) -> Vec<(&'v String, String, &'v Vec<Value>)> {
        let mut out = Vec::with_capacity(m.len());
        for (k, v) in sorted(m) {
            let path = join(base, k);
            if let Some(a) = self.arr(v, &path) {
                out.push((k, path, a));
            }
        }
        out
    }

    /// An optional list of strings.
    pub fn strings(&mut self, v: &Value, path: &str) -> Option<Vec<String>> {
        let a = self.arr(v, path)?;
        let mut out = Vec::with_capacity(a.len());
        for (i, item) in a.iter().enumerate() {
            out.push(self.str(item, &index(path, i))?.to_string());
        }
        Some(out)
    }
}

/// Field lookup as Go does it; `null` counts as absent.
pub fn field<'v>(m: &'v Obj, key: &str) -> Option<&'v Value> {
    let v = m.get(key).or_else(|| {
        m.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })?;
    (!v.is_null()).then_some(v)
}

/// Object entries in name order, so loads and errors are deterministic.
pub fn sorted(m: &Obj) -> Vec<(&String, &Value)> {
    let mut v: Vec<_> = m.iter().collect();
    v.sort_by(|a, b| a.0.cmp(b.0));
    v
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_have_line_and_column() {
        let mut errs = Vec::new();
        let mut j = J {
            file: "f.data".into(),
            errs: &mut errs,
        };
        assert!(j.parse(b"{\n  \"a\": 1,\n  oops\n}").is_none());
        assert!(
            errs[0].reason.contains("line 3 column 3"),
            "{}",
            errs[0].reason
        );
    }

    #[test]
    fn field_lookup_like_go() {
        let v: Value = serde_json::from_str(r#"{"version":"a","X":null}"#).unwrap();
        let m = v.as_object().unwrap();
        assert_eq!(field(m, "Version").and_then(Value::as_str), Some("a"));
        assert!(field(m, "X").is_none());
    }

    #[test]
    fn typed_reads_report_paths() {
        let mut errs = Vec::new();
        let mut j = J {
            file: "f".into(),
            errs: &mut errs,
        };
        let v: Value = serde_json::from_str(r#"{"n": 1.5, "m": 7, "s": 3}"#).unwrap();
        let m = v.as_object().unwrap();
        assert!(j.int(&m["n"], "a.n", 0, 10).is_none());
        assert!(j.int(&m["m"], "a.m", 0, 5).is_none());
        assert!(j.str(&m["s"], "a.s").is_none());
        assert!(j.need(m, "Gone", "a").is_none());
        let keys: Vec<_> = errs.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["a.n", "a.m", "a.s", "a.Gone"]);
    }
}
