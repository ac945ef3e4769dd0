//! The stack between git revisions: what changed, as components (a model, a table, a stream, an
//! alarm ...) and fields, not lines — for `dekit diff`, and for `plan --since REF` and
//! `run --since REF`, which limit themselves to the changed components and everything downstream
//! (dbt's `state:modified+`, across infrastructure, models and tests).
//!
//! A revision's stack is read from git's objects (git2): the tree under the stack file's
//! directory is written to a temporary directory and loaded as any stack is, so its SQL and
//! fixture files are read the way the current ones are. A model's SQL text is part of the model,
//! so an edited `.sql` file is a changed model.

use crate::graph::Graph;
use crate::load::{self, Loaded};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Added,
    Removed,
    Changed,
}

/// One component that differs between two revisions.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// `transforms.fact_orders`, `observe.alarms.run_failed`, `storage`, ...
    pub component: String,
    pub kind: Kind,
    /// The fields that differ (`sql_text`, `columns.order_ts`, `delivery.buffer.size_mb`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
}

/// Named sections: each entry is a component. The other top-level keys are one component each.
const NAMED: &[&str] = &[
    "sources",
    "ingest.streams",
    "ingest.batch",
    "tables",
    "transforms",
    "serving.views",
    "serving.exports",
    "quality",
    "unit_tests",
    "observe.alarms",
    "observe.topics",
];

/// A stack's components, each as JSON; models and views carry their SQL text.
pub fn components(l: &Loaded) -> BTreeMap<String, Value> {
    let mut doc = serde_json::to_value(&l.stack).unwrap_or(Value::Null);
    let dir = l.src.dir();
    let mut out = BTreeMap::new();
    for section in NAMED {
        let pointer = format!("/{}", section.replace('.', "/"));
        let Some(at) = doc.pointer_mut(&pointer) else {
            continue;
        };
        if let Value::Object(entries) = std::mem::take(at) {
            for (name, mut v) in entries {
                if matches!(*section, "transforms" | "serving.views")
                    && let Some(sql) = v.get("sql").and_then(Value::as_str)
                {
                    let text = crate::stack_files::read(&dir, sql)
                        .map(|(_, t)| t)
                        .unwrap_or_default();
                    v["sql_text"] = Value::String(text);
                }
                out.insert(format!("{section}.{name}"), v);
            }
        }
    }
    if let Value::Object(top) = doc {
        for (k, v) in top {
            let empty = match &v {
                Value::Null => true,
                Value::Object(m) => m
                    .values()
                    .all(|x| x.is_null() || x == &Value::Object(Map::new())),
                _ => false,
            };
            if !empty {
                out.insert(k, v);
            }
        }
    }
    out
}

/// What differs between two stacks' components.
pub fn diff(old: &BTreeMap<String, Value>, new: &BTreeMap<String, Value>) -> Vec<Change> {
    let mut out = vec![];
    for (k, v) in new {
        match old.get(k) {
            None => out.push(Change {
                component: k.clone(),
                kind: Kind::Added,
                fields: vec![],
            }),
            Some(o) if o != v => {
                let mut fields = vec![];
                fields_of("", o, v, &mut fields);
                out.push(Change {
                    component: k.clone(),
                    kind: Kind::Changed,
                    fields,
                });
            }
            _ => {}
        }
    }
    for k in old.keys().filter(|k| !new.contains_key(*k)) {
        out.push(Change {
            component: k.clone(),
            kind: Kind::Removed,
            fields: vec![],
        });
    }
    out.sort_by(|a, b| a.component.cmp(&b.component));
    out
}

fn fields_of(at: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    let join = |k: &str| {
        if at.is_empty() {
            k.to_string()
        } else {
            format!("{at}.{k}")
        }
    };
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let (va, vb) = (
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                );
                if va != vb {
                    fields_of(&join(k), va, vb, out);
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            for i in 0..x.len().max(y.len()) {
                let (va, vb) = (
                    x.get(i).unwrap_or(&Value::Null),
                    y.get(i).unwrap_or(&Value::Null),
                );
                if va != vb {
                    fields_of(&format!("{at}[{i}]"), va, vb, out);
                }
            }
        }
        _ if a != b => out.push(if at.is_empty() {
            "(value)".into()
        } else {
            at.to_string()
        }),
        _ => {}
    }
}

/// A revision's copy of the stack file's directory, removed when dropped.
pub struct Checkout {
    pub dir: PathBuf,
    pub stack: PathBuf,
}

impl Drop for Checkout {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Write the stack file's directory as it was at `rev` (any git revision: `HEAD~1`, `main`, a
/// commit) to a temporary directory.
pub fn checkout(stack: &Path, rev: &str) -> Result<Checkout, String> {
    let abs = std::fs::canonicalize(stack).map_err(|e| format!("{}: {e}", stack.display()))?;
    let dir = abs.parent().unwrap_or(Path::new("/")).to_path_buf();
    let repo = git2::Repository::discover(&dir).map_err(|e| {
        format!(
            "{} is not in a git repository: {}",
            dir.display(),
            e.message()
        )
    })?;
    let work = repo
        .workdir()
        .ok_or("the repository has no work tree")?
        .canonicalize()
        .map_err(|e| e.to_string())?;
    let rel_dir = dir
        .strip_prefix(&work)
        .map_err(|_| "the stack is outside the work tree")?;
    let commit = repo
        .revparse_single(rev)
        .and_then(|o| o.peel_to_commit())
        .map_err(|e| format!("revision `{rev}`: {}", e.message()))?;
    let tree = commit.tree().map_err(|e| e.message().to_string())?;
    let sub = if rel_dir.as_os_str().is_empty() {
        tree
    } else {
        tree.get_path(rel_dir)
            .and_then(|e| e.to_object(&repo))
            .and_then(|o| o.peel_to_tree())
            .map_err(|_| format!("`{}` did not exist at {rev}", rel_dir.display()))?
    };
    let out = std::env::temp_dir().join(format!(
        "dekit-rev-{}-{:08x}",
        &commit.id().to_string()[..12],
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    let checkout = Checkout {
        dir: out.clone(),
        stack: out.join(abs.file_name().unwrap_or_default()),
    };
    let mut failed = None;
    sub.walk(git2::TreeWalkMode::PreOrder, |parent, entry| {
        if entry.kind() != Some(git2::ObjectType::Blob) {
            return git2::TreeWalkResult::Ok;
        }
        let path = out.join(parent).join(entry.name().unwrap_or_default());
        let written = entry
            .to_object(&repo)
            .ok()
            .and_then(|o| o.peel_to_blob().ok())
            .ok_or_else(|| format!("{}: not readable", path.display()))
            .and_then(|b| {
                if let Some(p) = path.parent() {
                    std::fs::create_dir_all(p).map_err(|e| e.to_string())?;
                }
                std::fs::write(&path, b.content()).map_err(|e| e.to_string())
            });
        match written {
            Ok(()) => git2::TreeWalkResult::Ok,
            Err(e) => {
                failed = Some(e);
                git2::TreeWalkResult::Abort
            }
        }
    })
    .map_err(|e| e.message().to_string())?;
    if let Some(e) = failed {
        return Err(e);
    }
    if !checkout.stack.exists() {
        return Err(format!(
            "`{}` did not exist at {rev}",
            abs.file_name().unwrap_or_default().to_string_lossy()
        ));
    }
    Ok(checkout)
}

/// The stack at `rev`, loaded (its own errors shown as one line each).
pub fn load_at(stack: &Path, rev: &str, env: Option<&str>) -> Result<(Loaded, Checkout), String> {
    let c = checkout(stack, rev)?;
    match load::load_file(&c.stack, env) {
        Ok((l, _)) => Ok((l, c)),
        Err((_, r)) => Err(format!(
            "the stack at {rev} does not load: {}",
            r.diags
                .iter()
                .map(|d| d.message.clone())
                .collect::<Vec<_>>()
                .join("; ")
        )),
    }
}

/// What changed in `now` since `rev`.
pub fn since(now: &Loaded, rev: &str) -> Result<Vec<Change>, String> {
    let (old, _c) = load_at(&now.src.path, rev, Some(&now.env_name))?;
    Ok(diff(&components(&old), &components(now)))
}

/// The pipeline steps the changes touch directly: a model's or view's step, a table's ingestion,
/// a stream's or batch's, a source's, an export's. A change to a whole-stack section (storage,
/// security, environments) touches every step.
pub fn steps(changes: &[Change], graph: &Graph, stack: &crate::model::Stack) -> BTreeSet<String> {
    let all: BTreeSet<String> = graph
        .nodes
        .iter()
        .filter(|n| !n.is_resource())
        .map(|n| n.address.clone())
        .collect();
    let mut out = BTreeSet::new();
    for c in changes.iter().filter(|c| c.kind != Kind::Removed) {
        let (section, name) = match c.component.rsplit_once('.') {
            Some((s, n)) if NAMED.contains(&s) => (s, n),
            _ => match c.component.as_str() {
                "storage" | "security" | "environments" | "stack" | "default_environment" => {
                    return all;
                }
                _ => continue,
            },
        };
        let step = match section {
            "transforms" => Some(format!("transform.{name}")),
            "serving.views" => Some(format!("serve.{name}")),
            "serving.exports" => Some(format!("export.{name}")),
            "sources" => Some(format!("source.{name}")),
            "ingest.streams" | "ingest.batch" => Some(format!("ingest.{name}")),
            "tables" => crate::graph::steps::producer(stack, name),
            // A table's checks: its quality step.
            "quality" => Some(format!("quality.{name}")),
            _ => None,
        };
        if let Some(s) = step.filter(|s| all.contains(s)) {
            out.insert(s);
        }
    }
    out
}

/// The steps the changes touch and everything downstream of them: what `run --since` runs.
pub fn selected(
    changes: &[Change],
    graph: &Graph,
    stack: &crate::model::Stack,
) -> BTreeSet<String> {
    let touched = steps(changes, graph, stack);
    if touched.is_empty() {
        return touched;
    }
    let sels: Vec<String> = touched.iter().map(|s| format!("{s}+")).collect();
    crate::graph::steps::select(&crate::graph::steps::step_graph(graph), &sels).unwrap_or(touched)
}

/// The resource and step addresses of the changed components and everything that depends on
/// them, for `plan --since`.
pub fn addresses(changes: &[Change], graph: &Graph) -> BTreeSet<String> {
    let names: BTreeSet<&str> = changes
        .iter()
        .filter_map(|c| c.component.rsplit_once('.').map(|(_, n)| n))
        .collect();
    let whole = changes
        .iter()
        .any(|c| !c.component.contains('.') && c.component != "quality");
    let mut keep: BTreeSet<String> = graph
        .nodes
        .iter()
        .filter(|n| whole || names.contains(n.name.as_str()))
        .map(|n| n.address.clone())
        .collect();
    let mut todo: Vec<String> = keep.iter().cloned().collect();
    while let Some(a) = todo.pop() {
        for n in graph.nodes.iter().filter(|n| n.depends_on.contains(&a)) {
            if keep.insert(n.address.clone()) {
                todo.push(n.address.clone());
            }
        }
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_names_components_and_fields() {
        let old: BTreeMap<String, Value> = [
            (
                "transforms.a".into(),
                json!({"sql": "a.sql", "sql_text": "select 1", "zone": "curated"}),
            ),
            ("tables.t".into(), json!({"columns": {"id": "bigint"}})),
            ("storage".into(), json!({"lake": {"bucket": "b"}})),
        ]
        .into();
        let new: BTreeMap<String, Value> = [
            (
                "transforms.a".into(),
                json!({"sql": "a.sql", "sql_text": "select 2", "zone": "curated"}),
            ),
            (
                "tables.t".into(),
                json!({"columns": {"id": "bigint", "ts": "timestamp"}}),
            ),
            ("storage".into(), json!({"lake": {"bucket": "b"}})),
            ("quality.t".into(), json!([{"not_null": ["id"]}])),
        ]
        .into();
        let d = diff(&old, &new);
        insta::assert_json_snapshot!(d);
    }
}
