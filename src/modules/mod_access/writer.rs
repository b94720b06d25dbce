//! The log's one writer thread and the workers' side of the handoff.
//!
//! Workers never touch the disk: each formats lines into its own buffer
//! ([`Sink`]) and hands whole buffers to the writer over a bounded
//! channel. A full queue drops the buffer (its lines are counted) instead
//! of stalling requests, as BFE's non-blocking log4go queue drops records.
//! The writer appends, rotates as log4go's `TimeFileLogWriter` names
//! files, and reopens on SIGUSR1; emptied buffers go back to the workers.

use crate::sys::{local_time, LocalTime};
use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use std::cell::{Cell, RefCell};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// `RotateWhen`: when the active file is renamed and a new one started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Every 60 s from the previous rollover.
    M,
    /// Every hour from the previous rollover.
    H,
    /// Every day from the previous rollover.
    D,
    /// At local midnight.
    Midnight,
    /// At the top of every local hour.
    NextHour,
}

impl When {
    /// BFE's names, case-insensitive.
    pub fn parse(s: &str) -> Option<When> {
        Some(match s.to_ascii_uppercase().as_str() {
            "M" => When::M,
            "H" => When::H,
            "D" => When::D,
            "MIDNIGHT" => When::Midnight,
            "NEXTHOUR" => When::NextHour,
            _ => return None,
        })
    }

    fn interval(self) -> i64 {
        match self {
            When::M => 60,
            When::H | When::NextHour => 3600,
            When::D | When::Midnight => 86400,
        }
    }

    /// The first rollover after `t` (epoch seconds); `offset` is the local
    /// zone's offset east of UTC at `t`.
    pub fn next_after(self, t: i64, offset: i32) -> i64 {
        let local = t + offset as i64;
        match self {
            When::M | When::H | When::D => t + self.interval(),
            When::Midnight => local - local.rem_euclid(86400) + 86400 - offset as i64,
            When::NextHour => local - local.rem_euclid(3600) + 3600 - offset as i64,
        }
    }

    /// Digits in the suffix: `%Y-%m-%d_%H-%M`, `%Y-%m-%d_%H`, `%Y-%m-%d`.
    fn suffix_len(self) -> usize {
        match self {
            When::M => 16,
            When::H | When::NextHour => 13,
            When::D | When::Midnight => 10,
        }
    }

    /// The rotated-file suffix for a period starting at `t` (local time).
    pub fn suffix(self, t: &LocalTime) -> String {
        let mut s = format!("{:04}-{:02}-{:02}", t.year, t.month, t.day);
        if self.suffix_len() >= 13 {
            s.push_str(&format!("_{:02}", t.hour));
        }
        if self.suffix_len() == 16 {
            s.push_str(&format!("-{:02}", t.min));
        }
        s
    }

    /// Whether `s` has the shape of this mode's suffix (log4go's regexp).
    pub fn is_suffix(self, s: &str) -> bool {
        const M: &[u8] = b"dddd-dd-dd_dd-dd";
        let b = s.as_bytes();
        b.len() == self.suffix_len()
            && b.iter().zip(M).all(|(&c, &m)| match m {
                b'd' => c.is_ascii_digit(),
                _ => c == m,
            })
    }
}

/// Rotation settings (`LogDir` + `LogPrefix` mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotate {
    pub when: When,
    pub backups: usize,
}

/// Where the log goes: a file, rotated or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub path: PathBuf,
    pub rotate: Option<Rotate>,
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The open log file and its next rollover.
pub struct FileOut {
    target: Target,
    file: File,
    rollover_at: i64,
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o644)
        .open(path)
}

impl FileOut {
    /// Open (creating the directory for a rotated log, as BFE does); the
    /// first rollover counts from the file's modification time, or `now`.
    pub fn open(target: Target, now: i64) -> io::Result<FileOut> {
        if target.rotate.is_some() {
            if let Some(dir) = target.path.parent() {
                std::fs::create_dir_all(dir)?;
            }
        }
        let file = open_append(&target.path)?;
        let since = file
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
            .map_or(now, |d| d.as_secs() as i64);
        let rollover_at = match target.rotate {
            Some(r) => r.when.next_after(since, local_time(since).utc_offset),
            None => i64::MAX,
        };
        let out = FileOut {
            target,
            file,
            rollover_at,
        };
        out.prune();
        Ok(out)
    }

    /// Append one buffer, rotating first when its time has come.
    pub fn write(&mut self, buf: &[u8], now: i64) -> io::Result<()> {
        if now >= self.rollover_at {
            // A failed rename is reported but does not lose the lines.
            if let Err(e) = self.rotate(now) {
                log::warn!("mod_access: rotating {}: {e}", self.target.path.display());
            }
        }
        self.file.write_all(buf)
    }

    /// log4go's rollover: rename the active file after the start of the
    /// period that just ended, open a new one, drop old backups.
    pub fn rotate(&mut self, now: i64) -> io::Result<()> {
        let Some(r) = self.target.rotate else {
            return Ok(());
        };
        let start = self.rollover_at - r.when.interval();
        let mut name = self.target.path.clone().into_os_string();
        name.push(".");
        name.push(r.when.suffix(&local_time(start)));
        let renamed = std::fs::rename(&self.target.path, PathBuf::from(name));
        // The next rollover is set whatever happened, so a failure is
        // reported once per period, not on every write.
        let mut next = r.when.next_after(now, local_time(now).utc_offset);
        if matches!(r.when, When::M | When::H | When::D) {
            // Intervals count from the previous rollover.
            next = self.rollover_at + r.when.interval();
            while next <= now {
                next += r.when.interval();
            }
        }
        self.rollover_at = next;
        // Reopened even when the rename failed (the file was moved away).
        let reopened = open_append(&self.target.path).map(|f| self.file = f);
        self.prune();
        renamed.and(reopened)
    }

    /// Open the path again (after logrotate moved the file away).
    pub fn reopen(&mut self) -> io::Result<()> {
        if let Some(dir) = self.target.path.parent() {
            if self.target.rotate.is_some() {
                std::fs::create_dir_all(dir)?;
            }
        }
        self.file = open_append(&self.target.path)?;
        Ok(())
    }

    /// Keep the newest `BackupCount` rotated files.
    fn prune(&self) {
        let Some(r) = self.target.rotate else { return };
        let (Some(dir), Some(base)) = (self.target.path.parent(), self.target.path.file_name())
        else {
            return;
        };
        let base = format!("{}.", base.to_string_lossy());
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        let mut backups: Vec<String> = rd
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.strip_prefix(&base).is_some_and(|s| r.when.is_suffix(s)))
            .collect();
        backups.sort();
        let extra = backups.len().saturating_sub(r.backups);
        for n in &backups[..extra] {
            let _ = std::fs::remove_file(dir.join(n));
        }
    }
}

/// What workers send the writer.
pub enum Msg {
    /// Whole lines, each ending in `\n`.
    Lines(Vec<u8>),
    /// Reopen the file (SIGUSR1).
    Reopen,
    /// Answer once everything queued before this is written (shutdown).
    Sync(Sender<()>),
}

/// Buffers the queue holds at most; past that, buffers are dropped.
pub const QUEUE: usize = 1024;

/// Open the target and start the writer thread. The file is opened here,
/// so an unwritable path fails start-up rather than every line.
pub fn spawn(target: Target) -> io::Result<(Sender<Msg>, Receiver<Vec<u8>>)> {
    let mut out = FileOut::open(target, now_secs())?;
    let (tx, rx) = bounded::<Msg>(QUEUE);
    let (free_tx, free_rx) = bounded::<Vec<u8>>(QUEUE);
    std::thread::Builder::new()
        .name("mod_access-log".into())
        .spawn(move || {
            let mut quiet_until = 0;
            for msg in rx {
                let r = match msg {
                    Msg::Lines(mut b) => {
                        let r = out.write(&b, now_secs());
                        b.clear();
                        let _ = free_tx.try_send(b);
                        r
                    }
                    Msg::Reopen => out.reopen(),
                    Msg::Sync(ack) => {
                        let _ = ack.send(());
                        Ok(())
                    }
                };
                // A full disk fails every buffer: say so once per 10 s.
                if let Err(e) = r {
                    let now = now_secs();
                    if now >= quiet_until {
                        log::warn!("mod_access: {}: {e}", out.target.path.display());
                        quiet_until = now + 10;
                    }
                }
            }
        })?;
    Ok((tx, free_rx))
}

/// Bytes a worker's buffer holds before it is handed over.
pub const FLUSH_AT: usize = 32 * 1024;

/// One worker's side: its line buffer and the handoff to the writer.
pub struct Sink {
    tx: Sender<Msg>,
    free: Receiver<Vec<u8>>,
    pub buf: RefCell<Vec<u8>>,
    /// Lines in `buf`.
    lines: Cell<u64>,
    /// Lines dropped because the queue was full (or the writer gone).
    dropped: Cell<u64>,
}

impl Sink {
    pub fn new(tx: Sender<Msg>, free: Receiver<Vec<u8>>) -> Sink {
        Sink {
            tx,
            free,
            buf: RefCell::new(Vec::with_capacity(FLUSH_AT + 4096)),
            lines: Cell::new(0),
            dropped: Cell::new(0),
        }
    }

    /// A line was appended to `buf`; hand the buffer over when it is full.
    /// Returns the lines dropped by this call.
    pub fn line_done(&self) -> u64 {
        self.lines.set(self.lines.get() + 1);
        if self.buf.borrow().len() >= FLUSH_AT {
            return self.flush();
        }
        0
    }

    /// Hand the buffer to the writer now (timer, connection end). Never
    /// blocks: a full queue drops the buffer. Returns the lines dropped.
    pub fn flush(&self) -> u64 {
        let n = self.lines.replace(0);
        if n == 0 {
            return 0;
        }
        let mut buf = self.buf.borrow_mut();
        let next = self
            .free
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(FLUSH_AT + 4096));
        let full = std::mem::replace(&mut *buf, next);
        match self.tx.try_send(Msg::Lines(full)) {
            Ok(()) => 0,
            Err(TrySendError::Full(Msg::Lines(mut b)))
            | Err(TrySendError::Disconnected(Msg::Lines(mut b))) => {
                // Keep the allocation: reuse the dropped buffer.
                b.clear();
                *buf = b;
                self.dropped.set(self.dropped.get() + n);
                n
            }
            Err(_) => 0,
        }
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.get()
    }

    pub fn pending(&self) -> u64 {
        self.lines.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollover_times_follow_log4go() {
        // 2026-01-02 10:20:30 UTC
        let t = 1_767_349_230;
        assert_eq!(When::M.next_after(t, 0), t + 60);
        assert_eq!(When::H.next_after(t, 0), t + 3600);
        assert_eq!(When::D.next_after(t, 0), t + 86400);
        assert_eq!(When::NextHour.next_after(t, 0), 1_767_351_600); // 11:00
        assert_eq!(When::Midnight.next_after(t, 0), 1_767_398_400); // 01-03 00:00
                                                                    // A zone east of UTC moves local midnight earlier in UTC terms.
        assert_eq!(
            When::Midnight.next_after(t, 8 * 3600),
            1_767_398_400 - 8 * 3600
        );
        assert_eq!(When::parse("nexthour"), Some(When::NextHour));
        assert_eq!(When::parse("W"), None);
    }

    #[test]
    fn suffixes_and_their_patterns() {
        let t = LocalTime {
            year: 2026,
            month: 1,
            day: 2,
            hour: 3,
            min: 4,
            ..Default::default()
        };
        assert_eq!(When::M.suffix(&t), "2026-01-02_03-04");
        assert_eq!(When::H.suffix(&t), "2026-01-02_03");
        assert_eq!(When::NextHour.suffix(&t), "2026-01-02_03");
        assert_eq!(When::D.suffix(&t), "2026-01-02");
        assert_eq!(When::Midnight.suffix(&t), "2026-01-02");
        assert!(When::M.is_suffix("2026-01-02_03-04"));
        assert!(!When::M.is_suffix("2026-01-02_03"));
        assert!(When::H.is_suffix("2026-01-02_03"));
        assert!(!When::D.is_suffix("2026-01-0x"));
    }

    #[test]
    fn rotation_renames_after_the_period_and_keeps_backup_count() {
        let d = tempdir();
        let path = d.join("access.log");
        let target = Target {
            path: path.clone(),
            rotate: Some(Rotate {
                when: When::M,
                backups: 2,
            }),
        };
        let t0 = 1_767_349_200; // 10:20:00
        let mut out = FileOut::open(target, t0).unwrap();
        // The injected clock: start the period at t0.
        out.rollover_at = t0 + 60;
        out.write(b"a\n", t0 + 1).unwrap();
        out.write(b"b\n", t0 + 60).unwrap(); // rolls over first
        out.write(b"c\n", t0 + 125).unwrap(); // and again
        out.write(b"d\n", t0 + 185).unwrap();
        let read = |p: &str| std::fs::read_to_string(d.join(p)).unwrap_or_default();
        assert_eq!(read("access.log"), "d\n");
        // Three rotations, two kept: the oldest (10:20, "a") is gone.
        let name = |t: i64| format!("access.log.{}", When::M.suffix(&local_time(t)));
        assert!(!d.join(name(t0)).exists());
        assert_eq!(read(&name(t0 + 60)), "b\n");
        assert_eq!(read(&name(t0 + 120)), "c\n");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn next_hour_rotation_names_the_hour_that_ended() {
        let d = tempdir().join("nh");
        let path = d.join("access.log");
        let target = Target {
            path: path.clone(),
            rotate: Some(Rotate {
                when: When::NextHour,
                backups: 1,
            }),
        };
        // The directory does not exist yet: it is created, as BFE does.
        let t0 = 1_767_349_230;
        let mut out = FileOut::open(target, t0).unwrap();
        out.rollover_at = When::NextHour.next_after(t0, local_time(t0).utc_offset);
        let top = out.rollover_at;
        out.write(b"a\n", t0).unwrap();
        out.write(b"b\n", top + 5).unwrap();
        let name = |t: i64| d.join(format!("access.log.{}", When::H.suffix(&local_time(t))));
        assert_eq!(std::fs::read_to_string(name(top - 3600)).unwrap(), "a\n");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "b\n");
        assert_eq!(out.rollover_at, top + 3600);
        // Moved away before its rollover: the lines still land in a new file.
        std::fs::remove_file(&path).unwrap();
        out.write(b"c\n", top + 3600).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "c\n");
        let _ = std::fs::remove_dir_all(d.parent().unwrap());
    }

    #[test]
    fn a_full_queue_drops_and_counts_without_blocking() {
        let (tx, rx) = bounded::<Msg>(1);
        let (_free_tx, free_rx) = bounded::<Vec<u8>>(1);
        let sink = Sink::new(tx, free_rx);
        for batch in 0..3 {
            for _ in 0..=batch {
                sink.buf.borrow_mut().extend_from_slice(b"line\n");
                assert_eq!(sink.line_done(), 0);
            }
            let started = std::time::Instant::now();
            let dropped = sink.flush();
            assert!(started.elapsed() < std::time::Duration::from_millis(100));
            // The first buffer fits the queue; the next two are dropped.
            assert_eq!(dropped, if batch == 0 { 0 } else { batch + 1 });
        }
        assert_eq!(sink.dropped(), 5);
        match rx.try_recv() {
            Ok(Msg::Lines(b)) => assert_eq!(b, b"line\n"),
            _ => panic!("first buffer not queued"),
        }
        assert_eq!(sink.flush(), 0, "nothing pending");
    }

    fn tempdir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "rf-access-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
