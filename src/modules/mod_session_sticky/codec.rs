//! The sticky cookie's value, as BFE writes and reads it: the backend as
//! JSON (`{"ip":…,"port":…,"subcluster":…,"renewtime":…}`), XOR-ed with
//! the rule's mask code (cycled), then base64 with the standard alphabet
//! and no padding (Go's `RawStdEncoding`).

use serde_json::Value;

/// A backend as the cookie names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieBackend {
    pub ip: String,
    pub port: i64,
    pub subcluster: String,
    /// Unix seconds after which the cookie is set again.
    pub renew_time: Option<i64>,
}

impl CookieBackend {
    /// Go's `json.Marshal` of BFE's `SessionStickyBackend`: fields in
    /// declaration order, a missing renew time as `null`.
    pub fn to_json(&self) -> String {
        let s = |v: &str| serde_json::to_string(v).unwrap_or_else(|_| "\"\"".into());
        let renew = self
            .renew_time
            .map_or_else(|| "null".to_string(), |t| t.to_string());
        format!(
            "{{\"ip\":{},\"port\":{},\"subcluster\":{},\"renewtime\":{renew}}}",
            s(&self.ip),
            self.port,
            s(&self.subcluster)
        )
    }

    /// BFE's `getStickyBackend`: JSON with `ip`, `port` and `subcluster`
    /// present (keys matched case-insensitively, as Go's decoder does);
    /// `renewtime` optional.
    pub fn from_json(text: &[u8]) -> Option<CookieBackend> {
        let v: Value = serde_json::from_slice(text).ok()?;
        let obj = v.as_object()?;
        let get = |k: &str| crate::module::conf::field(obj, k).filter(|v| !v.is_null());
        let renew_time = match get("renewtime") {
            Some(t) => Some(t.as_i64()?),
            None => None,
        };
        Some(CookieBackend {
            ip: get("ip")?.as_str()?.to_string(),
            port: get("port")?.as_i64()?,
            subcluster: get("subcluster")?.as_str()?.to_string(),
            renew_time,
        })
    }
}

/// XOR with `mask` repeated (BFE's `doMask`); an empty mask leaves the
/// bytes as they are (a rule's mask has at least 4 bytes).
fn mask_bytes(data: &mut [u8], mask: &[u8]) {
    if mask.is_empty() {
        return;
    }
    for (b, m) in data.iter_mut().zip(mask.iter().cycle()) {
        *b ^= m;
    }
}

/// The cookie value for `backend`.
pub fn encode(backend: &CookieBackend, mask: &[u8]) -> String {
    let mut data = backend.to_json().into_bytes();
    mask_bytes(&mut data, mask);
    base64_encode(&data)
}

/// The backend a cookie value names: unmasked with `mask`, else with
/// `standby` (so a mask code can be rotated).
pub fn decode(value: &[u8], mask: &[u8], standby: &[u8]) -> Option<CookieBackend> {
    let raw = base64_decode(value)?;
    [mask, standby].iter().find_map(|m| {
        let mut data = raw.clone();
        mask_bytes(&mut data, m);
        CookieBackend::from_json(&data)
    })
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 without padding.
pub fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | (b as u32) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// Go's `RawStdEncoding.DecodeString`: no padding allowed, `\r` and `\n`
/// ignored, a lone trailing character is an error.
pub fn base64_decode(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    let mut n = 0usize;
    for &c in text {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'\r' | b'\n' => continue,
            _ => return None,
        };
        n += 1;
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    (n % 4 != 1).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bk() -> CookieBackend {
        CookieBackend {
            ip: "127.0.0.1".into(),
            port: 8080,
            subcluster: "sub1".into(),
            renew_time: None,
        }
    }

    #[test]
    fn base64_round_trips_without_padding() {
        assert_eq!(base64_encode(b""), "");
        assert_eq!(base64_encode(b"f"), "Zg");
        assert_eq!(base64_encode(b"fo"), "Zm8");
        assert_eq!(base64_encode(b"foo"), "Zm9v");
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_decode(b"Zm8").unwrap(), b"fo");
        assert_eq!(base64_decode(b"Zm9vYmFy").unwrap(), b"foobar");
        assert!(base64_decode(b"Zm8=").is_none());
        assert!(base64_decode(b"Z").is_none());
        assert!(base64_decode(b"Zm9v*").is_none());
    }

    #[test]
    fn json_as_go_marshals_it() {
        assert_eq!(
            bk().to_json(),
            r#"{"ip":"127.0.0.1","port":8080,"subcluster":"sub1","renewtime":null}"#
        );
        let mut b = bk();
        b.renew_time = Some(1700000000);
        assert!(b.to_json().ends_with(r#""renewtime":1700000000}"#));
        assert_eq!(CookieBackend::from_json(b.to_json().as_bytes()), Some(b));
        let any_case = br#"{"IP":"1.2.3.4","Port":1,"SubCluster":"s"}"#;
        assert_eq!(CookieBackend::from_json(any_case).unwrap().ip, "1.2.3.4");
        assert!(CookieBackend::from_json(br#"{"ip":"1.2.3.4","port":1}"#).is_none());
        assert!(
            CookieBackend::from_json(br#"{"ip":"1.2.3.4","port":"1","subcluster":"s"}"#).is_none()
        );
    }

    #[test]
    fn masked_cookie_round_trips_and_standby_mask_decodes() {
        let v = encode(&bk(), b"defaultmask");
        assert_eq!(
            decode(v.as_bytes(), b"defaultmask", b"standbymask"),
            Some(bk())
        );
        // Written with the old mask, now the standby one.
        assert_eq!(
            decode(v.as_bytes(), b"newmask1", b"defaultmask"),
            Some(bk())
        );
        assert_eq!(decode(v.as_bytes(), b"othermask", b"standbymask"), None);
        assert_eq!(decode(b"!!", b"defaultmask", b"standbymask"), None);
        // Go's doMask on the first bytes: '{' ^ 'd'.
        let raw = base64_decode(v.as_bytes()).unwrap();
        assert_eq!(raw[0], b'{' ^ b'd');
    }
}
