//! One health check of one backend per `CheckConf`: an HTTP GET whose
//! status must match `StatusCode`, or a TCP connect.

use crate::config::CheckConf;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use std::net::SocketAddr;
use std::time::Duration;

/// Longest status line read from a checked backend.
const MAX_STATUS_LINE: usize = 1024;

/// Run one check against the backend at `addr`, all of it within `timeout`.
///
/// `Schem` `http` sends `GET Uri` with `Host` (or the address) as BFE
/// does; `tcp` only connects. ringfront has no TLS to backends, so `https`
/// and `tls` are checked as `tcp`. With `send_proxy` (the cluster's
/// `SendProxyV2`) the GET follows a PROXY v2 `LOCAL` header, the
/// protocol's way to say "a check from the proxy itself".
pub(super) async fn once(
    addr: SocketAddr,
    check: &CheckConf,
    timeout: Duration,
    send_proxy: bool,
) -> bool {
    let addr = check_addr(addr, &check.host);
    let run = async {
        let mut s = crate::upstream::connect(addr, timeout).await.ok()?;
        if check.schem != "http" {
            return Some(true);
        }
        let host = if check.host.is_empty() {
            addr.to_string()
        } else {
            check.host.clone()
        };
        let mut req = Vec::with_capacity(256);
        if send_proxy {
            crate::upstream::write_proxy_v2(&mut req, None);
        }
        req.extend_from_slice(
            format!(
                "GET {} HTTP/1.1\r\nHost: {host}\r\nAccept: */*\r\nUser-Agent: ringfront-health-check\r\nConnection: close\r\n\r\n",
                check.uri
            )
            .as_bytes(),
        );
        let (r, _) = s.write_all(req).await;
        r.ok()?;
        let status = read_status(&mut s).await?;
        Some(status_matches(status, check.status_code))
    };
    matches!(monoio::time::timeout(timeout, run).await, Ok(Some(true)))
}

/// BFE: a `Host` of the form `name:port` sends the check to that port of
/// the backend's address.
fn check_addr(addr: SocketAddr, host: &str) -> SocketAddr {
    let mut parts = host.split(':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(_), Some(port), None) => match port.parse() {
            Ok(p) => SocketAddr::new(addr.ip(), p),
            Err(_) => addr,
        },
        _ => addr,
    }
}

/// Read up to the end of the status line and return its status code.
async fn read_status(s: &mut monoio::net::TcpStream) -> Option<u16> {
    let mut got: Vec<u8> = Vec::with_capacity(256);
    loop {
        if let Some(end) = got.windows(2).position(|w| w == b"\r\n") {
            return parse_status_line(&got[..end]);
        }
        if got.len() >= MAX_STATUS_LINE {
            return None;
        }
        let (r, buf) = s.read(Vec::with_capacity(512)).await;
        match r {
            Ok(0) | Err(_) => return None,
            Ok(_) => got.extend_from_slice(&buf),
        }
    }
}

fn parse_status_line(line: &[u8]) -> Option<u16> {
    let rest = line.strip_prefix(b"HTTP/1.")?;
    let code = rest.get(2..5)?;
    if rest.get(1) != Some(&b' ') || !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = code.iter().fold(0u16, |n, d| n * 10 + (d - b'0') as u16);
    (100..=599).contains(&n).then_some(n)
}

/// BFE's `MatchStatusCode`: 100–599 that code exactly, 0 any code, 1–31 a
/// bit per class (1 for 1xx … 16 for 5xx).
pub(crate) fn status_matches(got: u16, expect: u16) -> bool {
    match expect {
        0 => true,
        1..=31 => (100..=599).contains(&got) && expect & (1 << (got / 100 - 1)) != 0,
        _ => got == expect,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_match_like_bfe() {
        assert!(status_matches(200, 200));
        assert!(!status_matches(204, 200));
        assert!(status_matches(503, 0));
        // 0b00110: 2xx or 3xx.
        assert!(status_matches(204, 6) && status_matches(302, 6));
        assert!(!status_matches(404, 6));
        assert!(status_matches(500, 16));
    }

    #[test]
    fn status_line() {
        assert_eq!(parse_status_line(b"HTTP/1.1 204 No Content"), Some(204));
        assert_eq!(parse_status_line(b"HTTP/1.0 500"), Some(500));
        assert_eq!(parse_status_line(b"HTTP/1.1 20x OK"), None);
        assert_eq!(parse_status_line(b"HTTP/1.1 999 Odd"), None);
        assert_eq!(parse_status_line(b"SSH-2.0"), None);
    }

    #[test]
    fn host_port_redirects_the_check() {
        let a: SocketAddr = "10.0.0.1:80".parse().unwrap();
        assert_eq!(check_addr(a, "example.org:8080").port(), 8080);
        assert_eq!(check_addr(a, "example.org"), a);
        assert_eq!(check_addr(a, ""), a);
        assert_eq!(check_addr(a, "example.org:x"), a);
    }
}
