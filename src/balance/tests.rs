use super::*;
use crate::config::{
    Backend, BackendConf, CheckConf, Cluster, ClusterBasic, ClusterSet, GslbBasic, HashConf,
    SubCluster,
};
use std::time::Duration;

fn cluster(name: &str, subs: &[(&str, u32, &[u32])], blackhole: u32, mode: BalanceMode) -> Cluster {
    Cluster {
        name: name.into(),
        backend: BackendConf {
            timeout_conn_srv: Duration::from_secs(2),
            timeout_response_header: Duration::from_secs(60),
            max_idle_conns_per_host: 2,
            retry_level: 0,
            outlier_detection_http_code: Vec::new(),
            slow_start_time: Duration::ZERO,
        },
        check: CheckConf {
            schem: "http".into(),
            uri: "/".into(),
            host: String::new(),
            status_code: 0,
            fail_num: 3,
            succ_num: 1,
            check_timeout: Duration::ZERO,
            check_interval: Duration::from_secs(1),
        },
        gslb: GslbBasic {
            cross_retry: 0,
            retry_max: 2,
            hash: HashConf {
                hash_strategy: 1,
                hash_header: String::new(),
                session_sticky: false,
            },
            balance_mode: mode,
        },
        basic: ClusterBasic {
            timeout_read_client: Duration::from_secs(30),
            timeout_write_client: Duration::from_secs(60),
            timeout_read_client_again: Duration::from_secs(60),
            disable_health_check: false,
        },
        subclusters: subs
            .iter()
            .enumerate()
            .map(|(si, (n, w, bws))| SubCluster {
                name: n.to_string(),
                weight: *w,
                backends: bws
                    .iter()
                    .enumerate()
                    .map(|(bi, bw)| Backend {
                        name: format!("b{bi}"),
                        addr: format!("127.0.{si}.{}:80", bi + 1).parse().unwrap(),
                        weight: *bw,
                    })
                    .collect(),
            })
            .collect(),
        blackhole_weight: blackhole,
    }
}

fn set(cs: Vec<Cluster>) -> ClusterSet {
    let mut s = ClusterSet::default();
    for c in cs {
        s.by_name.insert(c.name.clone(), s.clusters.len());
        s.clusters.push(c);
    }
    s
}

fn one_sub(weights: &[u32], mode: BalanceMode) -> Balancer {
    Balancer::new(
        &set(vec![cluster("c", &[("s", 1, weights)], 0, mode)]),
        None,
    )
}

fn picks(b: &mut Balancer, n: usize, tried: &[usize]) -> Vec<usize> {
    (0..n)
        .map(|_| b.pick_backend(0, 0, tried).unwrap().index)
        .collect()
}

#[test]
fn smooth_wrr_matches_nginx_sequence() {
    let mut b = one_sub(&[5, 1, 1], BalanceMode::Wrr);
    assert_eq!(picks(&mut b, 7, &[]), [0, 0, 1, 0, 2, 0, 0]);
    assert_eq!(picks(&mut b, 7, &[]), [0, 0, 1, 0, 2, 0, 0]);
}

#[test]
fn wrr_distribution_and_zero_weight() {
    let mut b = one_sub(&[3, 1, 0], BalanceMode::Wrr);
    let p = picks(&mut b, 4000, &[]);
    let a = p.iter().filter(|&&i| i == 0).count() as f64;
    assert!((a / 4000.0 - 0.75).abs() < 0.01, "{a}");
    assert!(!p.contains(&2));
}

#[test]
fn tried_and_down_are_skipped() {
    let mut b = one_sub(&[1, 1, 1], BalanceMode::Wrr);
    assert!(picks(&mut b, 10, &[0, 2]).iter().all(|&i| i == 1));
    assert_eq!(b.pick_backend(0, 0, &[0, 1, 2]), None);
    for _ in 0..3 {
        b.report_failure(0, 0, 1);
    }
    assert!(b.is_down(0, 0, 1));
    assert!(!picks(&mut b, 10, &[]).contains(&1));
    // Fewer than FailNum consecutive failures do not count.
    b.report_failure(0, 0, 0);
    b.report_failure(0, 0, 0);
    b.report_success(0, 0, 0);
    b.report_failure(0, 0, 0);
    assert!(!b.is_down(0, 0, 0));
    b.report_success(0, 0, 1);
    assert!(picks(&mut b, 10, &[]).contains(&1));
}

#[test]
fn all_down_falls_back_to_trying_them() {
    let mut b = one_sub(&[1, 1], BalanceMode::Wrr);
    for i in 0..2 {
        for _ in 0..3 {
            b.report_failure(0, 0, i);
        }
    }
    let p = picks(&mut b, 4, &[]);
    assert!(p.contains(&0) && p.contains(&1));
    assert_eq!(b.pick_backend(0, 0, &[0]).unwrap().index, 1);
    assert_eq!(b.pick_backend(9, 0, &[]), None);
    assert_eq!(b.pick_backend(0, 9, &[]), None);
}

#[test]
fn wlc_prefers_fewest_conns_per_weight() {
    let mut b = one_sub(&[2, 1], BalanceMode::Wlc);
    b.conn_start(0, 0, 0);
    b.conn_start(0, 0, 0);
    b.conn_start(0, 0, 0);
    // 3/2 vs 0/1: backend 1.
    assert_eq!(b.pick_backend(0, 0, &[]).unwrap().index, 1);
    b.conn_start(0, 0, 1);
    b.conn_start(0, 0, 1);
    // 3/2 vs 2/1: backend 0.
    assert_eq!(b.pick_backend(0, 0, &[]).unwrap().index, 0);
    b.conn_end(0, 0, 0);
    b.conn_end(0, 0, 0);
    b.conn_end(0, 0, 0);
    b.conn_end(0, 0, 0);
    assert_eq!(b.pick_backend(0, 0, &[]).unwrap().index, 0);
}

fn gslb_balancer() -> Balancer {
    let c = cluster(
        "c",
        &[("a", 1, &[1]), ("b", 3, &[1]), ("z", 0, &[1])],
        0,
        BalanceMode::Wrr,
    );
    Balancer::new(&set(vec![c]), None)
}

#[test]
fn gslb_same_key_same_subcluster_and_weights() {
    let mut b = gslb_balancer();
    for k in 0..100u64 {
        let key = hash_bytes(&k.to_le_bytes());
        let first = b.pick_subcluster(0, key);
        for _ in 0..3 {
            assert_eq!(b.pick_subcluster(0, key), first);
        }
    }
    let mut counts = [0usize; 3];
    for k in 0..8000u64 {
        match b.pick_subcluster(0, hash_bytes(&k.to_le_bytes())) {
            SubClusterPick::Sub(i) => counts[i] += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(counts[2], 0);
    let share = counts[1] as f64 / 8000.0;
    assert!((share - 0.75).abs() < 0.03, "{counts:?}");
}

#[test]
fn gslb_skips_subcluster_with_all_backends_down() {
    let mut b = gslb_balancer();
    for _ in 0..3 {
        b.report_failure(0, 1, 0);
    }
    for k in 0..200u64 {
        assert_eq!(
            b.pick_subcluster(0, hash_bytes(&k.to_le_bytes())),
            SubClusterPick::Sub(0)
        );
    }
    assert_eq!(b.pick_cross_subcluster(0, 0, 7), SubClusterPick::Sub(2));
}

#[test]
fn blackhole_takes_its_share() {
    let c = cluster("c", &[("a", 1, &[1])], 1, BalanceMode::Wrr);
    let mut b = Balancer::new(&set(vec![c]), None);
    let mut holes = 0;
    for k in 0..4000u64 {
        match b.pick_subcluster(0, hash_bytes(&k.to_le_bytes())) {
            SubClusterPick::Blackhole => holes += 1,
            SubClusterPick::Sub(0) => {}
            other => panic!("{other:?}"),
        }
    }
    assert!((holes as f64 / 4000.0 - 0.5).abs() < 0.03, "{holes}");
    let all_hole = cluster("d", &[("a", 0, &[1])], 5, BalanceMode::Wrr);
    let none = cluster("e", &[("a", 0, &[1])], 0, BalanceMode::Wrr);
    let mut b = Balancer::new(&set(vec![all_hole, none]), None);
    assert_eq!(b.pick_subcluster(0, 1), SubClusterPick::Blackhole);
    assert_eq!(b.pick_subcluster(1, 1), SubClusterPick::Unavailable);
    assert_eq!(b.pick_subcluster(7, 1), SubClusterPick::Unavailable);
}

#[test]
fn reload_inherits_unchanged_backends() {
    let s1 = set(vec![cluster(
        "c",
        &[("s", 1, &[5, 1, 1])],
        0,
        BalanceMode::Wrr,
    )]);
    let mut b1 = Balancer::new(&s1, None);
    for _ in 0..3 {
        b1.report_failure(0, 0, 2);
    }
    let first = picks(&mut b1, 3, &[]);
    assert!(!first.contains(&2));
    // Same cluster; backend 1 changes address, others stay.
    let mut c2 = cluster("c", &[("s", 1, &[5, 1, 1])], 0, BalanceMode::Wrr);
    c2.subclusters[0].backends[1].addr = "10.0.0.1:80".parse().unwrap();
    let b2 = Balancer::new(
        &set(vec![cluster("other", &[], 0, BalanceMode::Wrr), c2]),
        Some(&b1),
    );
    assert!(b2.is_down(1, 0, 2));
    assert!(!b2.is_down(1, 0, 1));
    assert_eq!(
        b2.clusters[1].subs[0].backends[0].current,
        b1.clusters[0].subs[0].backends[0].current
    );
    assert_eq!(b2.clusters[1].subs[0].backends[1].current, 0);
}

#[test]
fn sticky_keeps_key_on_backend() {
    let mut b = one_sub(&[1, 1, 1, 1], BalanceMode::Wrr);
    for k in 0..50u64 {
        let key = hash_bytes(&k.to_le_bytes());
        let a = b.pick_backend_sticky(0, 0, &[], key).unwrap();
        assert_eq!(b.pick_backend_sticky(0, 0, &[], key).unwrap(), a);
        let other = b.pick_backend_sticky(0, 0, &[a.index], key).unwrap();
        assert_ne!(other.index, a.index);
    }
}
