//! One request as Request, Forward and Response handlers see it: the parsed
//! head over the connection's own read buffer, the routing results, and
//! what handlers asked for (edits, redirect, reply).

use super::context::Context;
use super::session::Session;
use crate::balance::BackendPick;
use crate::config::{Cluster, ClusterId};
use crate::http::{HeaderEdits, RequestHead, Response, ResponseHead, Version};
use crate::route::{ProductId, RequestFacts};
use crate::worker::Generation;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;

/// A redirect a handler wants sent (with `Ret::Redirect`).
#[derive(Debug, Clone)]
pub struct Redirect {
    pub url: String,
    pub code: u16,
    pub headers: Vec<(String, String)>,
}

pub struct Request {
    pub ses: Session,
    pub(crate) buf: Vec<u8>,
    pub(crate) head: RequestHead,
    /// Index of the backend response head, lent by the connection's active
    /// period so its allocation is reused request after request.
    pub(crate) rhead: ResponseHead,
    pub(crate) edits: HeaderEdits,
    pub(crate) path_override: Option<String>,
    /// The configuration this request runs on, start to end.
    pub(crate) gen: Rc<Generation>,
    /// The client address used for routing, hashing and X-Forwarded-For.
    pub client_ip: IpAddr,
    pub product: Option<ProductId>,
    pub cluster: Option<ClusterId>,
    pub subcluster: Option<usize>,
    /// The backend chosen for this attempt; Forward handlers may change it.
    pub backend: Option<BackendPick>,
    pub redirect: Option<Redirect>,
    /// A response for `Ret::Response` at HandleReadResponse.
    pub reply: Option<Response>,
    /// Status sent to the client (0 until a head is sent).
    pub status: u16,
    /// Forwarding attempts so far (the first one included).
    pub attempts: u32,
    pub ctx: Context,
    /// Bytes of `buf` this request used (head, and body read from `buf`).
    pub(crate) consumed: usize,
    /// Bytes read from the client past this request's body (pipelining).
    pub(crate) carry: Vec<u8>,
    /// Whether the request body was read completely.
    pub(crate) body_done: bool,
}

impl Request {
    pub(crate) fn new(
        ses: Session,
        buf: Vec<u8>,
        (head, rhead): (RequestHead, ResponseHead),
        gen: Rc<Generation>,
    ) -> Self {
        let client_ip = ses.client.ip();
        let consumed = head.head_len;
        let body_done = head.body.is_none();
        Request {
            ses,
            buf,
            head,
            rhead,
            edits: HeaderEdits::default(),
            path_override: None,
            gen,
            client_ip,
            product: None,
            cluster: None,
            subcluster: None,
            backend: None,
            redirect: None,
            reply: None,
            status: 0,
            attempts: 0,
            ctx: Context::default(),
            consumed,
            carry: Vec::new(),
            body_done,
        }
    }

    pub fn version(&self) -> Version {
        self.head.version
    }

    pub fn is_head(&self) -> bool {
        self.head.method_is(&self.buf, b"HEAD")
    }

    pub fn product_name(&self) -> Option<&str> {
        self.product
            .map(|p| self.gen.snapshot.route.product_name(p))
    }

    pub fn cluster_conf(&self) -> Option<&Cluster> {
        self.cluster.map(|c| self.gen.snapshot.clusters.get(c))
    }

    pub fn cluster_name(&self) -> Option<&str> {
        self.cluster_conf().map(|c| c.name.as_str())
    }

    /// Steer the request to another backend address (HandleForward).
    pub fn set_backend_addr(&mut self, addr: SocketAddr) {
        match self.backend.as_mut() {
            Some(b) => b.addr = addr,
            None => {
                self.backend = Some(BackendPick {
                    index: usize::MAX,
                    addr,
                })
            }
        }
    }

    pub fn set_header(&mut self, name: &str, value: &str) {
        self.edits.set(name, value);
    }

    pub fn add_header(&mut self, name: &str, value: &str) {
        self.edits.add(name, value);
    }

    pub fn del_header(&mut self, name: &str) {
        self.edits.del(name);
    }

    /// Rewrite the path (the query is kept); routing after this point and
    /// the forwarded request use the new path.
    pub fn set_path(&mut self, path: &str) {
        self.path_override = Some(path.to_string());
    }

    pub fn set_redirect(&mut self, url: &str, code: u16) {
        self.redirect = Some(Redirect {
            url: url.to_string(),
            code,
            headers: Vec::new(),
        });
    }
}

impl RequestFacts for Request {
    fn method(&self) -> &[u8] {
        self.head.method.get(&self.buf)
    }

    fn host(&self) -> &[u8] {
        match self.edits.lookup(b"host") {
            Some(v) => v.unwrap_or(b""),
            None => self.head.host.map(|h| h.get(&self.buf)).unwrap_or(b""),
        }
    }

    fn path(&self) -> &[u8] {
        match &self.path_override {
            Some(p) => p.as_bytes(),
            None => self.head.path.get(&self.buf),
        }
    }

    fn query(&self) -> &[u8] {
        self.head.query.get(&self.buf)
    }

    fn uri(&self) -> &[u8] {
        self.head.target.get(&self.buf)
    }

    fn header(&self, name: &[u8]) -> Option<&[u8]> {
        if !self.edits.is_empty() {
            if let Some(v) = self.edits.lookup(name) {
                return v;
            }
        }
        self.head.header(&self.buf, name)
    }

    fn each_header(&self, f: &mut dyn FnMut(&[u8], &[u8]) -> bool) {
        for h in &self.head.headers {
            let name = h.name.get(&self.buf);
            if !self.edits.is_empty() && self.edits.hides(name) {
                continue;
            }
            if !f(name, h.value.get(&self.buf)) {
                return;
            }
        }
        for (n, v) in self.edits.added() {
            if !f(n, v) {
                return;
            }
        }
    }

    fn client_ip(&self) -> IpAddr {
        self.client_ip
    }

    fn vip(&self) -> IpAddr {
        self.ses.local.ip()
    }

    fn local_port(&self) -> u16 {
        self.ses.local.port()
    }

    fn is_tls(&self) -> bool {
        self.ses.is_tls
    }

    fn tls_sni(&self) -> Option<&[u8]> {
        self.ses.tls_sni.as_deref().map(str::as_bytes)
    }

    fn client_trusted(&self) -> bool {
        self.ses.trusted
    }

    fn peer_ip(&self) -> IpAddr {
        self.ses.client.ip()
    }
}
