//! What a module shows on the monitor port: its reload endpoints and its
//! monitor pages (BFE's `web handlers`). Declared once, on the control
//! thread, which also runs the reloads.

use super::ModuleConf;
use std::path::Path;
use std::sync::Arc;

/// What a reload handler gets: the table in use, the conf root and the
/// `?path=` override (used as given, as BFE does).
pub struct ReloadCtx<'a> {
    pub current: &'a ModuleConf,
    pub conf_root: &'a Path,
    pub path: Option<&'a Path>,
}

impl ReloadCtx<'_> {
    /// The table the module runs on now: every reload starts from it (the
    /// rule file it was loaded from, its conf flags). An error only if the
    /// module's `check` stored another type.
    pub fn table<T: std::any::Any>(&self, module: &str) -> Result<&T, String> {
        self.current
            .get::<T>()
            .ok_or_else(|| format!("{module}: no table loaded"))
    }

    /// The rule file to read: `?path=` when given, else `loaded` (the one
    /// read at start; BFE keeps that path).
    pub fn data_path<'p>(&'p self, loaded: &'p Path) -> &'p Path {
        self.path.unwrap_or(loaded)
    }
}

/// A reload that validated: the new table and, when the handler reports
/// one, the version for the reply (`"<file name>=<Version>"`).
pub struct Reloaded {
    pub conf: ModuleConf,
    pub version: Option<String>,
}

/// Re-reads and validates a module's configuration on the control thread.
/// An error leaves every worker on the table it has.
pub type ReloadFn = Arc<dyn Fn(&ReloadCtx) -> Result<Reloaded, String> + Send + Sync>;

/// A module's declared endpoints.
#[derive(Default, Clone)]
pub struct WebHandlers {
    pub(crate) reloads: Vec<(String, ReloadFn)>,
    pub(crate) monitors: Vec<String>,
}

impl WebHandlers {
    /// Serve `GET /reload/<name>` (BFE names them `<module>.<table>` or
    /// just `<module>`).
    pub fn reload(
        &mut self,
        name: impl Into<String>,
        f: impl Fn(&ReloadCtx) -> Result<Reloaded, String> + Send + Sync + 'static,
    ) {
        self.reloads.push((name.into(), Arc::new(f)));
    }

    /// Serve `GET /monitor/<name>` (and `<name>.diff`) from the counters
    /// workers declare for this page at init.
    pub fn monitor(&mut self, name: impl Into<String>) {
        self.monitors.push(name.into());
    }

    pub fn reload_names(&self) -> impl Iterator<Item = &str> {
        self.reloads.iter().map(|(n, _)| n.as_str())
    }

    pub fn monitor_names(&self) -> impl Iterator<Item = &str> {
        self.monitors.iter().map(String::as_str)
    }

    pub fn reload_fn(&self, name: &str) -> Option<ReloadFn> {
        self.reloads
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, f)| f.clone())
    }
}
