//! The resource graph: every AWS resource a stack needs and every pipeline step, with the edges
//! that order them. Built by `compile`, walked by plan/apply, printed by `render`.

pub mod compile;
pub mod references;
pub mod refs;
pub mod render;
pub mod state_machine;
pub mod steps;
pub mod tables;
pub mod walk;

use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

// The kinds are the providers' (`resources`), which sit below the graph.
pub use crate::resources::kind::ResourceKind;

/// Pipeline step kinds: what `dekit run` executes, in dependency order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    Source,
    Ingest,
    Transform,
    Quality,
    Serve,
    Export,
}

impl StepKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Source => "source",
            StepKind::Ingest => "ingest",
            StepKind::Transform => "transform",
            StepKind::Quality => "quality",
            StepKind::Serve => "serve",
            StepKind::Export => "export",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "kind", rename_all = "snake_case")]
pub enum NodeKind {
    Resource(ResourceKind),
    Step(StepKind),
}

#[derive(Debug, Clone, Serialize)]
pub struct Node {
    /// Unique address, `<kind>.<name>` (e.g. `s3_bucket.lake`, `transform.dim_customers`).
    pub address: String,
    pub kind: NodeKind,
    /// The stack-level name it came from.
    pub name: String,
    /// Desired attributes, as the provider will compare them with live state.
    pub attrs: Map<String, Value>,
    pub depends_on: BTreeSet<String>,
}

impl Node {
    pub fn is_resource(&self) -> bool {
        matches!(self.kind, NodeKind::Resource(_))
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Graph {
    pub stack: String,
    pub environment: String,
    pub nodes: Vec<Node>,
}

#[derive(Debug, thiserror::Error)]
#[error("dependency cycle in the resource graph: {}", .0.join(" → "))]
pub struct CycleError(pub Vec<String>);

impl Graph {
    pub fn get(&self, address: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.address == address)
    }

    pub fn resources(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter().filter(|n| n.is_resource())
    }

    /// Nodes in dependency order (dependencies first; ties in address order, so output is stable).
    pub fn topo_order(&self) -> Result<Vec<&Node>, CycleError> {
        let index: BTreeMap<&str, &Node> =
            self.nodes.iter().map(|n| (n.address.as_str(), n)).collect();
        let mut indegree: BTreeMap<&str, usize> = index.keys().map(|k| (*k, 0)).collect();
        let mut dependents: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for n in &self.nodes {
            for d in n
                .depends_on
                .iter()
                .filter(|d| index.contains_key(d.as_str()))
            {
                *indegree.get_mut(n.address.as_str()).expect("indexed") += 1;
                dependents.entry(d.as_str()).or_default().push(&n.address);
            }
        }
        let mut ready: BTreeSet<&str> = indegree
            .iter()
            .filter(|(_, d)| **d == 0)
            .map(|(k, _)| *k)
            .collect();
        let mut out = vec![];
        while let Some(next) = ready.pop_first() {
            out.push(index[next]);
            for dep in dependents.get(next).into_iter().flatten() {
                let d = indegree.get_mut(dep).expect("indexed");
                *d -= 1;
                if *d == 0 {
                    ready.insert(dep);
                }
            }
        }
        if out.len() < self.nodes.len() {
            let stuck: Vec<String> = indegree
                .iter()
                .filter(|(_, d)| **d > 0)
                .map(|(k, _)| k.to_string())
                .collect();
            return Err(CycleError(stuck));
        }
        Ok(out)
    }
}
