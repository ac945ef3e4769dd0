//! E111 dependency-cycle: models and views must not depend on themselves, directly or not.
//!
//! Why: a cycle has no run order; dekit shows the whole cycle so it can be cut at the right place.
//!
//! Example: `a.sql` reads `b`, `b.sql` reads `a` → "a → b → a".

use super::Rule;
use crate::diagnostic::Diagnostic;
use crate::validate::Cx;
use std::collections::{BTreeMap, BTreeSet};

pub const RULE: Rule = Rule {
    code: "E111",
    name: "dependency-cycle",
    summary: "models and views form a DAG",
    hint: "break the cycle: a model cannot read, directly or through others, what it produces",
    source: include_str!("dependency_cycle.rs"),
    also: &[],
    check,
};

fn check(cx: &Cx, out: &mut Vec<Diagnostic>) {
    let s = &cx.loaded.stack;
    let mut edges: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (name, model) in &cx.models {
        let deps = edges.entry(name.as_str()).or_default();
        deps.extend(
            model
                .reads
                .iter()
                .map(String::as_str)
                .filter(|r| cx.models.contains_key(*r)),
        );
        if let Some(t) = s.transforms.get(name) {
            deps.extend(
                t.depends_on
                    .iter()
                    .map(|d| d.value.as_str())
                    .filter(|r| cx.models.contains_key(*r)),
            );
        }
    }
    let mut reported: BTreeSet<Vec<&str>> = BTreeSet::new();
    for start in edges.keys() {
        if let Some(cycle) = find_cycle(&edges, start) {
            // The same cycle is found from each of its members: report it once.
            let mut key = cycle.clone();
            key.sort();
            if !reported.insert(key) {
                continue;
            }
            let span = s
                .transforms
                .iter()
                .find(|(k, _)| k.value == cycle[0])
                .map(|(_, t)| t.sql.span)
                .or_else(|| {
                    s.serving
                        .views
                        .iter()
                        .find(|(k, _)| k.value == cycle[0])
                        .map(|(_, v)| v.sql.span)
                })
                .unwrap_or_default();
            let path = cycle
                .iter()
                .chain([&cycle[0]])
                .copied()
                .collect::<Vec<_>>()
                .join(" → ");
            out.push(
                cx.error("E111", format!("dependency cycle: {path}"), span)
                    .label("this model is part of the cycle")
                    .hint("a model cannot read itself through other models; remove one of these reads"),
            );
        }
    }
}

/// A cycle through `start`, as the list of its members in order.
fn find_cycle<'a>(
    edges: &BTreeMap<&'a str, BTreeSet<&'a str>>,
    start: &'a str,
) -> Option<Vec<&'a str>> {
    fn dfs<'a>(
        edges: &BTreeMap<&'a str, BTreeSet<&'a str>>,
        start: &'a str,
        node: &'a str,
        path: &mut Vec<&'a str>,
        seen: &mut BTreeSet<&'a str>,
    ) -> bool {
        for next in edges.get(node).into_iter().flatten() {
            if *next == start {
                return true;
            }
            if seen.insert(next) {
                path.push(next);
                if dfs(edges, start, next, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start];
    let mut seen = BTreeSet::from([start]);
    dfs(edges, start, start, &mut path, &mut seen).then_some(path)
}
