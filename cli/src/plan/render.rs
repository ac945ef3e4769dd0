//! Terraform-style plan text: `+` create, `~` update (old -> new), `-/+` replace, `-` destroy.

use super::{Action, Plan};
use crate::graph::refs;
use serde_json::{Map, Value};
use std::fmt::Write as _;

/// Long generated content (scripts) is summarized, not printed.
const SUMMARIZED: &[&str] = &["content"];

pub fn text(plan: &Plan, header: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{header}\n");
    if !plan.drift.is_empty() {
        let _ = writeln!(
            out,
            "Note: objects have changed outside of dekit (drift):\n"
        );
        for (addr, attr, recorded, live) in &plan.drift {
            let _ = writeln!(
                out,
                "  ~ {addr}.{attr}: {} -> {} (changed outside dekit)",
                inline(attr, recorded),
                inline(attr, live)
            );
        }
        let _ = writeln!(out);
    }
    if !plan.has_changes() {
        let _ = writeln!(out, "No changes. The infrastructure matches the stack.");
        return out;
    }
    let _ = writeln!(out, "dekit will perform the following actions:\n");
    for c in plan.changes.iter().filter(|c| c.action != Action::NoOp) {
        let (verb, sym) = match c.action {
            Action::Create => ("will be created", "+"),
            Action::Update => ("will be updated in-place", "~"),
            Action::Replace => ("must be replaced", "-/+"),
            Action::Delete => ("will be destroyed", "-"),
            Action::NoOp => unreachable!(),
        };
        let _ = writeln!(out, "  # {} {verb}", c.address);
        if let Some(note) = &c.data_impact {
            let _ = writeln!(out, "  # !! DATA LOSS: {note}");
        }
        let _ = writeln!(out, "  {sym} {} {{", c.address);
        match c.action {
            Action::Create => attrs(
                &mut out,
                "+",
                c.after.as_ref().expect("create has after"),
                6,
            ),
            Action::Delete => attrs(
                &mut out,
                "-",
                c.before.as_ref().expect("delete has before"),
                6,
            ),
            Action::Update | Action::Replace => {
                let (before, after) = (
                    c.before.as_ref().expect("before"),
                    c.after.as_ref().expect("after"),
                );
                for (k, new) in after {
                    let old = before.get(k).unwrap_or(&Value::Null);
                    if old == new {
                        continue;
                    }
                    let forces = if c.forces_replacement.contains(k) {
                        " # forces replacement"
                    } else {
                        ""
                    };
                    let mut lines = vec![];
                    changed_paths(k, k, old, new, &mut lines);
                    for (path, o, n) in lines {
                        let _ = writeln!(out, "      ~ {path} = {o} -> {n}{forces}");
                    }
                }
            }
            Action::NoOp => {}
        }
        let _ = writeln!(out, "    }}\n");
    }
    let _ = writeln!(
        out,
        "Plan: {} to add, {} to change, {} to replace, {} to destroy.",
        plan.count(Action::Create),
        plan.count(Action::Update),
        plan.count(Action::Replace),
        plan.count(Action::Delete)
    );
    out
}

fn attrs(out: &mut String, sym: &str, m: &Map<String, Value>, indent: usize) {
    let width = m.keys().map(String::len).max().unwrap_or(0);
    for (k, v) in m {
        let pad = " ".repeat(indent);
        match v {
            Value::Object(o) if !o.is_empty() && refs::as_ref(v).is_none() => {
                let _ = writeln!(out, "{pad}{sym} {k:width$} = {{");
                attrs(out, sym, o, indent + 4);
                let _ = writeln!(out, "{pad}  }}");
            }
            Value::Array(a) if a.iter().any(Value::is_object) => {
                let _ = writeln!(out, "{pad}{sym} {k:width$} = [");
                for item in a {
                    match item {
                        Value::Object(o) => {
                            let _ = writeln!(out, "{pad}    {{");
                            attrs(out, sym, o, indent + 8);
                            let _ = writeln!(out, "{pad}    }},");
                        }
                        other => {
                            let _ = writeln!(out, "{pad}    {},", inline(k, other));
                        }
                    }
                }
                let _ = writeln!(out, "{pad}  ]");
            }
            _ => {
                let _ = writeln!(out, "{pad}{sym} {k:width$} = {}", inline(k, v));
            }
        }
    }
}

/// The innermost changed values between `old` and `new`, as `path = old -> new`, so a change deep in
/// a lifecycle rule reads `lifecycle_rules[1].expire_days = 365 -> 400`.
fn changed_paths(
    key: &str,
    path: &str,
    old: &Value,
    new: &Value,
    out: &mut Vec<(String, String, String)>,
) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) if refs::as_ref(new).is_none() => {
            for k in b.keys().chain(a.keys().filter(|k| !b.contains_key(*k))) {
                let (o, n) = (
                    a.get(k).unwrap_or(&Value::Null),
                    b.get(k).unwrap_or(&Value::Null),
                );
                if o != n {
                    changed_paths(key, &format!("{path}.{k}"), o, n, out);
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (o, n)) in a.iter().zip(b).enumerate() {
                if o != n {
                    changed_paths(key, &format!("{path}[{i}]"), o, n, out);
                }
            }
        }
        _ => out.push((path.to_string(), inline(key, old), inline(key, new))),
    }
}

fn inline(key: &str, v: &Value) -> String {
    if let Some(known_later) = refs::describe(v) {
        return known_later;
    }
    match v {
        Value::String(s) if SUMMARIZED.contains(&key) => format!("({} bytes)", s.len()),
        Value::Null => "(none)".into(),
        other => other.to_string(),
    }
}

/// Colour plan text for a terminal: creates green, updates yellow, destruction and data-loss notes
/// red. Plain text (pipes, CI logs, snapshots) stays uncoloured; `NO_COLOR` turns it off.
pub fn colorize(text: &str) -> String {
    use std::io::IsTerminal;
    if crate::settings::get().no_color || !std::io::stdout().is_terminal() {
        return text.to_string();
    }
    let paint = |code: &str, line: &str| format!("\x1b[{code}m{line}\x1b[0m");
    text.lines()
        .map(|line| {
            let t = line.trim_start();
            if t.starts_with("# !! DATA LOSS")
                || t.starts_with("-/+")
                || t.starts_with("- ")
                || t.contains("will be destroyed")
                || t.contains("must be replaced")
            {
                paint("1;31", line)
            } else if t.starts_with("+ ") {
                paint("32", line)
            } else if t.starts_with("~ ") {
                paint("33", line)
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}
