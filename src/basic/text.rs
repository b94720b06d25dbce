//! Numbers and addresses appended to header values and log lines without
//! `core::fmt`: handlers do this on every request, and the formatting
//! machinery costs several times the digits it writes.

use std::net::{IpAddr, Ipv4Addr};

/// Append `n` in decimal.
pub fn push_u64(out: &mut String, n: u64) {
    let mut buf = [0u8; 20];
    let at = digits(&mut buf, n);
    push_ascii(out, &buf[at..]);
}

/// `n`'s decimal digits at the end of `buf`; returns where they start.
fn digits(buf: &mut [u8], mut n: u64) -> usize {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 || i == 0 {
            return i;
        }
    }
}

/// Digits and dots are ASCII: one copy instead of a push per character.
fn push_ascii(out: &mut String, b: &[u8]) {
    out.push_str(std::str::from_utf8(b).unwrap_or_default());
}

/// Append `ip` as `Display` writes it (IPv6 through `Display`: rare, and
/// its compression rules are not worth repeating).
pub fn push_ip(out: &mut String, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            let mut buf = [0u8; 15];
            let n = ipv4(&mut buf, v4);
            push_ascii(out, &buf[..n]);
        }
        IpAddr::V6(v6) => {
            use std::fmt::Write;
            let _ = write!(out, "{v6}");
        }
    }
}

/// `ip` in dotted decimal at the start of `buf`; returns its length.
pub fn ipv4(buf: &mut [u8; 15], ip: Ipv4Addr) -> usize {
    let mut n = 0;
    for (i, o) in ip.octets().into_iter().enumerate() {
        if i > 0 {
            buf[n] = b'.';
            n += 1;
        }
        if o >= 100 {
            buf[n] = b'0' + o / 100;
            n += 1;
        }
        if o >= 10 {
            buf[n] = b'0' + o / 10 % 10;
            n += 1;
        }
        buf[n] = b'0' + o % 10;
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_display_writes_them() {
        let mut s = String::new();
        for n in [0u64, 7, 10, 65535, u64::MAX] {
            s.clear();
            push_u64(&mut s, n);
            assert_eq!(s, n.to_string());
        }
        for ip in [
            "0.0.0.0",
            "127.0.0.1",
            "10.100.9.255",
            "255.255.255.255",
            "::1",
            "2001:db8::7",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            s.clear();
            push_ip(&mut s, ip);
            assert_eq!(s, ip.to_string());
        }
    }
}
