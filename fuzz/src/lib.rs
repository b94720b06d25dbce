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
                .and_then(content_length_value),
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

// ---------------------------------------------------------------------
// Condition language

/// A fixed request the conditions are evaluated against.
struct Facts;

impl ringfront::route::RequestFacts for Facts {
    fn method(&self) -> &[u8] {
        b"GET"
    }
    fn host(&self) -> &[u8] {
        b"www.Example.org:8080"
    }
    fn path(&self) -> &[u8] {
        b"/a/b%2Fc.html"
    }
    fn query(&self) -> &[u8] {
        b"k=v&x=%41&k=w"
    }
    fn uri(&self) -> &[u8] {
        b"/a/b%2Fc.html?k=v&x=%41&k=w"
    }
    fn header(&self, name: &[u8]) -> Option<&[u8]> {
        FACT_HEADERS
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
    fn each_header(&self, f: &mut dyn FnMut(&[u8], &[u8]) -> bool) {
        for (n, v) in FACT_HEADERS {
            if !f(n, v) {
                break;
            }
        }
    }
    fn client_ip(&self) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3))
    }
    fn vip(&self) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 168, 0, 1))
    }
    fn local_port(&self) -> u16 {
        8080
    }
    fn is_tls(&self) -> bool {
        false
    }
    fn tls_sni(&self) -> Option<&[u8]> {
        None
    }
    fn client_trusted(&self) -> bool {
        false
    }
}

const FACT_HEADERS: [(&[u8], &[u8]); 4] = [
    (b"Host", b"www.Example.org:8080"),
    (b"Cookie", b"uid=42; lang=en"),
    (b"User-Agent", b"curl/8"),
    (b"X-Forwarded-For", b"1.2.3.4, 5.6.7.8"),
];

/// The condition parser: never panics, positions its errors inside the
/// text, and composes: `!(c)`, `(c)`, `c && c`, `c || c` compile exactly
/// when `c` does and evaluate as the algebra says.
pub fn condition(data: &[u8]) {
    use ringfront::route::Cond;
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let c = match Cond::compile(text) {
        Ok(c) => c,
        Err(e) => {
            assert!(e.pos <= text.len(), "error past the text: {e:?}");
            assert!(e.line >= 1 && e.column >= 1, "{e:?}");
            assert!(!e.msg.is_empty());
            return;
        }
    };
    let v = c.eval(&Facts);
    // A trailing `//` comment runs to the end of its line: wrap on new lines.
    let wrapped = |pre: &str, mid: &str| format!("{pre}(\n{text}\n){mid}");
    let not = Cond::compile(&wrapped("!", "")).expect("!(c) of a valid c");
    assert_eq!(not.eval(&Facts), !v, "!(c)");
    let par = Cond::compile(&wrapped("", "")).expect("(c) of a valid c");
    assert_eq!(par.eval(&Facts), v, "(c)");
    let and = Cond::compile(&format!("(\n{text}\n) && (\n{text}\n)")).expect("c && c");
    assert_eq!(and.eval(&Facts), v, "c && c");
    let or = Cond::compile(&format!("(\n{text}\n) || !(\n{text}\n)")).expect("c || !c");
    assert!(or.eval(&Facts), "c || !c");
}

// ---------------------------------------------------------------------
// INI (bfe.conf, module confs)

/// Writes a value so that the INI reader reads it back unchanged.
fn ini_quote(out: &mut String, v: &str) {
    out.push('"');
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Renders a parsed file back to INI text.
fn ini_render(ini: &ringfront::config::ini::Ini) -> String {
    let mut out = String::new();
    for s in &ini.sections {
        out.push('[');
        out.push_str(&s.name);
        if let Some(sub) = &s.sub {
            out.push(' ');
            ini_quote(&mut out, sub);
        }
        out.push_str("]\n");
        for e in &s.entries {
            out.push_str(&e.key);
            if let Some(v) = &e.value {
                out.push_str(" = ");
                ini_quote(&mut out, v);
            }
            out.push('\n');
        }
    }
    out
}

/// What a parse means, line numbers aside.
type IniShape = Vec<(String, Option<String>, Vec<(String, Option<String>)>)>;

fn ini_shape(ini: &ringfront::config::ini::Ini) -> IniShape {
    ini.sections
        .iter()
        .map(|s| {
            let entries = s.entries.iter().map(|e| (e.key.clone(), e.value.clone()));
            (s.name.clone(), s.sub.clone(), entries.collect())
        })
        .collect()
}

/// The INI reader: never panics, errors name a line of the file, and what
/// it reads renders back to text it reads the same way. The same text as
/// bfe.conf: the server conf reader refuses with reasons, never panics.
pub fn ini(data: &[u8]) {
    use ringfront::config::ini::Ini;
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Ini::parse(text) {
        Ok(ini) => {
            for (i, s) in ini.sections.iter().enumerate() {
                assert!(s.line >= 1 && s.line <= text.lines().count());
                for e in &s.entries {
                    let _ = s.values(&e.key);
                    assert!(s.last(&e.key).is_some());
                }
                if s.sub.is_none() {
                    let found = ini.section(&s.name).expect("a section finds itself");
                    assert!(
                        std::ptr::eq(found, &ini.sections[i])
                            || found.name.eq_ignore_ascii_case(&s.name)
                    );
                }
            }
            let rendered = ini_render(&ini);
            let again = Ini::parse(&rendered).unwrap_or_else(|e| {
                panic!("rendered INI does not parse ({e}):\n{rendered}\nfrom:\n{text}")
            });
            assert_eq!(ini_shape(&again), ini_shape(&ini), "rendered:\n{rendered}");
        }
        Err(e) => assert!(
            e.line >= 1 && e.line <= text.lines().count().max(1),
            "{e:?}"
        ),
    }
    let dir = std::path::Path::new("/nonexistent/ringfront-fuzz");
    if let Err(errs) = ringfront::config::ServerConf::parse(dir, text) {
        assert!(!errs.0.is_empty(), "refused without a reason");
        for e in &errs.0 {
            assert!(!e.reason.is_empty() && !e.file.is_empty(), "{e:?}");
        }
    }
}

// ---------------------------------------------------------------------
// JSON data files

/// The JSON data-file readers, picked by the first byte (see
/// [`JSON_READERS`]): never panic, and never refuse a file without saying
/// why.
pub fn json_conf(data: &[u8]) {
    use ringfront::config::data::json::J;
    let Some((&pick, text)) = data.split_first() else {
        return;
    };
    let (file, read) = JSON_READERS[pick as usize % JSON_READERS.len()];
    let mut errs = Vec::new();
    let mut j = J {
        file: file.to_string(),
        errs: &mut errs,
    };
    let ok = match j.parse(text) {
        Some(v) => read(&mut j, &v),
        None => false,
    };
    if !ok {
        assert!(!errs.is_empty(), "{file}: refused without a reason");
    }
    for e in &errs {
        assert_eq!(e.file, file);
        assert!(!e.reason.is_empty(), "{e:?}");
    }
}

type JsonReader = fn(&mut ringfront::config::data::json::J, &serde_json::Value) -> bool;

/// Each reader under the name of the file it reads; the first byte of a
/// `json_conf` input is an index into this table.
pub const JSON_READERS: [(&str, JsonReader); 9] = {
    use ringfront::config::data::*;
    [
        ("cluster_conf.data", |j, v| {
            cluster_conf::parse(j, v).is_some()
        }),
        ("cluster_table.data", |j, v| {
            cluster_table::parse(j, v).is_some()
        }),
        ("gslb.data", |j, v| gslb::parse(j, v).is_some()),
        ("host_rule.data", |j, v| host_rule::parse(j, v).is_some()),
        ("name_conf.data", |j, v| name_conf::parse(j, v).is_some()),
        ("route_rule.data", |j, v| route_rule::parse(j, v).is_some()),
        ("server_cert_conf.data", |j, v| {
            tls_conf::parse_certs(j, v).is_some()
        }),
        ("tls_rule_conf.data", |j, v| {
            tls_conf::parse_rules(j, v).is_some()
        }),
        ("vip_rule.data", |j, v| vip_rule::parse(j, v).is_some()),
    ]
};

// ---------------------------------------------------------------------
// PROXY protocol

/// The PROXY protocol reader: a header is no longer than the bytes or the
/// limit, and the decision does not depend on how the bytes arrive. The
/// accept path peeks at most `limit` bytes and decides on whatever prefix
/// a peek returned, so any prefix that decides must decide what the first
/// `limit` bytes do (and a header's own bytes alone decide the same).
pub fn proxy_protocol(data: &[u8]) {
    use ringfront::fuzzing::{proxy_protocol_scan as scan, ProxyScan};
    for limit in [16 + u16::MAX as usize, 232, 107, 16] {
        let seen = &data[..data.len().min(limit)];
        let whole = scan(seen, limit);
        if let ProxyScan::Header { len, .. } = whole {
            assert!(len <= seen.len(), "{whole:?}");
            assert_eq!(
                scan(&data[..len], limit),
                whole,
                "its own bytes decide otherwise"
            );
        }
        // Every prefix up to 300 bytes, then every 97th.
        let ks = (0..seen.len().min(300)).chain((300..seen.len()).step_by(97));
        for k in ks {
            let p = scan(&data[..k], limit);
            if p != ProxyScan::NeedMore {
                assert_eq!(
                    p, whole,
                    "the first {k} bytes decide otherwise (limit {limit})"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------
// HTTP/2 request checks

fn non_empty(l: Option<&[u8]>) -> Option<&[u8]> {
    l.filter(|l| !l.is_empty())
}

/// Builds a stream's request head as `h2` hands it over, from lines:
/// method, `:scheme`, `:authority`, `:path` (an empty line: absent), then
/// `name: value` fields. `None` where `h2` itself would refuse the stream.
fn h2_parts(text: &[u8]) -> Option<http::request::Parts> {
    let mut lines = text.split(|&b| b == b'\n');
    let method = http::Method::from_bytes(lines.next()?).ok()?;
    let (scheme, authority, path) = (
        non_empty(lines.next()),
        non_empty(lines.next()),
        non_empty(lines.next()),
    );
    let connect = method == http::Method::CONNECT;
    // h2's own pseudo-header rules (server.rs, convert_poll_message).
    if connect && (scheme.is_some() || path.is_some() || authority.is_none()) {
        return None;
    }
    if !connect && (scheme.is_none() || path.is_none()) {
        return None;
    }
    let mut uri = http::uri::Builder::new();
    if let Some(s) = scheme {
        uri = uri.scheme(s);
    }
    if let Some(a) = authority {
        uri = uri.authority(a);
    }
    if let Some(p) = path {
        uri = uri.path_and_query(p);
    }
    let mut req = http::Request::builder()
        .method(method)
        .version(http::Version::HTTP_2)
        .uri(uri.build().ok()?)
        .body(())
        .ok()?;
    for l in lines {
        let colon = l.iter().position(|&b| b == b':')?;
        let name = http::HeaderName::from_bytes(&l[..colon]).ok()?;
        let v = &l[colon + 1..];
        let v = v.strip_prefix(b" ").unwrap_or(v);
        req.headers_mut()
            .append(name, http::HeaderValue::from_bytes(v).ok()?);
    }
    Some(req.into_parts().0)
}

/// The HTTP/2 request checks and rendering: what passes renders to one
/// HTTP/1.1 head that the parser reads back as the same request — same
/// method, target and host, every field in order (cookie crumbs joined),
/// the framing the stream declared, and nothing after it (no smuggled
/// second request).
pub fn h2_request(data: &[u8]) {
    let Some(p) = h2_parts(data) else {
        return;
    };
    for end_stream in [true, false] {
        let mut out = Vec::new();
        if ringfront::fuzzing::h2_render_head(&p, end_stream, &mut out).is_err() {
            continue;
        }
        let mut head = RequestHead::default();
        // Refused by the HTTP/1.1 parser: answered 400, nothing forwarded.
        if parse_request(&out, &ROOM, &mut head) != Ok(true) {
            continue;
        }
        let show = || lossy(&out);
        assert_eq!(
            head.head_len,
            out.len(),
            "a tail after the head:\n{}",
            show()
        );
        assert_eq!(head.method.get(&out), p.method.as_str().as_bytes());
        let connect = p.method == http::Method::CONNECT;
        let authority = p.uri.authority().map(|a| a.as_str());
        let target = match (connect, p.uri.path_and_query()) {
            (true, _) => authority.unwrap_or(""),
            (false, pq) => pq.map_or("", |pq| pq.as_str()),
        };
        assert_eq!(head.target.get(&out), target.as_bytes(), "{}", show());
        let host = authority.or_else(|| p.headers.get("host").and_then(|h| h.to_str().ok()));
        assert_eq!(
            head.host.map(|h| h.get(&out)),
            host.map(str::as_bytes),
            "{}",
            show()
        );
        // The fields, in order, as HTTP/1.1 carries them.
        let mut want: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        if let Some(h) = host {
            want.push((b"host".to_vec(), h.as_bytes().to_vec()));
        }
        let mut cookie = false;
        for (n, v) in &p.headers {
            if n == http::header::HOST || (n == http::header::COOKIE && cookie) {
                continue;
            }
            let v = if n == http::header::COOKIE {
                cookie = true;
                let crumbs: Vec<&[u8]> = p
                    .headers
                    .get_all(n)
                    .iter()
                    .map(|c| c.as_bytes())
                    .filter(|c| !c.is_empty())
                    .collect();
                crumbs.join(&b"; "[..])
            } else {
                v.as_bytes().to_vec()
            };
            want.push((n.as_str().as_bytes().to_vec(), v));
        }
        let cl = p.headers.contains_key(http::header::CONTENT_LENGTH);
        if !end_stream && !cl {
            want.push((b"transfer-encoding".to_vec(), b"chunked".to_vec()));
        }
        let got: Vec<(Vec<u8>, Vec<u8>)> = head
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.get(&out).to_ascii_lowercase(),
                    h.value.get(&out).to_vec(),
                )
            })
            .collect();
        assert_eq!(got, want, "fields changed:\n{}", show());
        let want_body = match h2_content_length(&p.headers) {
            _ if !cl && end_stream => BodyKind::None,
            _ if !cl => BodyKind::Chunked,
            Some(0) => BodyKind::None,
            Some(n) => BodyKind::Length(n),
            None => panic!("a bad content-length accepted:\n{}", show()),
        };
        assert_eq!(head.body, want_body, "framing changed:\n{}", show());
    }
}

/// A Content-Length value by RFC 9110 §8.6: digits, or a list of the same
/// digits repeated.
fn content_length_value(v: &[u8]) -> Option<u64> {
    let mut n = None;
    for part in std::str::from_utf8(v).ok()?.split(',') {
        let part = part.trim_matches([' ', '\t']);
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let this = part.parse::<u64>().ok()?;
        if n.is_some_and(|n| n != this) {
            return None;
        }
        n = Some(this);
    }
    n
}

/// The length all `content-length` fields agree on (RFC 9110 §8.6: digits,
/// a list of identical values allowed); `None` when they do not.
fn h2_content_length(h: &http::HeaderMap) -> Option<u64> {
    let mut n = None;
    for v in h.get_all(http::header::CONTENT_LENGTH) {
        let this = content_length_value(v.as_bytes())?;
        if n.is_some_and(|n| n != this) {
            return None;
        }
        n = Some(this);
    }
    n
}
