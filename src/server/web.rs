//! The names the monitor port serves (BFE's web monitor registry): core
//! and module monitor pages and reload endpoints in one table, so
//! `/monitor` and `/reload` list them all and lookups are uniform.

use crate::module::{json_str_list, ModuleSet, ReloadFn};

/// What `GET /reload/<name>` runs.
#[derive(Clone)]
pub(super) enum Reload {
    /// The routing/cluster/TLS snapshot (its files cross-reference each
    /// other, so every core name reloads the whole snapshot).
    Core,
    Module {
        module: &'static str,
        f: ReloadFn,
    },
}

/// What `GET /monitor/<name>` shows.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Page {
    ProxyState,
    BalState,
    ConfigState,
    ModuleStatus,
    ModuleHandlers,
    /// A module's counters, summed over workers.
    Counters,
}

/// Core reload names, as BFE names them.
const CORE_RELOADS: [&str; 4] = [
    "server_data_conf",
    "gslb_data_conf",
    "name_conf",
    "tls_conf",
];

const CORE_PAGES: [(&str, Page); 5] = [
    ("proxy_state", Page::ProxyState),
    ("bal_state", Page::BalState),
    ("config_state", Page::ConfigState),
    ("module_status", Page::ModuleStatus),
    ("module_handlers", Page::ModuleHandlers),
];

pub(super) struct Web {
    reloads: Vec<(String, Reload)>,
    pages: Vec<(String, Page)>,
}

impl Web {
    /// The core names, then every enabled module's, in run order. A module
    /// name that repeats a core one is ignored (the core keeps it).
    pub(super) fn new(modules: &ModuleSet) -> Web {
        let mut w = Web {
            reloads: CORE_RELOADS
                .iter()
                .map(|n| (n.to_string(), Reload::Core))
                .collect(),
            pages: CORE_PAGES
                .iter()
                .map(|(n, p)| (n.to_string(), *p))
                .collect(),
        };
        for (module, handlers) in modules.web() {
            for name in handlers.reload_names() {
                if let (None, Some(f)) = (w.reload(name), handlers.reload_fn(name)) {
                    w.reloads
                        .push((name.to_string(), Reload::Module { module, f }));
                }
            }
            for name in handlers.monitor_names() {
                if w.page(name).is_none() {
                    w.pages.push((name.to_string(), Page::Counters));
                }
            }
        }
        w
    }

    pub(super) fn reload(&self, name: &str) -> Option<&Reload> {
        self.reloads.iter().find(|(n, _)| n == name).map(|(_, r)| r)
    }

    pub(super) fn page(&self, name: &str) -> Option<Page> {
        self.pages.iter().find(|(n, _)| n == name).map(|(_, p)| *p)
    }

    /// Module counter pages, for the `.diff` sampler.
    pub(super) fn counter_pages(&self) -> impl Iterator<Item = &str> {
        self.pages
            .iter()
            .filter(|(_, p)| *p == Page::Counters)
            .map(|(n, _)| n.as_str())
    }

    /// `GET /monitor`: every page name (module pages also as `.diff`).
    pub(super) fn monitor_list(&self) -> String {
        let mut names = Vec::new();
        for (n, p) in &self.pages {
            names.push(n.clone());
            if *p == Page::Counters {
                names.push(format!("{n}.diff"));
            }
        }
        html_list("monitor", &names)
    }

    /// `GET /reload`: every reload name.
    pub(super) fn reload_list(&self) -> String {
        let names: Vec<String> = self.reloads.iter().map(|(n, _)| n.clone()).collect();
        html_list("reload", &names)
    }
}

/// The small HTML index BFE's web monitor answers, one link per name.
fn html_list(kind: &str, names: &[String]) -> String {
    let mut o = format!("<html><head><title>{kind}</title></head><body>\n");
    for n in names {
        o.push_str(&format!("<a href=\"/{kind}/{n}\">{n}</a><br>\n"));
    }
    o.push_str("</body></html>\n");
    o
}

/// `module_status`: every module the binary has and the enabled ones, in
/// run order, with how often each was reloaded.
pub(super) fn module_status(
    available: &[&'static str],
    enabled: &[&'static str],
    reloads: &[(&'static str, u64)],
) -> String {
    let state: Vec<String> = enabled
        .iter()
        .map(|m| {
            let n = reloads.iter().find(|(r, _)| r == m).map_or(0, |(_, n)| *n);
            format!("\"{m}\":{{\"state\":\"running\",\"reloads\":{n}}}")
        })
        .collect();
    format!(
        "{{\"available\":{},\"enabled\":{},\"state\":{{{}}}}}",
        json_str_list(available.iter().copied()),
        json_str_list(enabled.iter().copied()),
        state.join(",")
    )
}
