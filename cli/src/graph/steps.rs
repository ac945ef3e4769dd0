//! The steps of the graph as their own DAG (a step's dependencies are the nearest steps behind it,
//! through any resources between), and dbt's selectors over it: `NAME`, `NAME+` (and everything
//! downstream), `+NAME` (and everything upstream).

use crate::graph::Graph;
use std::collections::{BTreeMap, BTreeSet};

/// Step address → the steps it depends on.
pub type Steps = BTreeMap<String, BTreeSet<String>>;

pub fn step_graph(g: &Graph) -> Steps {
    let index: BTreeMap<&str, &crate::graph::Node> =
        g.nodes.iter().map(|n| (n.address.as_str(), n)).collect();
    let mut out = Steps::new();
    for n in g.nodes.iter().filter(|n| !n.is_resource()) {
        let mut deps = BTreeSet::new();
        let mut seen = BTreeSet::new();
        let mut todo: Vec<&str> = n.depends_on.iter().map(String::as_str).collect();
        while let Some(d) = todo.pop() {
            if !seen.insert(d) {
                continue;
            }
            match index.get(d) {
                Some(dn) if !dn.is_resource() => {
                    deps.insert(d.to_string());
                }
                Some(dn) => todo.extend(dn.depends_on.iter().map(String::as_str)),
                None => {}
            }
        }
        out.insert(n.address.clone(), deps);
    }
    out
}

/// The steps the selectors choose; none chooses every step.
pub fn select(steps: &Steps, selectors: &[String]) -> Result<BTreeSet<String>, String> {
    if selectors.is_empty() {
        return Ok(steps.keys().cloned().collect());
    }
    let mut chosen = BTreeSet::new();
    for sel in selectors {
        let up = sel.starts_with('+');
        let down = sel.ends_with('+') && sel.len() > 1;
        let name = sel.trim_start_matches('+').trim_end_matches('+');
        let matched: Vec<&String> = steps
            .keys()
            .filter(|a| a.as_str() == name || a.split_once('.').is_some_and(|(_, n)| n == name))
            .collect();
        if matched.is_empty() {
            let names: Vec<&str> = steps
                .keys()
                .map(|a| a.split_once('.').map_or(a.as_str(), |(_, n)| n))
                .collect();
            let hint = crate::diagnostic::did_you_mean(name, names.iter().copied())
                .map(|m| format!(" (did you mean `{m}`?)"))
                .unwrap_or_default();
            return Err(format!(
                "selector `{sel}` matches no step{hint}; steps: {}",
                steps.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        for m in matched {
            chosen.insert(m.clone());
            if up {
                chosen.extend(closure(m, |s| steps[s].iter().cloned().collect()));
            }
            if down {
                chosen.extend(closure(m, |s| {
                    steps
                        .iter()
                        .filter(|(_, d)| d.contains(s))
                        .map(|(k, _)| k.clone())
                        .collect()
                }));
            }
        }
    }
    Ok(chosen)
}

fn closure(start: &str, next: impl Fn(&str) -> Vec<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut todo = vec![start.to_string()];
    while let Some(s) = todo.pop() {
        for n in next(&s) {
            if out.insert(n.clone()) {
                todo.push(n);
            }
        }
    }
    out
}

/// The chosen steps in dependency order (ties by address), for manifests and summaries.
pub fn ordered(steps: &Steps, chosen: &BTreeSet<String>) -> Vec<String> {
    waves(steps, chosen).concat()
}

/// The chosen steps in waves: a step is in the wave after the last of its chosen dependencies
/// (the first when it has none), ties by address. The deployed pipeline runs a wave at a time.
pub fn waves(steps: &Steps, chosen: &BTreeSet<String>) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = vec![];
    let mut done = BTreeSet::new();
    while done.len() < chosen.len() {
        let wave: Vec<String> = chosen
            .iter()
            .filter(|s| {
                !done.contains(*s)
                    && steps[*s]
                        .iter()
                        .all(|d| !chosen.contains(d) || done.contains(d))
            })
            .cloned()
            .collect();
        // A cycle (validate refuses them) leaves steps no wave can take.
        if wave.is_empty() {
            break;
        }
        done.extend(wave.iter().cloned());
        out.push(wave);
    }
    out
}

/// The step that writes a relation: a table's ingestion, a model's transform, a view's serve.
pub fn producer(s: &crate::model::Stack, relation: &str) -> Option<String> {
    if let Some(t) = s.tables.get(relation) {
        return t.from.as_ref().map(|f| format!("ingest.{}", f.value));
    }
    if s.transforms.get(relation).is_some() {
        return Some(format!("transform.{relation}"));
    }
    if s.serving.views.get(relation).is_some() {
        return Some(format!("serve.{relation}"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps() -> Steps {
        let mut s = Steps::new();
        let mut add = |a: &str, d: &[&str]| {
            s.insert(a.into(), d.iter().map(|x| x.to_string()).collect());
        };
        add("source.db", &[]);
        add("ingest.load", &["source.db"]);
        add("transform.dim", &["ingest.load"]);
        add("transform.fact", &["transform.dim"]);
        add("ingest.other", &[]);
        s
    }

    #[test]
    fn selectors_pick_like_dbt() {
        let s = steps();
        let pick = |sel: &[&str]| -> Vec<String> {
            select(&s, &sel.iter().map(|x| x.to_string()).collect::<Vec<_>>())
                .unwrap()
                .into_iter()
                .collect()
        };
        assert_eq!(pick(&["load"]), ["ingest.load"]);
        assert_eq!(
            pick(&["load+"]),
            ["ingest.load", "transform.dim", "transform.fact"]
        );
        assert_eq!(
            pick(&["+dim"]),
            ["ingest.load", "source.db", "transform.dim"]
        );
        assert_eq!(pick(&[]).len(), 5);
        let err = select(&s, &["lod".into()]).unwrap_err();
        assert!(err.contains("did you mean `load`"), "{err}");
    }

    #[test]
    fn order_puts_dependencies_first() {
        let s = steps();
        let all: BTreeSet<String> = s.keys().cloned().collect();
        let o = ordered(&s, &all);
        let pos = |x: &str| o.iter().position(|y| y == x).unwrap();
        assert!(pos("source.db") < pos("ingest.load"));
        assert!(pos("transform.dim") < pos("transform.fact"));
    }
}
