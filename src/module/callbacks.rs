//! Handler lists per callback point, and how a list is run.
//!
//! Every handler call is guarded: a panicking module must not take its
//! worker (and every connection on it) down. The panic is logged with the
//! module and the point, counted, and turned into the answer that stops the
//! request: 500 where a response is still possible, and the connection is
//! closed because the module's state for it can no longer be trusted.

use super::{HandlerType, ModuleError, Point, Ret};
use crate::basic::{ErrorKind, Request, Response, Session};
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Accept/Handshake handler: sees the client session.
pub(super) type AcceptFn = Box<dyn Fn(&Session) -> Ret>;
/// BeforeLocation/FoundProduct/AfterLocation handler: may answer the request.
pub(super) type RequestFn = Box<dyn Fn(&mut Request) -> (Ret, Option<Response>)>;
/// Forward handler: sees the chosen backend and may change it.
pub(super) type ForwardFn = Box<dyn Fn(&mut Request) -> Ret>;
/// ReadResponse/RequestFinish handler: sees the response (the backend's,
/// or one made in the proxy) and may edit its head.
pub(super) type ResponseFn = Box<dyn Fn(&mut Request, &mut Response) -> Ret>;
/// Finish handler: the connection is gone; the value is ignored.
pub(super) type FinishFn = Box<dyn Fn(&Session) -> Ret>;

/// The points whose handlers see the session (Accept-type lists).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptPoint {
    Accept,
    Handshake,
}

/// The points whose handlers see the request and may answer it
/// (Request-type lists).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestPoint {
    BeforeLocation,
    FoundProduct,
    AfterLocation,
}

/// The points whose handlers see the response (Response-type lists).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponsePoint {
    ReadResponse,
    RequestFinish,
}

impl From<AcceptPoint> for Point {
    fn from(p: AcceptPoint) -> Point {
        match p {
            AcceptPoint::Accept => Point::Accept,
            AcceptPoint::Handshake => Point::Handshake,
        }
    }
}

impl From<RequestPoint> for Point {
    fn from(p: RequestPoint) -> Point {
        match p {
            RequestPoint::BeforeLocation => Point::BeforeLocation,
            RequestPoint::FoundProduct => Point::FoundProduct,
            RequestPoint::AfterLocation => Point::AfterLocation,
        }
    }
}

impl From<ResponsePoint> for Point {
    fn from(p: ResponsePoint) -> Point {
        match p {
            ResponsePoint::ReadResponse => Point::ReadResponse,
            ResponsePoint::RequestFinish => Point::RequestFinish,
        }
    }
}

/// One handler of one of the five shapes.
pub enum Handler {
    Accept(AcceptFn),
    Request(RequestFn),
    Forward(ForwardFn),
    Response(ResponseFn),
    Finish(FinishFn),
}

impl Handler {
    pub fn handler_type(&self) -> HandlerType {
        match self {
            Handler::Accept(_) => HandlerType::Accept,
            Handler::Request(_) => HandlerType::Request,
            Handler::Forward(_) => HandlerType::Forward,
            Handler::Response(_) => HandlerType::Response,
            Handler::Finish(_) => HandlerType::Finish,
        }
    }
}

/// The handlers registered at one point, in module order.
pub struct HandlerList {
    point: Point,
    handlers: Vec<(&'static str, Handler)>,
}

impl HandlerList {
    fn new(point: Point) -> Self {
        HandlerList {
            point,
            handlers: Vec::new(),
        }
    }

    pub fn point(&self) -> Point {
        self.point
    }

    pub fn is_empty(&self) -> bool {
        self.handlers.is_empty()
    }

    pub fn len(&self) -> usize {
        self.handlers.len()
    }

    /// Names of the modules whose handlers are in this list, in run order.
    pub fn module_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.handlers.iter().map(|(m, _)| *m)
    }
}

/// All nine handler lists of one worker.
pub struct Callbacks {
    lists: [HandlerList; 9],
    /// The module currently running `init`, so registrations carry its name.
    current_module: &'static str,
    /// Handler panics caught so far (per worker).
    panics: Cell<u64>,
    /// Whether a module reads request timings (see [`Callbacks::record_timings`]).
    timings: bool,
}

impl Default for Callbacks {
    fn default() -> Self {
        Self::new()
    }
}

impl Callbacks {
    pub fn new() -> Self {
        Callbacks {
            lists: Point::ALL.map(HandlerList::new),
            current_module: "",
            panics: Cell::new(0),
            timings: false,
        }
    }

    /// Ask the lifecycle to time each step of every request
    /// (`Request::stat`): a module that logs or exports them calls this at
    /// init. Without it the timings stay `None` and no clock is read.
    pub fn record_timings(&mut self) {
        self.timings = true;
    }

    /// Whether request steps are timed on this worker.
    #[inline]
    pub fn timings(&self) -> bool {
        self.timings
    }

    /// Handler panics caught on this worker.
    pub fn panics(&self) -> u64 {
        self.panics.get()
    }

    /// Call one handler; `None` if it panicked (logged and counted).
    fn guarded<R>(&self, module: &str, point: Point, f: impl FnOnce() -> R) -> Option<R> {
        match catch_unwind(AssertUnwindSafe(f)) {
            Ok(r) => Some(r),
            Err(payload) => {
                self.panics.set(self.panics.get() + 1);
                let msg = super::panic_message(payload.as_ref());
                log::error!("module {module} panicked in {}: {msg}", point.name());
                None
            }
        }
    }

    pub(crate) fn set_current_module(&mut self, name: &'static str) {
        self.current_module = name;
    }

    /// Register an Accept-type handler (HandleAccept, HandleHandshake).
    /// The typed point makes a wrong shape a compile error.
    pub fn on_accept(&mut self, p: AcceptPoint, f: impl Fn(&Session) -> Ret + 'static) {
        self.push(p.into(), Handler::Accept(Box::new(f)));
    }

    /// Register a Request-type handler (HandleBeforeLocation,
    /// HandleFoundProduct, HandleAfterLocation).
    pub fn on_request(
        &mut self,
        p: RequestPoint,
        f: impl Fn(&mut Request) -> (Ret, Option<Response>) + 'static,
    ) {
        self.push(p.into(), Handler::Request(Box::new(f)));
    }

    /// Register a HandleForward handler.
    pub fn on_forward(&mut self, f: impl Fn(&mut Request) -> Ret + 'static) {
        self.push(Point::Forward, Handler::Forward(Box::new(f)));
    }

    /// Register a Response-type handler (HandleReadResponse,
    /// HandleRequestFinish).
    pub fn on_response(
        &mut self,
        p: ResponsePoint,
        f: impl Fn(&mut Request, &mut Response) -> Ret + 'static,
    ) {
        self.push(p.into(), Handler::Response(Box::new(f)));
    }

    /// Register a HandleFinish handler.
    pub fn on_finish(&mut self, f: impl Fn(&Session) -> Ret + 'static) {
        self.push(Point::Finish, Handler::Finish(Box::new(f)));
    }

    fn push(&mut self, point: Point, handler: Handler) {
        self.lists[point as usize]
            .handlers
            .push((self.current_module, handler));
    }

    /// Register a handler chosen at run time (BFE's `AddHandler`, for code
    /// that loops over points). A handler whose shape does not match the
    /// point's handler-list type is refused, as BFE does at init; the typed
    /// `on_*` methods rule that out at compile time instead.
    pub fn add_handler(&mut self, point: Point, handler: Handler) -> Result<(), ModuleError> {
        let want = point.handler_type();
        let got = handler.handler_type();
        if want != got {
            return Err(ModuleError {
                module: self.current_module.to_string(),
                file: String::new(),
                reason: format!(
                    "handler of type {} cannot be registered at {} (needs {})",
                    got.name(),
                    point.name(),
                    want.name()
                ),
            });
        }
        self.push(point, handler);
        Ok(())
    }

    pub fn list(&self, point: Point) -> &HandlerList {
        &self.lists[point as usize]
    }

    /// Run an Accept-type list. Returns the first value other than GoOn; a
    /// panic closes the connection.
    pub fn run_accept(&self, point: Point, ses: &Session) -> Ret {
        for (m, h) in &self.lists[point as usize].handlers {
            if let Handler::Accept(f) = h {
                let r = self.guarded(m, point, || f(ses)).unwrap_or(Ret::Close);
                if r != Ret::GoOn {
                    return r;
                }
            }
        }
        Ret::GoOn
    }

    /// Run a Request-type list. Returns the first value other than GoOn with
    /// the response the handler produced, if any; a panic answers 500.
    pub fn run_request(&self, point: Point, req: &mut Request) -> (Ret, Option<Response>) {
        for (m, h) in &self.lists[point as usize].handlers {
            let Handler::Request(f) = h else { continue };
            // Matched in place: the usual GoOn moves no response around.
            match self.guarded(m, point, || f(req)) {
                Some((Ret::GoOn, _)) => {}
                Some(done) => return done,
                None => {
                    req.head.keep_alive = false;
                    req.fail(ErrorKind::HandlerPanic, point.name());
                    return (Ret::Finish, Some(Response::error(500)));
                }
            }
        }
        (Ret::GoOn, None)
    }

    /// Run the Forward list; a panic answers 500 (`Finish`).
    pub fn run_forward(&self, req: &mut Request) -> Ret {
        for (m, h) in &self.lists[Point::Forward as usize].handlers {
            if let Handler::Forward(f) = h {
                let Some(r) = self.guarded(m, Point::Forward, || f(req)) else {
                    req.head.keep_alive = false;
                    req.fail(ErrorKind::HandlerPanic, Point::Forward.name());
                    return Ret::Finish;
                };
                if r != Ret::GoOn {
                    return r;
                }
            }
        }
        Ret::GoOn
    }

    /// Run a Response-type list. A panic at ReadResponse replaces the
    /// backend response with 500; at RequestFinish (response already sent)
    /// it closes the connection.
    pub fn run_response(&self, point: Point, req: &mut Request, res: &mut Response) -> Ret {
        for (m, h) in &self.lists[point as usize].handlers {
            if let Handler::Response(f) = h {
                let Some(r) = self.guarded(m, point, || f(req, res)) else {
                    req.head.keep_alive = false;
                    req.fail(ErrorKind::HandlerPanic, point.name());
                    if point == Point::ReadResponse {
                        req.reply = Some(Box::new(Response::error(500)));
                        return Ret::Response;
                    }
                    return Ret::Finish;
                };
                if r != Ret::GoOn {
                    return r;
                }
            }
        }
        Ret::GoOn
    }

    /// Run the Finish list; every handler runs and values are ignored.
    /// It runs once per session, whichever path ends the connection.
    pub fn run_finish(&self, ses: &Session) {
        if !ses.begin_finish() {
            return;
        }
        for (m, h) in &self.lists[Point::Finish as usize].handlers {
            if let Handler::Finish(f) = h {
                let _ = self.guarded(m, Point::Finish, || f(ses));
            }
        }
    }
}
