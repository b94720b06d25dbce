//! Replays the seeds (and any corpus a fuzz run saved) through the fuzz
//! checks on stable Rust, without libFuzzer:
//! `cargo test --manifest-path fuzz/Cargo.toml`.

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for dir in ["seeds", "corpus"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        for e in entries.flatten() {
            let data = std::fs::read(e.path()).unwrap();
            let r = std::panic::catch_unwind(|| check(&data));
            assert!(r.is_ok(), "{} fails", e.path().display());
            n += 1;
        }
    }
    assert!(n > 0, "no inputs for {target}");
    println!("{target}: {n} inputs");
}

#[test]
fn request() {
    replay("request", ringfront_fuzz::request);
}

#[test]
fn response() {
    replay("response", ringfront_fuzz::response);
}

#[test]
fn chunked() {
    replay("chunked", ringfront_fuzz::chunked);
}

#[test]
fn condition() {
    replay("condition", ringfront_fuzz::condition);
}

#[test]
fn ini() {
    replay("ini", ringfront_fuzz::ini);
}

#[test]
fn json_conf() {
    replay("json_conf", ringfront_fuzz::json_conf);
}

#[test]
fn proxy_protocol() {
    replay("proxy_protocol", ringfront_fuzz::proxy_protocol);
}

#[test]
fn h2_request() {
    replay("h2_request", ringfront_fuzz::h2_request);
}
