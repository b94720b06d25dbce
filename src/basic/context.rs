//! Per-session and per-request storage for modules, keyed by type: each
//! module stores its own type (`struct BlockInfo`, …), so two modules can
//! never read each other's entries by a mistyped string, and a lookup is a
//! `TypeId` compare. The map allocates only when something is first stored.
//!
//! Beside the typed entries, a module may *publish* a value under BFE's
//! string key (`mod_block.block_info`, `mod_geo.country_iso_code`, …) for
//! other modules, `req_context_value_in` conditions and header variables
//! to read; those keys are part of BFE's interface, so they stay strings.

use std::any::{Any, TypeId};

/// Both stores behind one pointer: most requests carry neither, and a
/// request is built (and its context with it) for every exchange.
#[derive(Default)]
pub struct Context {
    inner: Option<Box<Inner>>,
}

#[derive(Default)]
struct Inner {
    items: Vec<(TypeId, Box<dyn Any>)>,
    values: Vec<(&'static str, String)>,
}

impl Context {
    fn inner(&mut self) -> &mut Inner {
        self.inner.get_or_insert_with(Box::default)
    }

    fn items(&self) -> &[(TypeId, Box<dyn Any>)] {
        self.inner.as_deref().map_or(&[], |i| &i.items)
    }

    fn value_list(&self) -> &[(&'static str, String)] {
        self.inner.as_deref().map_or(&[], |i| &i.values)
    }

    /// Store `value`, replacing an earlier value of the same type.
    pub fn insert<T: 'static>(&mut self, value: T) {
        let items = &mut self.inner().items;
        let id = TypeId::of::<T>();
        match items.iter_mut().find(|(k, _)| *k == id) {
            Some(slot) => slot.1 = Box::new(value),
            None => items.push((id, Box::new(value))),
        }
    }

    pub fn get<T: 'static>(&self) -> Option<&T> {
        let id = TypeId::of::<T>();
        self.items()
            .iter()
            .find(|(k, _)| *k == id)
            .and_then(|(_, v)| v.downcast_ref())
    }

    pub fn get_mut<T: 'static>(&mut self) -> Option<&mut T> {
        let id = TypeId::of::<T>();
        self.inner
            .as_deref_mut()?
            .items
            .iter_mut()
            .find(|(k, _)| *k == id)
            .and_then(|(_, v)| v.downcast_mut())
    }

    /// The stored value of type `T`, inserting `T::default()` first.
    pub fn entry<T: Default + 'static>(&mut self) -> &mut T {
        let id = TypeId::of::<T>();
        let items = &mut self.inner().items;
        let pos = match items.iter().position(|(k, _)| *k == id) {
            Some(p) => p,
            None => {
                items.push((id, Box::new(T::default())));
                items.len() - 1
            }
        };
        match items[pos].1.downcast_mut() {
            Some(v) => v,
            None => unreachable!("entry keyed by its own TypeId"),
        }
    }

    pub fn remove<T: 'static>(&mut self) -> Option<T> {
        let id = TypeId::of::<T>();
        let items = &mut self.inner.as_deref_mut()?.items;
        let pos = items.iter().position(|(k, _)| *k == id)?;
        items.swap_remove(pos).1.downcast().ok().map(|b| *b)
    }

    pub fn is_empty(&self) -> bool {
        self.items().is_empty() && self.value_list().is_empty()
    }

    pub fn clear(&mut self) {
        if let Some(i) = self.inner.as_deref_mut() {
            i.items.clear();
            i.values.clear();
        }
    }

    /// Publish `value` under BFE's string `key`, replacing an earlier one.
    pub fn publish(&mut self, key: &'static str, value: impl Into<String>) {
        let value = value.into();
        let values = &mut self.inner().values;
        match values.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => values.push((key, value)),
        }
    }

    /// The value published under `key`.
    pub fn value(&self, key: &str) -> Option<&str> {
        self.value_list()
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every published key and value, in the order first published.
    pub fn values(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.value_list().iter().map(|(k, v)| (*k, v.as_str()))
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("entries", &self.items().len())
            .field("values", &self.value_list().len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, PartialEq)]
    struct A(u32);
    #[derive(Debug, Default, PartialEq)]
    struct B(&'static str);

    #[test]
    fn typed_entries() {
        let mut c = Context::default();
        assert!(c.is_empty());
        assert_eq!(c.get::<A>(), None);
        c.insert(A(1));
        c.insert(B("x"));
        c.insert(A(2));
        assert_eq!(c.get::<A>(), Some(&A(2)));
        c.entry::<B>().0 = "y";
        assert_eq!(c.get::<B>(), Some(&B("y")));
        assert_eq!(c.remove::<A>(), Some(A(2)));
        assert_eq!(c.get::<A>(), None);
        c.entry::<A>().0 += 5;
        assert_eq!(c.get::<A>(), Some(&A(5)));
    }

    #[test]
    fn published_values() {
        let mut c = Context::default();
        assert_eq!(c.value("mod_block.block_info"), None);
        c.publish("mod_block.block_info", "rule1");
        c.publish("mod_block.block_info", "rule2");
        assert_eq!(c.value("mod_block.block_info"), Some("rule2"));
        assert_eq!(c.values().count(), 1);
        assert!(!c.is_empty());
        c.clear();
        assert!(c.is_empty());
    }
}
