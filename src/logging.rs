//! The log sink: `LOG_DIR/ringfront.log` with `-l`, standard error
//! otherwise. Lines are `2026-11-24T15:04:05.123Z LEVEL message`: RFC 3339
//! in UTC with milliseconds, so lines from several hosts sort and compare
//! without knowing their zones.
//!
//! Start-up, configuration, signal and worker events log at `info`; a
//! failed request logs one `warn` line naming its error code (the table in
//! `basic::error`); `debug` adds a line per connection and request. The
//! success path of a request never takes this sink's lock unless `debug`
//! is on.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// `ringfront 0.1.0 (build v0.1.0-12-gabc1234)`: the package version and
/// what build.rs found of the source (`git describe`, or
/// `RINGFRONT_BUILD` set at build time, or `unknown` in a tarball build).
pub const VERSION: &str = concat!(
    "ringfront ",
    env!("CARGO_PKG_VERSION"),
    " (build ",
    env!("RINGFRONT_BUILD"),
    ")"
);

struct Out {
    /// The open log file, or standard error.
    file: Option<File>,
    /// Where `file` was opened, for [`reopen`].
    path: Option<PathBuf>,
}

struct Sink {
    out: Mutex<Out>,
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
        let line = format!("{} {:<5} {}\n", rfc3339_now(), r.level(), r.args());
        if let Ok(mut out) = self.out.lock() {
            match out.file.as_mut() {
                Some(f) => {
                    let _ = f.write_all(line.as_bytes());
                }
                None => {
                    let _ = std::io::stderr().write_all(line.as_bytes());
                }
            }
        }
    }

    fn flush(&self) {}
}

/// The sink installed by this process, for [`reopen`].
static SINK: std::sync::OnceLock<&'static Sink> = std::sync::OnceLock::new();

fn open(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// Install the logger once per process; later calls (several servers in
/// one test process) keep the first. `RINGFRONT_LOG` sets the level
/// (error, warn, info, debug, off; default info). The first line logged
/// names the version and build.
pub fn init(log_dir: Option<&Path>) -> std::io::Result<()> {
    let (file, path) = match log_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            let path = dir.join("ringfront.log");
            (Some(open(&path)?), Some(path))
        }
        None => (None, None),
    };
    let level = match std::env::var("RINGFRONT_LOG").ok().as_deref() {
        Some("error") => log::LevelFilter::Error,
        Some("warn") => log::LevelFilter::Warn,
        Some("debug") => log::LevelFilter::Debug,
        Some("off") => log::LevelFilter::Off,
        _ => log::LevelFilter::Info,
    };
    let sink: &'static Sink = Box::leak(Box::new(Sink {
        out: Mutex::new(Out { file, path }),
        level,
    }));
    if log::set_logger(sink).is_ok() {
        let _ = SINK.set(sink);
        log::set_max_level(level);
        log::info!("{VERSION} starting, pid {}", std::process::id());
    }
    Ok(())
}

/// Reopen the `-l` log file at its path (SIGUSR1, after logrotate moved
/// it away); standard error needs nothing. A file that cannot be opened
/// keeps the old one and says so.
pub fn reopen() {
    let Some(sink) = SINK.get() else { return };
    let result = match sink.out.lock() {
        Ok(mut out) => match out.path.clone() {
            Some(p) => open(&p).map(|f| out.file = Some(f)).map_err(|e| (p, e)),
            None => Ok(()),
        },
        Err(_) => Ok(()),
    };
    match result {
        Ok(()) => log::info!("log file reopened"),
        Err((p, e)) => log::error!(
            "cannot reopen {}: {e}; still writing the old file",
            p.display()
        ),
    }
}

/// Now as `2026-11-24T15:04:05.123Z`.
fn rfc3339_now() -> String {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(t.as_secs() as i64, t.subsec_millis())
}

/// `secs` since the epoch, plus `millis`, as RFC 3339 UTC.
fn rfc3339(secs: i64, millis: u32) -> String {
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_utc_with_millis() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400, 7), "2000-02-29T00:00:00.007Z");
        assert_eq!(rfc3339(1_795_532_645, 123), "2026-11-24T15:04:05.123Z");
        assert_eq!(rfc3339(4_107_542_399, 999), "2100-02-28T23:59:59.999Z");
    }

    #[test]
    fn version_names_package_and_build() {
        assert!(VERSION.starts_with(concat!("ringfront ", env!("CARGO_PKG_VERSION"))));
        assert!(VERSION.contains("(build "));
    }
}
