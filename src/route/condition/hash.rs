//! The `*_hash_in` primitives: a value is hashed into one of BFE's 10000
//! buckets with BFE's function (`GetHash`: the first 64 bits of
//! MurmurHash3 x64 128 with seed 0, modulo 10000), so a client lands in
//! the same bucket on ringfront as on BFE, and the condition lists the
//! buckets it covers (`"20|100-199"`).

use std::fmt::Write;
use std::net::IpAddr;

/// BFE's `HashMatcherBucketSize`.
pub const BUCKETS: usize = 10000;

const WORDS: usize = BUCKETS.div_ceil(64);

/// The buckets a condition covers, one bit each (1.25 KiB, built once per
/// load), and whether the value is lower-cased before hashing.
#[derive(Clone)]
pub struct HashTest {
    bits: Box<[u64; WORDS]>,
    fold: bool,
}

impl std::fmt::Debug for HashTest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n: u32 = self.bits.iter().map(|w| w.count_ones()).sum();
        write!(f, "HashTest({n} buckets, fold {})", self.fold)
    }
}

impl HashTest {
    /// Parses BFE's bucket list: `|`-separated sections, each a number or
    /// `a-b` (inclusive), numbers in 0..=9999 (spaces inside are ignored,
    /// as BFE removes them), `a <= b`. Anything else is an error, as in
    /// BFE, so a typo cannot silently cover no bucket.
    pub fn new(list: &str, fold: bool) -> Result<HashTest, String> {
        let mut bits = Box::new([0u64; WORDS]);
        for section in list.split('|') {
            let (start, end) = section_range(section)?;
            for b in start..=end {
                bits[b / 64] |= 1 << (b % 64);
            }
        }
        Ok(HashTest { bits, fold })
    }

    /// Whether `value`'s bucket is covered.
    pub fn matches(&self, value: &[u8]) -> bool {
        self.covers(bucket(value, self.fold))
    }

    /// Whether the client address's bucket is covered. The address is
    /// hashed as Go prints it (`net.IP.String()`: an IPv4-mapped IPv6
    /// address prints as IPv4), written on the stack.
    pub fn matches_ip(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let mut buf = StackStr::default();
        // An address never exceeds the buffer (at most 45 bytes).
        if write!(buf, "{ip}").is_err() {
            return false;
        }
        self.covers(bucket(buf.as_bytes(), false))
    }

    fn covers(&self, b: usize) -> bool {
        self.bits[b / 64] & (1 << (b % 64)) != 0
    }
}

fn section_range(section: &str) -> Result<(usize, usize), String> {
    let numbers: Vec<&str> = section.split('-').collect();
    if numbers.len() > 2 {
        return Err(format!("hash value section {section:?}: more than one '-'"));
    }
    let mut parsed = [0usize; 2];
    for (i, raw) in numbers.iter().enumerate() {
        let n: String = raw.chars().filter(|&c| c != ' ').collect();
        let v: i64 = n
            .parse()
            .map_err(|_| format!("hash value section {section:?}: {n:?} is not a number"))?;
        if !(0..BUCKETS as i64).contains(&v) {
            return Err(format!(
                "hash value section {section:?}: {v} is outside 0..{}",
                BUCKETS - 1
            ));
        }
        parsed[i] = v as usize;
    }
    let (start, end) = if numbers.len() == 2 {
        (parsed[0], parsed[1])
    } else {
        (parsed[0], parsed[0])
    };
    if end < start {
        return Err(format!(
            "hash value section {section:?}: start is larger than end"
        ));
    }
    Ok((start, end))
}

/// BFE's bucket of `value`: `murmur3.Sum64(value) % 10000`, after Go's
/// `strings.ToLower` when `fold`. ASCII is lowered while hashing; a value
/// with other bytes is lowered into a copy (rare: header and query values
/// are mostly ASCII).
pub fn bucket(value: &[u8], fold: bool) -> usize {
    let h = if fold && !value.is_ascii() {
        let lower = String::from_utf8_lossy(value).to_lowercase();
        murmur3_64(lower.as_bytes(), false)
    } else {
        murmur3_64(value, fold)
    };
    (h % BUCKETS as u64) as usize
}

/// The first half of MurmurHash3 x64 128 with seed 0 (what Go's
/// `spaolacci/murmur3.Sum64` returns), reading ASCII lower-cased when
/// `lower`.
pub fn murmur3_64(data: &[u8], lower: bool) -> u64 {
    const C1: u64 = 0x87c3_7b91_1142_53d5;
    const C2: u64 = 0x4cf5_ad43_2745_937f;
    let byte = |b: u8| if lower { b.to_ascii_lowercase() } else { b } as u64;
    let word = |s: &[u8]| {
        s.iter()
            .enumerate()
            .fold(0u64, |acc, (i, &b)| acc | (byte(b) << (8 * i)))
    };
    let (mut h1, mut h2) = (0u64, 0u64);
    let mut blocks = data.chunks_exact(16);
    for block in &mut blocks {
        let k1 = word(&block[..8]);
        let k2 = word(&block[8..]);
        h1 ^= mix_k1(k1);
        h1 = h1
            .rotate_left(27)
            .wrapping_add(h2)
            .wrapping_mul(5)
            .wrapping_add(0x52dc_e729);
        h2 ^= mix_k2(k2);
        h2 = h2
            .rotate_left(31)
            .wrapping_add(h1)
            .wrapping_mul(5)
            .wrapping_add(0x3849_5ab5);
    }
    let tail = blocks.remainder();
    if tail.len() > 8 {
        h2 ^= mix_k2(word(&tail[8..]));
    }
    if !tail.is_empty() {
        h1 ^= mix_k1(word(&tail[..tail.len().min(8)]));
    }
    let len = data.len() as u64;
    h1 ^= len;
    h2 ^= len;
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    h1 = fmix64(h1);
    h2 = fmix64(h2);
    return h1.wrapping_add(h2);

    fn mix_k1(k: u64) -> u64 {
        k.wrapping_mul(C1).rotate_left(31).wrapping_mul(C2)
    }
    fn mix_k2(k: u64) -> u64 {
        k.wrapping_mul(C2).rotate_left(33).wrapping_mul(C1)
    }
}

fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

/// A fixed buffer to print an address into without allocating.
struct StackStr {
    buf: [u8; 48],
    len: usize,
}

impl Default for StackStr {
    fn default() -> Self {
        StackStr {
            buf: [0; 48],
            len: 0,
        }
    }
}

impl StackStr {
    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Write for StackStr {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur3_reference_values() {
        // MurmurHash3_x64_128, seed 0, first 64 bits (spaolacci/murmur3).
        assert_eq!(murmur3_64(b"", false), 0);
        assert_eq!(murmur3_64(b"hello", false), 0xcbd8_a7b3_41bd_9b02);
        // The usual digest 6c1b07bc7bbc4be3… is this value's bytes,
        // little-endian.
        assert_eq!(
            murmur3_64(b"The quick brown fox jumps over the lazy dog", false),
            0xe34b_bc7b_bc07_1b6c
        );
        assert_eq!(murmur3_64(b"HeLLo", true), murmur3_64(b"hello", false));
    }

    #[test]
    fn buckets_as_bfe_computes_them() {
        // From BFE's build_test.go (TestBuildHeaderValueHashIn).
        assert_eq!(bucket(b"TEST-uid-0001", true), 5968);
        assert_eq!(bucket(b"test-uid-0002", false), 4073);
        assert_eq!(bucket(b"test-uid-0003", false), 4055);
        assert_eq!(bucket(b"test-uid-0004", false), 9683);
    }

    #[test]
    fn bucket_lists() {
        let t = HashTest::new("4073|5000-9999", false).unwrap();
        assert!(t.matches(b"test-uid-0002"));
        assert!(!t.matches(b"test-uid-0003"));
        assert!(t.matches(b"test-uid-0004"));
        assert!(!t.matches(b"TEST-uid-0001"));
        assert!(HashTest::new("0-9999", false).unwrap().matches(b"x"));
        assert!(HashTest::new(" 1 - 2 ", false).is_ok());
        for bad in [
            "abc",
            "100-200|300-",
            "1-2-3",
            "100-10000",
            "100-99",
            "",
            "-1",
        ] {
            assert!(HashTest::new(bad, false).is_err(), "{bad}");
        }
    }

    #[test]
    fn addresses_hash_as_go_prints_them() {
        let v4: IpAddr = "10.1.2.3".parse().unwrap();
        let mapped: IpAddr = "::ffff:10.1.2.3".parse().unwrap();
        let b = bucket(b"10.1.2.3", false);
        let t = HashTest::new(&b.to_string(), false).unwrap();
        assert!(t.matches_ip(v4) && t.matches_ip(mapped));
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        let t = HashTest::new(&bucket(b"2001:db8::1", false).to_string(), false).unwrap();
        assert!(t.matches_ip(v6));
    }
}
