//! The crate's module map is layered: no two top-level modules of `src/`
//! import each other, directly or through others, and neither do the
//! submodules of `src/proxy/`. A cycle means neither side can be read,
//! tested or replaced without the other, so the map in `lib.rs` would lie.
//!
//! The check is textual: every `crate::X` (and, inside `proxy/`,
//! `super::X` and `crate::proxy::X`) outside a `//` comment line is an
//! edge. Test code counts like any other code.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level edges allowed to close a cycle: none. Kept as a list so that
/// an exception, if one is ever needed, is written down and reviewed.
const ALLOWED_TOP: &[(&str, &str)] = &[];

/// Edges between `src/proxy/` submodules allowed to close a cycle: none.
const ALLOWED_PROXY: &[(&str, &str)] = &[];

type Graph = BTreeMap<String, BTreeSet<String>>;

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for e in entries {
        let path = e.expect("directory entry").path();
        if path.is_dir() {
            rs_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Lines of a file that are not `//` comments (doc links are not imports).
fn code_lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .map(str::to_string)
        .collect()
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The first path segments after each `prefix` in `line`; a brace group
/// (`prefix{a, b::c}`) gives each of its members' first segment.
fn targets(line: &str, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in line.match_indices(prefix) {
        // `foo_crate::x` or `xsuper::y` is not this prefix.
        let before = line[..i].chars().last();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &line[i + prefix.len()..];
        match rest.strip_prefix('{') {
            Some(group) => {
                let group = group.split('}').next().unwrap_or("");
                out.extend(group.split(',').map(|m| ident_at(m.trim()).to_string()));
            }
            None => out.push(ident_at(rest).to_string()),
        }
    }
    out.retain(|t| !t.is_empty());
    out
}

fn add(g: &mut Graph, from: &str, to: &str, known: &BTreeSet<String>) {
    if from != to && known.contains(to) {
        g.entry(from.to_string())
            .or_default()
            .insert(to.to_string());
    }
}

/// The first component under `root`: `route` for `src/route/mod.rs` and
/// `src/route/condition/x.rs`, `logging` for `src/logging.rs`.
fn unit(root: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(root).expect("under root");
    let first = rel.components().next().expect("non-empty");
    let name = first.as_os_str().to_string_lossy();
    name.strip_suffix(".rs").unwrap_or(&name).to_string()
}

fn top_graph() -> Graph {
    let root = src();
    let mut files = Vec::new();
    rs_files(&root, &mut files);
    // lib.rs is the root itself; main.rs and bin/ are other crates.
    let skip = ["lib", "main", "bin"];
    let known: BTreeSet<String> = files
        .iter()
        .map(|f| unit(&root, f))
        .filter(|u| !skip.contains(&u.as_str()))
        .collect();
    let mut g = Graph::new();
    for f in &files {
        let from = unit(&root, f);
        if skip.contains(&from.as_str()) {
            continue;
        }
        for line in code_lines(f) {
            for to in targets(&line, "crate::") {
                add(&mut g, &from, &to, &known);
            }
        }
    }
    g
}

fn proxy_graph() -> Graph {
    let root = src().join("proxy");
    let mut files = Vec::new();
    rs_files(&root, &mut files);
    let known: BTreeSet<String> = files
        .iter()
        .map(|f| unit(&root, f))
        .filter(|u| u != "mod")
        .collect();
    let mut g = Graph::new();
    for f in &files {
        let from = unit(&root, f);
        for line in code_lines(f) {
            let mut to = targets(&line, "crate::proxy::");
            // In proxy/mod.rs `super::` is the crate root, not a sibling.
            if from != "mod" {
                to.extend(targets(&line, "super::"));
            }
            for t in to {
                add(&mut g, &from, &t, &known);
            }
        }
    }
    g
}

fn without(mut g: Graph, allowed: &[(&str, &str)]) -> Graph {
    for (from, to) in allowed {
        let present = g.get_mut(*from).is_some_and(|s| s.remove(*to));
        assert!(
            present,
            "allow-listed edge {from} -> {to} is gone: take it off the list"
        );
    }
    g
}

/// A cycle as the path of nodes that closes it, if there is one.
fn find_cycle(g: &Graph) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        g: &Graph,
        done: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == n) {
            let mut cycle = path[i..].to_vec();
            cycle.push(n.to_string());
            return Some(cycle);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_string());
        for next in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(next, g, done, path) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    g.keys()
        .find_map(|n| visit(n, g, &mut done, &mut Vec::new()))
}

fn assert_acyclic(what: &str, g: &Graph) {
    if let Some(c) = find_cycle(g) {
        panic!("{what}: import cycle {}", c.join(" -> "));
    }
}

#[test]
fn top_level_modules_form_no_cycle() {
    assert_acyclic("src/", &without(top_graph(), ALLOWED_TOP));
}

#[test]
fn proxy_submodules_form_no_cycle() {
    assert_acyclic("src/proxy/", &without(proxy_graph(), ALLOWED_PROXY));
}

#[test]
fn the_checker_sees_imports_and_cycles() {
    assert_eq!(
        targets("use crate::{a, b::c}; x(crate::d::e)", "crate::"),
        ["a", "b", "d"]
    );
    assert!(targets("my_crate::x", "crate::").is_empty());
    let g: Graph = [("a", "b"), ("b", "c"), ("c", "a")]
        .into_iter()
        .map(|(f, t)| (f.to_string(), BTreeSet::from([t.to_string()])))
        .collect();
    assert_eq!(find_cycle(&g).expect("a cycle"), ["a", "b", "c", "a"]);
    let top = top_graph();
    assert!(top["proxy"].contains("worker"), "{top:?}");
}
