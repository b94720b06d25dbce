//! The PROXY protocol v2 header ringfront sends to backends of clusters
//! with `SendProxyV2` (HAProxy's `send-proxy-v2`), so that a backend behind
//! ringfront learns the client's address the way ringfront learns it from
//! a layer-4 balancer. Written by hand: 16 fixed bytes and the addresses,
//! no TLVs, into a buffer the caller already holds.

use std::net::{IpAddr, SocketAddr};

/// v2's fixed 12-byte signature.
const SIG: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";

/// Append a v2 header to `out`: `PROXY` over TCP with `(source,
/// destination)`, or the `LOCAL` command (health checks: "use the socket's
/// addresses") for `None`. Mixed families are sent as IPv6, an IPv4
/// address as `::ffff:a.b.c.d`.
pub(crate) fn write_v2(out: &mut Vec<u8>, addrs: Option<(SocketAddr, SocketAddr)>) {
    out.extend_from_slice(SIG);
    let Some((src, dst)) = addrs else {
        // Version 2, LOCAL; family UNSPEC; no address bytes.
        out.extend_from_slice(&[0x20, 0x00, 0, 0]);
        return;
    };
    // Version 2, PROXY.
    out.push(0x21);
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            out.extend_from_slice(&[0x11, 0, 12]);
            out.extend_from_slice(&s.octets());
            out.extend_from_slice(&d.octets());
        }
        (s, d) => {
            let v6 = |ip: IpAddr| match ip {
                IpAddr::V4(a) => a.to_ipv6_mapped(),
                IpAddr::V6(a) => a,
            };
            out.extend_from_slice(&[0x21, 0, 36]);
            out.extend_from_slice(&v6(s).octets());
            out.extend_from_slice(&v6(d).octets());
        }
    }
    out.extend_from_slice(&src.port().to_be_bytes());
    out.extend_from_slice(&dst.port().to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use ppp::v2;

    fn parse(b: &[u8]) -> v2::Header<'_> {
        v2::Header::try_from(b).expect("a valid v2 header")
    }

    #[test]
    fn ipv4_ipv6_mixed_and_local_parse_back() {
        let a = |s: &str| s.parse::<SocketAddr>().unwrap();
        let mut b = Vec::new();
        write_v2(&mut b, Some((a("192.0.2.7:5555"), a("10.0.0.1:80"))));
        let h = parse(&b);
        assert_eq!(h.len(), b.len());
        assert_eq!(h.command, v2::Command::Proxy);
        assert_eq!(
            h.addresses,
            v2::Addresses::IPv4(v2::IPv4::new([192, 0, 2, 7], [10, 0, 0, 1], 5555, 80))
        );
        b.clear();
        write_v2(&mut b, Some((a("[2001:db8::1]:1"), a("10.0.0.1:443"))));
        let h = parse(&b);
        assert_eq!(h.len(), 52);
        let v2::Addresses::IPv6(x) = h.addresses else {
            panic!("{:?}", h.addresses)
        };
        assert_eq!(
            x.source_address,
            "2001:db8::1".parse::<std::net::Ipv6Addr>().unwrap()
        );
        assert_eq!(
            x.destination_address,
            "::ffff:10.0.0.1".parse::<std::net::Ipv6Addr>().unwrap()
        );
        assert_eq!((x.source_port, x.destination_port), (1, 443));
        b.clear();
        write_v2(&mut b, None);
        let h = parse(&b);
        assert_eq!((h.len(), h.command), (16, v2::Command::Local));
    }
}
