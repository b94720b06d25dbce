//! A module's configuration table: built and validated once on the control
//! thread, then cloned into every worker, where handlers read it through a
//! [`Tables`] handle that the worker swaps between requests on reload.
//!
//! Each worker gets its own deep clone rather than a shared `Arc`, so the
//! request path touches no memory another core writes (no atomic reference
//! counts bouncing between caches).

use std::any::Any;
use std::cell::{Ref, RefCell};
use std::fmt;
use std::rc::Rc;

/// Object-safe clone of a table value.
trait ConfValue: Any + Send + Sync {
    fn clone_box(&self) -> Box<dyn ConfValue>;
    fn as_any(&self) -> &dyn Any;
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

impl<T: Any + Clone + Send + Sync> ConfValue for T {
    fn clone_box(&self) -> Box<dyn ConfValue> {
        Box::new(self.clone())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

/// One module's immutable, type-erased configuration table. `Clone` makes
/// a deep copy (one per worker).
pub struct ModuleConf {
    value: Option<Box<dyn ConfValue>>,
}

impl ModuleConf {
    /// The table of a module that has no configuration.
    pub fn empty() -> Self {
        ModuleConf { value: None }
    }

    pub fn new<T: Any + Clone + Send + Sync>(value: T) -> Self {
        ModuleConf {
            value: Some(Box::new(value)),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.value.is_none()
    }

    /// The table, when it holds a `T`.
    pub fn get<T: Any>(&self) -> Option<&T> {
        self.value.as_deref()?.as_any().downcast_ref()
    }

    /// The table by value, when it holds a `T`; the original otherwise.
    pub fn take<T: Any>(self) -> Result<T, ModuleConf> {
        match self.value {
            Some(v) if (*v).as_any().is::<T>() => match v.into_any().downcast::<T>() {
                Ok(t) => Ok(*t),
                Err(_) => Err(ModuleConf::empty()),
            },
            value => Err(ModuleConf { value }),
        }
    }
}

impl Clone for ModuleConf {
    fn clone(&self) -> Self {
        ModuleConf {
            value: self.value.as_deref().map(|v| v.clone_box()),
        }
    }
}

impl Default for ModuleConf {
    fn default() -> Self {
        ModuleConf::empty()
    }
}

impl fmt::Debug for ModuleConf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_empty() {
            "ModuleConf(empty)"
        } else {
            "ModuleConf(..)"
        })
    }
}

/// A worker's handle to its copy of a module's table. Handlers capture a
/// clone and borrow it for the duration of one call; the worker replaces
/// the value between requests when a reload arrives, so a borrow never
/// overlaps a swap.
pub struct Tables<T> {
    cell: Rc<RefCell<T>>,
}

impl<T> Clone for Tables<T> {
    fn clone(&self) -> Self {
        Tables {
            cell: self.cell.clone(),
        }
    }
}

impl<T: 'static> Tables<T> {
    pub(crate) fn new(value: T) -> Self {
        Tables {
            cell: Rc::new(RefCell::new(value)),
        }
    }

    /// The current table; keep the borrow short (within one handler call).
    pub fn borrow(&self) -> Ref<'_, T> {
        self.cell.borrow()
    }

    /// Replace the table (the worker does this on reload).
    pub(crate) fn replace(&self, value: T) {
        *self.cell.borrow_mut() = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clone_is_deep_and_typed() {
        let c = ModuleConf::new(vec![1u32, 2]);
        let d = c.clone();
        assert_eq!(d.get::<Vec<u32>>(), Some(&vec![1, 2]));
        assert!(d.get::<String>().is_none());
        assert_ne!(
            c.get::<Vec<u32>>().map(|v| v.as_ptr()),
            d.get::<Vec<u32>>().map(|v| v.as_ptr())
        );
        assert!(d.clone().take::<String>().is_err());
        assert_eq!(d.take::<Vec<u32>>().ok(), Some(vec![1, 2]));
        assert!(ModuleConf::empty().get::<u8>().is_none());
    }

    #[test]
    fn tables_see_replacement() {
        let t = Tables::new(1);
        let h = t.clone();
        t.replace(2);
        assert_eq!(*h.borrow(), 2);
    }
}
