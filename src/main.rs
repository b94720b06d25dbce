//! `ringfront -c CONF_DIR [-l LOG_DIR] [-t] [-v]`; signals in [`dispatch`].

use ringfront::server::handover::{self, Inherited, Launch};
use ringfront::server::{self, ServerHandle, ServerOptions};
use ringfront::sys;
use std::path::PathBuf;
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "usage: ringfront -c CONF_DIR [-l LOG_DIR] [-t]
  -c CONF_DIR   configuration directory (holds bfe.conf); default ./conf
  -l LOG_DIR    write the log to LOG_DIR/ringfront.log instead of stderr
  -t            check the configuration, print every problem, and exit
  -v, --version print the version and build, and exit
signals: HUP reload conf, USR1 reopen logs, TERM/INT/QUIT graceful stop
  (TERM/INT again: exit at once), USR2 hand the listeners to the binary now
  at this one's path and exit once it serves (zero-downtime upgrade,
  docs/upgrade.md)";

fn main() -> ExitCode {
    let mut conf_dir = PathBuf::from("conf");
    let mut log_dir = None;
    let mut test_only = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "-c" => match args.next() {
                Some(v) => conf_dir = PathBuf::from(v),
                None => return usage_error("-c needs a directory"),
            },
            "-l" => match args.next() {
                Some(v) => log_dir = Some(PathBuf::from(v)),
                None => return usage_error("-l needs a directory"),
            },
            "-t" => test_only = true,
            "-v" | "--version" => {
                println!("{}", ringfront::logging::VERSION);
                return ExitCode::SUCCESS;
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => return usage_error(&format!("unknown argument {other}")),
        }
    }
    let opts = ServerOptions::new(conf_dir);
    if test_only {
        return match server::check(&opts) {
            Ok(_) => {
                println!("configuration OK");
                ExitCode::SUCCESS
            }
            Err(errors) => {
                for e in &errors {
                    eprintln!("{e}");
                }
                eprintln!("configuration has {} problem(s)", errors.len());
                ExitCode::FAILURE
            }
        };
    }
    if let Err(e) = ringfront::logging::init(log_dir.as_deref()) {
        eprintln!("ringfront: cannot open log: {e}");
        return ExitCode::FAILURE;
    }
    // Block the handled signals before any thread starts, so every thread
    // inherits the mask and only this one receives them, in sigwait.
    let signals = sys::block_signals();
    // Captured now: after an upgrade replaces the file, this path names the
    // new binary, which SIGUSR2 starts.
    let launch = handover::Launch::capture();
    // Started by a running ringfront for an upgrade: its listeners.
    let mut inherited = match Inherited::receive() {
        Ok(i) => i,
        Err(e) => {
            log::error!("upgrade hand-over failed: {e}");
            if log_dir.is_some() {
                eprintln!("ringfront: upgrade hand-over failed: {e}");
            }
            return ExitCode::FAILURE;
        }
    };
    let listeners = inherited
        .as_mut()
        .map(Inherited::take_listeners)
        .unwrap_or_default();
    let handle = match server::start_with(opts, listeners) {
        Ok(h) => h,
        Err(e) => {
            // Once: to the log, and to stderr too when the log is a file.
            log::error!("start-up failed:\n{e}");
            if log_dir.is_some() {
                eprintln!("ringfront: start-up failed:\n{e}");
            }
            return ExitCode::FAILURE;
        }
    };
    // Every listener accepts now: tell systemd (Type=notify), if it asked.
    // (On an upgrade, MAINPID= moves the unit to this process before the
    // old one, told next, exits.)
    server::notify::ready(&handle);
    if let Some(i) = inherited {
        if let Err(e) = i.ready() {
            log::warn!("upgrade: cannot tell the old process we serve: {e}");
        }
    }
    let mut handle = Some(handle);
    loop {
        dispatch(signals.wait(), &mut handle, &launch);
    }
}

/// What each signal does; every one is logged. The one place to wire a
/// new signal (SIGUSR2's binary upgrade goes here).
///
/// - SIGHUP: re-read, validate and swap in the whole conf dir (as the
///   reload endpoints do, all at once; a bad one changes nothing).
/// - SIGUSR1: reopen log files (ringfront's `-l` log and modules' logs).
/// - SIGTERM, SIGINT, SIGQUIT: stop accepting, let requests in flight
///   finish within `GracefulShutdownTimeout`, exit 0. A second SIGTERM or
///   SIGINT during that drain exits at once, with status 1.
/// - SIGUSR2: zero-downtime binary upgrade: start the binary now at this
///   one's path, hand it the listeners, and once it serves, drain and exit
///   0 (without `STOPPING=1`: the unit's main process is the new one).
fn dispatch(sig: i32, handle: &mut Option<ServerHandle>, launch: &std::io::Result<Launch>) {
    let name = sys::signal_name(sig);
    let Some(h) = handle.as_ref() else {
        // Draining: the handle went to the drain thread.
        if sig == sys::SIGTERM || sig == sys::SIGINT {
            log::warn!("{name} during graceful shutdown: exiting now");
            std::process::exit(1);
        }
        if sig == sys::SIGUSR1 {
            ringfront::logging::reopen();
        }
        log::info!("{name} during graceful shutdown: ignored");
        return;
    };
    match sig {
        sys::SIGHUP => {
            log::info!("SIGHUP: reloading the configuration directory");
            server::notify::reloading();
            // The control thread logs the outcome.
            let status = match h.reload_all() {
                Ok(_) => "configuration reloaded".to_string(),
                Err(e) => format!("reload refused: {e}"),
            };
            server::notify::reloaded(&status);
        }
        sys::SIGUSR1 => {
            log::info!("SIGUSR1: reopening log files");
            h.reopen_logs();
        }
        sys::SIGUSR2 => {
            if upgrade(h, launch) {
                log::info!("upgrade: draining, then exiting");
                drain(handle);
            }
        }
        _ => {
            log::info!("{name}: shutting down gracefully (up to GracefulShutdownTimeout; {name} again exits at once)");
            server::notify::stopping();
            drain(handle);
        }
    }
}

/// Stop accepting and let requests in flight finish on a thread of its
/// own, so that signals are still answered meanwhile; exit 0 after.
fn drain(handle: &mut Option<ServerHandle>) {
    if let Some(h) = handle.take() {
        std::thread::spawn(move || {
            h.shutdown();
            log::info!("stopped");
            std::process::exit(0);
        });
    }
}

/// SIGUSR2: hand the listeners to the binary now at our path. `true`: it
/// serves, this process must drain and exit (without `STOPPING=1`).
fn upgrade(handle: &ServerHandle, launch: &std::io::Result<Launch>) -> bool {
    let launch = match launch {
        Ok(l) => l,
        Err(e) => {
            log::error!("SIGUSR2: upgrade impossible: own path unknown at start: {e}");
            return false;
        }
    };
    log::info!("SIGUSR2: starting the new binary and handing over the listeners");
    match handover::hand_over(handle, launch) {
        Ok(pid) => {
            log::info!("upgrade: process {pid} serves on our listeners");
            true
        }
        Err(e) => {
            log::error!("upgrade failed, still serving: {e}");
            false
        }
    }
}

fn usage_error(msg: &str) -> ExitCode {
    eprintln!("ringfront: {msg}\n{USAGE}");
    ExitCode::from(2)
}
