use super::*;
use crate::config::{
    Backend, BackendConf, CheckConf, Cluster, ClusterBasic, ClusterSet, GslbBasic, HashConf,
    SubCluster,
};
use std::time::{Duration, Instant};

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
            send_proxy_v2: false,
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
            request_buffer: 64 << 10,
            response_buffer: 1 << 20,
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

fn picks(b: &mut Balancer, n: usize, tried: &[Tried]) -> Vec<usize> {
    (0..n)
        .map(|_| b.pick_backend(0, 0, tried).unwrap().index)
        .collect()
}

fn fail(b: &Balancer, sub: usize, backend: usize, times: usize) -> bool {
    let mut went_down = false;
    for _ in 0..times {
        went_down |= b.report_failure(0, sub, backend).is_some();
    }
    went_down
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
    assert!(picks(&mut b, 10, &[(0, 0), (0, 2)]).iter().all(|&i| i == 1));
    // Tried backends of another sub-cluster do not matter here.
    assert!(b.pick_backend(0, 0, &[(1, 0), (1, 1), (1, 2)]).is_some());
    assert_eq!(b.pick_backend(0, 0, &[(0, 0), (0, 1), (0, 2)]), None);
    assert!(!fail(&b, 0, 1, 2));
    assert!(
        fail(&b, 0, 1, 1),
        "the third failure (FailNum 3) takes it down"
    );
    assert!(!fail(&b, 0, 1, 5), "only the transition reports");
    assert!(b.is_down(0, 0, 1));
    assert!(!picks(&mut b, 10, &[]).contains(&1));
    // Fewer than FailNum consecutive failures do not count.
    fail(&b, 0, 0, 2);
    b.report_success(0, 0, 0);
    fail(&b, 0, 0, 1);
    assert!(!b.is_down(0, 0, 0));
    // A success does not bring a down backend back (only the probe does).
    b.report_success(0, 0, 1);
    assert!(b.is_down(0, 0, 1));
    b.health(0, 0, 1).unwrap().mark_up(Instant::now());
    assert!(picks(&mut b, 10, &[]).contains(&1));
}

#[test]
fn all_down_leaves_nothing_to_pick() {
    let mut b = one_sub(&[1, 1], BalanceMode::Wrr);
    fail(&b, 0, 0, 3);
    fail(&b, 0, 1, 3);
    assert_eq!(b.pick_backend(0, 0, &[]), None);
    assert_eq!(b.pick_backend_sticky(0, 0, &[], 7), None);
    assert_eq!(b.pick_backend(9, 0, &[]), None);
    assert_eq!(b.pick_backend(0, 9, &[]), None);
}

#[test]
fn fail_num_zero_acts_as_one_and_health_check_can_be_off() {
    let mut c = cluster("c", &[("s", 1, &[1, 1])], 0, BalanceMode::Wrr);
    c.check.fail_num = 0;
    let b = Balancer::new(&set(vec![c.clone()]), None);
    assert!(fail(&b, 0, 0, 1));
    c.basic.disable_health_check = true;
    let b = Balancer::new(&set(vec![c]), None);
    assert!(!fail(&b, 0, 0, 100));
    assert!(!b.is_down(0, 0, 0));
}

#[test]
fn wlc_prefers_fewest_requests_per_weight() {
    let mut b = one_sub(&[2, 1], BalanceMode::Wlc);
    let h0 = b.health(0, 0, 0).unwrap().clone();
    let h1 = b.health(0, 0, 1).unwrap().clone();
    let mut on0: Vec<InFlight> = (0..3).map(|_| h0.in_flight()).collect();
    // 3/2 vs 0/1: backend 1.
    assert_eq!(b.pick_backend(0, 0, &[]).unwrap().index, 1);
    let on1: Vec<InFlight> = (0..2).map(|_| h1.in_flight()).collect();
    // 3/2 vs 2/1: backend 0.
    assert_eq!(b.pick_backend(0, 0, &[]).unwrap().index, 0);
    on0.clear();
    assert_eq!(h0.active(), 0);
    assert_eq!(b.pick_backend(0, 0, &[]).unwrap().index, 0);
    drop(on1);
    // Idle: ties broken by smooth WRR, so the weights hold.
    let p = picks(&mut b, 300, &[]);
    assert_eq!(p.iter().filter(|&&i| i == 0).count(), 200);
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
    let b = gslb_balancer();
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
fn gslb_ignores_health_and_cross_retry_finds_live_subclusters() {
    let b = gslb_balancer();
    let key = (0..100u64)
        .map(|k| hash_bytes(&k.to_le_bytes()))
        .find(|&k| b.pick_subcluster(0, k) == SubClusterPick::Sub(1))
        .unwrap();
    fail(&b, 1, 0, 3);
    // As in BFE, the choice stays on the sub-cluster whose backends are down.
    assert_eq!(b.pick_subcluster(0, key), SubClusterPick::Sub(1));
    // Cross retry: the others, weight-0 backup "z" included, evenly.
    let mut seen = [0usize; 3];
    for k in 0..100 {
        seen[b.pick_cross_subcluster(0, 1, &[], k).unwrap()] += 1;
    }
    assert_eq!(seen, [50, 0, 50]);
    // Nothing left to try in "a": only "z"; then nothing at all.
    assert_eq!(b.pick_cross_subcluster(0, 1, &[(0, 0)], 0), Some(2));
    fail(&b, 2, 0, 3);
    assert_eq!(b.pick_cross_subcluster(0, 1, &[(0, 0)], 0), None);
    assert_eq!(b.pick_cross_subcluster(5, 1, &[], 0), None);
}

#[test]
fn blackhole_takes_its_share() {
    let c = cluster("c", &[("a", 1, &[1])], 1, BalanceMode::Wrr);
    let b = Balancer::new(&set(vec![c]), None);
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
    let b = Balancer::new(&set(vec![all_hole, none]), None);
    assert_eq!(b.pick_subcluster(0, 1), SubClusterPick::Blackhole);
    assert_eq!(b.pick_subcluster(1, 1), SubClusterPick::Unavailable);
    assert_eq!(b.pick_subcluster(7, 1), SubClusterPick::Unavailable);
    // The blackhole is never a cross-retry target.
    assert_eq!(b.pick_cross_subcluster(0, 0, &[], 3), None);
}

#[test]
fn reload_shares_health_of_backends_that_stay() {
    let s1 = set(vec![cluster(
        "c",
        &[("s", 1, &[5, 1, 1])],
        0,
        BalanceMode::Wrr,
    )]);
    let mut b1 = Balancer::new(&s1, None);
    fail(&b1, 0, 2, 3);
    let first = picks(&mut b1, 3, &[]);
    assert!(!first.contains(&2));
    // Same cluster, now second in the set; backend 1 changes address.
    let mut c2 = cluster("c", &[("s", 1, &[5, 1, 1])], 0, BalanceMode::Wrr);
    c2.subclusters[0].backends[1].addr = "10.0.0.1:80".parse().unwrap();
    let b2 = Balancer::new(
        &set(vec![cluster("other", &[], 0, BalanceMode::Wrr), c2]),
        Some(&b1),
    );
    assert!(b2.is_down(1, 0, 2));
    assert!(Rc::ptr_eq(
        b2.health(1, 0, 2).unwrap(),
        b1.health(0, 0, 2).unwrap()
    ));
    assert!(!b2.is_down(1, 0, 1));
    assert_eq!(
        b2.clusters[1].subs[0].backends[0].current,
        b1.clusters[0].subs[0].backends[0].current
    );
    assert_eq!(b2.clusters[1].subs[0].backends[1].current, 0);
    // Only the new backend starts slow.
    assert!(b2.health(1, 0, 1).unwrap().ramp_since().is_some());
    assert!(b2.health(1, 0, 0).unwrap().ramp_since().is_none());
    // The backend that left is released (its probe ends); the rest are not.
    b1.release_removed(&b2);
    assert!(b1.health(0, 0, 1).unwrap().is_released());
    assert!(!b1.health(0, 0, 2).unwrap().is_released());
    // A failure reported by a request still on the old generation reaches
    // the new one.
    fail(&b1, 0, 0, 3);
    assert!(b2.is_down(1, 0, 0));
    b2.release_all();
    assert!(b2.health(1, 0, 2).unwrap().is_released());
    assert!(!b2.health(1, 0, 2).unwrap().claim_probe());
}

#[test]
fn sticky_keeps_key_on_backend() {
    let mut c = cluster("c", &[("s", 1, &[1, 1, 1, 1])], 0, BalanceMode::Wrr);
    let b = Balancer::new(&set(vec![c.clone()]), None);
    for k in 0..50u64 {
        let key = hash_bytes(&k.to_le_bytes());
        let a = b.pick_backend_sticky(0, 0, &[], key).unwrap();
        assert_eq!(b.pick_backend_sticky(0, 0, &[], key).unwrap(), a);
        let other = b.pick_backend_sticky(0, 0, &[(0, a.index)], key).unwrap();
        assert_ne!(other.index, a.index);
    }
    // Listing the backends in another order keeps every key's backend.
    c.subclusters[0].backends.reverse();
    let r = Balancer::new(&set(vec![c]), None);
    for k in 0..50u64 {
        let key = hash_bytes(&k.to_le_bytes());
        assert_eq!(
            b.pick_backend_sticky(0, 0, &[], key).unwrap().addr,
            r.pick_backend_sticky(0, 0, &[], key).unwrap().addr
        );
    }
}

#[test]
fn slow_start_ramps_weight_up() {
    let mut c = cluster("c", &[("s", 1, &[1, 1])], 0, BalanceMode::Wrr);
    c.backend.slow_start_time = Duration::from_secs(10);
    let mut b = Balancer::new(&set(vec![c]), None);
    let t0 = Instant::now();
    let h = b.health(0, 0, 0).unwrap().clone();
    h.mark_up(t0);
    let ss = Duration::from_secs(10);
    let bs = &b.clusters[0].subs[0].backends[0];
    assert_eq!(bs.weight_now(ss, Some(t0)), 1, "never 0");
    assert_eq!(bs.weight_now(ss, Some(t0 + Duration::from_secs(5))), 50);
    assert_eq!(bs.weight_now(ss, None), 100);
    assert!(h.ramp_since().is_some());
    // A quarter of the way: about a fifth of the traffic (25 : 100).
    h.set_ramp_since(Some(t0 - Duration::from_millis(2500)));
    let p = picks(&mut b, 1000, &[]);
    let n0 = p.iter().filter(|&&i| i == 0).count();
    assert!((180..=230).contains(&n0), "{n0}");
    // Past the ramp: full weight, and the ramp is over.
    let bs = &b.clusters[0].subs[0].backends[0];
    assert_eq!(bs.weight_now(ss, Some(t0 + ss)), 100);
    assert!(h.ramp_since().is_none());
}

#[test]
fn preferred_backend_needs_a_weighted_subcluster_and_a_usable_backend() {
    let c = cluster(
        "c",
        &[("a", 1, &[1, 1]), ("b", 0, &[1]), ("z", 1, &[1, 0])],
        0,
        BalanceMode::Wrr,
    );
    let b = Balancer::new(&set(vec![c]), None);
    let want = |sub: &str, addr: &str| StickyBackend {
        addr: addr.parse().unwrap(),
        subcluster: sub.into(),
    };
    let got = b.pick_preferred(0, &want("a", "127.0.0.2:80"), &[]);
    assert_eq!(got.map(|(s, p)| (s, p.index)), Some((0, 1)));
    // Another sub-cluster's backend of the same name, wrong port, GSLB
    // weight 0, backend weight 0, unknown sub-cluster: none.
    assert!(b
        .pick_preferred(0, &want("a", "127.0.2.1:80"), &[])
        .is_none());
    assert!(b
        .pick_preferred(0, &want("a", "127.0.0.2:81"), &[])
        .is_none());
    assert!(b
        .pick_preferred(0, &want("b", "127.0.1.1:80"), &[])
        .is_none());
    assert!(b
        .pick_preferred(0, &want("z", "127.0.2.2:80"), &[])
        .is_none());
    assert!(b
        .pick_preferred(0, &want("x", "127.0.0.1:80"), &[])
        .is_none());
    assert!(b
        .pick_preferred(9, &want("a", "127.0.0.1:80"), &[])
        .is_none());
    // Tried or down: none.
    assert!(b
        .pick_preferred(0, &want("a", "127.0.0.2:80"), &[(0, 1)])
        .is_none());
    assert!(fail(&b, 0, 0, 3));
    assert!(b
        .pick_preferred(0, &want("a", "127.0.0.1:80"), &[])
        .is_none());
}
