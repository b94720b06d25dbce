//! Raw HTTP clients: bytes in, bytes out, parsed strictly enough to assert
//! on framing.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub version: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub trailers: Vec<(String, String)>,
    pub chunked: bool,
    /// Bytes of the input this response used.
    pub len: usize,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub fn local(addr: SocketAddr) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], addr.port()))
}

/// Send `req`, read until the server closes (or 5 s pass).
pub fn raw(addr: SocketAddr, req: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(local(addr)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(req).unwrap();
    read_to_close(&mut s)
}

/// Read until the peer closes (or the read times out).
pub fn read_to_close(s: &mut impl Read) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// GET with `Connection: close`; parsed response.
pub fn get(addr: SocketAddr, host: &str, path: &str) -> Resp {
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    let raw = raw(addr, req.as_bytes());
    parse_response(&raw)
        .unwrap_or_else(|| panic!("no response in {:?}", String::from_utf8_lossy(&raw)))
}

/// Parse one response at the start of `b` (for a request that is not HEAD).
pub fn parse_response(b: &[u8]) -> Option<Resp> {
    parse_response_to(b, false)
}

/// Parse one response; `head_req` when it answers a HEAD request.
pub fn parse_response_to(b: &[u8], head_req: bool) -> Option<Resp> {
    let end = b.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&b[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let mut sp = status_line.splitn(3, ' ');
    let version = sp.next()?.to_string();
    let status: u16 = sp.next()?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        })
        .collect();
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.clone())
    };
    let mut r = Resp {
        status,
        version,
        headers: headers.clone(),
        body: Vec::new(),
        trailers: Vec::new(),
        chunked: false,
        len: end,
    };
    if head_req || (100..200).contains(&status) || status == 204 || status == 304 {
        return Some(r);
    }
    if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        r.chunked = true;
        let mut i = end;
        loop {
            let le = b[i..].windows(2).position(|w| w == b"\r\n")? + i;
            let size =
                usize::from_str_radix(std::str::from_utf8(&b[i..le]).ok()?.split(';').next()?, 16)
                    .ok()?;
            i = le + 2;
            if size == 0 {
                loop {
                    let te = b[i..].windows(2).position(|w| w == b"\r\n")? + i;
                    let t = std::str::from_utf8(&b[i..te]).ok()?;
                    i = te + 2;
                    if t.is_empty() {
                        break;
                    }
                    let (k, v) = t.split_once(':')?;
                    r.trailers.push((k.to_string(), v.trim().to_string()));
                }
                break;
            }
            if b.len() < i + size + 2 || &b[i + size..i + size + 2] != b"\r\n" {
                return None;
            }
            r.body.extend_from_slice(&b[i..i + size]);
            i += size + 2;
        }
        r.len = i;
    } else if let Some(n) = get("content-length") {
        let n: usize = n.parse().ok()?;
        if b.len() < end + n {
            return None;
        }
        r.body = b[end..end + n].to_vec();
        r.len = end + n;
    } else {
        r.body = b[end..].to_vec();
        r.len = b.len();
    }
    Some(r)
}

/// Every response in `b`, in order.
pub fn parse_all(b: &[u8]) -> Vec<Resp> {
    let mut out = Vec::new();
    let mut off = 0;
    while off < b.len() {
        match parse_response(&b[off..]) {
            Some(r) => {
                off += r.len;
                out.push(r);
            }
            None => break,
        }
    }
    out
}

/// A keep-alive connection, reading one response at a time.
pub struct Conn {
    pub s: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    pub fn open(addr: SocketAddr) -> Conn {
        let s = TcpStream::connect(local(addr)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        Conn { s, buf: Vec::new() }
    }

    pub fn send(&mut self, b: &[u8]) {
        // The server may close early (an error answer); what it sent is
        // still read by `response`.
        let _ = self.s.write_all(b);
    }

    /// Read until one whole response is buffered; None if the server
    /// closed (or timed out) first.
    pub fn response(&mut self, head_req: bool) -> Option<Resp> {
        let mut tmp = [0u8; 16384];
        loop {
            if let Some(r) = parse_response_to(&self.buf, head_req) {
                let complete = r.chunked
                    || r.header("content-length").is_some()
                    || head_req
                    || r.status == 204
                    || r.status == 304;
                if complete {
                    self.buf.drain(..r.len);
                    return Some(r);
                }
            }
            match self.s.read(&mut tmp) {
                Ok(0) | Err(_) => {
                    let r = parse_response_to(&self.buf, head_req);
                    self.buf.clear();
                    return r;
                }
                Ok(n) => self.buf.extend_from_slice(&tmp[..n]),
            }
        }
    }

    /// Whether the server closed the connection (reads EOF within 2 s).
    pub fn closed(&mut self) -> bool {
        self.s
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let mut tmp = [0u8; 1024];
        loop {
            match self.s.read(&mut tmp) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) => return e.kind() == std::io::ErrorKind::ConnectionReset,
            }
        }
    }
}
