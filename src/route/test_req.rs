//! A plain request for unit tests of routing, conditions and hashing.

use super::RequestFacts;
use std::net::{IpAddr, Ipv4Addr};

pub struct Req {
    pub method: Vec<u8>,
    pub host: Vec<u8>,
    pub path: Vec<u8>,
    pub query: Vec<u8>,
    pub uri: Vec<u8>,
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    pub client_ip: IpAddr,
    pub vip: IpAddr,
}

impl Req {
    pub fn get(host: &str, target: &str) -> Req {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        Req {
            method: b"GET".to_vec(),
            host: host.as_bytes().to_vec(),
            path: path.as_bytes().to_vec(),
            query: query.as_bytes().to_vec(),
            uri: target.as_bytes().to_vec(),
            headers: vec![(b"Host".to_vec(), host.as_bytes().to_vec())],
            client_ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            vip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
        }
    }

    pub fn with_header(mut self, k: &str, v: &str) -> Req {
        self.headers
            .push((k.as_bytes().to_vec(), v.as_bytes().to_vec()));
        self
    }
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
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
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
        false
    }
    fn tls_sni(&self) -> Option<&[u8]> {
        None
    }
    fn client_trusted(&self) -> bool {
        false
    }
}
