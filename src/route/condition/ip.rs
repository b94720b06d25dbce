//! Address tests: `req_vip_in` lists and `*_range(start, end)` ranges.
//!
//! BFE compares Go's 16-byte form, where an IPv4 address is the IPv4-mapped
//! IPv6 address; comparing the same form as a `u128` keeps that order, so
//! an IPv4 range holds IPv4 clients (also those arriving on a dual-stack
//! socket) and an IPv6 range holds IPv6 clients. Ranges are BFE's
//! `start|end` pairs, not CIDR blocks.

use std::net::IpAddr;

/// Which address a primitive looks at.
#[derive(Debug, Clone, Copy)]
pub enum IpOf {
    /// The client, as modules such as mod_trust_clientip may have set it.
    Client,
    /// The socket peer (`ses_sip_range`).
    Peer,
    /// The local address the client connected to.
    Vip,
}

#[derive(Debug, Clone)]
pub enum IpTest {
    In(Box<[u128]>),
    /// Inclusive.
    Range(u128, u128),
}

impl IpTest {
    /// `a|b|c`: every entry must be an address.
    pub fn list(s: &str) -> Result<IpTest, String> {
        let ips = s
            .split('|')
            .map(|p| parse(p).ok_or_else(|| format!("invalid IP address {p:?}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(IpTest::In(ips.into()))
    }

    /// Both ends of the same family, start not after end. Errors carry
    /// the index of the argument at fault.
    pub fn range(start: &str, end: &str) -> Result<IpTest, (usize, String)> {
        let family = |i: usize, s: &str| -> Result<(u128, bool), (usize, String)> {
            let ip: IpAddr = s
                .parse()
                .map_err(|_| (i, format!("invalid IP address {s:?}")))?;
            Ok((key(ip), ip.is_ipv4()))
        };
        let (a, a4) = family(0, start)?;
        let (b, b4) = family(1, end)?;
        if a4 != b4 {
            return Err((
                1,
                format!("{start:?} and {end:?} are not both IPv4 or both IPv6"),
            ));
        }
        if a > b {
            return Err((1, format!("end {end:?} is before start {start:?}")));
        }
        Ok(IpTest::Range(a, b))
    }

    pub fn matches(&self, ip: IpAddr) -> bool {
        let k = key(ip);
        match self {
            IpTest::In(list) => list.contains(&k),
            IpTest::Range(a, b) => (*a..=*b).contains(&k),
        }
    }
}

fn parse(s: &str) -> Option<u128> {
    s.parse::<IpAddr>().ok().map(key)
}

/// Go's 16-byte form as a number.
fn key(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ranges_per_family() {
        let r = IpTest::range("10.0.0.0", "10.0.0.255").unwrap();
        assert!(r.matches(ip("10.0.0.0")));
        assert!(r.matches(ip("10.0.0.255")));
        assert!(r.matches(ip("::ffff:10.0.0.7")));
        assert!(!r.matches(ip("10.0.1.0")));
        assert!(!r.matches(ip("9.255.255.255")));
        assert!(!r.matches(ip("2001:db8::1")));
        let r6 = IpTest::range("2001:db8::", "2001:db8::ffff").unwrap();
        assert!(r6.matches(ip("2001:DB8::abcd")));
        assert!(!r6.matches(ip("2001:db8::1:0")));
        assert!(!r6.matches(ip("10.0.0.1")));
        let one = IpTest::range("1.2.3.4", "1.2.3.4").unwrap();
        assert!(one.matches(ip("1.2.3.4")));
    }

    #[test]
    fn range_errors() {
        let e = IpTest::range("1.1.1.1", "1.1.1.0").unwrap_err();
        assert!(e.0 == 1 && e.1.contains("before"), "{e:?}");
        let e = IpTest::range("1.1.1", "1.1.1.2").unwrap_err();
        assert!(e.0 == 0 && e.1.contains("invalid"), "{e:?}");
        let e = IpTest::range("1.1.1.1", "2001:db8::1").unwrap_err();
        assert!(e.0 == 1 && e.1.contains("both"), "{e:?}");
        assert!(IpTest::range("10.0.0.0/8", "10.255.255.255").is_err());
        assert!(IpTest::range("", "").is_err());
    }

    #[test]
    fn lists() {
        let l = IpTest::list("1.1.1.1|2001:DB8:2de::e13").unwrap();
        assert!(l.matches(ip("1.1.1.1")));
        assert!(l.matches(ip("::ffff:1.1.1.1")));
        assert!(l.matches(ip("2001:0db8:02de:0::e13")));
        assert!(!l.matches(ip("2002:db8:2de::e13")));
        assert!(IpTest::list("1.1.1.1|2001::DB8:2de::e13").is_err());
        assert!(IpTest::list("").is_err());
        assert!(IpTest::list("1.1.1.1|").is_err());
    }
}
