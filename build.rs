//! Records which source the binary was built from, for `ringfront -v` and
//! the log's first line: `RINGFRONT_BUILD` when set at build time (a
//! packager building from a tarball names the release), else
//! `git describe --always --tags` of the checkout (its commit), else `unknown`
//! (a tarball without `.git` still builds).

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=RINGFRONT_BUILD");
    let build = std::env::var("RINGFRONT_BUILD")
        .ok()
        .filter(|v| !v.is_empty())
        .or_else(git_describe)
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=RINGFRONT_BUILD={build}");
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !s.is_empty()).then_some(s)
}

/// The checkout's description; asks cargo to run this again when HEAD
/// moves (a commit or checkout rewrites `logs/HEAD`).
fn git_describe() -> Option<String> {
    for p in ["HEAD", "logs/HEAD"] {
        if let Some(path) = git(&["rev-parse", "--git-path", p]) {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    git(&["describe", "--always", "--tags"])
}
