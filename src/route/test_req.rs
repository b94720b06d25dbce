//! A plain request for unit tests of routing, conditions and hashing.

use super::RequestFacts;
use std::net::{IpAddr, Ipv4Addr};

pub(crate) type Headers = Vec<(Vec<u8>, Vec<u8>)>;

pub(crate) struct Req {
    pub method: Vec<u8>,
    pub host: Vec<u8>,
    pub path: Vec<u8>,
    pub query: Vec<u8>,
    pub uri: Vec<u8>,
    pub headers: Headers,
    pub client_ip: IpAddr,
    pub peer_ip: IpAddr,
    pub vip: IpAddr,
    pub tls_sni: Option<Vec<u8>>,
    pub is_tls: bool,
    pub trusted: bool,
    /// Status and headers of the backend response, once there is one.
    pub response: Option<(u16, Headers)>,
    /// `req.Protocol()`; `None` reads as the trait's default.
    pub proto: Option<&'static str>,
    pub host_tag: String,
    /// Request tags (mod_tag), name → values.
    pub tags: Vec<(String, Vec<String>)>,
    /// Published context values.
    pub context: Vec<(String, String)>,
}

impl Req {
    pub(crate) fn get(host: &str, target: &str) -> Req {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let client = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        Req {
            method: b"GET".to_vec(),
            host: host.as_bytes().to_vec(),
            path: path.as_bytes().to_vec(),
            query: query.as_bytes().to_vec(),
            uri: target.as_bytes().to_vec(),
            headers: vec![(b"Host".to_vec(), host.as_bytes().to_vec())],
            client_ip: client,
            peer_ip: client,
            vip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            tls_sni: None,
            is_tls: false,
            trusted: false,
            response: None,
            proto: None,
            host_tag: String::new(),
            tags: Vec::new(),
            context: Vec::new(),
        }
    }

    pub(crate) fn with_header(mut self, k: &str, v: &str) -> Req {
        self.headers
            .push((k.as_bytes().to_vec(), v.as_bytes().to_vec()));
        self
    }

    pub(crate) fn with_method(mut self, m: &str) -> Req {
        self.method = m.as_bytes().to_vec();
        self
    }

    pub(crate) fn with_client(mut self, ip: &str) -> Req {
        self.client_ip = ip.parse().expect("test IP");
        self.peer_ip = self.client_ip;
        self
    }

    pub(crate) fn with_vip(mut self, ip: &str) -> Req {
        self.vip = ip.parse().expect("test IP");
        self
    }

    pub(crate) fn over_tls(mut self, sni: Option<&str>) -> Req {
        self.is_tls = true;
        self.tls_sni = sni.map(|s| s.as_bytes().to_vec());
        self
    }

    pub(crate) fn with_response(mut self, status: u16, headers: &[(&str, &str)]) -> Req {
        let h = headers
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect();
        self.response = Some((status, h));
        self
    }
}

fn first<'a>(headers: &'a [(Vec<u8>, Vec<u8>)], name: &[u8]) -> Option<&'a [u8]> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
}

impl RequestFacts for Req {
    fn method(&self) -> &[u8] {
        &self.method
    }
    fn host(&self) -> &[u8] {
        &self.host
    }
    fn path(&self) -> &[u8] {
        &self.path
    }
    fn query(&self) -> &[u8] {
        &self.query
    }
    fn uri(&self) -> &[u8] {
        &self.uri
    }
    fn header(&self, name: &[u8]) -> Option<&[u8]> {
        first(&self.headers, name)
    }
    fn each_header(&self, f: &mut dyn FnMut(&[u8], &[u8]) -> bool) {
        for (k, v) in &self.headers {
            if !f(k, v) {
                break;
            }
        }
    }
    fn client_ip(&self) -> IpAddr {
        self.client_ip
    }
    fn vip(&self) -> IpAddr {
        self.vip
    }
    fn local_port(&self) -> u16 {
        80
    }
    fn is_tls(&self) -> bool {
        self.is_tls
    }
    fn tls_sni(&self) -> Option<&[u8]> {
        self.tls_sni.as_deref()
    }
    fn client_trusted(&self) -> bool {
        self.trusted
    }
    fn peer_ip(&self) -> IpAddr {
        self.peer_ip
    }
    fn response_status(&self) -> Option<u16> {
        self.response.as_ref().map(|(s, _)| *s)
    }
    fn response_header(&self, name: &[u8]) -> Option<&[u8]> {
        self.response.as_ref().and_then(|(_, h)| first(h, name))
    }
    fn protocol(&self) -> &[u8] {
        match self.proto {
            Some(p) => p.as_bytes(),
            None if self.is_tls => b"https",
            None => b"HTTP/1.1",
        }
    }
    fn host_tag(&self) -> &[u8] {
        self.host_tag.as_bytes()
    }
    fn tag_values(&self, name: &str) -> &[String] {
        self.tags
            .iter()
            .find(|(n, _)| n == name)
            .map_or(&[], |(_, v)| v.as_slice())
    }
    fn context_value(&self, key: &str) -> Option<&str> {
        self.context
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}
