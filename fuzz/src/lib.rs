//! What each fuzz target checks, shared by the libFuzzer targets
//! (`fuzz_targets/`, nightly, `scripts/fuzz.sh`) and the stable replay
//! test (`tests/replay.rs`, which runs the seeds and any saved corpus).
//!
//! Beyond "never panics", each check asserts a property a proxy lives by:
//! what ringfront forwards after accepting a head parses again, under the
//! same strict rules, to the same message and framing; and the chunked
//! decoder reads the same bytes the same way however they are split.

use ringfront::http::chunked::{self, ChunkError, Decoder, Event};
use ringfront::http::write::{self, ResponseFraming};
use ringfront::http::{
    parse_request, parse_response, BodyKind, HeaderEdits, RequestHead, RequestLimits, ResponseHead,
    Version, MAX_HEADERS,
};
use std::net::{IpAddr, Ipv4Addr};

const LIMITS: RequestLimits = RequestLimits {
    max_header_bytes: 8192,
    max_uri_bytes: 2048,
};

/// Forwarded heads gain X-Forwarded-For and framing lines.
const ROOM: RequestLimits = RequestLimits {
    max_header_bytes: 1 << 20,
    max_uri_bytes: 1 << 20,
};

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The request parser, and the head ringfront would forward.
pub fn request(data: &[u8]) {
    let mut head = RequestHead::default();
    if parse_request(data, &LIMITS, &mut head) != Ok(true) {
        return;
    }
    assert!(head.head_len <= data.len() && head.head_len <= LIMITS.max_header_bytes);
    for h in &head.headers {
        let end = (h.value.start + h.value.len) as usize;
        assert!(end <= head.head_len, "header span past the head");
    }
    // The forwarded head adds a few lines; past the header-count limit the
    // round trip would only measure that limit.
    if head.headers.len() + 3 > MAX_HEADERS {
        return;
    }
    let mut out = Vec::new();
    let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let edits = HeaderEdits::default();
    write::request_head(
        &mut out,
        data,
        &head,
        &edits,
        write::TargetEdits::default(),
        ip,
        head.body,
    );
    let mut again = RequestHead::default();
    match parse_request(&out, &ROOM, &mut again) {
        Ok(true) => {}
        other => panic!(
            "forwarded head does not parse ({other:?}):\n{}\nfrom:\n{}",
            lossy(&out),
            lossy(&data[..head.head_len])
        ),
    }
    assert_eq!(again.head_len, out.len(), "forwarded head has a tail");
    assert_eq!(again.body, head.body, "framing changed");
    assert_eq!(again.method.get(&out), head.method.get(data));
    let path = head.path.get(data);
    let want: &[u8] = if path.is_empty() { b"/" } else { path };
    assert_eq!(again.path.get(&out), want, "path changed");
    assert_eq!(again.query.get(&out), head.query.get(data), "query changed");
    // A request without any host is forwarded with an empty Host.
    assert_eq!(
        again.host.map(|h| h.get(&out)),
        Some(head.host.map(|h| h.get(data)).unwrap_or(b"")),
        "host changed"
    );
}

/// The response parser, and the head ringfront would send the client.
pub fn response(data: &[u8]) {
    for is_head in [false, true] {
        let mut head = ResponseHead::default();
        if parse_response(data, is_head, 8192, &mut head) != Ok(true) {
            continue;
        }
        assert!(head.head_len <= data.len());
        if head.headers.len() + 3 > MAX_HEADERS {
            continue;
        }
        let body = match head.body {
            BodyKind::Chunked | BodyKind::UntilClose => BodyKind::Chunked,
            b => b,
        };
        // As the proxy does: a body-less response relays its length.
        let relay_length = match body {
            BodyKind::None => head
                .header(data, b"content-length")
                .and_then(|v| std::str::from_utf8(v).ok()?.trim().parse().ok()),
            _ => None,
        };
        let mut out = Vec::new();
        let f = ResponseFraming {
            client_version: Version::Http11,
            status: head.status,
            body,
            relay_length,
            keep_alive: true,
        };
        write::response_head(&mut out, data, &head, &HeaderEdits::default(), None, f);
        let mut again = ResponseHead::default();
        match parse_response(&out, is_head, 1 << 20, &mut again) {
            Ok(true) => {}
            other => panic!("relayed head does not parse ({other:?}):\n{}", lossy(&out)),
        }
        assert_eq!(again.head_len, out.len());
        assert_eq!(again.status, head.status);
        assert_eq!(again.body, body, "framing changed");
    }
}

/// A whole decode: (data, trailers, ended, bytes consumed).
type Decoded = (Vec<u8>, Vec<u8>, bool, usize);

/// Decode `input` fed in pieces of `step` bytes.
fn decode(input: &[u8], step: usize) -> Result<Decoded, ChunkError> {
    let mut d = Decoder::new(16 * 1024);
    let (mut data, mut trailers, mut used) = (Vec::new(), Vec::new(), 0);
    for piece in input.chunks(step.max(1)) {
        let mut off = 0;
        while off < piece.len() {
            let (n, ev) = d.feed(&piece[off..])?;
            off += n;
            used += n;
            match ev {
                Some(Event::Data(b)) => data.extend_from_slice(b),
                Some(Event::Trailer(b)) => trailers.extend_from_slice(b),
                Some(Event::End) => return Ok((data, trailers, true, used)),
                None => {}
            }
        }
    }
    Ok((data, trailers, false, used))
}

/// The chunked decoder: split-invariant, and what it accepts re-encodes
/// to something it decodes to the same body and trailers.
pub fn chunked(data: &[u8]) {
    let whole = decode(data, data.len());
    assert_eq!(whole, decode(data, 1), "byte-by-byte differs");
    assert_eq!(whole, decode(data, 7), "7-byte pieces differ");
    let Ok((body, trailers, true, _)) = whole else {
        return;
    };
    let mut enc = Vec::new();
    if !body.is_empty() {
        chunked::write_chunk_header(&mut enc, body.len());
        enc.extend_from_slice(&body);
        enc.extend_from_slice(chunked::CHUNK_END);
    }
    enc.extend_from_slice(chunked::LAST_CHUNK);
    enc.extend_from_slice(&trailers);
    enc.extend_from_slice(chunked::CHUNK_END);
    assert_eq!(
        decode(&enc, enc.len()),
        Ok((body, trailers, true, enc.len()))
    );
}
