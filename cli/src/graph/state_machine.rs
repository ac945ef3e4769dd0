//! The run DAG as an Amazon States Language definition: the pipeline `apply` deploys as one Step
//! Functions state machine, each step a Lambda invocation of dekit itself.
//!
//! Shape: the steps in levels (a step's level is one more than its deepest dependency's); a
//! level of one step is its task, a level of several a `Parallel` state with a branch per step.
//! A step's task answers `{"more": true}` while a long load has ranges left, and is invoked
//! again. What a failure means is decided by dekit, not by the state machine, so the deployed
//! pipeline and `dekit run` share one semantics: a step whose dependency failed (or whose
//! error-severity check failed) is recorded as skipped by the runtime; a failing step answers
//! with its failure instead of raising, and the branches beside it go on. Only an invocation
//! that itself fails (the runtime could not start, or timed out) raises; it is retried when the
//! cause is transient, then recorded as the step's failure by a second invocation. A last task
//! writes the run's manifest and metrics; a failed run notifies the stack's topics and ends the
//! execution `Failed`.
//!
//! The stack travels in the step runtime's package (`lambda_function`), not in the input: an
//! execution's input is `{}`.

use super::steps::Steps;
use serde_json::{Map, Value, json};

/// What the definition needs besides the steps.
pub struct Settings<'a> {
    /// The step runtime's function (an ARN, or a reference resolved at apply).
    pub function: &'a str,
    /// Topics told when a run fails.
    pub topics: &'a [String],
    pub retries: u32,
    pub step_timeout_seconds: u32,
    pub comment: &'a str,
}

/// Errors of the invocation itself that a retry may cure (Lambda's own advice).
const TRANSIENT: &[&str] = &[
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.ClientExecutionTimeoutException",
];

/// An invocation that died (killed, out of memory) or ran out of time. Steps are idempotent
/// (load ids, records, the partial load removed on the next try), so running one again is safe;
/// a step that fails answers `ok: false` instead, which is not retried.
const CRASHED: &[&str] = &["Runtime.ExitError", "Sandbox.Timedout", "States.Timeout"];

/// The steps by level: every step comes after all its dependencies' levels.
pub fn levels(steps: &Steps) -> Vec<Vec<String>> {
    super::steps::waves(steps, &steps.keys().cloned().collect())
}

fn invoke(s: &Settings, payload: Value) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("Type".into(), json!("Task"));
    m.insert("Resource".into(), json!("arn:aws:states:::lambda:invoke"));
    m.insert(
        "Parameters".into(),
        json!({ "FunctionName": s.function, "Payload": payload }),
    );
    m.insert("TimeoutSeconds".into(), json!(s.step_timeout_seconds + 60));
    m.insert(
        "Retry".into(),
        json!([
            {
                "ErrorEquals": TRANSIENT,
                "IntervalSeconds": 2,
                "MaxAttempts": s.retries,
                "BackoffRate": 2.0
            },
            {
                "ErrorEquals": CRASHED,
                "IntervalSeconds": 5,
                "MaxAttempts": s.retries,
                "BackoffRate": 2.0
            }
        ]),
    );
    m
}

/// The states running one step, then going to `next` (`None`: the end of a branch).
fn step_states(s: &Settings, step: &str, next: Option<&str>, out: &mut Map<String, Value>) {
    let again = format!("{step} again?");
    let failed = format!("{step} failed");
    let mut task = invoke(
        s,
        json!({
            "action": "step",
            "step": step,
            "execution.$": "$$.Execution.Name",
            "started.$": "$$.Execution.StartTime",
            "input.$": "$$.Execution.Input",
        }),
    );
    task.insert(
        "ResultSelector".into(),
        json!({ "more.$": "$.Payload.more" }),
    );
    task.insert("ResultPath".into(), json!("$.step"));
    task.insert(
        "Catch".into(),
        json!([{ "ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": failed }]),
    );
    task.insert("Next".into(), json!(again));
    out.insert(step.to_string(), Value::Object(task));
    let mut choice = json!({
        "Type": "Choice",
        "Choices": [{ "Variable": "$.step.more", "BooleanEquals": true, "Next": step }],
    });
    let mut record = invoke(
        s,
        json!({
            "action": "failed",
            "step": step,
            "execution.$": "$$.Execution.Name",
            "started.$": "$$.Execution.StartTime",
            "error.$": "$.error",
        }),
    );
    record.insert("ResultPath".into(), Value::Null);
    match next {
        Some(n) => {
            choice["Default"] = json!(n);
            record.insert("Next".into(), json!(n));
        }
        None => {
            let done = format!("{step} done");
            choice["Default"] = json!(done);
            record.insert("Next".into(), json!(done));
            out.insert(done, json!({ "Type": "Succeed" }));
        }
    }
    out.insert(again, choice);
    out.insert(failed, Value::Object(record));
}

/// The definition of the stack's deployed pipeline, `None` without an `orchestration:` section:
/// the step runtime is the stack's `steps` function, the topics its `notify:` ones.
pub fn of(g: &super::Graph, loaded: &crate::load::Loaded) -> Option<Value> {
    let o = loaded.stack.orchestration.as_ref()?;
    let names = crate::names::Names::new(loaded);
    let arns = crate::policy::Arns {
        region: loaded.region(),
        account: loaded.account(),
    };
    let topics: Vec<String> = o
        .notify
        .iter()
        .filter_map(|t| {
            g.get(&format!("sns_topic.{}", t.value))
                .and_then(|n| n.attrs["arn"].as_str())
                .map(str::to_string)
        })
        .collect();
    let function = arns.function(&names.scoped("steps"));
    let comment = format!(
        "dekit pipeline of stack {}, environment {}",
        loaded.stack.stack.value, loaded.env_name
    );
    Some(definition(
        &super::steps::step_graph(g),
        &Settings {
            function: &function,
            topics: &topics,
            retries: o.retries.value,
            step_timeout_seconds: o.step_timeout_seconds.value,
            comment: &comment,
        },
    ))
}

/// The whole definition.
pub fn definition(steps: &Steps, s: &Settings) -> Value {
    let levels = levels(steps);
    let mut states = Map::new();
    let name_of = |i: usize, level: &[String]| -> String {
        match level {
            [one] => one.clone(),
            _ => format!("level {}", i + 1),
        }
    };
    for (i, level) in levels.iter().enumerate() {
        let next = levels
            .get(i + 1)
            .map(|l| name_of(i + 1, l))
            .unwrap_or_else(|| "finish".to_string());
        if let [one] = level.as_slice() {
            step_states(s, one, Some(&next), &mut states);
            continue;
        }
        let branches: Vec<Value> = level
            .iter()
            .map(|step| {
                let mut inner = Map::new();
                step_states(s, step, None, &mut inner);
                json!({ "StartAt": step, "States": inner })
            })
            .collect();
        states.insert(
            name_of(i, level),
            json!({
                "Type": "Parallel",
                "Branches": branches,
                // The branches' outputs are not needed: each step's outcome is in the lake.
                "ResultPath": null,
                "Next": next,
            }),
        );
    }
    ending(s, &mut states);
    let start = levels
        .first()
        .map(|l| name_of(0, l))
        .unwrap_or_else(|| "finish".to_string());
    json!({
        "Comment": s.comment,
        "StartAt": start,
        "States": states,
    })
}

/// The run's end: its manifest and metrics written, then success, or the topics told and failure.
fn ending(s: &Settings, states: &mut Map<String, Value>) {
    let mut finish = invoke(
        s,
        json!({
            "action": "finish",
            "execution.$": "$$.Execution.Name",
            "started.$": "$$.Execution.StartTime",
            "input.$": "$$.Execution.Input",
        }),
    );
    finish.insert(
        "ResultSelector".into(),
        json!({ "ok.$": "$.Payload.ok", "message.$": "$.Payload.message" }),
    );
    finish.insert("ResultPath".into(), json!("$.run"));
    finish.insert("Next".into(), json!("run ok?"));
    states.insert("finish".into(), Value::Object(finish));
    let failed_next = if s.topics.is_empty() {
        "run failed"
    } else {
        "notify"
    };
    states.insert(
        "run ok?".into(),
        json!({
            "Type": "Choice",
            "Choices": [{ "Variable": "$.run.ok", "BooleanEquals": true, "Next": "run succeeded" }],
            "Default": failed_next,
        }),
    );
    states.insert("run succeeded".into(), json!({ "Type": "Succeed" }));
    if !s.topics.is_empty() {
        let branches: Vec<Value> = s
            .topics
            .iter()
            .map(|t| {
                json!({
                    "StartAt": "publish",
                    "States": { "publish": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::sns:publish",
                        "Parameters": { "TopicArn": t, "Message.$": "$.run.message" },
                        "End": true
                    }}
                })
            })
            .collect();
        states.insert(
            "notify".into(),
            json!({
                "Type": "Parallel",
                "Branches": branches,
                "ResultPath": null,
                "Next": "run failed",
            }),
        );
    }
    states.insert(
        "run failed".into(),
        json!({
            "Type": "Fail",
            "Error": "StepsFailed",
            "Cause": "A step failed or was skipped: the run's manifest in the lake names it and why",
        }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(edges: &[(&str, &[&str])]) -> Steps {
        edges
            .iter()
            .map(|(s, d)| (s.to_string(), d.iter().map(|x| x.to_string()).collect()))
            .collect()
    }

    #[test]
    fn every_step_comes_after_its_dependencies() {
        let s = steps(&[
            ("source.db", &[]),
            ("ingest.orders", &["source.db"]),
            ("ingest.events", &[]),
            ("transform.daily", &["ingest.orders", "ingest.events"]),
            ("serve.bi", &["transform.daily"]),
            ("quality.daily", &["transform.daily"]),
        ]);
        let l = levels(&s);
        assert_eq!(
            l,
            vec![
                vec!["ingest.events".to_string(), "source.db".into()],
                vec!["ingest.orders".into()],
                vec!["transform.daily".into()],
                vec!["quality.daily".into(), "serve.bi".into()],
            ]
        );
    }
}
