//! `bfe_time_range` and `bfe_periodic_time_range`, with BFE's time format:
//! `yyyymmddhhmmssZ` (or `hhmmssZ` for the periodic form), where `Z` is a
//! military time-zone letter (`H` = UTC+8, `Z` = UTC, `J` unused).
//!
//! As in BFE, a request's `X-Bfe-Debug-Time` header, when present, stands
//! in for the clock (a malformed one matches nothing), so time-based rules
//! can be tried out before their window opens.

use crate::route::RequestFacts;
use std::time::{SystemTime, UNIX_EPOCH};

const DEBUG_HEADER: &[u8] = b"X-Bfe-Debug-Time";
const DAY: i64 = 86_400;

#[derive(Debug, Clone)]
pub enum TimeTest {
    /// Unix seconds, inclusive.
    Range(i64, i64),
    /// Seconds of the day in the zone `offset` seconds east of UTC.
    Daily { start: i64, end: i64, offset: i64 },
}

impl TimeTest {
    /// Errors carry the index of the argument at fault.
    pub fn range(start: &str, end: &str) -> Result<TimeTest, (usize, String)> {
        let a = parse_time(start.as_bytes()).map_err(|e| (0, e))?;
        let b = parse_time(end.as_bytes()).map_err(|e| (1, e))?;
        if a > b {
            return Err((
                1,
                format!("end time {end:?} is before start time {start:?}"),
            ));
        }
        Ok(TimeTest::Range(a, b))
    }

    pub fn daily(start: &str, end: &str, period: &str) -> Result<TimeTest, (usize, String)> {
        if !period.is_empty() {
            return Err((2, format!("period {period:?} is not supported; use \"\"")));
        }
        let (a, za) = time_of_day(start.as_bytes()).map_err(|e| (0, e))?;
        let (b, zb) = time_of_day(end.as_bytes()).map_err(|e| (1, e))?;
        if a > b {
            return Err((
                1,
                format!("end time {end:?} is before start time {start:?}"),
            ));
        }
        if za != zb {
            return Err((1, "start and end time must use the same time zone".into()));
        }
        Ok(TimeTest::Daily {
            start: a,
            end: b,
            offset: za,
        })
    }

    pub fn matches<R: RequestFacts + ?Sized>(&self, req: &R) -> bool {
        let now = match req.header(DEBUG_HEADER) {
            Some(v) => match parse_time(v) {
                Ok(t) => t,
                Err(_) => return false,
            },
            None => now(),
        };
        match *self {
            TimeTest::Range(a, b) => (a..=b).contains(&now),
            TimeTest::Daily { start, end, offset } => {
                (start..=end).contains(&(now + offset).rem_euclid(DAY))
            }
        }
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `yyyymmddhhmmssZ` → Unix seconds.
pub fn parse_time(s: &[u8]) -> Result<i64, String> {
    let (digits, zone) = split_zone(s, 14)?;
    let n = |r: std::ops::Range<usize>| {
        digits[r]
            .iter()
            .fold(0i64, |v, d| v * 10 + i64::from(d - b'0'))
    };
    let (y, mo, d) = (n(0..4), n(4..6), n(6..8));
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) {
        return Err(format!("no such date in {:?}", String::from_utf8_lossy(s)));
    }
    let secs = clock(n(8..10), n(10..12), n(12..14))
        .ok_or_else(|| format!("no such time in {:?}", String::from_utf8_lossy(s)))?;
    Ok(days_from_civil(y, mo, d) * DAY + secs - zone)
}

/// `hhmmssZ` → (seconds of the day, zone offset).
fn time_of_day(s: &[u8]) -> Result<(i64, i64), String> {
    let (digits, zone) = split_zone(s, 6)?;
    let n = |i: usize| i64::from(digits[i] - b'0') * 10 + i64::from(digits[i + 1] - b'0');
    let secs = clock(n(0), n(2), n(4))
        .ok_or_else(|| format!("no such time in {:?}", String::from_utf8_lossy(s)))?;
    Ok((secs, zone))
}

/// `n` ASCII digits then a zone letter; the zone as seconds east of UTC.
fn split_zone(s: &[u8], n: usize) -> Result<(&[u8], i64), String> {
    let shown = || String::from_utf8_lossy(s).into_owned();
    if s.len() != n + 1 || !s[..n].iter().all(u8::is_ascii_digit) {
        return Err(format!(
            "{:?} is not {n} digits and a time-zone letter",
            shown()
        ));
    }
    let zone = zone_offset(s[n]).ok_or_else(|| format!("{:?}: unknown time zone", shown()))?;
    Ok((&s[..n], zone))
}

/// Military time-zone letters: A–I and K–M east (+1…+12), N–Y west
/// (−1…−12), Z for UTC.
fn zone_offset(letter: u8) -> Option<i64> {
    let hours = match letter.to_ascii_uppercase() {
        l @ b'A'..=b'I' => i64::from(l - b'A') + 1,
        l @ b'K'..=b'M' => i64::from(l - b'K') + 10,
        l @ b'N'..=b'Y' => -(i64::from(l - b'N') + 1),
        b'Z' => 0,
        _ => return None,
    };
    Some(hours * 3600)
}

fn clock(h: i64, m: i64, s: i64) -> Option<i64> {
    (h < 24 && m < 60 && s < 60).then_some(h * 3600 + m * 60 + s)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::test_req::Req;

    #[test]
    fn parses_bfe_times() {
        // 2019-02-04 20:00:00 UTC+8 is 12:00:00 UTC.
        assert_eq!(parse_time(b"20190204200000H"), Ok(1_549_281_600));
        assert_eq!(parse_time(b"20190204200000h"), Ok(1_549_281_600));
        assert_eq!(parse_time(b"19700101000000Z"), Ok(0));
        assert_eq!(parse_time(b"19700101000000N"), Ok(3600));
        assert_eq!(parse_time(b"19700101000000Y"), Ok(12 * 3600));
        assert_eq!(parse_time(b"19700101000000M"), Ok(-12 * 3600));
        assert_eq!(parse_time(b"20000229120000Z"), Ok(951_825_600));
        for bad in [
            &b"20190204200000"[..],
            b"2019020420000o",
            b"201902042000000",
            b"20190204200000J",
            b"20190230200000Z",
            b"20190229000000Z",
            b"20191304200000Z",
            b"20190204240000Z",
            b"20190204206000Z",
            b"",
            b"\xff",
        ] {
            assert!(parse_time(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn range_and_debug_header() {
        let t = TimeTest::range("20190204203000H", "20190204204500H").unwrap();
        let at = |v: &str| t.matches(&Req::get("a.com", "/").with_header("X-Bfe-Debug-Time", v));
        assert!(at("20190204203000H"));
        assert!(at("20190204204500H"));
        assert!(at("20190204123500Z"));
        assert!(!at("20190204204501H"));
        assert!(!at("20190204202959H"));
        assert!(!at("garbage"));
        // No header: the clock, which is well past 2019.
        assert!(!t.matches(&Req::get("a.com", "/")));
        let open = TimeTest::range("20000101000000Z", "99991231235959Z").unwrap();
        assert!(open.matches(&Req::get("a.com", "/")));
        assert!(TimeTest::range("20190204204500H", "20190204203000H").is_err());
        assert!(TimeTest::range("2019", "20190204203000H").is_err());
    }

    #[test]
    fn daily_windows() {
        let t = TimeTest::daily("090000H", "180000H", "").unwrap();
        let at = |v: &str| t.matches(&Req::get("a.com", "/").with_header("X-Bfe-Debug-Time", v));
        assert!(at("20240101090000H"));
        assert!(at("20240517180000H"));
        assert!(at("20240101020000Z"));
        assert!(!at("20240101180001H"));
        assert!(!at("20240101235959Z"));
        assert!(TimeTest::daily("090000H", "180000Z", "").is_err());
        assert!(TimeTest::daily("090000H", "080000H", "").is_err());
        assert!(TimeTest::daily("090000H", "180000H", "week").is_err());
        assert!(TimeTest::daily("250000H", "260000H", "").is_err());
    }
}
