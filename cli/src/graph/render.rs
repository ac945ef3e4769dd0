//! Print a resource graph as JSON, Graphviz dot or Mermaid (lineage edges drawn bold).

use super::{Graph, NodeKind};
use crate::templates;
use serde_json::json;

fn is_data_edge(g: &Graph, from: &str, to: &str) -> bool {
    let step = |a: &str| g.get(a).is_some_and(|n| !n.is_resource());
    step(from) && step(to) || from.starts_with("glue_table.") && step(to)
}

/// Every edge as (from, to, carries data). An ingest step waits for the tables it fills, but data
/// flows the other way: those edges are drawn from the step to the table it produces.
fn edges(g: &Graph) -> Vec<(String, String, bool)> {
    let mut out = vec![];
    for n in &g.nodes {
        let produces = n.attrs.get("produces").and_then(|p| p.as_array());
        for d in &n.depends_on {
            if produces.is_some_and(|p| p.iter().any(|t| t == d.as_str())) {
                out.push((n.address.clone(), d.clone(), true));
            } else {
                out.push((d.clone(), n.address.clone(), is_data_edge(g, d, &n.address)));
            }
        }
    }
    out
}

pub fn json(g: &Graph) -> String {
    let nodes: Vec<_> = g
        .nodes
        .iter()
        .map(|n| {
            let (kind, category) = match n.kind {
                NodeKind::Resource(r) => (r.as_str(), "resource"),
                NodeKind::Step(s) => (s.as_str(), "step"),
            };
            json!({ "address": n.address, "category": category, "kind": kind, "depends_on": n.depends_on, "attributes": n.attrs })
        })
        .collect();
    let lineage: Vec<_> = edges(g)
        .into_iter()
        .filter(|e| e.2)
        .map(|(from, to, _)| json!({ "from": from, "to": to }))
        .collect();
    let doc = json!({ "stack": g.stack, "environment": g.environment, "nodes": nodes, "lineage": lineage });
    serde_json::to_string_pretty(&doc).expect("graph serializes")
}

pub fn dot(g: &Graph) -> String {
    let nodes: Vec<_> = g
        .nodes
        .iter()
        .map(|n| {
            let (shape, color) = if n.is_resource() {
                ("box", "#fde9c9")
            } else {
                ("ellipse", "#d5e8f7")
            };
            json!({ "address": n.address, "shape": shape, "color": color })
        })
        .collect();
    let edges: Vec<_> = edges(g)
        .into_iter()
        .map(|(f, t, d)| json!({ "from": f, "to": t, "data": d }))
        .collect();
    templates::render(
        "graph.dot",
        &json!({ "stack": g.stack, "environment": g.environment, "nodes": nodes, "edges": edges }),
    )
}

pub fn mermaid(g: &Graph) -> String {
    let id = |a: &str| a.replace(['.', '-'], "_");
    let nodes: Vec<_> = g
        .nodes
        .iter()
        .map(|n| {
            let (open, close) = if n.is_resource() {
                ("[", "]")
            } else {
                ("([", "])")
            };
            json!({ "id": id(&n.address), "address": n.address, "open": open, "close": close })
        })
        .collect();
    let edges: Vec<_> = edges(g)
        .into_iter()
        .map(|(f, t, d)| json!({ "from_id": id(&f), "to_id": id(&t), "data": d }))
        .collect();
    let class = |resource: bool| {
        g.nodes
            .iter()
            .filter(|n| n.is_resource() == resource)
            .map(|n| id(&n.address))
            .collect::<Vec<_>>()
            .join(",")
    };
    let classes = vec![
        json!({ "name": "resource", "ids": class(true) }),
        json!({ "name": "step", "ids": class(false) }),
    ];
    templates::render(
        "graph.mermaid",
        &json!({ "stack": g.stack, "environment": g.environment, "nodes": nodes, "edges": edges, "classes": classes }),
    )
}
