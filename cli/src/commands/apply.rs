//! `dekit apply FILE`: refresh, plan, and make the changes, walking the resource DAG in parallel.

use super::StackArgs;
use crate::deploy;
use crate::engine;
use crate::graph::compile;
use crate::plan::{Action, render};
use crate::state::git_info;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Concurrent resource operations.
    #[arg(long, default_value_t = 10)]
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
    /// Do not ask for confirmation on a terminal (runs without a terminal never ask).
    #[arg(long)]
    pub auto_approve: bool,
}

pub fn run(a: Args) -> ExitCode {
    let Some(checked) = super::checked(&a.stack.file, a.stack.env.as_deref()) else {
        return ExitCode::FAILURE;
    };
    let stack_hash = compile::sha256(&checked.loaded.src.text);
    let result = super::block_on(async move {
        let mut d = deploy::open(checked, a.start_local).await?;
        let lock = d.lock("apply").await?;
        let result = locked(&mut d, &a, &stack_hash).await;
        if let Err(e) = d.backend.unlock(&lock.id).await {
            eprintln!("warning: could not release the state lock: {e}");
        }
        result
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => super::fail(&e),
    }
}

async fn locked(d: &mut deploy::Deployment, a: &Args, stack_hash: &str) -> Result<bool, String> {
    let plan = match &a.plan {
        Some(path) => {
            let text =
                std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let saved: super::plan::SavedPlan = serde_json::from_slice(&text)
                .map_err(|e| format!("{} is not a dekit plan: {e}", path.display()))?;
            if saved.lineage != d.state.lineage || saved.serial != d.state.serial {
                return Err(format!(
                    "the saved plan is stale: state changed since it was made (serial {} → {}); run `dekit plan` again",
                    saved.serial, d.state.serial
                ));
            }
            if saved.stack_sha256 != stack_hash {
                return Err("the saved plan is stale: the stack file changed since it was made; run `dekit plan` again".into());
            }
            saved.plan
        }
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
    print!("{}", render::colorize(&render::text(&plan, &header)));
    let unrecorded = plan
        .changes
        .iter()
        .any(|c| !d.state.resources.contains_key(&c.address));
    if !plan.has_changes() && !unrecorded {
        return Ok(true);
    }
    if plan.has_changes() && !a.auto_approve && !super::confirm("perform these actions") {
        println!("Cancelled; nothing was changed.");
        return Ok(false);
    }
    println!();
    d.state.git = git_info(&d.checked.loaded.src.dir());
    let progress = |line: &str| println!("{line}");
    let outcome = engine::apply(
        &d.clients,
        &d.graph,
        &plan,
        &mut d.state,
        &d.backend,
        engine::Walk::new(a.parallelism, false),
        &progress,
    )
    .await
    .map_err(|e| e.to_string())?;
    let count = |act: Action| {
        plan.changes
            .iter()
            .filter(|c| c.action == act && outcome.done.contains(&c.address))
            .count()
    };
    println!();
    if outcome.failed.is_empty() && !outcome.interrupted {
        println!(
            "Apply complete! Resources: {} added, {} changed, {} replaced, {} destroyed.",
            count(Action::Create),
            count(Action::Update),
            count(Action::Replace),
            count(Action::Delete)
        );
        return Ok(true);
    }
    for (addr, e) in &outcome.failed {
        eprintln!("error: {addr}: {}: {} ({})", e.code, e.message, e.operation);
    }
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
