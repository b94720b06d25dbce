//! The log sink: `LOG_DIR/ringfront.log` with `-l`, standard error
//! otherwise. Only start-up, configuration and worker events are logged;
//! the request path counts instead of logging, so it never takes this lock.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

struct Sink {
    out: Mutex<Box<dyn Write + Send>>,
    level: log::LevelFilter,
}

impl log::Log for Sink {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= self.level
    }

    fn log(&self, r: &log::Record) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        if let Ok(mut out) = self.out.lock() {
            let _ = writeln!(
                out,
                "{}.{:03} {:<5} {}",
                t.as_secs(),
                t.subsec_millis(),
                r.level(),
                r.args()
            );
            let _ = out.flush();
        }
    }

    fn flush(&self) {
        if let Ok(mut out) = self.out.lock() {
            let _ = out.flush();
        }
    }
}

/// Install the logger once per process; later calls (several servers in
/// one test process) keep the first. `RINGFRONT_LOG` sets the level
/// (error, warn, info, debug; default info).
pub fn init(log_dir: Option<&Path>) -> std::io::Result<()> {
    let out: Box<dyn Write + Send> = match log_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            Box::new(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(dir.join("ringfront.log"))?,
            )
        }
        None => Box::new(std::io::stderr()),
    };
    let level = match std::env::var("RINGFRONT_LOG").ok().as_deref() {
        Some("error") => log::LevelFilter::Error,
        Some("warn") => log::LevelFilter::Warn,
        Some("debug") => log::LevelFilter::Debug,
        Some("off") => log::LevelFilter::Off,
        _ => log::LevelFilter::Info,
    };
    let sink = Sink {
        out: Mutex::new(out),
        level,
    };
    if log::set_boxed_logger(Box::new(sink)).is_ok() {
        log::set_max_level(level);
    }
    Ok(())
}
