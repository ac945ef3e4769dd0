//! Plan: the difference between the desired resource graph and what exists, per resource.

pub mod render;
pub mod saved;

use crate::graph::{CycleError, Graph, NodeKind, ResourceKind, refs};
use crate::resources::provider;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Replace,
    Delete,
    NoOp,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Change {
    pub address: String,
    pub kind: ResourceKind,
    pub action: Action,
    pub before: Option<Map<String, Value>>,
    pub after: Option<Map<String, Value>>,
    /// Changed attributes that force a replacement.
    pub forces_replacement: Vec<String>,
    /// What a destructive change would destroy (e.g. "bucket has 1,204 objects").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_impact: Option<String>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Plan {
    pub stack: String,
    pub environment: String,
    pub changes: Vec<Change>,
    /// Attributes changed outside dekit since the last apply: (address, attribute, recorded, live).
    #[serde(default)]
    pub drift: Vec<(String, String, Value, Value)>,
}

/// A resource as it exists now (from state refreshed against AWS).
#[derive(Debug, Clone)]
pub struct Existing {
    pub kind: ResourceKind,
    pub attrs: Map<String, Value>,
}

impl Plan {
    /// Keep only changes to `targets` and what they depend on.
    pub fn retain_targets(&mut self, graph: &Graph, targets: &[String]) {
        let mut keep: std::collections::BTreeSet<String> = targets.iter().cloned().collect();
        let mut stack: Vec<String> = targets.to_vec();
        while let Some(a) = stack.pop() {
            for d in graph
                .get(&a)
                .map(|n| n.depends_on.clone())
                .unwrap_or_default()
            {
                if keep.insert(d.clone()) {
                    stack.push(d);
                }
            }
        }
        self.changes.retain(|c| keep.contains(&c.address));
    }

    /// Record the commit an apply comes from on what it creates, updates or replaces (resources
    /// that take tags).
    pub fn stamp_git(&mut self, git: &crate::state::GitInfo) {
        for c in &mut self.changes {
            if !matches!(c.action, Action::Create | Action::Update | Action::Replace) {
                continue;
            }
            if let Some(Value::Object(tags)) = c.after.as_mut().and_then(|a| a.get_mut("tags")) {
                for (k, v) in git.tags() {
                    tags.insert(k.to_string(), Value::String(v));
                }
            }
        }
    }

    pub fn count(&self, a: Action) -> usize {
        self.changes.iter().filter(|c| c.action == a).count()
    }

    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| c.action != Action::NoOp)
    }
}

/// Compare desired resources with existing ones. Creates and updates come in dependency order,
/// deletions (of resources no longer in the graph) last, in reverse.
///
/// References (`graph::refs`) resolve to the referenced resource's live output when it stays (no
/// change, or an update in place); when it is created or replaced the value is known only after
/// apply, and the plan says so.
pub fn diff(graph: &Graph, existing: &BTreeMap<String, Existing>) -> Result<Plan, CycleError> {
    let mut changes: Vec<Change> = vec![];
    let mut actions: BTreeMap<String, Action> = BTreeMap::new();
    for node in graph.topo_order()? {
        let NodeKind::Resource(kind) = node.kind else {
            continue;
        };
        let mut desired = node.attrs.clone();
        let stays = |addr: &str| matches!(actions.get(addr), Some(Action::NoOp | Action::Update));
        refs::resolve_attrs(&mut desired, &|addr, attr| {
            if !stays(addr) {
                return None;
            }
            existing.get(addr).and_then(|e| e.attrs.get(attr).cloned())
        });
        let node = &crate::graph::Node {
            attrs: desired,
            ..node.clone()
        };
        let change = match existing.get(&node.address) {
            None => Change {
                address: node.address.clone(),
                kind,
                action: Action::Create,
                before: None,
                after: Some(node.attrs.clone()),
                forces_replacement: vec![],
                data_impact: None,
            },
            Some(live) => {
                let changed: Vec<&String> = node
                    .attrs
                    .keys()
                    .filter(|k| {
                        let have = live.attrs.get(*k);
                        let want = node.attrs.get(*k);
                        !crate::state::same_attr(k, have, want)
                    })
                    .collect();
                let forces: Vec<String> = changed
                    .iter()
                    .filter(|k| provider(kind).replace_on().contains(&k.as_str()))
                    .map(|k| k.to_string())
                    .collect();
                let action = match (changed.is_empty(), forces.is_empty()) {
                    (true, _) => Action::NoOp,
                    (false, true) => Action::Update,
                    (false, false) => Action::Replace,
                };
                Change {
                    address: node.address.clone(),
                    kind,
                    action,
                    before: Some(live.attrs.clone()),
                    after: Some(node.attrs.clone()),
                    forces_replacement: forces,
                    data_impact: None,
                }
            }
        };
        actions.insert(change.address.clone(), change.action);
        changes.push(change);
    }
    let mut gone: Vec<Change> = existing
        .iter()
        .filter(|(a, _)| graph.get(a).is_none())
        .map(|(a, e)| Change {
            address: a.clone(),
            kind: e.kind,
            action: Action::Delete,
            before: Some(e.attrs.clone()),
            after: None,
            forces_replacement: vec![],
            data_impact: None,
        })
        .collect();
    gone.reverse();
    changes.extend(gone);
    Ok(Plan {
        stack: graph.stack.clone(),
        environment: graph.environment.clone(),
        changes,
        drift: vec![],
    })
}
