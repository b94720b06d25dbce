//! Proof that lookups do not allocate: a counting allocator that only
//! counts on the thread that asked, so parallel tests do not interfere.

use super::test_req::Req;
use super::{BasicRules, Cond, RouteTable, Target};
use crate::balance::{hash_key, Balancer};
use crate::config::HashConf;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::IpAddr;

struct Counting;

thread_local! {
    static COUNT: Cell<Option<usize>> = const { Cell::new(None) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = COUNT.try_with(|c| c.set(c.get().map(|n| n + 1)));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn allocations(f: impl FnOnce()) -> usize {
    COUNT.with(|c| c.set(Some(0)));
    f();
    COUNT.with(|c| c.replace(None)).unwrap_or(0)
}

#[test]
fn route_lookups_do_not_allocate() {
    let mut t = RouteTable::default();
    let p = t.add_product("p");
    t.add_host("*.a.com", p);
    let mut basic = BasicRules::default();
    basic
        .insert(&["*.a.com".into()], &["/static*".into()], Target::Advanced)
        .unwrap();
    t.product_mut(p).unwrap().basic = Some(basic);
    let cond = r#"!req_method_in("POST") && (req_host_in("x.a.com") || req_path_prefix_in("/q", true))
        && req_header_value_in("X-A", "1|2", false) && req_path_in("/static/A", false)"#;
    t.product_mut(p)
        .unwrap()
        .rules
        .push((Cond::compile(cond).unwrap(), 3));
    let req = Req::get("X.A.com:80", "/static/%41")
        .with_header("X-A", "2")
        .with_header("Cookie", "k=v");
    let vip: IpAddr = "10.1.1.1".parse().unwrap();
    let hash = HashConf {
        hash_strategy: 0,
        hash_header: "Cookie:k".into(),
        session_sticky: false,
    };
    let mut bal = Balancer::default();
    let n = allocations(|| {
        let prod = t.find_product(&req.host, vip).unwrap();
        assert_eq!(t.find_cluster(prod, &req), Some(3));
        assert_ne!(hash_key(&hash, &req), 0);
        assert_eq!(bal.pick_backend(0, 0, &[]), None);
    });
    assert_eq!(n, 0);
}
