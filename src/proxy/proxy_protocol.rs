//! The PROXY protocol header (v1 text, v2 binary) a layer-4 balancer puts
//! in front of a connection, read on accept when `[Server]
//! Layer4LoadBalancer = PROXY`, on the HTTP and the HTTPS listener alike.
//!
//! Semantics are BFE's (`bfe_proxy`):
//! - the header is optional: a connection whose first bytes are not a
//!   PROXY signature is served as a direct one (`proxy_err_no_proxy_protocol`);
//! - a signature followed by a malformed header, or a header not complete
//!   within `ClientReadTimeout` and `MaxProxyHeaderBytes`, closes the
//!   connection, counted (`proxy_err_invalid_header`, `proxy_err_read_header`);
//! - the header's source becomes the client's address and its destination
//!   the VIP; v2 TLVs are skipped.
//!
//! Where ringfront differs (on purpose): `PROXY UNKNOWN` (v1), the v2
//! `LOCAL` command and the v2 `UNSPEC`/`UNIX` families keep the socket's
//! addresses instead of failing, as the protocol's specification asks.
//!
//! Why peek: the header is read with `MSG_PEEK` and only its own bytes are
//! then consumed, so what follows stays in the socket. The HTTPS listener's
//! SNI peek and the rustls handshake then see the ClientHello exactly as
//! on a direct connection, and the HTTP path needs no "bytes read before
//! the request" special case. (A header that arrives in pieces is taken
//! off the socket piece by piece once its signature is known, so waiting
//! for the rest is a real wait, not a poll.)

use crate::worker::{Stats, Worker};
use monoio::net::TcpStream;
use ppp::v2;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// v2's fixed 12-byte signature.
const SIG_V2: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// v1's signature.
const SIG_V1: &[u8; 5] = b"PROXY";
/// The largest header the protocol allows: v2's 16 fixed bytes plus a
/// 16-bit length. A larger `MaxProxyHeaderBytes` cannot matter.
const MAX_HEADER: usize = 16 + u16::MAX as usize;

/// What the first bytes of a connection are.
#[derive(Debug, PartialEq, Eq)]
pub enum Scan {
    /// Not decided yet: wait for more bytes.
    NeedMore,
    /// No PROXY signature: a direct connection.
    Absent,
    /// A whole header of `len` bytes; `addrs` are (source, destination),
    /// `None` where the socket's own addresses stay (LOCAL, UNKNOWN).
    Header {
        v2: bool,
        len: usize,
        addrs: Option<(SocketAddr, SocketAddr)>,
    },
    /// A signature, then something that is not a valid header.
    Invalid { v2: bool },
    /// A signature, then more than `limit` bytes without a complete header.
    TooLarge { v2: bool },
}

/// Classify the bytes a connection starts with; `limit` is
/// `MaxProxyHeaderBytes`. Pure, so every case is unit-tested (and fuzzed,
/// through [`crate::fuzzing`]).
pub fn scan(bytes: &[u8], limit: usize) -> Scan {
    let Some(&first) = bytes.first() else {
        return Scan::NeedMore;
    };
    let (v2, sig): (bool, &[u8]) = match first {
        b'P' => (false, SIG_V1),
        b'\r' => (true, SIG_V2),
        _ => return Scan::Absent,
    };
    let seen = bytes.len().min(sig.len());
    if bytes[..seen] != sig[..seen] {
        return Scan::Absent;
    }
    let too_large = || Scan::TooLarge { v2 };
    if seen < sig.len() {
        return if bytes.len() >= limit {
            too_large()
        } else {
            Scan::NeedMore
        };
    }
    let scan = if v2 {
        scan_v2(bytes, limit)
    } else {
        scan_v1(bytes)
    };
    match scan {
        Scan::Header { len, .. } if len > limit => too_large(),
        Scan::NeedMore if bytes.len() >= limit => too_large(),
        s => s,
    }
}

/// v1's longest line, CRLF included (the specification's 107 bytes).
const V1_MAX: usize = 107;

fn scan_v1(bytes: &[u8]) -> Scan {
    use ppp::v1::{Addresses, Header};
    // The line ends at its first LF. Only a whole line goes to ppp: it
    // takes a line cut just after a space for one with an empty field.
    let window = &bytes[..bytes.len().min(V1_MAX)];
    let line = match window.iter().position(|&b| b == b'\n') {
        Some(end) => &bytes[..=end],
        None if bytes.len() >= V1_MAX => return Scan::Invalid { v2: false },
        None => return Scan::NeedMore,
    };
    // A whole line that does not parse is invalid, "incomplete" or not.
    match Header::try_from(line) {
        Ok(h) => Scan::Header {
            v2: false,
            len: h.header.len(),
            addrs: match h.addresses {
                Addresses::Tcp4(a) => Some((
                    (a.source_address, a.source_port).into(),
                    (a.destination_address, a.destination_port).into(),
                )),
                Addresses::Tcp6(a) => Some((
                    (a.source_address, a.source_port).into(),
                    (a.destination_address, a.destination_port).into(),
                )),
                Addresses::Unknown => None,
            },
        },
        Err(_) => Scan::Invalid { v2: false },
    }
}

fn scan_v2(bytes: &[u8], limit: usize) -> Scan {
    match v2::Header::try_from(bytes) {
        Ok(h) => Scan::Header {
            v2: true,
            len: h.len(),
            addrs: match (h.command, h.addresses) {
                (v2::Command::Local, _) => None,
                (_, v2::Addresses::IPv4(a)) => Some((
                    (a.source_address, a.source_port).into(),
                    (a.destination_address, a.destination_port).into(),
                )),
                (_, v2::Addresses::IPv6(a)) => Some((
                    (a.source_address, a.source_port).into(),
                    (a.destination_address, a.destination_port).into(),
                )),
                (_, v2::Addresses::Unspecified | v2::Addresses::Unix(_)) => None,
            },
        },
        // The fixed part is in, and its length says the whole header will
        // not fit: no need to wait for bytes that could not be accepted.
        Err(v2::ParseError::Partial(_, length)) if 16 + length > limit => {
            Scan::TooLarge { v2: true }
        }
        Err(v2::ParseError::Partial(..) | v2::ParseError::Incomplete(_)) => Scan::NeedMore,
        Err(_) => Scan::Invalid { v2: true },
    }
}

/// Read the PROXY header a connection may start with, within
/// `ClientReadTimeout` and `MaxProxyHeaderBytes`, consuming exactly its
/// bytes. `Ok(Some((source, destination)))` when it gave addresses,
/// `Ok(None)` when the socket's addresses stay (no header, LOCAL,
/// UNKNOWN), `Err(())` when the connection must close (counted here).
///
/// Bytes are peeked; once a whole signature is seen, every byte of an
/// incomplete header is certainly header, so it is taken off the socket
/// (into `buf`) and the next wait is a real one. Only the first few bytes
/// of an undecided signature (fewer than 5 or 12) are polled for, with a
/// growing pause, so a client trickling a header costs next to nothing.
pub(super) async fn read_header(
    w: &Worker,
    stream: &TcpStream,
) -> Result<Option<(SocketAddr, SocketAddr)>, ()> {
    let st = &w.stats;
    let limit = w.conf.max_proxy_header_bytes.min(MAX_HEADER);
    let deadline = Instant::now() + w.conf.client_read_timeout;
    let fd = stream.as_raw_fd();
    let mut buf = w.bufs.borrow_mut().take();
    buf.clear();
    buf.resize(limit, 0);
    // buf[..got] is header already taken off the socket.
    let mut got = 0;
    let mut pause = Duration::from_millis(1);
    let mut outcome = Err(());
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero()
            || !matches!(
                monoio::time::timeout(left, stream.readable(false)).await,
                Ok(Ok(()))
            )
        {
            Stats::inc(&st.proxy_err_read_header);
            log::debug!("worker {}: PROXY protocol header timed out", w.id);
            break;
        }
        let n = match crate::sys::peek(fd, &mut buf[got..]) {
            Ok(0) => {
                Stats::inc(&st.proxy_err_read_header);
                break;
            }
            Ok(n) => n,
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::Interrupted =>
            {
                continue
            }
            Err(_) => {
                Stats::inc(&st.proxy_err_read_header);
                break;
            }
        };
        let total = got + n;
        let s = scan(&buf[..total], limit);
        let v2 = match s {
            Scan::NeedMore
                if buf[..total].starts_with(SIG_V1) || buf[..total].starts_with(SIG_V2) =>
            {
                // All of it is header: take it, then wait for the rest.
                if !take(fd, &mut buf, got, total) {
                    Stats::inc(&st.proxy_err_read_header);
                    break;
                }
                got = total;
                continue;
            }
            Scan::NeedMore => {
                // Too few bytes to tell a signature from a request; they
                // stay in the socket, which therefore stays readable.
                monoio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(50));
                continue;
            }
            Scan::Absent => {
                Stats::inc(&st.proxy_err_no_proxy_protocol);
                outcome = Ok(None);
                break;
            }
            Scan::Header { v2, .. } | Scan::Invalid { v2 } | Scan::TooLarge { v2 } => v2,
        };
        Stats::inc(if v2 {
            &st.proxy_matched_v2_signature
        } else {
            &st.proxy_matched_v1_signature
        });
        match s {
            Scan::Header { v2, len, addrs } => {
                if take(fd, &mut buf, got, len) {
                    Stats::inc(if v2 {
                        &st.proxy_normal_v2_header
                    } else {
                        &st.proxy_normal_v1_header
                    });
                    outcome = Ok(addrs);
                } else {
                    Stats::inc(&st.proxy_err_read_header);
                }
            }
            Scan::Invalid { .. } => {
                Stats::inc(&st.proxy_err_invalid_header);
                log::debug!("worker {}: malformed PROXY protocol header", w.id);
            }
            _ => {
                Stats::inc(&st.proxy_err_read_header);
                log::debug!(
                    "worker {}: PROXY protocol header over MaxProxyHeaderBytes ({limit})",
                    w.id
                );
            }
        }
        break;
    }
    buf.clear();
    w.bufs.borrow_mut().give(buf);
    outcome
}

/// Take header bytes `from..to` off the socket into `buf[from..to]`,
/// where a peek already put them. They are queued in the kernel, so a
/// non-blocking read gets them; reading exactly these leaves whatever
/// follows the header (the request, a ClientHello) in the socket.
fn take(fd: std::os::fd::RawFd, buf: &mut Vec<u8>, from: usize, to: usize) -> bool {
    let keep = buf.len();
    buf.truncate(from);
    while buf.len() < to {
        match crate::sys::recv_now(fd, buf, to - buf.len()) {
            Ok(n) if n > 0 => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            _ => return false,
        }
    }
    buf.resize(keep, 0);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("address")
    }

    fn v2(cmd: u8, fam: u8, payload: &[u8]) -> Vec<u8> {
        let mut b = SIG_V2.to_vec();
        b.push(cmd);
        b.push(fam);
        b.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        b.extend_from_slice(payload);
        b
    }

    fn v4_payload() -> Vec<u8> {
        let mut p = vec![192, 0, 2, 7, 10, 0, 0, 1];
        p.extend_from_slice(&5555u16.to_be_bytes());
        p.extend_from_slice(&80u16.to_be_bytes());
        p
    }

    #[test]
    fn direct_connections_are_absent_as_soon_as_a_byte_differs() {
        assert_eq!(scan(b"", 2048), Scan::NeedMore);
        assert_eq!(scan(b"GET / HTTP/1.1\r\n", 2048), Scan::Absent);
        assert_eq!(scan(&[0x16, 3, 1], 2048), Scan::Absent);
        assert_eq!(scan(b"PUT", 2048), Scan::Absent);
        assert_eq!(scan(b"POST / HTTP/1.1\r\n", 2048), Scan::Absent);
        assert_eq!(scan(b"PRO", 2048), Scan::NeedMore);
        assert_eq!(scan(b"\r\n\r\nGET", 2048), Scan::Absent);
        assert_eq!(scan(b"\r\n\r\n\0\r", 2048), Scan::NeedMore);
    }

    #[test]
    fn v1_headers() {
        let h = b"PROXY TCP4 192.0.2.7 10.0.0.1 5555 80\r\nGET / HTTP/1.1\r\n";
        assert_eq!(
            scan(h, 2048),
            Scan::Header {
                v2: false,
                len: 39,
                addrs: Some((addr("192.0.2.7:5555"), addr("10.0.0.1:80")))
            }
        );
        let h = b"PROXY TCP6 2001:db8::1 ::1 1 443\r\n";
        assert_eq!(
            scan(h, 2048),
            Scan::Header {
                v2: false,
                len: h.len(),
                addrs: Some((addr("[2001:db8::1]:1"), addr("[::1]:443")))
            }
        );
        let h = b"PROXY UNKNOWN\r\n";
        assert_eq!(
            scan(h, 2048),
            Scan::Header {
                v2: false,
                len: h.len(),
                addrs: None
            }
        );
        assert_eq!(scan(b"PROXY TCP4 192.0.2.7 10.0", 2048), Scan::NeedMore);
        for bad in [
            &b"PROXY TCP4 192.0.2.7 10.0.0.1 5555 80\n"[..],
            b"PROXY TCP4 300.0.2.7 10.0.0.1 5555 80\r\n",
            b"PROXY TCP4 192.0.2.7 10.0.0.1 5555 99999\r\n",
            b"PROXY TCP5 192.0.2.7 10.0.0.1 5555 80\r\n",
            b"PROXY TCP6 192.0.2.7 10.0.0.1 5555 80\r\n",
            b"PROXYTCP4\r\n",
        ] {
            assert_eq!(scan(bad, 2048), Scan::Invalid { v2: false }, "{bad:?}");
        }
        // Longer than v1's 107 bytes without a line end.
        assert_eq!(
            scan(&[b"PROXY ".as_slice(), &[b'1'; 120]].concat(), 2048),
            Scan::Invalid { v2: false }
        );
    }

    #[test]
    fn v2_headers() {
        let h = v2(0x21, 0x11, &v4_payload());
        assert_eq!(
            scan(&h, 2048),
            Scan::Header {
                v2: true,
                len: 28,
                addrs: Some((addr("192.0.2.7:5555"), addr("10.0.0.1:80")))
            }
        );
        // TLVs (here a NOOP one) are skipped, but counted in the length.
        let mut p = v4_payload();
        p.extend_from_slice(&[0x04, 0, 3, 1, 2, 3]);
        let h = v2(0x21, 0x11, &p);
        assert!(matches!(scan(&h, 2048), Scan::Header { len: 34, .. }));
        // LOCAL (health checks) and UNSPEC keep the socket's addresses.
        let h = v2(0x20, 0x00, &[]);
        assert_eq!(
            scan(&h, 2048),
            Scan::Header {
                v2: true,
                len: 16,
                addrs: None
            }
        );
        let h = v2(0x21, 0x00, &[]);
        assert!(matches!(scan(&h, 2048), Scan::Header { addrs: None, .. }));
        // Incomplete, then wrong version, command, family, length.
        assert_eq!(scan(&h[..14], 2048), Scan::NeedMore);
        let full = v2(0x21, 0x11, &v4_payload());
        assert_eq!(scan(&full[..20], 2048), Scan::NeedMore);
        assert_eq!(
            scan(&v2(0x11, 0x11, &v4_payload()), 2048),
            Scan::Invalid { v2: true }
        );
        assert_eq!(
            scan(&v2(0x2F, 0x11, &v4_payload()), 2048),
            Scan::Invalid { v2: true }
        );
        assert_eq!(
            scan(&v2(0x21, 0x51, &v4_payload()), 2048),
            Scan::Invalid { v2: true }
        );
        assert_eq!(
            scan(&v2(0x21, 0x11, &[1, 2, 3]), 2048),
            Scan::Invalid { v2: true }
        );
    }

    /// Every strict prefix of a valid header is "need more", whatever the
    /// cut; and arbitrary bytes after a signature never panic.
    #[test]
    fn every_prefix_waits_and_garbage_never_panics() {
        let mut p = v4_payload();
        p.extend_from_slice(&[0x04, 0, 2, 9, 9]);
        let v1: &[u8] = b"PROXY TCP6 2001:db8::1 2001:db8::2 65535 1\r\n";
        for h in [v1.to_vec(), v2(0x21, 0x11, &p), v2(0x20, 0x00, &[])] {
            for cut in 1..h.len() {
                assert_eq!(scan(&h[..cut], 2048), Scan::NeedMore, "{h:?} cut at {cut}");
            }
            assert!(matches!(scan(&h, 2048), Scan::Header { len, .. } if len == h.len()));
        }
        // A small xorshift generator: deterministic, no extra crate.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for i in 0..20_000 {
            let mut b = if i % 2 == 0 {
                SIG_V1.to_vec()
            } else {
                SIG_V2.to_vec()
            };
            let len = (next() % 120) as usize;
            b.extend((0..len).map(|_| {
                // Mostly text-like bytes, with separators and line ends.
                let r = next();
                match r % 8 {
                    0 => b' ',
                    1 => b'\r',
                    2 => b'\n',
                    _ => (r >> 8) as u8,
                }
            }));
            let _ = scan(&b, (next() % 200) as usize + 1);
        }
    }

    #[test]
    fn max_proxy_header_bytes_bounds_both_versions() {
        let h = b"PROXY TCP4 192.0.2.7 10.0.0.1 5555 80\r\n";
        assert!(matches!(scan(h, 39), Scan::Header { .. }));
        assert_eq!(scan(h, 38), Scan::TooLarge { v2: false });
        assert_eq!(scan(&h[..20], 20), Scan::TooLarge { v2: false });
        // v2 announces its length: refused from the fixed 16 bytes on.
        let mut p = v4_payload();
        p.resize(2000, 0);
        let h = v2(0x21, 0x11, &p);
        assert_eq!(scan(&h[..16], 1024), Scan::TooLarge { v2: true });
        assert!(matches!(scan(&h, 2016), Scan::Header { len: 2016, .. }));
    }
}
