//! `ringfront -c CONF_DIR [-l LOG_DIR] [-t]`

use ringfront::server::handover::{self, Inherited};
use ringfront::server::{self, ServerOptions};
use std::path::PathBuf;
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "usage: ringfront -c CONF_DIR [-l LOG_DIR] [-t]
  -c CONF_DIR   configuration directory (holds bfe.conf); default ./conf
  -l LOG_DIR    write the log to LOG_DIR/ringfront.log instead of stderr
  -t            check the configuration, print every problem, and exit
  -v            print the version and exit
signals: TERM, INT, QUIT stop gracefully; USR1 reopens log files;
  USR2 hands the listeners to the binary now at this one's path and
  exits once it serves (zero-downtime upgrade, docs/upgrade.md)";

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
                println!("ringfront {}", env!("CARGO_PKG_VERSION"));
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
    // Block the stop signals (and SIGUSR1, which reopens log files) before
    // any thread starts, so every thread inherits the mask and only this
    // one receives them, in sigwait.
    let signals = ringfront::sys::block_stop_signals();
    // Captured now: after an upgrade replaces the file, this path names the
    // new binary, which SIGUSR2 starts.
    let launch = handover::Launch::capture();
    // Started by a running ringfront for an upgrade: its listeners.
    let mut inherited = match Inherited::receive() {
        Ok(i) => i,
        Err(e) => {
            log::error!("upgrade hand-over failed: {e}");
            eprintln!("ringfront: upgrade hand-over failed: {e}");
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
            log::error!("start-up failed:\n{e}");
            eprintln!("ringfront: start-up failed:\n{e}");
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
    let sig = loop {
        match signals.wait() {
            ringfront::sys::SIGUSR1 => {
                log::info!("SIGUSR1: reopening log files");
                handle.reopen_logs();
            }
            ringfront::sys::SIGUSR2 => {
                if upgrade(&handle, &launch) {
                    log::info!("upgrade: draining, then exiting");
                    handle.shutdown();
                    return ExitCode::SUCCESS;
                }
            }
            sig => break sig,
        }
    };
    log::info!("signal {sig}: shutting down gracefully");
    server::notify::stopping();
    handle.shutdown();
    ExitCode::SUCCESS
}

/// SIGUSR2: hand the listeners to the binary now at our path. `true`: it
/// serves, this process must drain and exit (without `STOPPING=1`).
fn upgrade(handle: &server::ServerHandle, launch: &std::io::Result<handover::Launch>) -> bool {
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
