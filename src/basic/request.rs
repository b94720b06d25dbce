//! One request as Request, Forward and Response handlers see it: the head
//! as received (offsets into the bytes it was read in, never copied), the
//! edits handlers made to it, the routing results, what handlers asked for
//! (redirect, tags, context), why it failed, and its timings.

use super::context::Context;
use super::error::{ErrorKind, ProxyError};
use super::response::Response;
use super::session::Session;
use super::stat::RequestStat;
use crate::balance::{BackendPick, Generation};
use crate::config::{Cluster, ClusterId};
use crate::http::{HeaderEdits, RequestHead, ResponseHead, Version};
use crate::route::{HostTagId, ProductId, RequestFacts};
use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;

/// A redirect a handler wants sent (with `Ret::Redirect`).
#[derive(Debug, Clone)]
pub struct Redirect {
    pub url: String,
    pub code: u16,
    pub headers: Vec<(String, String)>,
}

/// Where routing sent the request. Ids index the request's configuration
/// generation; names are read through [`Request::product_name`] and
/// [`Request::cluster_name`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Route {
    pub product: Option<ProductId>,
    pub cluster: Option<ClusterId>,
    pub subcluster: Option<usize>,
    /// The backend chosen for this attempt; Forward handlers may change it.
    pub backend: Option<BackendPick>,
    /// The host tag the product was found under (`0`: none), read by
    /// `req_host_tag_in`; its name is in the generation's route table.
    pub host_tag: HostTagId,
}

/// Tags modules attach (mod_tag), read by `req_tag_match`: name → values,
/// in the order first added. A plain list: a request carries few tags,
/// most none, and an empty one costs nothing to make or drop.
#[derive(Debug, Clone, Default)]
pub struct Tags {
    list: Vec<(String, Vec<String>)>,
}

impl Tags {
    /// The values of tag `name`.
    pub fn get(&self, name: &str) -> &[String] {
        self.list
            .iter()
            .find(|(n, _)| n == name)
            .map_or(&[], |(_, v)| v.as_slice())
    }

    pub fn add(&mut self, name: &str, value: &str) {
        match self.list.iter_mut().find(|(n, _)| n == name) {
            Some((_, v)) => v.push(value.to_string()),
            None => self.list.push((name.to_string(), vec![value.to_string()])),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Every tag name with its values.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.list.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }
}

pub struct Request {
    pub ses: Rc<Session>,
    /// The bytes the head was read in (and, on HTTP/1.1, what followed it).
    pub(crate) buf: Vec<u8>,
    pub(crate) head: RequestHead,
    /// Index of the backend response head, lent by the connection's active
    /// period so its allocation is reused request after request.
    /// `None` while a backend response holds it.
    pub(crate) rhead: Option<Box<ResponseHead>>,
    pub(crate) edits: HeaderEdits,
    pub(crate) path_override: Option<String>,
    pub(crate) query_override: Option<String>,
    /// The configuration this request runs on, start to end.
    pub(crate) gen: Rc<Generation>,
    /// The client address used for routing, hashing, X-Forwarded-For and
    /// the log (BFE's `ClientAddr`): the session's, or what a trusted
    /// proxy's headers say.
    pub client_ip: IpAddr,
    pub route: Route,
    /// Boxed, as the rare parts of a request are: a request is built and
    /// dropped for every exchange, so its size is paid every time.
    pub redirect: Option<Box<Redirect>>,
    /// A response for `Ret::Response` at HandleReadResponse.
    pub reply: Option<Box<Response>>,
    /// Status sent to the client (0 until a head is sent).
    pub status: u16,
    /// Forwarding attempts so far (the first one included).
    pub attempts: u32,
    pub tags: Tags,
    /// Modules' per-request state, keyed by type.
    pub ctx: Context,
    /// Why the request failed, and a message saying more.
    pub error: Option<(ProxyError, Cow<'static, str>)>,
    pub stat: RequestStat,
    /// Log id (mod_logid).
    pub log_id: Option<String>,
    /// Bytes of `buf` this request used (head, and body read from `buf`).
    pub(crate) consumed: usize,
    /// Bytes read from the client past this request's body (pipelining).
    pub(crate) carry: Vec<u8>,
    /// Whether the request body was read completely.
    pub(crate) body_done: bool,
    /// Whether HandleRequestFinish ran; it runs once for every request.
    pub(crate) finish_ran: bool,
    /// The session's (bytes_out, head_out) when the request began, so its
    /// own response bytes are the difference at its end.
    pub(crate) out_mark: (u64, u64),
}

impl Request {
    pub(crate) fn new(
        ses: Rc<Session>,
        buf: Vec<u8>,
        head: RequestHead,
        rhead: Option<Box<ResponseHead>>,
        gen: Rc<Generation>,
    ) -> Self {
        let client_ip = ses.client().ip();
        let consumed = head.head_len;
        let body_done = head.body.is_none();
        let out_mark = (ses.bytes_out(), ses.head_out());
        Request {
            ses,
            buf,
            head,
            rhead,
            edits: HeaderEdits::default(),
            path_override: None,
            query_override: None,
            gen,
            client_ip,
            route: Route::default(),
            redirect: None,
            reply: None,
            status: 0,
            attempts: 0,
            tags: Tags::default(),
            ctx: Context::default(),
            error: None,
            stat: RequestStat::default(),
            log_id: None,
            consumed,
            carry: Vec::new(),
            body_done,
            finish_ran: false,
            out_mark,
        }
    }

    /// Fill `stat.header_len_out`/`body_len_out` from the session's
    /// counters: what was written to the client since the request began.
    pub(crate) fn note_bytes_out(&mut self) {
        let head = self.ses.head_out().saturating_sub(self.out_mark.1);
        let all = self.ses.bytes_out().saturating_sub(self.out_mark.0);
        self.stat.header_len_out = head;
        self.stat.body_len_out = all.saturating_sub(head);
    }

    pub fn version(&self) -> Version {
        self.head.version
    }

    pub fn is_head(&self) -> bool {
        self.head.method_is(&self.buf, b"HEAD")
    }

    /// The request line's target exactly as received.
    pub fn target(&self) -> &[u8] {
        self.head.target.get(&self.buf)
    }

    /// Length of the request head as received.
    pub fn head_len(&self) -> usize {
        self.head.head_len
    }

    /// Headers as received, in order, before any edit.
    pub fn raw_headers(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.head
            .headers
            .iter()
            .map(|h| (h.name.get(&self.buf), h.value.get(&self.buf)))
    }

    pub fn product_name(&self) -> Option<&str> {
        self.route
            .product
            .map(|p| self.gen.snapshot.route.product_name(p))
    }

    pub fn cluster_conf(&self) -> Option<&Cluster> {
        self.route
            .cluster
            .map(|c| self.gen.snapshot.clusters.get(c))
    }

    pub fn cluster_name(&self) -> Option<&str> {
        self.cluster_conf().map(|c| c.name.as_str())
    }

    /// Retries made so far (BFE's `RetryTime`).
    pub fn retries(&self) -> u32 {
        self.attempts.saturating_sub(1)
    }

    /// Steer the request to another backend address (HandleForward).
    pub fn set_backend_addr(&mut self, addr: SocketAddr) {
        match self.route.backend.as_mut() {
            Some(b) => b.addr = addr,
            None => {
                self.route.backend = Some(BackendPick {
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

    /// Rewrite the Host header; routing after this point and the forwarded
    /// request use the new host.
    pub fn set_host(&mut self, host: &str) {
        self.edits.set("Host", host);
    }

    /// Rewrite the path (the query is kept); routing after this point and
    /// the forwarded request use the new path.
    pub fn set_path(&mut self, path: &str) {
        self.path_override = Some(path.to_string());
    }

    /// Rewrite the query string (without `?`; empty removes it).
    pub fn set_query(&mut self, query: &str) {
        self.query_override = Some(query.to_string());
    }

    /// Every header after edits, in order.
    pub fn headers(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        let edits = &self.edits;
        self.raw_headers()
            .filter(move |(n, _)| edits.is_empty() || !edits.hides(n))
            .chain(edits.added())
    }

    /// Value of a cookie sent with the request, first match, as BFE reads
    /// `Cookie` headers.
    pub fn cookie(&self, name: &str) -> Option<&[u8]> {
        self.headers()
            .filter(|(n, _)| n.eq_ignore_ascii_case(b"cookie"))
            .find_map(|(_, v)| {
                crate::route::condition::params::cookies(v)
                    .find(|(n, _)| *n == name.as_bytes())
                    .map(|(_, v)| v)
            })
    }

    pub fn set_redirect(&mut self, url: &str, code: u16) {
        self.redirect = Some(Box::new(Redirect {
            url: url.to_string(),
            code,
            headers: Vec::new(),
        }));
    }

    /// Add a tag (mod_tag); `req_tag_match` reads them.
    pub fn add_tag(&mut self, name: &str, value: &str) {
        self.tags.add(name, value);
    }

    /// Record why the request failed. The first error stays: later ones
    /// are consequences of it.
    pub fn fail(&mut self, e: impl Into<ProxyError>, msg: impl Into<Cow<'static, str>>) {
        if self.error.is_none() {
            self.error = Some((e.into(), msg.into()));
        }
    }

    pub fn error_kind(&self) -> Option<ErrorKind> {
        self.error.as_ref().map(|(e, _)| e.kind)
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
        match &self.query_override {
            Some(q) => q.as_bytes(),
            None => self.head.query.get(&self.buf),
        }
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
        self.ses.is_tls()
    }

    fn tls_sni(&self) -> Option<&[u8]> {
        self.ses.tls_sni().map(str::as_bytes)
    }

    fn client_trusted(&self) -> bool {
        self.ses.trusted()
    }

    fn peer_ip(&self) -> IpAddr {
        self.ses.peer.ip()
    }

    /// `https` on TLS (ringfront offers only HTTP/1.1 there), else the
    /// request line's version, as BFE's `req.Protocol()`.
    fn protocol(&self) -> &[u8] {
        if self.ses.is_tls() {
            b"https"
        } else {
            self.head.version.as_str().as_bytes()
        }
    }

    fn host_tag(&self) -> &[u8] {
        self.gen.snapshot.route.host_tag_name(self.route.host_tag)
    }

    fn tag_values(&self, name: &str) -> &[String] {
        self.tags.get(name)
    }

    fn context_value(&self, key: &str) -> Option<&str> {
        self.ctx.value(key)
    }
}
