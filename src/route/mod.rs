//! Routing: host table → product, route rules → cluster.
//!
//! CONTRACT (implemented by the config/route/balance work): `RouteTable` is
//! built by `Snapshot::load`; lookups never allocate.

pub mod bytes;
pub mod condition;
#[cfg(test)]
pub(crate) mod test_req;

use crate::config::ClusterId;
use std::net::IpAddr;

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
}

/// Index of a product in the route table; stable within one snapshot only.
pub type ProductId = usize;

#[derive(Debug, Clone, Default)]
pub struct RouteTable {}

impl RouteTable {
    /// Host (port stripped, case-insensitive; exact before `*.` wildcard) →
    /// VIP table → DefaultProduct.
    pub fn find_product(&self, host: &[u8], vip: IpAddr) -> Option<ProductId> {
        let _ = (host, vip);
        todo!("route: find_product")
    }

    pub fn product_name(&self, id: ProductId) -> &str {
        let _ = id;
        todo!("route: product_name")
    }

    /// The product's BasicRule (host+path), then its ProductRule list in
    /// order; first match wins.
    pub fn find_cluster<R: RequestFacts + ?Sized>(
        &self,
        product: ProductId,
        req: &R,
    ) -> Option<ClusterId> {
        let _ = (product, req);
        todo!("route: find_cluster")
    }
}
