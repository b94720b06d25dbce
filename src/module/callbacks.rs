//! Handler lists per callback point, and how a list is run.

use super::{HandlerType, ModuleError, Point, Ret};
use crate::http::{BackendResponse, Response};
use crate::proxy::{Request, Session};

/// Accept/Handshake handler: sees the client session.
pub type AcceptFn = Box<dyn Fn(&mut Session) -> Ret>;
/// BeforeLocation/FoundProduct/AfterLocation handler: may answer the request.
pub type RequestFn = Box<dyn Fn(&mut Request) -> (Ret, Option<Response>)>;
/// Forward handler: sees the chosen backend and may change it.
pub type ForwardFn = Box<dyn Fn(&mut Request) -> Ret>;
/// ReadResponse/RequestFinish handler: sees the backend response head.
pub type ResponseFn = Box<dyn Fn(&mut Request, &mut BackendResponse) -> Ret>;
/// Finish handler: the connection is gone; the value is ignored.
pub type FinishFn = Box<dyn Fn(&mut Session) -> Ret>;

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
        }
    }

    pub(crate) fn set_current_module(&mut self, name: &'static str) {
        self.current_module = name;
    }

    /// Register a handler at a point. A handler whose shape does not match the
    /// point's handler-list type is refused, as BFE does at init.
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
        self.lists[point as usize]
            .handlers
            .push((self.current_module, handler));
        Ok(())
    }

    pub fn list(&self, point: Point) -> &HandlerList {
        &self.lists[point as usize]
    }

    /// Run an Accept-type list. Returns the first value other than GoOn.
    pub fn run_accept(&self, point: Point, ses: &mut Session) -> Ret {
        for (_, h) in &self.lists[point as usize].handlers {
            if let Handler::Accept(f) = h {
                let r = f(ses);
                if r != Ret::GoOn {
                    return r;
                }
            }
        }
        Ret::GoOn
    }

    /// Run a Request-type list. Returns the first value other than GoOn with
    /// the response the handler produced, if any.
    pub fn run_request(&self, point: Point, req: &mut Request) -> (Ret, Option<Response>) {
        for (_, h) in &self.lists[point as usize].handlers {
            if let Handler::Request(f) = h {
                let (r, res) = f(req);
                if r != Ret::GoOn {
                    return (r, res);
                }
            }
        }
        (Ret::GoOn, None)
    }

    pub fn run_forward(&self, req: &mut Request) -> Ret {
        for (_, h) in &self.lists[Point::Forward as usize].handlers {
            if let Handler::Forward(f) = h {
                let r = f(req);
                if r != Ret::GoOn {
                    return r;
                }
            }
        }
        Ret::GoOn
    }

    pub fn run_response(&self, point: Point, req: &mut Request, res: &mut BackendResponse) -> Ret {
        for (_, h) in &self.lists[point as usize].handlers {
            if let Handler::Response(f) = h {
                let r = f(req, res);
                if r != Ret::GoOn {
                    return r;
                }
            }
        }
        Ret::GoOn
    }

    /// Run the Finish list; every handler runs and values are ignored.
    pub fn run_finish(&self, ses: &mut Session) {
        for (_, h) in &self.lists[Point::Finish as usize].handlers {
            if let Handler::Finish(f) = h {
                let _ = f(ses);
            }
        }
    }
}
