//! Requests and sessions built without a server, so a module's handlers
//! can be unit-tested the way BFE's module tests build a `Request`: the
//! head is written out and parsed by the real codec, so what a handler
//! sees is exactly what it would see behind a listener.
//!
//! ```
//! use ringfront::basic::RequestBuilder;
//! use ringfront::route::RequestFacts;
//! let req = RequestBuilder::get("example.org", "/a?b=1")
//!     .header("Cookie", "uid=7")
//!     .client("192.0.2.9")
//!     .build();
//! assert_eq!(req.path(), b"/a");
//! assert_eq!(req.cookie("uid"), Some(&b"7"[..]));
//! ```

use super::request::Request;
use super::session::{Session, TlsInfo};
use crate::balance::Generation;
use crate::config::Snapshot;
use crate::http::{parse_request, RequestHead, RequestLimits};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;

/// Builds a [`Request`] (and its [`Session`]) for tests.
pub struct RequestBuilder {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    peer: SocketAddr,
    local: SocketAddr,
    client: Option<IpAddr>,
    tls: Option<TlsInfo>,
    trusted: bool,
    snapshot: Option<Snapshot>,
}

impl RequestBuilder {
    pub fn new(method: &str, host: &str, target: &str) -> Self {
        RequestBuilder {
            method: method.to_string(),
            target: target.to_string(),
            headers: vec![("Host".to_string(), host.to_string())],
            body: Vec::new(),
            peer: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 40000),
            local: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), 8080),
            client: None,
            tls: None,
            trusted: false,
            snapshot: None,
        }
    }

    pub fn get(host: &str, target: &str) -> Self {
        Self::new("GET", host, target)
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// A body, sent with its Content-Length.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The TCP peer (and so the client address unless `client` is set).
    pub fn peer(mut self, addr: &str) -> Self {
        self.peer = parse_addr(addr, 40000);
        self
    }

    /// The client address the request carries (a trusted proxy's word).
    pub fn client(mut self, ip: &str) -> Self {
        self.client = ip.parse().ok();
        self
    }

    /// The listener address (the VIP).
    pub fn local(mut self, addr: &str) -> Self {
        self.local = parse_addr(addr, 8080);
        self
    }

    pub fn tls(mut self, sni: Option<&str>) -> Self {
        self.tls = Some(TlsInfo {
            sni: sni.map(str::to_string),
            alpn: None,
            version: "TLSv1_3",
        });
        self
    }

    pub fn trusted(mut self) -> Self {
        self.trusted = true;
        self
    }

    /// The configuration the request routes on (default: empty).
    pub fn snapshot(mut self, s: Snapshot) -> Self {
        self.snapshot = Some(s);
        self
    }

    /// The session alone, as Accept and Finish handlers see it.
    pub fn session(&self) -> Rc<Session> {
        let ses = Session::new(0, 0, self.peer, self.local);
        if let Some(t) = &self.tls {
            ses.set_tls(t.clone());
        }
        ses.set_trusted(self.trusted);
        if let Some(ip) = self.client {
            ses.set_client(SocketAddr::new(ip, self.peer.port()));
        }
        Rc::new(ses)
    }

    /// The request. Panics if the head does not parse: a test wrote it.
    pub fn build(self) -> Request {
        let ses = self.session();
        let mut buf = format!("{} {} HTTP/1.1\r\n", self.method, self.target).into_bytes();
        for (n, v) in &self.headers {
            buf.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
        }
        if !self.body.is_empty() {
            buf.extend_from_slice(format!("Content-Length: {}\r\n", self.body.len()).as_bytes());
        }
        buf.extend_from_slice(b"\r\n");
        buf.extend_from_slice(&self.body);
        let limits = RequestLimits {
            max_header_bytes: 1 << 20,
            max_uri_bytes: 1 << 20,
        };
        let mut head = RequestHead::default();
        match parse_request(&buf, &limits, &mut head) {
            Ok(true) => {}
            other => panic!("RequestBuilder: the head does not parse: {other:?}"),
        }
        let snapshot = self.snapshot.unwrap_or_else(Snapshot::empty);
        let gen = Rc::new(Generation::new(0, snapshot, None));
        let mut req = Request::new(ses, buf, head, None, gen);
        req.body_done = true;
        req
    }
}

fn parse_addr(s: &str, port: u16) -> SocketAddr {
    s.parse()
        .or_else(|_| s.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, port)))
        .unwrap_or_else(|_| panic!("RequestBuilder: bad address {s}"))
}
