//! Numbers and addresses appended to header values (`String`s) without
//! `core::fmt`, over the byte writers everything shares
//! ([`crate::http::write::decimal`], [`crate::http::write::dotted`]).

use crate::http::write::{decimal, dotted};
use std::net::IpAddr;

/// Append `n` in decimal.
pub fn push_u64(out: &mut String, n: u64) {
    push_ascii(out, decimal(&mut [0; 20], n));
}

/// Digits and dots are ASCII: one copy instead of a push per character.
fn push_ascii(out: &mut String, b: &[u8]) {
    out.push_str(std::str::from_utf8(b).unwrap_or_default());
}

/// Append `ip` as `Display` writes it (IPv6 through `Display`: rare, and
/// its compression rules are not worth repeating).
pub fn push_ip(out: &mut String, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => push_ascii(out, dotted(&mut [0; 15], v4)),
        IpAddr::V6(v6) => {
            use std::fmt::Write;
            let _ = write!(out, "{v6}");
        }
    }
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
