//! The deployed pipeline's step runtime: what one invocation of dekit on Lambda does for the
//! state machine (`graph::state_machine`). The same steps as `dekit run` (`super::execute`),
//! one per invocation, with the run's state in the lake instead of in one process:
//! `_dekit/executions/<run id>/<step>.json` holds each step's record, and the last invocation
//! assembles the run manifest `dekit run` writes (`_dekit/runs/<run id>.json`).
//!
//! Semantics are `dekit run`'s: a step whose dependency failed or was skipped is skipped; a step
//! that already succeeded in this execution is not run again (a retried invocation, a resumed
//! execution). In the deployed pipeline quality steps run their checks, and a check at severity
//! error that fails, fails the step, so its dependents are skipped: the gate `dekit test` is
//! locally.

use super::{Ctx, execute, kind_of};
use crate::records::{Manifest, Status, StepRecord, manifest_key};
use crate::stats::{Progress, StepStats};
use serde::{Deserialize, Serialize};

/// What the state machine asks.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Event {
    /// Run one step.
    Step {
        step: String,
        execution: String,
        started: String,
        #[serde(default)]
        input: Input,
    },
    /// The invocation for `step` failed itself (Step Functions' error and cause): record it.
    Failed {
        step: String,
        execution: String,
        started: String,
        error: serde_json::Value,
    },
    /// Every step has a record: write the manifest and the metrics.
    Finish {
        execution: String,
        started: String,
        #[serde(default)]
        input: Input,
    },
}

/// The execution's input (a schedule's, or `dekit run --deployed`'s); other fields are the
/// user's and ignored.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Input {
    /// Resume run RUN: the steps that succeeded in it are not run again (`dekit run --resume`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<String>,
}

/// What a resumed run did: the steps that succeeded in it.
struct Resumed {
    run: String,
    succeeded: std::collections::BTreeSet<String>,
}

impl Resumed {
    async fn of(ctx: &Ctx, input: &Input) -> Result<Option<Resumed>, String> {
        let Some(run) = &input.resume else {
            return Ok(None);
        };
        let succeeded = crate::records::succeeded_in(&ctx.lake, run).await?;
        Ok(Some(Resumed {
            run: run.clone(),
            succeeded,
        }))
    }

    fn done(r: &Option<Resumed>, step: &str) -> bool {
        r.as_ref().is_some_and(|r| r.succeeded.contains(step))
    }
}

/// The answer the state machine reads.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct Answer {
    /// The step has more to do (a bounded range of a long load was committed): invoke again.
    pub more: bool,
    /// The step (or, for `finish`, the whole run) succeeded or was skipped by design.
    pub ok: bool,
    /// One line a person reads: what happened, what failed.
    pub message: String,
}

/// The run id of an execution: its start time to the second (so runs sort by time, as
/// `clock::run_id` does) and a suffix from its name (the same in every invocation).
pub fn run_id(execution: &str, started: &str) -> Result<String, String> {
    let at =
        crate::clock::parse(started).map_err(|e| format!("the execution's start time: {e}"))?;
    let digest = crate::hash::sha256(execution);
    Ok(format!("{}-{}", at.format("%Y%m%dT%H%M%SZ"), &digest[..4]))
}

fn record_key(run_id: &str, step: &str) -> String {
    format!("_dekit/executions/{run_id}/{step}.json")
}

/// What a step's earlier invocations of this execution committed, while it has more to do.
fn partial_key(run_id: &str, step: &str) -> String {
    format!("_dekit/partial/{run_id}/{step}.json")
}

/// The context for the deployed step runtime: a watermark load commits at most
/// `orchestration.rows_per_invocation` rows per invocation and answers that more follow, and
/// database sources connect with what their secrets hold (written by `apply`; the function's
/// environment has none of the stack's `${env.*}`, and its role may read exactly these).
pub fn runtime(mut ctx: Ctx) -> Ctx {
    ctx.rows_per_range = ctx
        .checked
        .loaded
        .stack
        .orchestration
        .as_ref()
        .map(|o| u64::from(o.rows_per_invocation.value));
    ctx.source_secrets = true;
    ctx
}

pub async fn handle(ctx: &Ctx, event: &Event) -> Result<Answer, String> {
    match event {
        Event::Step {
            step,
            execution,
            started,
            input,
        } => {
            let resumed = Resumed::of(ctx, input).await?;
            step_of(ctx, step, &run_id(execution, started)?, &resumed).await
        }
        Event::Failed {
            step,
            execution,
            started,
            error,
        } => {
            let id = run_id(execution, started)?;
            let why = error["Cause"]
                .as_str()
                .or(error["Error"].as_str())
                .unwrap_or("the invocation failed")
                .to_string();
            let r = record(
                ctx,
                step,
                Status::Failed,
                StepStats::default(),
                0,
                Some(why),
            );
            put(ctx, &id, &r).await?;
            Ok(Answer {
                ok: false,
                message: format!("{step}: failed: {}", r.error.unwrap_or_default()),
                ..Answer::default()
            })
        }
        Event::Finish {
            execution,
            started,
            input,
        } => {
            let resumed = Resumed::of(ctx, input).await?;
            finish(ctx, execution, started, &resumed).await
        }
    }
}

fn record(
    ctx: &Ctx,
    step: &str,
    status: Status,
    stats: StepStats,
    duration_ms: u64,
    error: Option<String>,
) -> StepRecord {
    StepRecord {
        step: step.to_string(),
        kind: kind_of(&ctx.graph, step),
        status,
        stats,
        duration_ms,
        error,
    }
}

async fn put(ctx: &Ctx, run_id: &str, r: &StepRecord) -> Result<(), String> {
    ctx.lake
        .put_json(&record_key(run_id, &r.step), r)
        .await
        .map_err(|e| format!("recording step {}: {e}", r.step))
}

async fn get(ctx: &Ctx, run_id: &str, step: &str) -> Result<Option<StepRecord>, String> {
    ctx.lake
        .get_json(&record_key(run_id, step))
        .await
        .map_err(|e| format!("reading the record of step {step}: {e}"))
}

// Long: the step's whole life in one invocation: done before, dependencies, run, record.
async fn step_of(
    ctx: &Ctx,
    step: &str,
    run_id: &str,
    resumed: &Option<Resumed>,
) -> Result<Answer, String> {
    let steps = crate::graph::steps::step_graph(&ctx.graph);
    let deps = steps
        .get(step)
        .ok_or_else(|| format!("no step `{step}` in the deployed stack"))?;
    // As `dekit run --resume`: a step that succeeded in the resumed run is not part of this one.
    if let Some(r) = resumed
        && r.succeeded.contains(step)
    {
        return Ok(Answer {
            ok: true,
            message: format!("{step}: succeeded in run {} (resumed)", r.run),
            ..Answer::default()
        });
    }
    if let Some(done) = get(ctx, run_id, step).await?
        && done.status == Status::Succeeded
    {
        return Ok(Answer {
            ok: true,
            message: format!("{step}: done already in this execution"),
            ..Answer::default()
        });
    }
    for d in deps {
        let before = get(ctx, run_id, d).await?;
        let satisfied = match &before {
            Some(r) => r.status == Status::Succeeded,
            None => Resumed::done(resumed, d),
        };
        if !satisfied {
            let why = match before {
                Some(_) => format!("`{d}` did not succeed"),
                None => format!("`{d}` has not run in this execution"),
            };
            let r = record(
                ctx,
                step,
                Status::Skipped,
                StepStats::default(),
                0,
                Some(why),
            );
            put(ctx, run_id, &r).await?;
            return Ok(Answer {
                ok: true,
                message: format!("{step}: skipped: {}", r.error.unwrap_or_default()),
                ..Answer::default()
            });
        }
    }
    let began = std::time::Instant::now();
    let result = match ctx.graph.get(step).map(|n| n.kind) {
        Some(crate::graph::NodeKind::Step(crate::graph::StepKind::Quality)) => {
            gate(ctx, step).await
        }
        _ => execute(ctx, step, run_id, &Progress::default())
            .await
            .map(Option::unwrap_or_default),
    };
    let took = began.elapsed().as_millis() as u64;
    // What earlier invocations of a long load committed counts in its record.
    let partial = partial_key(run_id, step);
    let before: Option<StepStats> = ctx
        .lake
        .get_json(&partial)
        .await
        .map_err(|e| format!("reading what step {step} committed so far: {e}"))?;
    let mut result = result.map(|mut stats| {
        if let Some(b) = &before {
            let more = stats.more;
            stats.add(b);
            stats.more = more;
        }
        stats
    });
    if let Ok(stats) = &mut result
        && stats.more
    {
        stats.notes.push(format!(
            "{step}: a range committed ({} rows so far), invoked again",
            stats.rows
        ));
        ctx.lake
            .put_json(&partial, stats)
            .await
            .map_err(|e| format!("recording what step {step} committed so far: {e}"))?;
        return Ok(Answer {
            more: true,
            ok: true,
            message: format!("{step}: {} rows so far; more to load", stats.rows),
        });
    }
    let r = match result {
        Ok(stats) => record(ctx, step, Status::Succeeded, stats, took, None),
        Err(e) => record(
            ctx,
            step,
            Status::Failed,
            StepStats::default(),
            took,
            Some(e),
        ),
    };
    put(ctx, run_id, &r).await?;
    if before.is_some() {
        ctx.lake.delete(&partial).await.map_err(|e| e.to_string())?;
    }
    Ok(Answer {
        ok: r.status == Status::Succeeded,
        message: match &r.error {
            Some(e) => format!("{step}: failed: {e}"),
            None => format!("{step}: done: {} rows", r.stats.rows),
        },
        ..Answer::default()
    })
}

/// A quality step: the relation's checks; one at severity error that does not pass fails it.
async fn gate(ctx: &Ctx, step: &str) -> Result<StepStats, String> {
    let relation = step.strip_prefix("quality.").unwrap_or(step).to_string();
    let report = crate::quality::runner::run(ctx.catalog(), &ctx.lake, &[relation]).await?;
    if report.ok() {
        return Ok(StepStats {
            notes: vec![format!("{} checks passed", report.outcomes.len())],
            ..StepStats::default()
        });
    }
    let failed: Vec<String> = report
        .outcomes
        .iter()
        .filter(|o| !o.ok())
        .map(|o| format!("{} ({})", o.name, o.message))
        .collect();
    Err(format!("checks failed: {}", failed.join("; ")))
}

/// The run's manifest from the steps' records, as `dekit run` writes it, and its metrics.
async fn finish(
    ctx: &Ctx,
    execution: &str,
    started: &str,
    resumed: &Option<Resumed>,
) -> Result<Answer, String> {
    let id = run_id(execution, started)?;
    let steps = crate::graph::steps::step_graph(&ctx.graph);
    let all = steps.keys().cloned().collect();
    let mut records = vec![];
    for s in crate::graph::steps::ordered(&steps, &all) {
        records.push(match get(ctx, &id, &s).await? {
            Some(r) => r,
            // Not part of a resumed run, as in `dekit run --resume`'s manifest.
            None if Resumed::done(resumed, &s) => continue,
            None => record(
                ctx,
                &s,
                Status::Skipped,
                StepStats::default(),
                0,
                Some("no invocation recorded it".into()),
            ),
        });
    }
    let began = crate::clock::parse(started)?;
    let manifest = Manifest {
        run_id: id.clone(),
        stack: ctx.checked.loaded.stack.stack.value.clone(),
        environment: ctx.checked.loaded.env_name.clone(),
        git_commit: None,
        git_dirty: None,
        started_at: began.to_rfc3339(),
        finished_at: crate::clock::now().to_rfc3339(),
        selectors: vec![],
        resumed_from: resumed.as_ref().map(|r| r.run.clone()),
        steps: records,
    };
    ctx.lake
        .put_json(&manifest_key(&id), &manifest)
        .await
        .map_err(|e| format!("writing the run manifest: {e}"))?;
    super::publish(ctx, &manifest, began).await;
    let failed: Vec<String> = manifest
        .steps
        .iter()
        .filter(|s| matches!(s.status, Status::Failed | Status::Skipped))
        .map(|s| match &s.error {
            Some(e) => format!("{} ({e})", s.step),
            None => s.step.clone(),
        })
        .collect();
    Ok(Answer {
        more: false,
        ok: failed.is_empty(),
        message: if failed.is_empty() {
            format!(
                "run {id} of {}/{} succeeded",
                manifest.stack, manifest.environment
            )
        } else {
            format!(
                "run {id} of {}/{} failed: {}",
                manifest.stack,
                manifest.environment,
                failed.join("; ")
            )
        },
    })
}

/// `dekit run --deployed`: start an execution of the deployed pipeline (`machine`) and follow
/// it, reporting each step as its record appears, until it ends; its run manifest. With
/// `resume`, the execution runs again only what did not succeed in that run.
/// Start an execution of the pipeline deployed in `d` (`orchestration:` applied) and follow it.
pub async fn start(
    d: crate::deploy::Deployment,
    resume: Option<&str>,
    reporter: &dyn super::Reporter,
) -> Result<Manifest, String> {
    let machine = d
        .state
        .resources
        .get("sfn_state_machine.pipeline")
        .and_then(|r| r.attrs.get("arn"))
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .ok_or_else(|| {
            format!(
                "environment `{}` has no deployed pipeline: add `orchestration:` to the stack and `dekit apply`",
                d.checked.loaded.env_name
            )
        })?;
    let lake = crate::lake::Lake::of(&d.checked.loaded, d.clients.clone());
    follow(&d.clients, &lake, &machine, resume, reporter).await
}

pub async fn follow(
    clients: &crate::cloud::Clients,
    lake: &crate::lake::Lake,
    machine: &str,
    resume: Option<&str>,
    reporter: &dyn super::Reporter,
) -> Result<Manifest, String> {
    use aws_sdk_sfn::types::ExecutionStatus;
    // An unknown run is refused before an execution starts.
    if let Some(run) = resume {
        crate::records::succeeded_in(lake, run).await?;
    }
    let input = Input {
        resume: resume.map(str::to_string),
    };
    let name = format!("manual-{}", crate::clock::run_id());
    let started = clients
        .sfn
        .start_execution()
        .state_machine_arn(machine)
        .name(&name)
        .input(serde_json::to_string(&input).expect("input serializes"))
        .send()
        .await
        .map_err(|e| crate::cloud::error::from_sdk("StartExecution", machine, e).to_string())?;
    let arn = started.execution_arn().to_string();
    let at = started.start_date();
    let at = chrono::DateTime::from_timestamp(at.secs(), at.subsec_nanos())
        .ok_or("the execution's start time is out of range")?;
    let id = run_id(&name, &at.to_rfc3339())?;
    eprintln!("execution {name} of {machine} started (run {id})");
    let mut seen = std::collections::BTreeSet::new();
    loop {
        let d = clients
            .sfn
            .describe_execution()
            .execution_arn(&arn)
            .send()
            .await
            .map_err(|e| crate::cloud::error::from_sdk("DescribeExecution", &arn, e).to_string())?;
        for key in lake
            .list(&format!("_dekit/executions/{id}/"))
            .await
            .map_err(|e| e.to_string())?
        {
            if seen.insert(key.clone())
                && let Some(r) = lake
                    .get_json::<StepRecord>(&key)
                    .await
                    .map_err(|e| e.to_string())?
            {
                reporter.finished(&r);
            }
        }
        if d.status() != &ExecutionStatus::Running {
            let manifest: Option<Manifest> = lake
                .get_json(&manifest_key(&id))
                .await
                .map_err(|e| e.to_string())?;
            return manifest.ok_or_else(|| {
                format!(
                    "execution {name} ended {} without a run manifest: {}",
                    d.status().as_str(),
                    d.cause().or(d.error()).unwrap_or("no cause given")
                )
            });
        }
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }
}
