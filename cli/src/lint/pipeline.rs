//! S126: the deployed pipeline stays inside its stack. The state machine's tasks only invoke the
//! stack's own step function and publish only to the stack's topics (no other integration); the
//! schedule starts only the stack's state machine; the function's package is read from one of
//! the stack's buckets.
//!
//! Why: the state machine's role is granted exactly those calls; a task reaching anything else
//! would fail at run time on AWS (or, granted by hand, run outside the stack's security), and a
//! local emulator that executes no such integration would not notice. The stack language cannot
//! produce it, so a finding is a dekit bug or a graph edited by hand.

use super::Level;
use crate::graph::{Graph, Node, NodeKind, ResourceKind};
use crate::source::Span;
use serde_json::Value;
use std::collections::BTreeSet;

pub const CONFINED: (&str, &str, &str, &str) = (
    "S126",
    "pipeline-confined",
    "the deployed pipeline invokes only the stack's function, publishes only to its topics, and is started only by its schedule",
    "a dekit bug if generated: report it",
);

type Found = (&'static str, Level, String, String, Span);

const INVOKE: &str = "arn:aws:states:::lambda:invoke";
const PUBLISH: &str = "arn:aws:states:::sns:publish";

fn attr<'a>(n: &'a Node, k: &str) -> Option<&'a str> {
    n.attrs.get(k).and_then(Value::as_str)
}

/// Every Task state of a definition, Parallel branches and Map iterators included.
fn tasks<'a>(definition: &'a Value, out: &mut Vec<(&'a str, &'a Value)>) {
    let Some(states) = definition.get("States").and_then(Value::as_object) else {
        return;
    };
    for (name, state) in states {
        if state["Type"] == "Task" {
            out.push((name, state));
        }
        for b in state["Branches"].as_array().into_iter().flatten() {
            tasks(b, out);
        }
        for inner in ["Iterator", "ItemProcessor"] {
            if let Some(i) = state.get(inner) {
                tasks(i, out);
            }
        }
    }
}

pub fn check(graph: &Graph, at: &dyn Fn(&str) -> Span) -> Vec<Found> {
    let of = |k: ResourceKind| {
        graph
            .nodes
            .iter()
            .filter(move |n| n.kind == NodeKind::Resource(k))
    };
    let names = |k: ResourceKind, keys: &[&str]| -> BTreeSet<&str> {
        of(k)
            .flat_map(|n| keys.iter().filter_map(|key| attr(n, key)))
            .collect()
    };
    let functions = names(ResourceKind::LambdaFunction, &["name", "arn"]);
    let topics = names(ResourceKind::SnsTopic, &["arn"]);
    let machines = names(ResourceKind::SfnStateMachine, &["arn"]);
    let buckets = names(ResourceKind::S3Bucket, &["name"]);
    let mut out = vec![];
    let mut push = |n: &Node, what: String| {
        out.push((
            CONFINED.0,
            Level::Error,
            format!("{} {what}", n.address),
            CONFINED.3.to_string(),
            at(&n.name),
        ))
    };
    for n in of(ResourceKind::SfnStateMachine) {
        let mut found = vec![];
        tasks(&n.attrs["definition"], &mut found);
        for (state, task) in found {
            let p = &task["Parameters"];
            match task["Resource"].as_str().unwrap_or_default() {
                INVOKE => {
                    let f = p["FunctionName"].as_str().unwrap_or_default();
                    if !functions.contains(f) {
                        push(
                            n,
                            format!("state `{state}` invokes `{f}`, not the stack's function"),
                        );
                    }
                }
                PUBLISH => {
                    let t = p["TopicArn"].as_str().unwrap_or_default();
                    if !topics.contains(t) {
                        push(
                            n,
                            format!("state `{state}` publishes to `{t}`, not a topic of the stack"),
                        );
                    }
                }
                other => push(
                    n,
                    format!("state `{state}` calls `{other}`, which the pipeline does not use"),
                ),
            }
        }
    }
    for n in of(ResourceKind::SchedulerSchedule) {
        let target = n.attrs["target"]["arn"].as_str().unwrap_or_default();
        if !machines.contains(target) {
            push(
                n,
                format!("starts `{target}`, not the stack's state machine"),
            );
        }
    }
    for n in of(ResourceKind::LambdaFunction) {
        let bucket = attr(n, "artifacts_bucket").unwrap_or_default();
        if !buckets.contains(bucket) {
            push(
                n,
                format!("reads its package from `{bucket}`, not a bucket of the stack"),
            );
        }
    }
    out
}
