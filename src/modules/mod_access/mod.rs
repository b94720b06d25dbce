//! `mod_access`: BFE's access log. One line per finished request
//! (HandleRequestFinish, `RequestTemplate`) and one per closed connection
//! (HandleFinish, `SessionTemplate`), both into one file, as BFE's single
//! logger does.
//!
//! Templates are compiled once at load ([`template`]); a line is formatted
//! into the worker's own buffer ([`format`](mod@format)) and whole buffers go to one
//! writer thread ([`writer`]) that appends, rotates and reopens on
//! SIGUSR1. A worker never waits for the disk: a full queue drops lines
//! and counts them (`DROPPED_LOG_LINES` on `/monitor/mod_access`).
//! There is no reload, as in BFE: the conf is read once at start-up.

pub mod conf;
pub mod format;
pub mod template;
pub mod writer;

use crate::basic::{Request, Response, Session};
use crate::module::{
    Counters, InitCtx, Module, ModuleConf, ModuleError, ResponsePoint, Ret, WebHandlers,
};
use conf::AccessConf;
use crossbeam_channel::{Receiver, Sender};
use format::{Fmt, Now, Subject};
use std::cell::RefCell;
use std::path::Path;
use std::rc::{Rc, Weak};
use std::sync::Mutex;
use std::time::Duration;
use writer::{Msg, Sink};

const NAME: &str = "mod_access";

/// Counters on `/monitor/mod_access` (ringfront's; BFE's mod_access shows none).
pub const COUNTERS: [&str; 3] = [
    "ALL_REQ_LOG_COUNT",
    "ALL_SES_LOG_COUNT",
    "DROPPED_LOG_LINES",
];

/// How often a worker hands over a buffer that did not fill, so lines
/// appear promptly under light load.
pub const FLUSH_EVERY: Duration = Duration::from_millis(200);

/// The workers' ends of the handoff: buffers to the writer, emptied
/// buffers back.
type Handoff = (Sender<Msg>, Receiver<Vec<u8>>);

/// The module. The writer thread is started by the first worker's init
/// (not by `check`, so `-t` opens nothing) and shared by all workers.
pub struct ModAccess {
    writer: Mutex<Option<Handoff>>,
    /// Whether init starts the flush timer (needs the worker's runtime;
    /// off for handler tests that run without one).
    timer: bool,
}

impl ModAccess {
    pub fn new() -> Self {
        ModAccess {
            writer: Mutex::new(None),
            timer: true,
        }
    }

    /// A module whose buffers are flushed only when full or by hand, for
    /// tests that init it outside a worker's runtime.
    pub fn without_timer() -> Self {
        ModAccess {
            writer: Mutex::new(None),
            timer: false,
        }
    }

    fn handoff(&self, conf: &AccessConf) -> Result<Handoff, ModuleError> {
        let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((tx, free)) = w.as_ref() {
            return Ok((tx.clone(), free.clone()));
        }
        let h = writer::spawn(conf.target.clone()).map_err(|e| ModuleError {
            module: NAME.to_string(),
            file: conf.target.path.display().to_string(),
            reason: format!("cannot open the log: {e}"),
        })?;
        *w = Some(h.clone());
        Ok(h)
    }
}

impl Drop for ModAccess {
    /// At process end (the server stopped, its workers handed over what
    /// they held): wait, briefly, until the writer has written it all.
    fn drop(&mut self) {
        let w = self.writer.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some((tx, _)) = w.take() {
            let (ack_tx, ack_rx) = crossbeam_channel::bounded(1);
            if tx
                .send_timeout(Msg::Sync(ack_tx), Duration::from_secs(1))
                .is_ok()
            {
                let _ = ack_rx.recv_timeout(Duration::from_secs(2));
            }
        }
    }
}

impl Default for ModAccess {
    fn default() -> Self {
        ModAccess::new()
    }
}

/// One worker's logger: the compiled templates, its buffer and counters.
pub struct AccessLog {
    conf: AccessConf,
    pub sink: Sink,
    fmt: RefCell<Fmt>,
    counters: Rc<Counters>,
}

impl AccessLog {
    pub fn new(conf: AccessConf, sink: Sink, counters: Rc<Counters>) -> Self {
        AccessLog {
            conf,
            sink,
            fmt: RefCell::new(Fmt::default()),
            counters,
        }
    }

    /// HandleRequestFinish: one request line.
    pub fn request(&self, req: &Request, res: &Response) -> Ret {
        self.log(&self.conf.request, &Subject::Request(req, res), 0);
        Ret::GoOn
    }

    /// HandleFinish: one session line.
    pub fn session(&self, ses: &Session) -> Ret {
        self.log(&self.conf.session, &Subject::Session(ses), 1);
        Ret::GoOn
    }

    fn log(&self, pieces: &[template::Piece], subject: &Subject<'_>, counter: usize) {
        {
            let mut buf = self.sink.buf.borrow_mut();
            let mut fmt = self.fmt.borrow_mut();
            fmt.line(&mut buf, pieces, self.conf.json, subject, &mut Now::new());
        }
        self.counters.inc(counter);
        self.dropped(self.sink.line_done());
    }

    /// Hand the buffer to the writer (timer, worker end).
    pub fn flush(&self) {
        self.dropped(self.sink.flush());
    }

    fn dropped(&self, n: u64) {
        if n > 0 {
            self.counters.add(2, n);
        }
    }
}

impl Drop for AccessLog {
    /// A stopping worker hands over what it still holds.
    fn drop(&mut self) {
        self.flush();
    }
}

/// The worker's loggers, flushed when the worker thread exits. The
/// runtime does not drop the tasks (and so the handlers) it still holds
/// when a worker stops, so `AccessLog`'s own `Drop` may never run; a
/// thread-local's destructor does, before the thread's join returns.
struct FlushAtExit(RefCell<Vec<Weak<AccessLog>>>);

impl Drop for FlushAtExit {
    fn drop(&mut self) {
        for l in self.0.borrow().iter().filter_map(Weak::upgrade) {
            l.flush();
        }
    }
}

thread_local! {
    static AT_EXIT: FlushAtExit = const { FlushAtExit(RefCell::new(Vec::new())) };
}

impl Module for ModAccess {
    fn name(&self) -> &'static str {
        NAME
    }

    fn check(&self, conf_root: &Path) -> Result<ModuleConf, Vec<ModuleError>> {
        conf::load(conf_root)
            .map(ModuleConf::new)
            .map_err(|e| ModuleError::confs(NAME, &e))
    }

    fn web(&self, web: &mut WebHandlers) {
        web.monitor(NAME);
    }

    fn init(&self, ctx: &mut InitCtx<'_>) -> Result<(), ModuleError> {
        let conf = ctx.conf::<AccessConf>()?.borrow().clone();
        let (tx, free) = self.handoff(&conf)?;
        let counters = ctx.counters(&COUNTERS)?;
        if conf.needs_timings() {
            ctx.callbacks().record_timings();
        }
        let log = Rc::new(AccessLog::new(conf, Sink::new(tx, free), counters));
        let _ = AT_EXIT.try_with(|a| a.0.borrow_mut().push(Rc::downgrade(&log)));
        if self.timer {
            let l = Rc::downgrade(&log);
            monoio::spawn(async move {
                loop {
                    monoio::time::sleep(FLUSH_EVERY).await;
                    match l.upgrade() {
                        Some(l) => l.flush(),
                        None => return,
                    }
                }
            });
        }
        let l = log.clone();
        ctx.callbacks()
            .on_response(ResponsePoint::RequestFinish, move |req, res| {
                l.request(req, res)
            });
        ctx.callbacks().on_finish(move |ses| log.session(ses));
        Ok(())
    }

    fn reopen(&self) {
        let w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((tx, _)) = w.as_ref() {
            let _ = tx.send_timeout(Msg::Reopen, Duration::from_secs(1));
        }
    }
}

#[cfg(test)]
mod tests;
