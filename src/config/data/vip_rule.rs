//! `vip_rule.data`: products by the local address a client connected to.

use super::json::{field, index, J};
use serde_json::Value;
use std::net::IpAddr;

#[derive(Debug, Default)]
pub struct VipRule {
    pub version: String,
    pub vips: Vec<(IpAddr, String)>,
}

pub fn parse(j: &mut J, v: &Value) -> Option<VipRule> {
    let root = j.obj(v, "")?;
    let mut out = VipRule::default();
    match field(root, "Version").and_then(|v| j.str(v, "Version")) {
        Some(s) if !s.is_empty() => out.version = s.to_string(),
        _ => j.err("Version", "missing"),
    }
    let Some(vips) = field(root, "Vips") else {
        return Some(out);
    };
    let vips = j.obj(vips, "Vips")?;
    for (product, path, list) in j.keyed_arrays(vips, "Vips") {
        for (i, ip) in list.iter().enumerate() {
            let ipath = index(&path, i);
            let Some(s) = j.str(ip, &ipath) else { continue };
            match s.parse::<IpAddr>() {
                Ok(ip) => {
                    let ip = canonical(ip);
                    if let Some((_, p)) = out.vips.iter().find(|(o, _)| *o == ip) {
                        j.err(&ipath, format!("vip {s} already belongs to product {p:?}"));
                    } else {
                        out.vips.push((ip, product.clone()));
                    }
                }
                Err(_) => j.err(&ipath, format!("{s:?} is not an IP address")),
            }
        }
    }
    Some(out)
}

/// IPv4-mapped IPv6 addresses compare as the IPv4 address they carry.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => ip,
        },
        v4 => v4,
    }
}
