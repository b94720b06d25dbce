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

/// One edit; its name and value are ranges of [`HeaderEdits::text`].
#[derive(Debug, Clone, Copy)]
struct Edit {
    op: Op,
    name: (u32, u32),
    value: (u32, u32),
}

/// Pending edits to one head, applied when the head is written out.
///
/// Names and values live in one text buffer: a request that gets several
/// headers from modules (mod_header's defaults, mod_logid's id, …) costs
/// two allocations, not two per header.
#[derive(Debug, Clone, Default)]
pub struct HeaderEdits {
    edits: Vec<Edit>,
    text: String,
}

/// Room reserved on the first edit: a handful of typical headers.
const FIRST_TEXT: usize = 256;
const FIRST_EDITS: usize = 8;

impl HeaderEdits {
    pub fn is_empty(&self) -> bool {
        self.edits.is_empty()
    }

    pub fn clear(&mut self) {
        self.edits.clear();
        self.text.clear();
    }

    pub fn set(&mut self, name: &str, value: &str) {
        self.forget(name);
        self.push(Op::Set, name, value);
    }

    pub fn add(&mut self, name: &str, value: &str) {
        self.push(Op::Add, name, value);
    }

    pub fn del(&mut self, name: &str) {
        self.forget(name);
        self.push(Op::Del, name, "");
    }

    /// Drop earlier edits of `name` (their text stays until `clear`).
    fn forget(&mut self, name: &str) {
        let text = &self.text;
        self.edits
            .retain(|e| !span(text, e.name).eq_ignore_ascii_case(name.as_bytes()));
    }

    fn push(&mut self, op: Op, name: &str, value: &str) {
        if self.edits.capacity() == 0 {
            self.edits.reserve(FIRST_EDITS);
            self.text.reserve(FIRST_TEXT.max(name.len() + value.len()));
        }
        let name = self.append(name);
        let value = self.append(value);
        self.edits.push(Edit { op, name, value });
    }

    fn append(&mut self, s: &str) -> (u32, u32) {
        let start = self.text.len();
        self.text.push_str(s);
        (start as u32, self.text.len() as u32)
    }

    fn name(&self, e: &Edit) -> &[u8] {
        span(&self.text, e.name)
    }

    fn value(&self, e: &Edit) -> &[u8] {
        span(&self.text, e.value)
    }

    /// Whether original headers of this name are hidden by a Set or Del.
    pub fn hides(&self, name: &[u8]) -> bool {
        self.edits
            .iter()
            .any(|e| e.op != Op::Add && self.name(e).eq_ignore_ascii_case(name))
    }

    /// The edited value of a header, if an edit decides it: `Some(None)` when
    /// deleted, `Some(Some(v))` when set or added, `None` when untouched.
    pub fn lookup(&self, name: &[u8]) -> Option<Option<&[u8]>> {
        self.edits
            .iter()
            .rev()
            .find(|e| self.name(e).eq_ignore_ascii_case(name))
            .map(|e| match e.op {
                Op::Del => None,
                Op::Set | Op::Add => Some(self.value(e)),
            })
    }

    /// Headers the edits add, in order.
    pub fn added(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.edits
            .iter()
            .filter(|e| e.op != Op::Del)
            .map(|e| (self.name(e), self.value(e)))
    }
}

fn span(text: &str, (a, b): (u32, u32)) -> &[u8] {
    text.as_bytes().get(a as usize..b as usize).unwrap_or(b"")
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
        e.set("X-B", "3");
        e.add("x-b", "4");
        assert_eq!(e.lookup(b"x-b"), Some(Some(&b"4"[..])));
        let added: Vec<_> = e.added().collect();
        assert_eq!(
            added,
            vec![(&b"X-B"[..], &b"3"[..]), (&b"x-b"[..], &b"4"[..])]
        );
        e.clear();
        assert!(e.is_empty() && e.lookup(b"x-b").is_none());
    }
}
