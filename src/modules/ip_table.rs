//! A set of IP address ranges (BFE's `ipdict`), shared by mod_trust_clientip
//! and mod_block: built once per load on the control thread, then looked up
//! once per connection with a binary search over sorted, merged ranges.
//!
//! Addresses are kept as 128-bit numbers, IPv4 as IPv4-mapped IPv6 (as Go's
//! `To16` does), so one table holds both families and a lookup never
//! allocates.

use std::net::{IpAddr, Ipv6Addr};

/// Sorted, non-overlapping inclusive ranges.
#[derive(Debug, Clone, Default)]
pub struct IpTable {
    ranges: Vec<(u128, u128)>,
}

/// `ip` as a 128-bit number, IPv4 mapped into IPv6.
pub fn ip_key(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => u128::from(v4.to_ipv6_mapped()),
            None => u128::from(v6),
        },
    }
}

/// Whether `ip` is a private address (RFC 1918 for IPv4, RFC 4193 for
/// IPv6), as Go's `IP.IsPrivate`.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_private(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.is_private(),
            None => (v6.segments()[0] & 0xfe00) == 0xfc00,
        },
    }
}

/// Collects ranges, then sorts and merges them ([`IpTableBuilder::build`]).
#[derive(Debug, Default)]
pub struct IpTableBuilder {
    ranges: Vec<(u128, u128)>,
}

impl IpTableBuilder {
    /// Add `begin..=end`. Both must be of one family and `begin <= end`,
    /// as BFE's `checkIPPair` requires.
    pub fn insert(&mut self, begin: IpAddr, end: IpAddr) -> Result<(), String> {
        let (b, e) = (ip_key(begin), ip_key(end));
        if is_v4(b) != is_v4(e) {
            return Err(format!(
                "{begin} and {end} should both be IPv4 or both IPv6"
            ));
        }
        if b > e {
            return Err(format!("{begin} > {end}"));
        }
        self.ranges.push((b, e));
        Ok(())
    }

    pub fn build(mut self) -> IpTable {
        self.ranges.sort_unstable();
        let mut out: Vec<(u128, u128)> = Vec::with_capacity(self.ranges.len());
        for (b, e) in self.ranges {
            match out.last_mut() {
                Some(last) if b <= last.1.saturating_add(1) => last.1 = last.1.max(e),
                _ => out.push((b, e)),
            }
        }
        out.shrink_to_fit();
        IpTable { ranges: out }
    }
}

fn is_v4(k: u128) -> bool {
    Ipv6Addr::from(k).to_ipv4_mapped().is_some()
}

impl IpTable {
    pub fn contains(&self, ip: IpAddr) -> bool {
        if self.ranges.is_empty() {
            return false;
        }
        let k = ip_key(ip);
        // The last range starting at or before k is the only candidate.
        let i = self.ranges.partition_point(|&(b, _)| b <= k);
        i > 0 && self.ranges[i - 1].1 >= k
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Number of merged ranges.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }
}

/// Parse one line of BFE's text IP list (`ip_blocklist.data`): a CIDR (its
/// network, so `192.168.1.250/20` is `192.168.0.0/20`), a single address, or
/// `start end` separated by a space or a tab. `None` for a blank or comment
/// line.
pub fn parse_list_line(raw: &str) -> Option<Result<(IpAddr, IpAddr), String>> {
    let line = raw.trim_matches([' ', '\t']);
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    if let Some(r) = parse_cidr(line) {
        return Some(Ok(r));
    }
    let parts = line
        .split_once(' ')
        .or_else(|| line.split_once('\t'))
        .map(|(a, b)| (a.trim_matches([' ', '\t']), b.trim_matches([' ', '\t'])))
        .unwrap_or((line, line));
    match (parts.0.parse::<IpAddr>(), parts.1.parse::<IpAddr>()) {
        (Ok(a), Ok(b)) => Some(Ok((a, b))),
        _ => Some(Err(format!("line {line:?}: not an address, range or CIDR"))),
    }
}

fn parse_cidr(line: &str) -> Option<(IpAddr, IpAddr)> {
    let (addr, bits) = line.split_once('/')?;
    let ip: IpAddr = addr.parse().ok()?;
    let bits: u32 = bits.parse().ok()?;
    match ip {
        IpAddr::V4(v4) if bits <= 32 => {
            let n = u32::from(v4);
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            let first = n & mask;
            Some((IpAddr::V4(first.into()), IpAddr::V4((first | !mask).into())))
        }
        IpAddr::V6(v6) if bits <= 128 => {
            let n = u128::from(v6);
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            let first = n & mask;
            Some((IpAddr::V6(first.into()), IpAddr::V6((first | !mask).into())))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ranges_merge_and_look_up_both_families() {
        let mut b = IpTableBuilder::default();
        b.insert(ip("10.0.0.0"), ip("10.0.0.255")).unwrap();
        b.insert(ip("10.0.0.100"), ip("10.0.1.5")).unwrap();
        b.insert(ip("192.168.1.1"), ip("192.168.1.1")).unwrap();
        b.insert(ip("2001:db8::"), ip("2001:db8::ff")).unwrap();
        assert!(b.insert(ip("10.0.0.9"), ip("10.0.0.1")).is_err());
        assert!(b.insert(ip("10.0.0.1"), ip("::1")).is_err());
        let t = b.build();
        assert_eq!(t.len(), 3);
        assert!(t.contains(ip("10.0.1.5")));
        assert!(t.contains(ip("::ffff:10.0.0.7")));
        assert!(!t.contains(ip("10.0.1.6")));
        assert!(t.contains(ip("192.168.1.1")));
        assert!(!t.contains(ip("192.168.1.2")));
        assert!(t.contains(ip("2001:db8::10")));
        assert!(!t.contains(ip("2001:db8::100")));
        assert!(!IpTable::default().contains(ip("1.2.3.4")));
    }

    #[test]
    fn list_lines_as_bfe_reads_them() {
        let r = |s| parse_list_line(s).unwrap().unwrap();
        assert_eq!(
            r(" 192.168.1.250/20\t"),
            (ip("192.168.0.0"), ip("192.168.15.255"))
        );
        assert_eq!(
            r("192.168.1.253 192.168.1.254"),
            (ip("192.168.1.253"), ip("192.168.1.254"))
        );
        assert_eq!(r("1.1.1.1\t 1.1.1.9"), (ip("1.1.1.1"), ip("1.1.1.9")));
        assert_eq!(r("::1"), (ip("::1"), ip("::1")));
        assert_eq!(r("2001:db8::/126").1, ip("2001:db8::3"));
        assert!(parse_list_line("# comment").is_none());
        assert!(parse_list_line("   ").is_none());
        assert!(parse_list_line("1.2.3").unwrap().is_err());
        assert!(parse_list_line("1.2.3.4/33").unwrap().is_err());
    }

    #[test]
    fn private_addresses() {
        assert!(is_private(ip("10.1.2.3")));
        assert!(is_private(ip("172.16.0.1")));
        assert!(is_private(ip("fd00::1")));
        assert!(!is_private(ip("127.0.0.1")));
        assert!(!is_private(ip("8.8.8.8")));
    }
}
