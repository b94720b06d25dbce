//! Per-session and per-request storage for modules: a small typed map,
//! allocated only when a module first stores something.

use std::any::Any;

#[derive(Default)]
pub struct Context {
    items: Option<Vec<(&'static str, Box<dyn Any>)>>,
}

impl Context {
    pub fn set<T: 'static>(&mut self, key: &'static str, value: T) {
        let items = self.items.get_or_insert_with(Vec::new);
        items.retain(|(k, _)| *k != key);
        items.push((key, Box::new(value)));
    }

    pub fn get<T: 'static>(&self, key: &'static str) -> Option<&T> {
        self.items
            .as_ref()?
            .iter()
            .find(|(k, _)| *k == key)
            .and_then(|(_, v)| v.downcast_ref())
    }

    pub fn get_mut<T: 'static>(&mut self, key: &'static str) -> Option<&mut T> {
        self.items
            .as_mut()?
            .iter_mut()
            .find(|(k, _)| *k == key)
            .and_then(|(_, v)| v.downcast_mut())
    }

    pub fn clear(&mut self) {
        if let Some(i) = self.items.as_mut() {
            i.clear();
        }
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<_> = self.items.iter().flatten().map(|(k, _)| *k).collect();
        f.debug_struct("Context").field("keys", &keys).finish()
    }
}
