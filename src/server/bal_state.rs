//! The monitor's `backend_state` (ringfront's; BFE's `bal_state` is a counter
//! page, see `bfe_state`): every backend's balancing state, summed over
//! workers. Health is per worker, so a backend is reported with how many
//! workers see it up and down (and probe it), plus requests in flight.

use super::monitor::json_str;
use crate::balance::BackendRow;
use std::collections::HashMap;
use std::fmt::Write;
use std::net::SocketAddr;

/// One backend over all workers.
#[derive(Debug, Default, PartialEq, Eq)]
struct Sum {
    up: u32,
    down: u32,
    probing: u32,
    conns: u64,
}

/// JSON: `{"workers":N,"backends":[{cluster, subcluster, name, addr,
/// weight, up, down, probing, conns}, …]}`, in configuration order.
pub(super) fn render(workers: &[Vec<BackendRow>]) -> String {
    let mut order: Vec<&BackendRow> = Vec::new();
    let mut sums: HashMap<(&str, &str, SocketAddr), Sum> = HashMap::new();
    for rows in workers {
        for r in rows {
            let sum = sums
                .entry((&r.cluster, &r.subcluster, r.addr))
                .or_insert_with(|| {
                    order.push(r);
                    Sum::default()
                });
            if r.down {
                sum.down += 1;
            } else {
                sum.up += 1;
            }
            sum.probing += r.probing as u32;
            sum.conns += r.conns as u64;
        }
    }
    let mut o = String::new();
    let _ = write!(o, "{{\"workers\":{},\"backends\":[", workers.len());
    for (i, r) in order.iter().enumerate() {
        let s = &sums[&(r.cluster.as_str(), r.subcluster.as_str(), r.addr)];
        if i > 0 {
            o.push(',');
        }
        let _ = write!(
            o,
            "{{\"cluster\":{},\"subcluster\":{},\"name\":{},\"addr\":\"{}\",\"weight\":{},\"up\":{},\"down\":{},\"probing\":{},\"conns\":{}}}",
            json_str(&r.cluster),
            json_str(&r.subcluster),
            json_str(&r.name),
            r.addr,
            r.weight,
            s.up,
            s.down,
            s.probing,
            s.conns
        );
    }
    o.push_str("]}\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(addr: &str, down: bool, conns: u32) -> BackendRow {
        BackendRow {
            cluster: "c".into(),
            subcluster: "c.a".into(),
            name: format!("n{addr}"),
            addr: addr.parse().unwrap(),
            weight: 1,
            down,
            probing: down,
            conns,
            fails: 0,
        }
    }

    #[test]
    fn sums_over_workers() {
        let w0 = vec![row("10.0.0.1:80", true, 0), row("10.0.0.2:80", false, 2)];
        let w1 = vec![row("10.0.0.1:80", false, 1), row("10.0.0.2:80", false, 0)];
        let j = render(&[w0, w1]);
        let v: serde_json::Value = serde_json::from_str(&j).unwrap();
        assert_eq!(v["workers"], 2);
        let b = &v["backends"];
        assert_eq!(b[0]["addr"], "10.0.0.1:80");
        assert_eq!(
            (b[0]["up"].as_u64(), b[0]["down"].as_u64()),
            (Some(1), Some(1))
        );
        assert_eq!(b[0]["probing"], 1);
        assert_eq!(b[0]["conns"], 1);
        assert_eq!(
            (b[1]["up"].as_u64(), b[1]["conns"].as_u64()),
            (Some(2), Some(2))
        );
        assert_eq!(b[1]["subcluster"], "c.a");
    }
}
