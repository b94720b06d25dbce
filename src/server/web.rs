//! The names the monitor port serves (BFE's web monitor registry): core
//! and module monitor pages and reload endpoints in one table, so
//! `/monitor` and `/reload` list them all and lookups are uniform.

use super::monitor::json_str;
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
    /// A BFE counter page ([`super::bfe_state`]); `_diff` pages too.
    BfeState {
        diff: bool,
    },
    /// A version or table page ([`super::tables`]).
    Table,
    /// Backend response-time histograms ([`super::latency_page`]).
    Latency,
    /// ringfront's own counters, by its own names (`per_worker=1`).
    RingfrontState,
    /// Every backend's health over workers ([`super::bal_state`]).
    BackendState,
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

/// The core pages: BFE's names, then ringfront's own.
fn core_pages() -> Vec<(String, Page)> {
    let mut pages = Vec::new();
    for n in super::bfe_state::names() {
        pages.push((n.to_string(), Page::BfeState { diff: false }));
        pages.push((format!("{n}_diff"), Page::BfeState { diff: true }));
    }
    for n in super::tables::NAMES {
        pages.push((n.to_string(), Page::Table));
    }
    for (n, p) in [
        ("module_status", Page::ModuleStatus),
        ("module_handlers", Page::ModuleHandlers),
        (super::latency_page::NAME, Page::Latency),
        ("ringfront_state", Page::RingfrontState),
        ("backend_state", Page::BackendState),
    ] {
        pages.push((n.to_string(), p));
    }
    pages
}

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
            pages: core_pages(),
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

/// The HTML index go-lib's web monitor answers: every name, sorted, one
/// link per line.
fn html_list(kind: &str, names: &[String]) -> String {
    let mut names: Vec<&String> = names.iter().collect();
    names.sort();
    let mut o = format!("<html>\n<body>\n<p>{kind} manual for ringfront</p>\n");
    for n in names {
        o.push_str(&format!("<p><a href=\"/{kind}/{n}\">{n}</a></p>\n"));
    }
    o.push_str("</body></html>");
    o
}

/// What the control thread knows of one enabled module's loads.
#[derive(Debug, Clone, Default)]
pub(super) struct ModuleLoads {
    /// Successful reloads.
    pub reloads: u64,
    /// The version the last reload reported (`<file>=<Version>`).
    pub version: Option<String>,
    /// When the module's tables were last loaded (start or reload), Unix
    /// seconds.
    pub loaded_at: u64,
}

/// `module_status`: BFE's `{"available":[…],"enabled":[…]}` (modules the
/// binary has, enabled ones in run order), plus ringfront's `state` per
/// enabled module: reloads, last reported version, load time.
pub(super) fn module_status(
    available: &[&'static str],
    enabled: &[&'static str],
    loads: &[(&'static str, ModuleLoads)],
) -> String {
    let state: Vec<String> = enabled
        .iter()
        .map(|m| {
            let l = loads
                .iter()
                .find(|(r, _)| r == m)
                .map(|(_, l)| l.clone())
                .unwrap_or_default();
            let version = l.version.as_deref().map_or("null".to_string(), json_str);
            format!(
                "\"{m}\":{{\"state\":\"running\",\"reloads\":{},\"version\":{version},\"loaded_at\":{}}}",
                l.reloads, l.loaded_at
            )
        })
        .collect();
    format!(
        "{{\"available\":{},\"enabled\":{},\"state\":{{{}}}}}",
        json_str_list(available.iter().copied()),
        json_str_list(enabled.iter().copied()),
        state.join(",")
    )
}
