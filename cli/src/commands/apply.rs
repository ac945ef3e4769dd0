//! `dekit apply FILE`: refresh, plan, and make the changes, walking the resource DAG in parallel.

use super::StackArgs;
use super::reporters::Lines;
use crate::deploy::{self, Deployment};
use crate::engine;
use crate::plan::saved::SavedPlan;
use crate::plan::{Action, render};
use crate::state::git_info;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Write a Chrome-trace JSON of every API call and wait to FILE (open it in Perfetto or
    /// chrome://tracing) to see where the time goes.
    #[arg(long, value_name = "FILE")]
    pub timings: Option<PathBuf>,
    /// Concurrent resource operations. Most of an operation is waiting (for a stream to be
    /// ACTIVE, for a delete to finish), so more than the few calls a service serves at once;
    /// throttled calls back off and retry.
    #[arg(long, default_value_t = 20)]
    pub parallelism: usize,
    /// Apply a plan saved by `dekit plan --out`; refused if state or stack changed since.
    #[arg(long)]
    pub plan: Option<PathBuf>,
    /// Only this resource (and what it depends on). Repeatable.
    #[arg(long)]
    pub target: Vec<String>,
    /// Start the local cloud if a `local` environment finds it stopped.
    #[arg(long)]
    pub start_local: bool,
    /// Apply without asking. Required when there is no terminal to ask on (CI).
    #[arg(long)]
    pub auto_approve: bool,
    /// Print the outcome as JSON on stdout (progress goes to stderr).
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: Args) -> ExitCode {
    let timings = a.timings.clone();
    super::traced(timings, || execute(a))
}

fn execute(a: Args) -> ExitCode {
    let Some(checked) = super::checked(&a.stack.file, a.stack.env.as_deref()) else {
        return ExitCode::FAILURE;
    };
    let stack_hash = crate::hash::sha256(&checked.loaded.src.text);
    let result = crate::runtime::block_on(async move {
        let mut d = deploy::open(checked, a.start_local).await?;
        d.check_targets(&a.target)?;
        d.locked("apply", async |d| locked(d, &a, &stack_hash).await)
            .await
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => super::fail(&e),
    }
}

async fn locked(d: &mut Deployment, a: &Args, stack_hash: &str) -> Result<bool, String> {
    let plan = match &a.plan {
        Some(path) => SavedPlan::read_fresh(path, &mut d.state, stack_hash)?,
        None => {
            let mut p = d.plan(a.parallelism).await?;
            if !a.target.is_empty() {
                p.retain_targets(&d.graph, &a.target);
            }
            p
        }
    };
    let header = format!(
        "dekit apply: stack `{}`, environment `{}`",
        plan.stack, plan.environment
    );
    let shown = render::colorize(&render::text(&plan, &header));
    if a.json {
        eprint!("{shown}");
    } else {
        print!("{shown}");
    }
    let unrecorded = plan
        .changes
        .iter()
        .any(|c| !d.state.resources.contains_key(&c.address));
    if !plan.has_changes() && !unrecorded {
        if a.json {
            println!("{}", super::outcome_json("apply", &plan, None));
        }
        return Ok(true);
    }
    if plan.has_changes() && !super::approved(a.auto_approve, "perform these actions") {
        return Ok(false);
    }
    if !a.json {
        println!();
    }
    d.state.git = git_info(&d.checked.loaded.src.dir());
    let mut plan = plan;
    if let Some(g) = &d.state.git {
        plan.stamp_git(g);
    }
    let outcome = engine::apply(
        &d.clients,
        &d.graph,
        &plan,
        &mut d.state,
        &d.backend,
        engine::Walk::new(a.parallelism, false),
        &Lines { stderr: a.json },
    )
    .await
    .map_err(|e| e.to_string())?;
    let count = |act: Action| {
        plan.changes
            .iter()
            .filter(|c| c.action == act && outcome.done.contains(&c.address))
            .count()
    };
    if a.json {
        println!("{}", super::outcome_json("apply", &plan, Some(&outcome)));
        if outcome.failed.is_empty() && !outcome.interrupted {
            return Ok(true);
        }
    }
    if outcome.failed.is_empty() && !outcome.interrupted {
        println!(
            "\nApply complete! Resources: {} added, {} changed, {} replaced, {} destroyed.",
            count(Action::Create),
            count(Action::Update),
            count(Action::Replace),
            count(Action::Delete)
        );
        return Ok(true);
    }
    super::print_failures(&outcome);
    eprintln!(
        "Apply {}: {} done, {} failed, {} skipped. State records everything that succeeded; fix the cause and apply again.",
        if outcome.interrupted {
            "interrupted"
        } else {
            "incomplete"
        },
        outcome.done.len(),
        outcome.failed.len(),
        outcome.skipped.len()
    );
    Ok(false)
}
