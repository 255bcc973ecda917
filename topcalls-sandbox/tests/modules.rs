//! No module of the sandbox imports one that imports it back, directly or
//! through others: the layout stays layered (handlers → gates → app →
//! state → events).
//!
//! The graph is read from the source: an edge from each module to every
//! crate module it names as `crate::a::b` (in `use` lines and in paths) and
//! to each child module it names (`calls::list_calls`), unit tests left
//! out. It is checked twice: module by module, and collapsed to top-level
//! modules (`api::calls` counts as `api`).
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module path (`""` for the crate root, `api::calls`) → source.
fn modules(dir: &Path, prefix: &[String], out: &mut BTreeMap<String, String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            let mut inner = prefix.to_vec();
            inner.push(name);
            modules(&path, &inner, out);
        } else if path.extension().is_some_and(|e| e == "rs") && name != "main" {
            let mut module = prefix.to_vec();
            if !matches!(name.as_str(), "lib" | "mod") {
                module.push(name);
            }
            let source = std::fs::read_to_string(&path).unwrap();
            // Unit tests (at the end of a file) may reach anywhere.
            let code = source
                .split("#[cfg(test)]\nmod tests {")
                .next()
                .unwrap_or_default();
            let code: String = code
                .lines()
                .map(|line| line.split("//").next().unwrap_or_default())
                .collect::<Vec<_>>()
                .join("\n");
            out.insert(module.join("::"), code);
        }
    }
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The module a path such as `app::lock` or `state::events::Outgoing` lives in.
fn owner(path: &str, names: &BTreeSet<String>) -> String {
    let parts: Vec<&str> = path.split("::").collect();
    (1..=parts.len())
        .rev()
        .map(|n| parts[..n].join("::"))
        .find(|candidate| names.contains(candidate))
        .unwrap_or_default()
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut sources = BTreeMap::new();
    modules(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &[],
        &mut sources,
    );
    let names: BTreeSet<String> = sources.keys().cloned().collect();
    let mut edges = BTreeMap::new();
    for (module, code) in &sources {
        let mut targets = BTreeSet::new();
        for (at, _) in code.match_indices("crate::") {
            if at > 0 && code[..at].ends_with(|c: char| is_ident(c) || c == ':') {
                continue;
            }
            let rest = &code[at + "crate::".len()..];
            let path: String = rest
                .chars()
                .take_while(|&c| is_ident(c) || c == ':')
                .collect();
            assert!(
                !rest.starts_with('{'),
                "{module}: name modules one by one, not `crate::{{…}}`"
            );
            targets.insert(owner(path.trim_end_matches(':'), &names));
        }
        let prefix = if module.is_empty() {
            String::new()
        } else {
            format!("{module}::")
        };
        for child in &names {
            let Some(name) = child.strip_prefix(&prefix) else {
                continue;
            };
            if child == module || name.is_empty() || name.contains("::") {
                continue;
            }
            let named = code
                .match_indices(&format!("{name}::"))
                .any(|(at, _)| at == 0 || !code[..at].ends_with(|c: char| is_ident(c) || c == ':'));
            if named {
                targets.insert(child.clone());
            }
        }
        targets.remove(module);
        edges.insert(module.clone(), targets);
    }
    edges
}

/// A cycle of `graph`, if it has one.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut found = stack[at..].to_vec();
            found.push(node.to_string());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, graph, stack, done) {
                return Some(found);
            }
        }
        stack.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

fn top(module: &str) -> String {
    module.split("::").next().unwrap_or_default().to_string()
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let modules = graph();
    // The reader sees the layout: every module, and the edges that matter.
    assert!(modules.len() >= 20, "{modules:?}");
    assert!(modules["api::gates"].contains("app"), "{modules:?}");
    assert!(modules["delivery"].contains("state::events"), "{modules:?}");
    assert!(modules[""].contains("api"), "{modules:?}");
    let pretty = |cycle: Vec<String>| {
        cycle
            .iter()
            .map(|m| if m.is_empty() { "crate" } else { m.as_str() })
            .collect::<Vec<_>>()
            .join(" -> ")
    };
    if let Some(found) = cycle(&modules) {
        panic!("import cycle: {}", pretty(found));
    }
    let mut collapsed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, targets) in &modules {
        let from = top(module);
        let entry = collapsed.entry(from.clone()).or_default();
        entry.extend(targets.iter().map(|t| top(t)).filter(|t| *t != from));
    }
    if let Some(found) = cycle(&collapsed) {
        panic!("import cycle between top-level modules: {}", pretty(found));
    }
}

#[test]
fn the_check_finds_a_cycle() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec![]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
    .collect();
    assert_eq!(
        cycle(&graph),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    let mut acyclic = graph;
    acyclic.insert("c".into(), BTreeSet::new());
    assert_eq!(cycle(&acyclic), None);
}
