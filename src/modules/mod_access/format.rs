//! Formatting one log line from a compiled template: items append straight
//! into the worker's buffer (numbers by hand, times from a per-second
//! cache), so a line costs no allocation. The JSON-lines form writes the
//! same items as an object keyed by item name, escaped for JSON.

use super::template::{Item, Piece};
use crate::basic::RequestStat;
use crate::basic::{Request, Response, Session};
use crate::route::RequestFacts;
use crate::sys::{local_time, LocalTime};
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Numbers and addresses go through the writers every head and header
/// uses.
pub use crate::http::write::{push_ip as put_ip, push_u64 as put_u64};

fn put2(out: &mut Vec<u8>, n: u8) {
    out.push(b'0' + n / 10 % 10);
    out.push(b'0' + n % 10);
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// Per-worker cache of the formatted current second (`$time`), the
/// request-time second (`$request_time`) and the last two seconds broken
/// down for the session times: `localtime_r` (which takes a process-wide
/// lock in glibc) runs about once per second, not once per line.
#[derive(Default)]
pub struct TimeCache {
    time_sec: i64,
    time_txt: Vec<u8>,
    req_sec: i64,
    req_txt: Vec<u8>,
    /// (second, its local time), the older one replaced first.
    local: [Option<(i64, LocalTime)>; 2],
    next: usize,
}

impl TimeCache {
    /// `secs` in local time, from the cache when seen recently.
    fn local(&mut self, secs: i64) -> LocalTime {
        for (s, t) in self.local.iter().flatten() {
            if *s == secs {
                return *t;
            }
        }
        let t = local_time(secs);
        self.local[self.next] = Some((secs, t));
        self.next ^= 1;
        t
    }

    /// `YYYY-MM-DD HH:MM:SS`, local time.
    fn time(&mut self, secs: i64) -> &[u8] {
        if self.time_txt.is_empty() || self.time_sec != secs {
            let t = self.local(secs);
            let o = &mut self.time_txt;
            o.clear();
            put_u64(o, t.year.max(0) as u64);
            o.push(b'-');
            put2(o, t.month);
            o.push(b'-');
            put2(o, t.day);
            o.push(b' ');
            put2(o, t.hour);
            o.push(b':');
            put2(o, t.min);
            o.push(b':');
            put2(o, t.sec);
            self.time_sec = secs;
        }
        &self.time_txt
    }

    /// `[02/Jan/2006:15:04:05 -0700]`, local time.
    fn request(&mut self, secs: i64) -> &[u8] {
        if self.req_txt.is_empty() || self.req_sec != secs {
            let t = self.local(secs);
            let o = &mut self.req_txt;
            o.clear();
            o.push(b'[');
            put2(o, t.day);
            o.push(b'/');
            o.extend_from_slice(MONTHS[(t.month.clamp(1, 12) - 1) as usize]);
            o.push(b'/');
            put_u64(o, t.year.max(0) as u64);
            o.push(b':');
            put2(o, t.hour);
            o.push(b':');
            put2(o, t.min);
            o.push(b':');
            put2(o, t.sec);
            o.push(b' ');
            put_offset(o, t.utc_offset, false);
            o.push(b']');
            self.req_sec = secs;
        }
        &self.req_txt
    }
}

/// `-0700` (or `-07:00` with `colon`).
fn put_offset(o: &mut Vec<u8>, off: i32, colon: bool) {
    o.push(if off < 0 { b'-' } else { b'+' });
    let a = off.unsigned_abs();
    put2(o, (a / 3600) as u8);
    if colon {
        o.push(b':');
    }
    put2(o, (a / 60 % 60) as u8);
}

/// "Now" for one line, read from the clocks at most once each.
pub struct Now {
    inst: Option<Instant>,
    wall: Option<Duration>,
}

impl Now {
    pub fn new() -> Now {
        Now {
            inst: None,
            wall: None,
        }
    }

    /// A fixed now, for tests.
    pub fn at(inst: Instant, wall: SystemTime) -> Now {
        Now {
            inst: Some(inst),
            wall: wall.duration_since(UNIX_EPOCH).ok(),
        }
    }

    fn inst(&mut self) -> Instant {
        *self.inst.get_or_insert_with(Instant::now)
    }

    fn wall(&mut self) -> Duration {
        *self.wall.get_or_insert_with(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
        })
    }

    /// The wall-clock time of an earlier instant.
    fn wall_of(&mut self, i: Instant) -> Duration {
        let ago = self.inst().saturating_duration_since(i);
        self.wall().saturating_sub(ago)
    }
}

impl Default for Now {
    fn default() -> Self {
        Now::new()
    }
}

/// Per-worker formatting state.
#[derive(Default)]
pub struct Fmt {
    pub times: TimeCache,
    /// One JSON value before escaping.
    scratch: Vec<u8>,
}

/// What a line is made from.
pub enum Subject<'a> {
    Request(&'a Request, &'a Response),
    Session(&'a Session),
}

impl Fmt {
    /// Append one line (with its `\n`) for `subject` to `out`.
    pub fn line(
        &mut self,
        out: &mut Vec<u8>,
        pieces: &[Piece],
        json: bool,
        subject: &Subject<'_>,
        now: &mut Now,
    ) {
        if json {
            out.push(b'{');
            let mut first = true;
            for p in pieces {
                let Piece::Item { item, key } = p else {
                    continue;
                };
                if !first {
                    out.push(b',');
                }
                first = false;
                json_str(out, key.as_bytes());
                out.push(b':');
                let mut s = std::mem::take(&mut self.scratch);
                s.clear();
                self.item(&mut s, item, subject, now);
                if is_number(&s) {
                    out.extend_from_slice(&s);
                } else {
                    json_str(out, &s);
                }
                self.scratch = s;
            }
            out.push(b'}');
        } else {
            for p in pieces {
                match p {
                    Piece::Text(t) => out.extend_from_slice(t),
                    Piece::Item { item, .. } => self.item(out, item, subject, now),
                }
            }
        }
        out.push(b'\n');
    }

    fn item(&mut self, out: &mut Vec<u8>, item: &Item, subject: &Subject<'_>, now: &mut Now) {
        if let Item::Time = item {
            let secs = now.wall().as_secs() as i64;
            out.extend_from_slice(self.times.time(secs));
            return;
        }
        match subject {
            Subject::Request(req, res) => self.req_item(out, item, req, res, now),
            Subject::Session(ses) => ses_item(out, item, ses, now, &mut self.times),
        }
    }

    fn req_item(
        &mut self,
        out: &mut Vec<u8>,
        item: &Item,
        req: &Request,
        res: &Response,
        now: &mut Now,
    ) {
        let st = &req.stat;
        let times = st.times.as_deref();
        let t = |f: fn(&crate::basic::StepTimes) -> Option<Instant>| times.and_then(f);
        match item {
            Item::Time => {}
            Item::Host => out.extend_from_slice(req.host()),
            Item::RemoteAddr => put_ip(out, req.ses.peer.ip()),
            Item::ServerAddr => put_addr(out, req.ses.server_addr),
            Item::Vip => put_ip(out, req.ses.local.ip()),
            Item::IsTrustClientip => put_bool(out, req.ses.trusted()),
            Item::Product => or_dash(out, req.product_name().map(str::as_bytes)),
            Item::ClusterName => or_dash(out, req.cluster_name().map(str::as_bytes)),
            Item::Subcluster => out.extend_from_slice(subcluster(req).as_bytes()),
            Item::Backend => {
                out.extend_from_slice(req.cluster_name().unwrap_or("").as_bytes());
                out.push(b',');
                out.extend_from_slice(subcluster(req).as_bytes());
                out.push(b',');
                if let Some(b) = req.route.backend {
                    put_addr(out, b.addr);
                }
                out.push(b',');
                out.extend_from_slice(backend_name(req).as_bytes());
            }
            Item::RetryNum => put_u64(out, req.retries() as u64),
            Item::LogId => out.extend_from_slice(req.log_id.as_deref().unwrap_or("").as_bytes()),
            Item::Error => match &req.error {
                Some((e, msg)) => {
                    out.extend_from_slice(e.kind.code().as_bytes());
                    if !msg.is_empty() {
                        out.push(b',');
                        out.extend_from_slice(msg.as_bytes());
                    }
                }
                None => out.push(b'-'),
            },
            Item::RequestLine => {
                out.extend_from_slice(req.method());
                out.push(b' ');
                out.extend_from_slice(req.target());
                out.push(b' ');
                out.extend_from_slice(req.version().as_str().as_bytes());
            }
            Item::ReqUri => out.extend_from_slice(req.target()),
            Item::Url => {
                out.extend_from_slice(req.path());
                let q = req.query();
                if !q.is_empty() {
                    out.push(b'?');
                    out.extend_from_slice(q);
                }
            }
            Item::ReqHeader(name) => {
                or_dash(out, req.header(name.as_bytes()).filter(|v| !v.is_empty()))
            }
            Item::ReqCookie(name) => or_dash(out, req.cookie(name)),
            Item::ReqNth => put_u64(out, req.ses.requests() + 1),
            Item::ReqBodyLen => put_u64(out, st.body_len_in),
            Item::StatusCode => match res.is_none() {
                true => out.push(b'-'),
                false => put_u64(out, res.status() as u64),
            },
            Item::ResProto => match res.is_none() {
                true => out.push(b'-'),
                false => out
                    .extend_from_slice(res.version().map_or("HTTP/1.1", |v| v.as_str()).as_bytes()),
            },
            Item::ResHeader(name) => {
                let mut any = false;
                if !res.is_none() {
                    for v in res.header_values(name) {
                        if any {
                            out.push(b',');
                        }
                        out.extend_from_slice(v);
                        any = true;
                    }
                }
                if !any {
                    out.push(b'-');
                }
            }
            Item::ResCookie(name) => match res.is_none() {
                true => out.push(b'-'),
                false => or_dash(out, res.set_cookie(name)),
            },
            Item::ResLen => match res.is_none() {
                true => out.push(b'-'),
                false => put_u64(out, st.header_len_out + st.body_len_out),
            },
            Item::ResBodyLen => put_u64(out, st.body_len_out),
            Item::Redirect => match &req.redirect {
                Some(r) => {
                    out.extend_from_slice(r.url.as_bytes());
                    out.push(b',');
                    put_u64(out, r.code as u64);
                }
                None => out.push(b'-'),
            },
            Item::RequestTime => {
                if let Some(s) = t(|t| t.read_start) {
                    let secs = now.wall_of(s).as_secs() as i64;
                    out.extend_from_slice(self.times.request(secs));
                }
            }
            Item::AllTime => {
                let n = now.inst();
                put_ms(
                    out,
                    t(|t| t.read_start).and_then(|s| n.checked_duration_since(s)),
                );
            }
            Item::ReadReqDuration => put_ms(out, between(t(|t| t.read_start), t(|t| t.read_end))),
            Item::ProxyDelay => match t(|t| t.cluster_start) {
                None => out.push(b'-'),
                s => put_ms(out, between(t(|t| t.read_end), s)),
            },
            Item::ConnectTime => match t(|t| t.backend_start) {
                None => {}
                s => match between(s, t(|t| t.backend_connected)) {
                    Some(d) => put_ms(out, Some(d)),
                    None => out.push(b'-'),
                },
            },
            Item::LastBackendDuration | Item::WriteServeTime => {
                put_ms(out, between(t(|t| t.backend_start), t(|t| t.backend_end)))
            }
            Item::ClusterDuration => {
                put_ms(out, between(t(|t| t.cluster_start), t(|t| t.cluster_end)))
            }
            Item::ResponseDuration => {
                put_ms(out, between(t(|t| t.response_start), t(|t| t.response_end)))
            }
            Item::ReadwriteServeTime => match t(|t| t.backend_start) {
                None => out.push(b'-'),
                Some(s) => put_ms(out, now.inst().checked_duration_since(s)),
            },
            Item::SinceSesStartTime => {
                put_ms(out, now.inst().checked_duration_since(req.ses.started))
            }
            // Session items never compile into a request template.
            _ => {}
        }
    }
}

fn between(a: Option<Instant>, b: Option<Instant>) -> Option<Duration> {
    RequestStat::between(a, b)
}

fn ses_item(out: &mut Vec<u8>, item: &Item, ses: &Session, now: &mut Now, tc: &mut TimeCache) {
    match item {
        Item::SesClientip => put_addr(out, ses.peer),
        Item::SesStartTime => {
            let w = now.wall_of(ses.started);
            go_time(out, w, tc.local(w.as_secs() as i64));
        }
        Item::SesEndTime => {
            let w = now.wall();
            go_time(out, w, tc.local(w.as_secs() as i64));
        }
        Item::SesOverhead => go_duration(out, now.inst().saturating_duration_since(ses.started)),
        Item::SesReadTotal => put_u64(out, ses.bytes_in()),
        Item::SesWriteTotal => put_u64(out, ses.bytes_out()),
        Item::SesKeepaliveNum => put_u64(out, ses.requests()),
        Item::SesError => match ses.error() {
            Some(e) => out.extend_from_slice(e.kind.code().as_bytes()),
            None => out.push(b'-'),
        },
        Item::SesIsSecure => put_bool(out, ses.is_tls()),
        Item::SesUse100 => put_bool(out, ses.use_100()),
        // Request items never compile into a session template.
        _ => {}
    }
}

fn subcluster(req: &Request) -> &str {
    match (req.cluster_conf(), req.route.subcluster) {
        (Some(c), Some(i)) => c.subclusters.get(i).map_or("", |s| s.name.as_str()),
        _ => "",
    }
}

fn backend_name(req: &Request) -> &str {
    match (req.cluster_conf(), req.route.subcluster, req.route.backend) {
        (Some(c), Some(i), Some(b)) => c
            .subclusters
            .get(i)
            .and_then(|s| s.backends.get(b.index))
            .map_or("", |b| b.name.as_str()),
        _ => "",
    }
}

/// `ip:port`, `[ip6]:port`.
fn put_addr(out: &mut Vec<u8>, a: SocketAddr) {
    match a {
        SocketAddr::V4(v4) => put_ip(out, IpAddr::V4(*v4.ip())),
        SocketAddr::V6(_) => {
            let _ = write!(out, "{a}");
            return;
        }
    }
    out.push(b':');
    put_u64(out, a.port() as u64);
}

fn or_dash(out: &mut Vec<u8>, v: Option<&[u8]>) {
    match v {
        Some(v) => out.extend_from_slice(v),
        None => out.push(b'-'),
    }
}

fn put_bool(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

/// Whole milliseconds, truncated; nothing when unknown.
fn put_ms(out: &mut Vec<u8>, d: Option<Duration>) {
    if let Some(d) = d {
        put_u64(out, d.as_millis() as u64);
    }
}

/// Go's `Time.String()` without the monotonic-clock reading:
/// `2006-01-02 15:04:05.999999999 -0700 MST` (fraction trailing zeros
/// trimmed); `t` is `since_epoch`'s second in local time.
pub fn go_time(out: &mut Vec<u8>, since_epoch: Duration, t: LocalTime) {
    put_u64(out, t.year.max(0) as u64);
    out.push(b'-');
    put2(out, t.month);
    out.push(b'-');
    put2(out, t.day);
    out.push(b' ');
    put2(out, t.hour);
    out.push(b':');
    put2(out, t.min);
    out.push(b':');
    put2(out, t.sec);
    put_frac(out, since_epoch.subsec_nanos(), 9);
    out.push(b' ');
    put_offset(out, t.utc_offset, false);
    out.push(b' ');
    out.extend_from_slice(t.zone());
}

/// `.ddd` of `frac` (with `digits` digits), trailing zeros trimmed; nothing
/// when zero.
fn put_frac(out: &mut Vec<u8>, mut frac: u32, mut digits: u32) {
    if frac == 0 {
        return;
    }
    while frac.is_multiple_of(10) {
        frac /= 10;
        digits -= 1;
    }
    out.push(b'.');
    let start = out.len();
    put_u64(out, frac as u64);
    let pad = digits as usize - (out.len() - start);
    for _ in 0..pad {
        out.insert(start, b'0');
    }
}

/// Go's `Duration.String()`: `1.234567ms`, `2m3.5s`, `1h0m0s`, `0s`.
pub fn go_duration(out: &mut Vec<u8>, d: Duration) {
    let ns = d.as_nanos() as u64;
    if ns == 0 {
        out.extend_from_slice(b"0s");
    } else if ns < 1_000 {
        put_u64(out, ns);
        out.extend_from_slice(b"ns");
    } else if ns < 1_000_000 {
        put_u64(out, ns / 1_000);
        put_frac(out, (ns % 1_000) as u32, 3);
        out.extend_from_slice("µs".as_bytes());
    } else if ns < 1_000_000_000 {
        put_u64(out, ns / 1_000_000);
        put_frac(out, (ns % 1_000_000) as u32, 6);
        out.extend_from_slice(b"ms");
    } else {
        let s = ns / 1_000_000_000;
        let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
        if h > 0 {
            put_u64(out, h);
            out.push(b'h');
        }
        if h > 0 || m > 0 {
            put_u64(out, m);
            out.push(b'm');
        }
        put_u64(out, s);
        put_frac(out, (ns % 1_000_000_000) as u32, 9);
        out.push(b's');
    }
}

fn is_number(s: &[u8]) -> bool {
    !s.is_empty()
        && s.len() < 20
        && s.iter().all(u8::is_ascii_digit)
        && (s[0] != b'0' || s.len() == 1)
}

/// A JSON string: quotes, backslash and control bytes escaped; bytes that
/// are not UTF-8 become U+FFFD so every line parses. Runs of plain bytes
/// are copied whole.
pub fn json_str(out: &mut Vec<u8>, s: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\' {
            i += 1;
            continue;
        }
        out.extend_from_slice(&s[start..i]);
        if b >= 0x80 {
            // One UTF-8 character, checked on its own bytes only (so a
            // long value costs linear time), or U+FFFD for a bad byte.
            let len = match b {
                0xC2..=0xDF => 2,
                0xE0..=0xEF => 3,
                0xF0..=0xF4 => 4,
                _ => 0,
            };
            let ch = s
                .get(i..i + len)
                .filter(|c| len > 0 && std::str::from_utf8(c).is_ok());
            match ch {
                Some(c) => {
                    out.extend_from_slice(c);
                    i += len;
                }
                None => {
                    out.extend_from_slice("\u{fffd}".as_bytes());
                    i += 1;
                }
            }
        } else {
            match b {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                _ => {
                    out.extend_from_slice(b"\\u00");
                    out.push(HEX[(b >> 4) as usize]);
                    out.push(HEX[(b & 15) as usize]);
                }
            }
            i += 1;
        }
        start = i;
    }
    out.extend_from_slice(&s[start..]);
    out.push(b'"');
}
