//! GSLB hash keys. Any stable hash serves (BFE uses murmur3; matching its
//! exact bucket assignment is not a goal), so FNV-1a over the bytes,
//! finished with a 64-bit mixer so `key % total_weight` spreads well even
//! for short, similar keys such as IPv4 addresses.

use crate::config::HashConf;
use crate::route::RequestFacts;
use std::cell::Cell;
use std::net::IpAddr;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// Incremental FNV-1a, so pieces of a request hash without being copied.
#[derive(Clone, Copy)]
pub(crate) struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(FNV_OFFSET)
    }
}

impl Fnv {
    pub(crate) fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= b as u64;
            self.0 = self.0.wrapping_mul(FNV_PRIME);
        }
    }

    pub(crate) fn finish(self) -> u64 {
        mix(self.0)
    }
}

/// splitmix64's finaliser.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

pub(crate) fn hash_bytes(b: &[u8]) -> u64 {
    let mut h = Fnv::default();
    h.write(b);
    h.finish()
}

fn hash_ip(ip: IpAddr) -> u64 {
    match ip {
        IpAddr::V4(v4) => hash_bytes(&v4.octets()),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => hash_bytes(&v4.octets()),
            None => hash_bytes(&v6.octets()),
        },
    }
}

thread_local! {
    static RNG: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let local = 0u8;
    mix(t ^ (&local as *const u8 as u64)) | 1
}

/// BFE falls back to a random key when the strategy yields nothing; a
/// per-thread xorshift keeps that lock- and allocation-free.
pub(crate) fn random_key() -> u64 {
    RNG.with(|r| {
        let mut x = r.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        r.set(x);
        mix(x)
    })
}

/// The value of cookie `name` across all `Cookie` headers.
fn cookie<R: RequestFacts + ?Sized>(req: &R, name: &[u8]) -> Option<u64> {
    let mut found = None;
    req.each_header(&mut |k, v| {
        if !k.eq_ignore_ascii_case(b"cookie") {
            return true;
        }
        for pair in v.split(|&b| b == b';') {
            let pair = pair.trim_ascii();
            let (k, val) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => continue,
            };
            if k.trim_ascii() == name {
                let val = val.trim_ascii();
                let val = val
                    .strip_prefix(b"\"")
                    .and_then(|v| v.strip_suffix(b"\""))
                    .unwrap_or(val);
                found = Some(hash_bytes(val));
                return false;
            }
        }
        true
    });
    found
}

/// The client id per `HashHeader`: the header's value, else (for
/// `Cookie:NAME`) the cookie's; absent or empty reads as none, as in BFE.
fn client_id<R: RequestFacts + ?Sized>(conf: &HashConf, req: &R) -> Option<u64> {
    let header = conf.hash_header.as_bytes();
    if header.is_empty() {
        return None;
    }
    if let Some(v) = req.header(header).filter(|v| !v.is_empty()) {
        return Some(hash_bytes(v));
    }
    let colon = header.iter().position(|&b| b == b':')?;
    let name = header[colon + 1..].trim_ascii();
    if name.is_empty() {
        return None;
    }
    cookie(req, name)
}

/// The GSLB hash key of a request per `HashStrategy` (0 client id, 1 client
/// IP, 2 id then IP, 3 request URI); random when the source is missing.
pub(super) fn hash_key<R: RequestFacts + ?Sized>(conf: &HashConf, req: &R) -> u64 {
    let key = match conf.hash_strategy {
        0 => client_id(conf, req),
        2 => client_id(conf, req).or_else(|| Some(hash_ip(req.client_ip()))),
        3 => Some(req.uri()).filter(|u| !u.is_empty()).map(hash_bytes),
        _ => Some(hash_ip(req.client_ip())),
    };
    key.unwrap_or_else(random_key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::test_req::Req;

    fn conf(strategy: u8, header: &str) -> HashConf {
        HashConf {
            hash_strategy: strategy,
            hash_header: header.into(),
            session_sticky: false,
        }
    }

    #[test]
    fn strategies() {
        let r = Req::get("a.com", "/x?y")
            .with_header("X-Id", "abc")
            .with_header("Cookie", "a=1; SID=\"s1\"");
        assert_eq!(hash_key(&conf(0, "X-Id"), &r), hash_bytes(b"abc"));
        assert_eq!(hash_key(&conf(0, "Cookie:SID"), &r), hash_bytes(b"s1"));
        assert_eq!(hash_key(&conf(1, ""), &r), hash_bytes(&[192, 0, 2, 1]));
        assert_eq!(
            hash_key(&conf(2, "X-None"), &r),
            hash_bytes(&[192, 0, 2, 1])
        );
        assert_eq!(hash_key(&conf(2, "X-Id"), &r), hash_bytes(b"abc"));
        assert_eq!(hash_key(&conf(3, ""), &r), hash_bytes(b"/x?y"));
        // No id: random, so two calls (almost surely) differ.
        let a = hash_key(&conf(0, "X-None"), &r);
        let b = hash_key(&conf(0, "X-None"), &r);
        assert_ne!(a, b);
    }

    #[test]
    fn incremental_matches_one_shot() {
        let mut h = Fnv::default();
        h.write(b"ab");
        h.write(b"c");
        assert_eq!(h.finish(), hash_bytes(b"abc"));
    }
}
