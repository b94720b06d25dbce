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
/// a few allocations, not two per header. Boxed, so that the many heads
/// nobody edits carry one pointer: requests and responses are moved
/// whole through futures and handler returns.
#[derive(Debug, Clone, Default)]
pub struct HeaderEdits {
    inner: Option<Box<Inner>>,
}

#[derive(Debug, Clone, Default)]
struct Inner {
    edits: Vec<Edit>,
    text: String,
}

/// Room reserved on the first edit: a handful of typical headers.
const FIRST_TEXT: usize = 256;
const FIRST_EDITS: usize = 8;

impl HeaderEdits {
    pub fn is_empty(&self) -> bool {
        self.inner.as_ref().is_none_or(|i| i.edits.is_empty())
    }

    pub fn clear(&mut self) {
        if let Some(i) = self.inner.as_mut() {
            i.edits.clear();
            i.text.clear();
        }
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
        let Some(i) = self.inner.as_mut() else {
            return;
        };
        let text = &i.text;
        let same = |e: &Edit| span(text, e.name).eq_ignore_ascii_case(name.as_bytes());
        // Most sets name a header not edited before: look before rewriting.
        if i.edits.iter().any(same) {
            i.edits.retain(|e| !same(e));
        }
    }

    fn push(&mut self, op: Op, name: &str, value: &str) {
        let i = self.inner.get_or_insert_with(|| {
            Box::new(Inner {
                edits: Vec::with_capacity(FIRST_EDITS),
                text: String::with_capacity(FIRST_TEXT),
            })
        });
        let name = i.append(name);
        let value = i.append(value);
        i.edits.push(Edit { op, name, value });
    }

    /// Every edit with its name and value. Over a slice (empty when
    /// nothing was edited), not a flattened `Option`: it runs for every
    /// header a head is written with.
    fn edits(&self) -> impl DoubleEndedIterator<Item = (Op, &[u8], &[u8])> {
        let (edits, text) = match self.inner.as_deref() {
            Some(i) => (i.edits.as_slice(), i.text.as_str()),
            None => (&[][..], ""),
        };
        edits
            .iter()
            .map(move |e| (e.op, span(text, e.name), span(text, e.value)))
    }

    /// Whether original headers of this name are hidden by a Set or Del.
    /// Asked for every header a head is written with: a plain loop.
    pub fn hides(&self, name: &[u8]) -> bool {
        let Some(i) = &self.inner else {
            return false;
        };
        i.edits
            .iter()
            .any(|e| e.op != Op::Add && span(&i.text, e.name).eq_ignore_ascii_case(name))
    }

    /// The edited value of a header, if an edit decides it: `Some(None)` when
    /// deleted, `Some(Some(v))` when set or added, `None` when untouched.
    pub fn lookup(&self, name: &[u8]) -> Option<Option<&[u8]>> {
        self.edits()
            .rev()
            .find(|(_, n, _)| n.eq_ignore_ascii_case(name))
            .map(|(op, _, v)| match op {
                Op::Del => None,
                Op::Set | Op::Add => Some(v),
            })
    }

    /// Headers the edits add, in order.
    pub fn added(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.edits()
            .filter(|(op, _, _)| *op != Op::Del)
            .map(|(_, n, v)| (n, v))
    }
}

impl Inner {
    fn append(&mut self, s: &str) -> (u32, u32) {
        let start = self.text.len();
        self.text.push_str(s);
        (start as u32, self.text.len() as u32)
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
