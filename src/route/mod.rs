//! Routing: host table → product, route rules → cluster.
//!
//! CONTRACT (implemented by the config/route/balance work): `RouteTable` is
//! built by `Snapshot::load`; lookups never allocate.

pub mod bytes;
pub mod condition;
#[cfg(test)]
pub(crate) mod test_req;

mod basic_rule;
mod host_table;

pub use basic_rule::{BasicRules, Target};
pub use condition::{Cond, CondError};

use host_table::HostTable;
use std::collections::HashMap;
use std::net::IpAddr;

/// Index of a cluster in the snapshot's `ClusterSet`; stable within one
/// snapshot only. Declared here, the lowest module that needs it, so that
/// routing imports nothing from `config` (which builds route tables).
pub type ClusterId = usize;

/// What routing conditions and hash strategies may ask of a request. The
/// proxy implements it over offsets into the connection's read buffer, so
/// every answer borrows; nothing here allocates.
pub trait RequestFacts {
    fn method(&self) -> &[u8];
    /// Host header value as received (may carry a port; not lower-cased).
    fn host(&self) -> &[u8];
    /// Path of the request target, without the query, still percent-encoded.
    fn path(&self) -> &[u8];
    /// Query string after `?`, without it; empty when absent.
    fn query(&self) -> &[u8];
    /// The raw request target as received.
    fn uri(&self) -> &[u8];
    /// First value of a header; name compared case-insensitively.
    fn header(&self, name: &[u8]) -> Option<&[u8]>;
    /// Every header in order; stop early by returning false.
    fn each_header(&self, f: &mut dyn FnMut(&[u8], &[u8]) -> bool);
    fn client_ip(&self) -> IpAddr;
    /// Local (listener) address the client connected to.
    fn vip(&self) -> IpAddr;
    fn local_port(&self) -> u16;
    fn is_tls(&self) -> bool;
    fn tls_sni(&self) -> Option<&[u8]>;
    /// Client address trusted (mod_trust_clientip); false when unknown.
    fn client_trusted(&self) -> bool;
    /// The socket peer, which `client_ip` may replace (trusted proxies).
    fn peer_ip(&self) -> IpAddr {
        self.client_ip()
    }
    /// The backend response's status, once there is one; the `res_*`
    /// primitives are false before that (while routing, for instance).
    fn response_status(&self) -> Option<u16> {
        None
    }
    /// First value of a backend response header; name compared
    /// case-insensitively.
    fn response_header(&self, _name: &[u8]) -> Option<&[u8]> {
        None
    }
    /// What BFE's `req.Protocol()` returns, read by `req_proto_match`: the
    /// session's protocol on TLS (`https`; `h2` where ALPN chose it), the
    /// request line's version (`HTTP/1.1`, `HTTP/1.0`) on plain
    /// connections.
    fn protocol(&self) -> &[u8] {
        if self.is_tls() {
            b"https"
        } else {
            b"HTTP/1.1"
        }
    }
    /// The host tag (`host_rule.data` `Hosts` key) the product was found
    /// under; empty when it was found by VIP or `DefaultProduct`, or not
    /// yet looked up.
    fn host_tag(&self) -> &[u8] {
        b""
    }
    /// Values of the request tag `name` (added by mod_tag), in order.
    fn tag_values(&self, _name: &str) -> &[String] {
        &[]
    }
    /// The value a module published under BFE's context `key`.
    fn context_value(&self, _key: &str) -> Option<&str> {
        None
    }
}

/// Index of a product in the route table; stable within one snapshot only.
pub type ProductId = usize;

/// Index of a host tag in the route table (`0`: none, the empty tag);
/// stable within one snapshot only. A request carries the index, so
/// finding the product copies no string.
pub type HostTagId = usize;

/// Everything one product routes by.
#[derive(Debug, Clone)]
pub struct ProductRoutes {
    pub name: String,
    pub basic: Option<BasicRules>,
    /// ProductRule list: first condition that holds wins.
    pub rules: Vec<(Cond, ClusterId)>,
}

#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    products: Vec<ProductRoutes>,
    by_name: HashMap<String, ProductId>,
    hosts: HostTable,
    vips: HashMap<IpAddr, ProductId>,
    default_product: Option<ProductId>,
    /// Host tags by [`HostTagId`]; index 0 is never used (no tag).
    host_tags: Vec<Box<[u8]>>,
}

impl RouteTable {
    /// Host (port stripped, case-insensitive; exact before `*.` wildcard) →
    /// VIP table → DefaultProduct.
    pub fn find_product(&self, host: &[u8], vip: IpAddr) -> Option<ProductId> {
        self.find_product_tagged(host, vip).map(|(p, _)| p)
    }

    /// [`find_product`](Self::find_product), with the host tag the host
    /// is listed under (`0` when the product came from the VIP table or
    /// `DefaultProduct`), for `req_host_tag_in`.
    pub fn find_product_tagged(&self, host: &[u8], vip: IpAddr) -> Option<(ProductId, HostTagId)> {
        self.hosts
            .find(bytes::strip_port(host))
            .or_else(|| self.vips.get(&canonical_ip(vip)).map(|&p| (p, 0)))
            .or(self.default_product.map(|p| (p, 0)))
    }

    /// The name of a host tag; empty for `0` or an id from another table.
    pub fn host_tag_name(&self, id: HostTagId) -> &[u8] {
        self.host_tags.get(id).map_or(&[], |t| &t[..])
    }

    /// Empty for an id that did not come from this table.
    pub fn product_name(&self, id: ProductId) -> &str {
        self.products.get(id).map_or("", |p| &p.name)
    }

    /// The product's BasicRule (host+path), then its ProductRule list in
    /// order; first match wins.
    pub fn find_cluster<R: RequestFacts + ?Sized>(
        &self,
        product: ProductId,
        req: &R,
    ) -> Option<ClusterId> {
        let p = self.products.get(product)?;
        if let Some(basic) = &p.basic {
            if let Some(Target::Cluster(c)) = basic.find(req.host(), req.path()) {
                return Some(c);
            }
        }
        p.rules
            .iter()
            .find(|(cond, _)| cond.eval(req))
            .map(|(_, c)| *c)
    }

    pub fn product_id(&self, name: &str) -> Option<ProductId> {
        self.by_name.get(name).copied()
    }

    pub fn products(&self) -> &[ProductRoutes] {
        &self.products
    }

    /// Registers a product (or returns the existing id).
    pub fn add_product(&mut self, name: &str) -> ProductId {
        if let Some(&id) = self.by_name.get(name) {
            return id;
        }
        let id = self.products.len();
        self.products.push(ProductRoutes {
            name: name.to_string(),
            basic: None,
            rules: Vec::new(),
        });
        self.by_name.insert(name.to_string(), id);
        id
    }

    /// `pattern`: a host name, `*.suffix` or `*` (already validated).
    pub fn add_host(&mut self, pattern: &str, product: ProductId) {
        self.add_tagged_host(pattern, "", product);
    }

    /// `pattern` as [`add_host`](Self::add_host), listed under host tag
    /// `tag` (the `Hosts` key of host_rule.data).
    pub fn add_tagged_host(&mut self, pattern: &str, tag: &str, product: ProductId) {
        let norm = pattern.trim_end_matches('.').to_ascii_lowercase();
        let tag_id = self.host_tag_id(tag);
        self.hosts.insert(&norm, product, tag_id);
    }

    fn host_tag_id(&mut self, tag: &str) -> HostTagId {
        if tag.is_empty() {
            return 0;
        }
        if self.host_tags.is_empty() {
            self.host_tags.push(Box::default());
        }
        match self.host_tags.iter().position(|t| &t[..] == tag.as_bytes()) {
            Some(i) => i,
            None => {
                self.host_tags.push(tag.as_bytes().into());
                self.host_tags.len() - 1
            }
        }
    }

    pub fn add_vip(&mut self, vip: IpAddr, product: ProductId) {
        self.vips.insert(canonical_ip(vip), product);
    }

    pub fn set_default_product(&mut self, product: Option<ProductId>) {
        self.default_product = product;
    }

    pub fn product_mut(&mut self, id: ProductId) -> Option<&mut ProductRoutes> {
        self.products.get_mut(id)
    }
}

/// IPv4-mapped IPv6 addresses compare as the IPv4 address they carry, so a
/// dual-stack listener still finds `10.0.0.1` in vip_rule.data.
fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::test_req::Req;
    use super::*;
    use std::net::Ipv4Addr;

    fn table() -> RouteTable {
        let mut t = RouteTable::default();
        let p = t.add_product("p");
        let q = t.add_product("q");
        t.add_host("a.com", p);
        t.add_host("*.a.com", q);
        t.add_vip(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9)), q);
        let mut basic = BasicRules::default();
        basic
            .insert(&["a.com".into()], &["/static*".into()], Target::Cluster(7))
            .unwrap();
        basic
            .insert(&["a.com".into()], &["/adv*".into()], Target::Advanced)
            .unwrap();
        let pm = t.product_mut(p).unwrap();
        pm.basic = Some(basic);
        pm.rules.push((
            Cond::compile(r#"req_path_prefix_in("/api", false)"#).unwrap(),
            1,
        ));
        pm.rules.push((Cond::compile("default_t()").unwrap(), 2));
        t
    }

    #[test]
    fn product_lookup_order() {
        let t = table();
        let vip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9));
        let other = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(t.find_product(b"A.COM:8080", other), Some(0));
        assert_eq!(t.find_product(b"x.a.com", other), Some(1));
        assert_eq!(t.find_product(b"nope.org", vip), Some(1));
        let mapped: IpAddr = "::ffff:10.0.0.9".parse().unwrap();
        assert_eq!(t.find_product(b"nope.org", mapped), Some(1));
        assert_eq!(t.find_product(b"nope.org", other), None);
        let mut t2 = t.clone();
        t2.set_default_product(Some(0));
        assert_eq!(t2.find_product(b"nope.org", other), Some(0));
        assert_eq!(t.product_name(1), "q");
        assert_eq!(t.product_id("q"), Some(1));
    }

    #[test]
    fn host_tags_come_with_the_product() {
        let mut t = RouteTable::default();
        let p = t.add_product("p");
        t.add_tagged_host("a.com", "tagA", p);
        t.add_tagged_host("*.a.com", "tagW", p);
        t.add_tagged_host("b.com", "tagA", p);
        t.add_vip(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9)), p);
        t.set_default_product(Some(p));
        let other = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let tag = |host: &[u8], vip| {
            let (_, id) = t.find_product_tagged(host, vip).unwrap();
            t.host_tag_name(id).to_vec()
        };
        assert_eq!(tag(b"A.com:80", other), b"tagA");
        assert_eq!(tag(b"b.com", other), b"tagA");
        assert_eq!(tag(b"x.a.com", other), b"tagW");
        // Found by VIP or DefaultProduct: no host tag.
        assert_eq!(tag(b"c.com", IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9))), b"");
        assert_eq!(tag(b"c.com", other), b"");
        assert_eq!(t.host_tag_name(99), b"");
    }

    #[test]
    fn basic_then_product_rules() {
        let t = table();
        assert_eq!(
            t.find_cluster(0, &Req::get("a.com", "/static/x.js")),
            Some(7)
        );
        assert_eq!(t.find_cluster(0, &Req::get("a.com", "/adv/api")), Some(2));
        assert_eq!(t.find_cluster(0, &Req::get("a.com", "/api/v1")), Some(1));
        assert_eq!(t.find_cluster(0, &Req::get("a.com", "/other")), Some(2));
        assert_eq!(t.find_cluster(1, &Req::get("x.a.com", "/")), None);
        assert_eq!(t.find_cluster(9, &Req::get("x.a.com", "/")), None);
    }
}
