//! What handlers see: the session, the request, the response, and the
//! failures that can end them (BFE's `bfe_basic`).
//!
//! Modules and their tests build against these types only. This module
//! sits below the lifecycle: nothing here imports `proxy`, `worker` or
//! `modules`, so a module's handlers can be unit-tested with a
//! [`RequestBuilder`] and no server.

mod builder;
mod context;
mod error;
mod request;
mod response;
mod session;
mod stat;
pub mod text;
mod view;

pub use crate::balance::{BackendPick, StickyBackend};
pub use builder::RequestBuilder;
pub use context::Context;
pub use error::{ErrorKind, ProxyError};
pub use request::{Redirect, Request, Route, Tags};
pub(crate) use response::run_filters;
pub use response::{Body, BodyFilter, Response};
pub use session::{Session, TlsInfo};
pub use stat::{RequestStat, StepTimes};
pub use view::ResponseView;
