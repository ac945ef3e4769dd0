//! `dekit destroy FILE`: delete everything of the stack, dependents first: what the state records
//! and what a killed apply created without recording it.

use super::StackArgs;
use super::reporters::Lines;
use crate::deploy::{self, Deployment};
use crate::engine;
use crate::plan::render;
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
    /// Also delete buckets and tables that still hold data.
    #[arg(long)]
    pub force_delete_data: bool,
    /// Concurrent resource operations. Most of an operation is waiting (for a stream to be
    /// ACTIVE, for a delete to finish), so more than the few calls a service serves at once;
    /// throttled calls back off and retry.
    #[arg(long, default_value_t = 20)]
    pub parallelism: usize,
    #[arg(long)]
    pub start_local: bool,
    /// Destroy without asking. Required when there is no terminal to ask on (CI).
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
    let result = crate::runtime::block_on(async move {
        let mut d = deploy::open(checked, a.start_local).await?;
        d.locked("destroy", async |d| locked(d, &a).await).await
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => super::fail(&e),
    }
}

async fn locked(d: &mut Deployment, a: &Args) -> Result<bool, String> {
    d.guard_prevent_destroy()?;
    let plan = d.destroy_plan(a.parallelism).await?;
    if d.forget_missing(&plan) {
        d.backend
            .save(&mut d.state)
            .await
            .map_err(|e| e.to_string())?;
    }
    let header = format!(
        "dekit destroy: stack `{}`, environment `{}`",
        plan.stack, plan.environment
    );
    let shown = render::colorize(&render::text(&plan, &header));
    if a.json {
        eprint!("{shown}");
    } else {
        print!("{shown}");
    }
    if !plan.has_changes() {
        if a.json {
            println!("{}", super::outcome_json("destroy", &plan, None));
        }
        return Ok(true);
    }
    if !super::approved(a.auto_approve, "destroy all these resources") {
        return Ok(false);
    }
    if !a.json {
        println!();
    }
    let outcome = engine::apply(
        &d.clients,
        &d.graph,
        &plan,
        &mut d.state,
        &d.backend,
        engine::Walk::new(a.parallelism, a.force_delete_data),
        &Lines { stderr: a.json },
    )
    .await
    .map_err(|e| e.to_string())?;
    if a.json {
        println!("{}", super::outcome_json("destroy", &plan, Some(&outcome)));
    }
    if outcome.failed.is_empty() && !outcome.interrupted {
        if !a.json {
            println!(
                "\nDestroy complete! Resources: {} destroyed.",
                outcome.done.len()
            );
        }
        return Ok(true);
    }
    super::print_failures(&outcome);
    eprintln!(
        "Destroy incomplete: {} destroyed, {} failed, {} skipped.",
        outcome.done.len(),
        outcome.failed.len(),
        outcome.skipped.len()
    );
    Ok(false)
}
