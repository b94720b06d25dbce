//! Building a worker's monoio runtime: io_uring when the kernel offers it,
//! epoll otherwise, and one line in the log saying which.

use crate::config::server::Taskrun;
use crate::config::Tuning;
use monoio::time::TimeDriver;
use monoio::{IoUringDriver, LegacyDriver, RuntimeBuilder};
use std::io;

pub(super) type Runtime =
    monoio::FusionRuntime<TimeDriver<IoUringDriver>, TimeDriver<LegacyDriver>>;

/// Which driver a runtime ended up on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Driver {
    IoUring,
    Epoll,
}

/// Build the runtime for worker `id`. io_uring setup can fail even where the
/// kernel has it (a low RLIMIT_MEMLOCK, seccomp, `io_uring_disabled`), so a
/// failed build falls back to epoll instead of stopping the worker.
pub(crate) fn build(t: &Tuning, id: usize) -> io::Result<(Runtime, Driver)> {
    if monoio::utils::detect_uring() {
        // Task-run flags need Linux 5.19 (coop) or 6.1 (defer): an older
        // kernel refuses them, so try once more without before epoll.
        let mut attempts = vec![t.uring_taskrun];
        if t.uring_taskrun != Taskrun::Off {
            attempts.push(Taskrun::Off);
        }
        for taskrun in attempts {
            match uring(t, taskrun) {
                Ok(rt) => return Ok((rt.into(), Driver::IoUring)),
                Err(e) if taskrun != Taskrun::Off => log::warn!(
                    "worker {id}: io_uring with UringTaskrun {taskrun:?} failed ({e}); trying without"
                ),
                Err(e) => {
                    log::warn!("worker {id}: io_uring setup failed ({e}); falling back to epoll")
                }
            }
        }
    } else if id == 0 {
        log::warn!(
            "io_uring is unavailable (or MONOIO_FORCE_LEGACY_DRIVER is set); workers use epoll"
        );
    }
    let rt = RuntimeBuilder::<LegacyDriver>::new()
        .enable_timer()
        .build()?;
    Ok((rt.into(), Driver::Epoll))
}

fn uring(t: &Tuning, taskrun: Taskrun) -> io::Result<monoio::Runtime<TimeDriver<IoUringDriver>>> {
    let mut urb = io_uring::IoUring::builder();
    if t.uring_sqpoll_idle_ms > 0 {
        urb.setup_sqpoll(t.uring_sqpoll_idle_ms);
    }
    match taskrun {
        Taskrun::Coop => {
            urb.setup_coop_taskrun().setup_taskrun_flag();
        }
        Taskrun::Defer => {
            urb.setup_single_issuer().setup_defer_taskrun();
        }
        Taskrun::Off => {}
    }
    RuntimeBuilder::<IoUringDriver>::new()
        .with_entries(t.uring_entries.max(8))
        .uring_builder(urb)
        .enable_timer()
        .build()
}
