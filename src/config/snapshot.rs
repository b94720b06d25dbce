//! Building a [`Snapshot`]: read every data file, then check them against
//! each other and join them into the route table and the cluster set.
//! Errors from all files are collected before giving up.

use super::data::json::{label, J};
use super::data::{cluster_conf, cluster_table, gslb, host_rule, name_conf, route_rule, vip_rule};
use super::versions;
use super::{
    Backend, Cluster, ClusterSet, ConfError, ConfErrors, ConfVersions, HostTableStatus, ServerConf,
    Snapshot, SubCluster,
};
use crate::route::{BasicRules, Cond, RouteTable, Target};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;

/// A service name from name_conf.data and its instances.
#[derive(Debug, Clone)]
pub struct NameInstance {
    pub addr: SocketAddr,
    pub weight: u32,
}

pub(super) fn load(conf_dir: &Path, server: &ServerConf) -> Result<Snapshot, ConfErrors> {
    let mut errs: Vec<ConfError> = Vec::new();

    macro_rules! read {
        ($path:expr, $parser:path) => {{
            let file = label(conf_dir, &$path);
            let mut j = J {
                file: file.clone(),
                errs: &mut errs,
            };
            let parsed = j.read(&$path).and_then(|v| $parser(&mut j, &v));
            (file, parsed)
        }};
    }
    let (host_file, host) = read!(server.host_rule_conf, host_rule::parse);
    let (vip_file, vip) = read!(server.vip_rule_conf, vip_rule::parse);
    let (route_file, route) = read!(server.route_rule_conf, route_rule::parse);
    let (cc_file, cc) = read!(server.cluster_conf, cluster_conf::parse);
    let (gslb_file, gslb) = read!(server.gslb_conf, gslb::parse);
    let (table_file, table) = read!(server.cluster_table_conf, cluster_table::parse);
    let names = if server.name_conf.exists() {
        read!(server.name_conf, name_conf::parse).1
    } else {
        Some(name_conf::NameConf::default())
    };

    if let (Some(g), Some(t)) = (&gslb, &table) {
        let mut j = J {
            file: gslb_file.clone(),
            errs: &mut errs,
        };
        check_gslb(&mut j, g, t);
    }
    let clusters = match (&cc, &gslb, &table) {
        (Some(cc), Some(g), Some(t)) => build_clusters(cc, g, t),
        _ => ClusterSet::default(),
    };

    let mut route_table = RouteTable::default();
    if let Some(h) = &host {
        let mut j = J {
            file: host_file.clone(),
            errs: &mut errs,
        };
        build_hosts(&mut j, &mut route_table, h);
    }
    for (ip, product) in vip.iter().flat_map(|v| &v.vips) {
        let id = route_table.add_product(product);
        route_table.add_vip(*ip, id);
    }
    let _ = vip_file;
    if let Some(r) = &route {
        let refs = ClusterRefs {
            conf: cc.as_ref(),
            gslb: gslb.as_ref(),
            table: table.as_ref(),
            set: &clusters,
        };
        let mut j = J {
            file: route_file.clone(),
            errs: &mut errs,
        };
        // Conditions and cluster names are checked even when a broken
        // host_rule or vip_rule leaves the set of products unknown.
        let products_known = host.is_some() && vip.is_some();
        build_routes(&mut j, &mut route_table, r, &refs, products_known);
    }

    let tls = super::tls::load(conf_dir, server, &mut errs);

    if !errs.is_empty() {
        return Err(ConfErrors(errs));
    }
    let _ = (cc_file, table_file);
    let v = |o: Option<&str>| o.unwrap_or("").to_string();
    let version = format!(
        "host_rule={} vip_rule={} route_rule={} cluster_conf={} gslb={} cluster_table={}",
        v(host.as_ref().map(|h| h.version.as_str())),
        v(vip.as_ref().map(|h| h.version.as_str())),
        v(route.as_ref().map(|h| h.version.as_str())),
        v(cc.as_ref().map(|h| h.version.as_str())),
        v(gslb.as_ref().map(|h| h.ts.as_str())),
        v(table.as_ref().map(|h| h.version.as_str())),
    );
    let version = match &tls {
        Some(t) => format!("{version} {}", t.version),
        None => version,
    };
    let versions = ConfVersions {
        host_tag: v(host.as_ref().map(|h| h.version.as_str())),
        vip: v(vip.as_ref().map(|h| h.version.as_str())),
        product_route: v(route.as_ref().map(|h| h.version.as_str())),
        cluster_conf: v(cc.as_ref().map(|h| h.version.as_str())),
        cluster_table: v(table.as_ref().map(|h| h.version.as_str())),
        gslb_ts: v(gslb.as_ref().map(|h| h.ts.as_str())),
        gslb_src: v(gslb.as_ref().map(|h| h.hostname.as_str())),
        tls: v(tls.as_ref().map(|t| t.version.as_str())),
        content_hash: versions::content_hash(server),
        loaded_at: versions::unix_now(),
    };
    let host_status = host_status(host.as_ref(), vip.as_ref(), route.as_ref());
    let names = names
        .map(|n| {
            n.names
                .into_iter()
                .map(|(k, list)| {
                    (
                        k,
                        list.into_iter()
                            .map(|b| NameInstance {
                                addr: b.addr,
                                weight: b.weight,
                            })
                            .collect(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Snapshot {
        version,
        versions,
        host_status,
        route: route_table,
        clusters,
        names,
        tls,
    })
}

/// BFE's `host_table_status` sizes, from the files as read.
fn host_status(
    host: Option<&host_rule::HostRule>,
    vip: Option<&vip_rule::VipRule>,
    route: Option<&route_rule::RouteRule>,
) -> HostTableStatus {
    let mut tags: Vec<&str> = host
        .map(|h| h.hosts.iter().map(|(_, tag, _)| tag.as_str()).collect())
        .unwrap_or_default();
    tags.sort_unstable();
    tags.dedup();
    HostTableStatus {
        host_table_size: host.map_or(0, |h| h.hosts.len()),
        host_tag_table_size: tags.len(),
        vip_table_size: vip.map_or(0, |v| v.vips.len()),
        product_route_table_size: route.map_or(0, |r| r.advanced.len()),
        product_basic_route_table_size: route.map_or(0, |r| r.basic.len()),
    }
}

fn build_hosts(j: &mut J, t: &mut RouteTable, h: &host_rule::HostRule) {
    for p in &h.products {
        t.add_product(p);
    }
    for (pattern, tag, product) in &h.hosts {
        let id = t.add_product(product);
        t.add_tagged_host(pattern, tag, id);
    }
    // host_rule::parse has already reported a DefaultProduct outside HostTags.
    let _ = j;
    t.set_default_product(h.default_product.as_deref().and_then(|d| t.product_id(d)));
}

struct ClusterRefs<'a> {
    conf: Option<&'a cluster_conf::ClusterConfFile>,
    gslb: Option<&'a gslb::Gslb>,
    table: Option<&'a cluster_table::ClusterTable>,
    set: &'a ClusterSet,
}

impl ClusterRefs<'_> {
    /// Why `name` cannot be routed to, if it cannot.
    fn missing(&self, name: &str) -> Option<String> {
        let mut gaps = Vec::new();
        if self
            .conf
            .is_some_and(|c| !c.clusters.iter().any(|e| e.name == name))
        {
            gaps.push("cluster_conf");
        }
        if self
            .table
            .is_some_and(|t| !t.clusters.iter().any(|(n, _)| n == name))
        {
            gaps.push("cluster_table");
        }
        if self
            .gslb
            .is_some_and(|g| !g.clusters.iter().any(|(n, _)| n == name))
        {
            gaps.push("gslb");
        }
        (!gaps.is_empty())
            .then(|| format!("cluster {name:?} is not defined in {}", gaps.join(", ")))
    }
}

fn build_routes(
    j: &mut J,
    t: &mut RouteTable,
    r: &route_rule::RouteRule,
    refs: &ClusterRefs,
    products_known: bool,
) {
    let resolve = |j: &mut J, path: &str, name: &str| -> Option<Target> {
        if name == route_rule::ADVANCED_MODE {
            return Some(Target::Advanced);
        }
        if let Some(why) = refs.missing(name) {
            j.err(path, why);
            return None;
        }
        refs.set.id_of(name).map(Target::Cluster)
    };
    let product = |j: &mut J, section: &str, name: &str| {
        let id = t.product_id(name);
        if id.is_none() && products_known {
            j.err(
                &format!("{section}.{name}"),
                format!("product {name:?} is not in host_rule or vip_rule"),
            );
        }
        id
    };
    let mut basics = Vec::new();
    for (name, rules) in &r.basic {
        let id = product(j, "BasicRule", name);
        let mut basic = BasicRules::default();
        for rule in rules {
            let cpath = format!("{}.ClusterName", rule.path);
            let Some(target) = resolve(j, &cpath, &rule.cluster) else {
                continue;
            };
            if let Err(e) = basic.insert(&rule.hostnames, &rule.paths, target) {
                j.err(&rule.path, e);
            }
        }
        basics.push((id, basic));
    }
    let mut advanced = Vec::new();
    for (name, rules) in &r.advanced {
        let id = product(j, "ProductRule", name);
        let mut compiled = Vec::new();
        for rule in rules {
            let cond = Cond::compile(&rule.cond)
                .map_err(|e| j.err(&format!("{}.Cond", rule.path), e.to_string()));
            let cpath = format!("{}.ClusterName", rule.path);
            let target = if rule.cluster == route_rule::ADVANCED_MODE {
                j.err(&cpath, "ADVANCED_MODE is only meaningful in BasicRule");
                None
            } else {
                resolve(j, &cpath, &rule.cluster)
            };
            if let (Ok(c), Some(Target::Cluster(id))) = (cond, target) {
                compiled.push((c, id));
            }
        }
        advanced.push((id, compiled));
    }
    for (id, basic) in basics {
        if let Some(p) = id.and_then(|id| t.product_mut(id)) {
            p.basic = Some(basic);
        }
    }
    for (id, rules) in advanced {
        if let Some(p) = id.and_then(|id| t.product_mut(id)) {
            p.rules = rules;
        }
    }
}

/// Every gslb sub-cluster needs backends in cluster_table.
fn check_gslb(j: &mut J, g: &gslb::Gslb, t: &cluster_table::ClusterTable) {
    for (cluster, subs) in &g.clusters {
        let Some((_, tsubs)) = t.clusters.iter().find(|(n, _)| n == cluster) else {
            j.err(
                &format!("Clusters.{cluster}"),
                format!("cluster {cluster:?} is not in cluster_table"),
            );
            continue;
        };
        for (sub, _) in subs {
            if sub != gslb::BLACKHOLE && !tsubs.iter().any(|(n, _)| n == sub) {
                j.err(
                    &format!("Clusters.{cluster}.{sub}"),
                    format!("sub-cluster {sub:?} is not in cluster_table for {cluster:?}"),
                );
            }
        }
    }
}

fn build_clusters(
    cc: &cluster_conf::ClusterConfFile,
    g: &gslb::Gslb,
    t: &cluster_table::ClusterTable,
) -> ClusterSet {
    let table: HashMap<&str, &Vec<(String, Vec<cluster_table::BackendEntry>)>> =
        t.clusters.iter().map(|(n, s)| (n.as_str(), s)).collect();
    let weights: HashMap<&str, &Vec<(String, u32)>> =
        g.clusters.iter().map(|(n, s)| (n.as_str(), s)).collect();

    let mut set = ClusterSet::default();
    for e in &cc.clusters {
        let mut subclusters = Vec::new();
        let mut blackhole_weight = 0;
        let tsubs = table.get(e.name.as_str());
        for (sub, w) in weights
            .get(e.name.as_str())
            .map(|v| v.as_slice())
            .unwrap_or(&[])
        {
            if sub == gslb::BLACKHOLE {
                blackhole_weight = *w;
                continue;
            }
            let backends = tsubs
                .and_then(|s| s.iter().find(|(n, _)| n == sub))
                .map(|(_, b)| {
                    b.iter()
                        .map(|b| Backend {
                            name: b.name.clone(),
                            addr: b.addr,
                            weight: b.weight,
                        })
                        .collect()
                })
                .unwrap_or_default();
            subclusters.push(SubCluster {
                name: sub.clone(),
                weight: *w,
                backends,
            });
        }
        let id = set.clusters.len();
        set.clusters.push(Cluster {
            name: e.name.clone(),
            backend: e.backend.clone(),
            check: e.check.clone(),
            gslb: e.gslb.clone(),
            basic: e.basic.clone(),
            subclusters,
            blackhole_weight,
        });
        set.by_name.insert(e.name.clone(), id);
    }
    set
}
