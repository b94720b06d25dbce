//! Header changes made by handlers, kept beside the parsed head instead of
//! rewriting it: the common request with no edits costs nothing, and the
//! head's spans stay valid.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// Replace every header of this name by one with this value.
    Set,
    /// Add a header, keeping existing ones.
    Add,
    /// Remove every header of this name.
    Del,
}

#[derive(Debug, Clone)]
struct Edit {
    op: Op,
    name: String,
    value: String,
}

/// Pending edits to one head, applied when the head is written out.
#[derive(Debug, Clone, Default)]
pub struct HeaderEdits {
    edits: Vec<Edit>,
}

impl HeaderEdits {
    pub fn is_empty(&self) -> bool {
        self.edits.is_empty()
    }

    pub fn clear(&mut self) {
        self.edits.clear();
    }

    pub fn set(&mut self, name: &str, value: &str) {
        self.edits.retain(|e| !e.name.eq_ignore_ascii_case(name));
        self.edits.push(Edit {
            op: Op::Set,
            name: name.to_string(),
            value: value.to_string(),
        });
    }

    pub fn add(&mut self, name: &str, value: &str) {
        self.edits.push(Edit {
            op: Op::Add,
            name: name.to_string(),
            value: value.to_string(),
        });
    }

    pub fn del(&mut self, name: &str) {
        self.edits.retain(|e| !e.name.eq_ignore_ascii_case(name));
        self.edits.push(Edit {
            op: Op::Del,
            name: name.to_string(),
            value: String::new(),
        });
    }

    /// Whether original headers of this name are hidden by a Set or Del.
    pub fn hides(&self, name: &[u8]) -> bool {
        self.edits
            .iter()
            .any(|e| e.op != Op::Add && e.name.as_bytes().eq_ignore_ascii_case(name))
    }

    /// The edited value of a header, if an edit decides it: `Some(None)` when
    /// deleted, `Some(Some(v))` when set or added, `None` when untouched.
    pub fn lookup(&self, name: &[u8]) -> Option<Option<&[u8]>> {
        self.edits
            .iter()
            .rev()
            .find(|e| e.name.as_bytes().eq_ignore_ascii_case(name))
            .map(|e| match e.op {
                Op::Del => None,
                Op::Set | Op::Add => Some(e.value.as_bytes()),
            })
    }

    /// Headers the edits add, in order.
    pub fn added(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.edits
            .iter()
            .filter(|e| e.op != Op::Del)
            .map(|e| (e.name.as_bytes(), e.value.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_add_del() {
        let mut e = HeaderEdits::default();
        e.add("X-A", "1");
        e.set("x-b", "2");
        assert!(e.hides(b"X-B"));
        assert!(!e.hides(b"x-a"));
        assert_eq!(e.lookup(b"x-a"), Some(Some(&b"1"[..])));
        e.del("x-a");
        assert_eq!(e.lookup(b"X-A"), Some(None));
        assert_eq!(e.added().count(), 1);
    }
}
