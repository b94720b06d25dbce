//! Unit-test helper: a throw-away conf root with the given files.

use std::path::PathBuf;

/// Write `files` (path relative to the root, content) under a fresh
/// directory and return it.
pub(crate) fn conf_root(tag: &str, files: &[(&str, &str)]) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let root = std::env::temp_dir().join(format!("rf-guard-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    for (rel, text) in files {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, text).expect("write");
    }
    std::fs::create_dir_all(&root).expect("mkdir");
    root
}
