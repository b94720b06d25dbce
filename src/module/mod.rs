//! The module framework: BFE's callback points, handler-list types and return
//! values, and the per-worker registry that modules register into.
//!
//! The numbers below are part of the contract with BFE users (they appear in
//! BFE's documentation and in module code ported from it), so they are fixed.
//! A module is one `Send + Sync` value per process ([`Module`]). On the
//! control thread it validates its configuration into an immutable table
//! (`check`, at start and under `-t`) and declares its reload endpoints
//! and monitor pages (`web`). Every worker then runs its `init` on the
//! worker thread with its own copy of the table, so handlers and their
//! state are private to one core and may use `Rc`/`RefCell` freely.

mod callbacks;
pub mod conf;
mod counters;
mod init;
mod registry;
mod table;
mod web;

pub use callbacks::{AcceptPoint, Callbacks, Handler, HandlerList, RequestPoint, ResponsePoint};
pub use counters::{counter_key, json_str_list, CounterValues, Counters, Format};
pub use init::{InitCtx, WorkerModules};
pub use registry::{ModuleRegistry, ModuleSet, ModuleTables};
pub use table::{ModuleConf, Tables};
pub use web::{ReloadCtx, ReloadFn, Reloaded, WebHandlers};

/// Counter merging and rendering for the monitor port.
pub mod monitor {
    pub use super::counters::{delta, json_str, merge, render};
}

use std::fmt;
use std::path::Path;

/// The nine callback points, in lifecycle order. The discriminant is BFE's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Point {
    /// TCP connection with the client accepted. Handler: Accept. `Close` drops
    /// the connection silently; any other value continues.
    Accept = 0,
    /// TLS handshake finished (TLS listeners only). Same semantics as Accept.
    Handshake = 1,
    /// Request head read, before the product is located. Handler: Request.
    /// May rewrite the request (host, path, headers) to steer routing.
    BeforeLocation = 2,
    /// Product found (host table, VIP table or default). Handler: Request.
    FoundProduct = 3,
    /// Cluster found by the route rules. Handler: Request.
    AfterLocation = 4,
    /// Sub-cluster and backend chosen, just before the request is sent; runs
    /// again on every retry. Handler: Forward; may change the backend.
    Forward = 5,
    /// Backend response head received. Handler: Response; the head is mutable.
    ReadResponse = 6,
    /// Response fully sent to the client. Handler: Response.
    RequestFinish = 7,
    /// Client connection closed; always runs, also after early closes.
    /// Handler: Finish; the return value is ignored.
    Finish = 8,
}

impl Point {
    pub const ALL: [Point; 9] = [
        Point::Accept,
        Point::Handshake,
        Point::BeforeLocation,
        Point::FoundProduct,
        Point::AfterLocation,
        Point::Forward,
        Point::ReadResponse,
        Point::RequestFinish,
        Point::Finish,
    ];

    /// BFE's name for the point (`HandleAccept`, …).
    pub fn name(self) -> &'static str {
        match self {
            Point::Accept => "HandleAccept",
            Point::Handshake => "HandleHandshake",
            Point::BeforeLocation => "HandleBeforeLocation",
            Point::FoundProduct => "HandleFoundProduct",
            Point::AfterLocation => "HandleAfterLocation",
            Point::Forward => "HandleForward",
            Point::ReadResponse => "HandleReadResponse",
            Point::RequestFinish => "HandleRequestFinish",
            Point::Finish => "HandleFinish",
        }
    }

    /// The handler-list type a point accepts.
    pub fn handler_type(self) -> HandlerType {
        match self {
            Point::Accept | Point::Handshake => HandlerType::Accept,
            Point::BeforeLocation | Point::FoundProduct | Point::AfterLocation => {
                HandlerType::Request
            }
            Point::Forward => HandlerType::Forward,
            Point::ReadResponse | Point::RequestFinish => HandlerType::Response,
            Point::Finish => HandlerType::Finish,
        }
    }

    pub fn from_id(id: u8) -> Option<Point> {
        Point::ALL.get(id as usize).copied()
    }
}

impl fmt::Display for Point {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The five handler-list types. A list holds handlers of one type only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum HandlerType {
    Accept = 0,
    Request = 1,
    Forward = 2,
    Response = 3,
    Finish = 4,
}

impl HandlerType {
    pub fn name(self) -> &'static str {
        match self {
            HandlerType::Accept => "HandlersAccept",
            HandlerType::Request => "HandlersRequest",
            HandlerType::Forward => "HandlersForward",
            HandlerType::Response => "HandlersResponse",
            HandlerType::Finish => "HandlersFinish",
        }
    }
}

/// What a handler tells the proxy to do next. The first handler that returns
/// anything but `GoOn` ends its list; see each [`Point`] for what the value
/// means there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Ret {
    /// Send the response (the handler's, or an error response), then close.
    Finish = 0,
    /// Continue with the next handler.
    GoOn = 1,
    /// Answer with the redirect set on the request by the handler.
    Redirect = 2,
    /// Answer with the handler's response; keep-alive as usual.
    Response = 3,
    /// Close the connection at once, sending nothing.
    Close = 4,
}

impl Ret {
    pub const ALL: [Ret; 5] = [
        Ret::Finish,
        Ret::GoOn,
        Ret::Redirect,
        Ret::Response,
        Ret::Close,
    ];

    pub fn from_id(id: u8) -> Option<Ret> {
        Ret::ALL.get(id as usize).copied()
    }
}

/// The message a panic was raised with, for the log.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

/// Why a module could not start or reload. Start-up stops and names module,
/// file and (in `reason`) the key or JSON path.
#[derive(Debug, Clone)]
pub struct ModuleError {
    pub module: String,
    pub file: String,
    pub reason: String,
}

impl ModuleError {
    /// A configuration problem found by the module's readers
    /// ([`conf::IniConf`], [`conf::read_json`]): key and reason kept.
    pub fn conf(module: &str, e: &crate::config::ConfError) -> Self {
        ModuleError {
            module: module.to_string(),
            file: e.file.clone(),
            reason: if e.key.is_empty() {
                e.reason.clone()
            } else {
                format!("{}: {}", e.key, e.reason)
            },
        }
    }

    /// Every problem of a load, for [`Module::check`].
    pub fn confs(module: &str, errs: &[crate::config::ConfError]) -> Vec<Self> {
        errs.iter().map(|e| ModuleError::conf(module, e)).collect()
    }
}

/// Several errors as one line (a reload reply or a test message), `; `
/// between them.
pub fn joined(errs: Vec<ModuleError>) -> String {
    errs.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl fmt::Display for ModuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.file.is_empty() {
            write!(f, "module {}: {}", self.module, self.reason)
        } else {
            write!(f, "module {}: {}: {}", self.module, self.file, self.reason)
        }
    }
}

impl std::error::Error for ModuleError {}

/// A unit of traffic processing (BFE's `Init(callbacks, web handlers, conf
/// root)`, split by thread). One value per process, shared by the control
/// thread and every worker, hence `Send + Sync`; per-worker state is made
/// in `init`, never kept in `self`.
pub trait Module: Send + Sync {
    /// The name used in `Modules =` lines (`mod_block`, …).
    fn name(&self) -> &'static str;

    /// Read and validate the configuration under `conf_root` (control
    /// thread, once at start and under `-t`). Returns every problem found.
    /// Modules without configuration keep the default: an empty table.
    fn check(&self, _conf_root: &Path) -> Result<ModuleConf, Vec<ModuleError>> {
        Ok(ModuleConf::empty())
    }

    /// Declare reload endpoints and monitor pages (control thread).
    fn web(&self, _web: &mut WebHandlers) {}

    /// Register handlers on one worker, claim its copy of the table
    /// ([`InitCtx::conf`]) and declare counters ([`InitCtx::counters`]).
    fn init(&self, ctx: &mut InitCtx<'_>) -> Result<(), ModuleError>;

    /// Reopen the files the module writes (SIGUSR1, after logrotate moved
    /// them away). Main thread; must not block for long. Most modules
    /// write no files and keep the default, which does nothing.
    fn reopen(&self) {}
}
