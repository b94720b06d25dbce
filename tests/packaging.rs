//! The packaging files (packaging/, scripts/tune.sh, `[package.metadata.deb]`
//! in Cargo.toml) checked without building a package: systemd accepts the
//! unit, the package carries every sample conf file to the right place,
//! the conf it installs passes `ringfront -t`, and the tuning script never
//! lowers a limit. Building and installing the .deb itself is
//! `packaging/check-deb.sh` and, under systemd, `packaging/check-systemd.sh`
//! (docs/packaging.md).

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ringfront-pkg-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read dir") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// `systemd-analyze verify` on the unit, with ExecStart's binary pointed
/// at the one cargo built (verify insists that it exists). Unknown keys and
/// bad values are only warnings to verify, so any output at all fails.
#[test]
fn unit_passes_systemd_analyze_verify() {
    let unit = std::fs::read_to_string(root().join("packaging/debian/ringfront.service"))
        .expect("unit file");
    assert!(unit.contains("ExecStart=/usr/bin/ringfront "), "{unit}");
    let dir = temp_dir("unit");
    let path = dir.join("ringfront.service");
    std::fs::write(
        &path,
        unit.replace("/usr/bin/ringfront", env!("CARGO_BIN_EXE_ringfront")),
    )
    .expect("write unit");
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .expect("systemd-analyze (apt-get install systemd; .ci/run does)");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success() && said.trim().is_empty(), "{said}");
}

/// `["source", "dest", "mode"]` rows of `[package.metadata.deb] assets`.
fn deb_assets() -> Vec<(String, String)> {
    let toml = std::fs::read_to_string(root().join("Cargo.toml")).expect("Cargo.toml");
    let section = toml
        .split("[package.metadata.deb]")
        .nth(1)
        .expect("[package.metadata.deb] in Cargo.toml");
    section
        .lines()
        .filter_map(|l| {
            let l = l.trim().strip_prefix("[\"")?;
            let mut parts = l.split("\", \"");
            Some((parts.next()?.to_string(), parts.next()?.to_string()))
        })
        .collect()
}

/// The one glob form the asset list uses: `dir/*`, files directly in `dir`.
fn asset_covers(source: &str, file: &str) -> bool {
    match source.strip_suffix("/*") {
        Some(dir) => file
            .strip_prefix(dir)
            .and_then(|rest| rest.strip_prefix('/'))
            .is_some_and(|name| !name.contains('/')),
        None => source == file,
    }
}

/// Every file of the sample conf is installed under /etc/ringfront at the
/// same relative path (mod_access.conf from packaging/conf/, which must
/// then differ from the sample only in where it writes its logs).
#[test]
fn every_conf_file_is_packaged_at_its_place() {
    let assets = deb_assets();
    assert!(
        assets
            .iter()
            .any(|(s, d)| s == "target/release/ringfront" && d == "usr/bin/"),
        "{assets:?}"
    );
    let mut files = Vec::new();
    files_under(&root().join("conf"), &mut files);
    assert!(files.len() > 20, "{files:?}");
    for f in files {
        let rel = f
            .strip_prefix(root())
            .expect("under root")
            .to_string_lossy()
            .into_owned();
        let overlay = format!("packaging/{rel}");
        let source = if root().join(&overlay).exists() {
            overlay
        } else {
            rel.clone()
        };
        let in_conf = Path::new(&rel).strip_prefix("conf").expect("conf/");
        let want_dest = match in_conf.parent() {
            Some(p) if !p.as_os_str().is_empty() => format!("etc/ringfront/{}/", p.display()),
            _ => "etc/ringfront/".to_string(),
        };
        let hits: Vec<_> = assets
            .iter()
            .filter(|(s, _)| asset_covers(s, &source) || asset_covers(s, &rel))
            .collect();
        assert_eq!(hits.len(), 1, "{rel}: packaged by {hits:?}");
        assert!(asset_covers(&hits[0].0, &source), "{rel}: {hits:?}");
        assert_eq!(hits[0].1, want_dest, "{rel}");
    }

    let sample = std::fs::read_to_string(root().join("conf/mod_access/mod_access.conf"))
        .expect("sample mod_access.conf");
    let packaged =
        std::fs::read_to_string(root().join("packaging/conf/mod_access/mod_access.conf"))
            .expect("packaged mod_access.conf");
    let differ: Vec<_> = sample
        .lines()
        .zip(packaged.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(sample.lines().count(), packaged.lines().count());
    assert_eq!(
        differ,
        [("LogDir =  ../log", "LogDir = /var/log/ringfront")],
        "packaging/conf/mod_access/mod_access.conf drifted from conf/"
    );
}

/// The conf the package installs (conf/ with packaging/conf/ over it)
/// passes the binary's own check.
#[test]
fn packaged_conf_passes_the_check() {
    let dir = temp_dir("conf");
    let mut files = Vec::new();
    files_under(&root().join("conf"), &mut files);
    files_under(&root().join("packaging/conf"), &mut files);
    for f in files {
        let rel = f
            .strip_prefix(root().join("conf"))
            .or_else(|_| f.strip_prefix(root().join("packaging/conf")))
            .expect("conf file");
        let to = dir.join(rel);
        std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
        std::fs::copy(&f, &to).expect("copy");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_ringfront"))
        .arg("-t")
        .arg("-c")
        .arg(&dir)
        .output()
        .expect("ringfront -t");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "configuration OK"
    );
}

fn tune(args: &[&str]) -> (bool, String) {
    let out = Command::new(root().join("scripts/tune.sh"))
        .args(args)
        .output()
        .expect("run scripts/tune.sh");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// `tune.sh --dry-run` reports on every key of the sysctl file and
/// changes nothing.
#[test]
fn tune_dry_run_reports_every_key() {
    let conf = std::fs::read_to_string(root().join("packaging/sysctl.d/60-ringfront.conf"))
        .expect("sysctl file");
    let before = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_fin_timeout").expect("proc");
    let (ok, out) = tune(&["--dry-run"]);
    assert!(ok, "{out}");
    let keys: Vec<&str> = conf
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim()))
        .collect();
    assert!(keys.len() >= 15, "{keys:?}");
    for k in keys {
        assert!(
            out.lines().any(|l| l.starts_with(&format!("{k} "))),
            "{k} missing from:\n{out}"
        );
    }
    let after = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_fin_timeout").expect("proc");
    assert_eq!(before, after);
}

/// A limit already higher than the file asks is kept; a lower one would
/// be raised; a switch is set as written.
#[test]
fn tune_never_lowers_a_limit() {
    let dir = temp_dir("tune");
    let conf = dir.join("t.conf");
    let nr_open: u64 = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .expect("proc")
        .trim()
        .parse()
        .expect("number");
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").expect("proc");
    let mut r = range.split_whitespace();
    let (lo, hi): (u32, u32) = (
        r.next().expect("lo").parse().expect("lo"),
        r.next().expect("hi").parse().expect("hi"),
    );
    std::fs::write(
        &conf,
        format!(
            "fs.nr_open = 1\nnet.core.somaxconn = 4294967295\nnet.ipv4.ip_local_port_range = {} {}\n# comment = 1\n",
            lo + 1,
            hi + 1
        ),
    )
    .expect("write");
    let (ok, out) = tune(&["--dry-run", "--conf", conf.to_str().expect("utf-8")]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(ok, "{out}");
    let line = |k: &str| {
        out.lines()
            .find(|l| l.starts_with(k))
            .unwrap_or_else(|| panic!("{k} missing:\n{out}"))
            .to_string()
    };
    assert!(
        line("fs.nr_open").ends_with("keep"),
        "nr_open {nr_open}:\n{out}"
    );
    assert!(line("net.core.somaxconn").contains("would set 4294967295"));
    // The wider of the two ranges: our low end was higher, so it is kept.
    assert!(
        line("net.ipv4.ip_local_port_range").ends_with(&format!("would set {lo} {}", hi + 1)),
        "{out}"
    );
    assert!(!out.contains("comment"));
}
