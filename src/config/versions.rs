//! What a loaded configuration says about itself on the monitor port: the
//! `Version` (gslb.data: `Ts` and `Hostname`) of every data file, a hash
//! of the files' bytes (a file edited without bumping its `Version` still
//! shows as changed), when it was loaded, and the table sizes BFE's
//! `host_table_status` reports.

use super::ServerConf;
use std::path::Path;

/// Versions of one snapshot's files and when it was loaded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfVersions {
    /// host_rule.data (BFE's `HostTag`).
    pub host_tag: String,
    /// vip_rule.data (BFE's `Vip`).
    pub vip: String,
    /// route_rule.data (BFE's `ProductRoute`).
    pub product_route: String,
    /// cluster_conf.data (BFE's `ClusterConfVer`).
    pub cluster_conf: String,
    /// cluster_table.data (BFE's `ClusterTableConfVer`).
    pub cluster_table: String,
    /// gslb.data `Ts` and `Hostname` (BFE's `GslbConfTimeStamp`, `GslbConfSrc`).
    pub gslb_ts: String,
    pub gslb_src: String,
    /// tls_conf/ files' versions, empty without HTTPS.
    pub tls: String,
    /// FNV-1a (64 bit, hex) over every file the snapshot was read from, in
    /// a fixed order.
    pub content_hash: String,
    /// Seconds since the Unix epoch when the files were read.
    pub loaded_at: u64,
}

/// BFE's `host_table_status`: the sizes of the routing tables.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostTableStatus {
    /// Host names in host_rule.data.
    pub host_table_size: usize,
    /// Host tags (each names its product).
    pub host_tag_table_size: usize,
    /// Addresses in vip_rule.data.
    pub vip_table_size: usize,
    /// Products with condition (`ProductRule`) routes.
    pub product_route_table_size: usize,
    /// Products with `BasicRule` routes.
    pub product_basic_route_table_size: usize,
}

/// FNV-1a over the bytes of every file the snapshot reads (a missing file
/// hashes as empty), separated so that moving bytes between files changes
/// the hash.
pub(super) fn content_hash(server: &ServerConf) -> String {
    let mut files: Vec<&Path> = vec![
        &server.host_rule_conf,
        &server.vip_rule_conf,
        &server.route_rule_conf,
        &server.cluster_conf,
        &server.gslb_conf,
        &server.cluster_table_conf,
        &server.name_conf,
    ];
    if server.https.enabled {
        files.push(&server.https.server_cert_conf);
        files.push(&server.https.tls_rule_conf);
    }
    let mut h = Fnv::default();
    for f in files {
        h.write(&std::fs::read(f).unwrap_or_default());
        h.write(&[0xff]);
    }
    format!("{:016x}", h.0)
}

pub(super) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_matches_the_reference_values() {
        let mut h = Fnv::default();
        h.write(b"a");
        assert_eq!(h.0, 0xaf63_dc4c_8601_ec8c);
    }
}
