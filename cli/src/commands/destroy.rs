//! `dekit destroy FILE`: delete everything the stack's state records, dependents first.

use super::StackArgs;
use crate::deploy;
use crate::engine;
use crate::plan::render;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Also delete buckets and tables that still hold data.
    #[arg(long)]
    pub force_delete_data: bool,
    #[arg(long, default_value_t = 10)]
    pub parallelism: usize,
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
    let result = super::block_on(async move {
        let mut d = deploy::open(checked, a.start_local).await?;
        let lock = d.lock("destroy").await?;
        let result = locked(&mut d, &a).await;
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

async fn locked(d: &mut deploy::Deployment, a: &Args) -> Result<bool, String> {
    let guarded: Vec<&String> = d
        .state
        .resources
        .iter()
        .filter(|(addr, r)| {
            r.attrs.get("prevent_destroy") == Some(&serde_json::Value::Bool(true))
                || d.graph.get(addr).is_some_and(|n| {
                    n.attrs.get("prevent_destroy") == Some(&serde_json::Value::Bool(true))
                })
        })
        .map(|(a, _)| a)
        .collect();
    if !guarded.is_empty() {
        return Err(format!(
            "refusing to destroy: {} {} `prevent_destroy: true`; remove it from the stack first",
            guarded
                .iter()
                .map(|g| g.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            if guarded.len() == 1 { "has" } else { "have" }
        ));
    }
    let plan = d.destroy_plan().await;
    let header = format!(
        "dekit destroy: stack `{}`, environment `{}`",
        plan.stack, plan.environment
    );
    print!("{}", render::colorize(&render::text(&plan, &header)));
    if !plan.has_changes() {
        return Ok(true);
    }
    if plan.has_changes() && !a.auto_approve && !super::confirm("destroy all these resources") {
        println!("Cancelled; nothing was changed.");
        return Ok(false);
    }
    println!();
    let progress = |line: &str| println!("{line}");
    let outcome = engine::apply(
        &d.clients,
        &d.graph,
        &plan,
        &mut d.state,
        &d.backend,
        engine::Walk::new(a.parallelism, a.force_delete_data),
        &progress,
    )
    .await
    .map_err(|e| e.to_string())?;
    if outcome.failed.is_empty() && !outcome.interrupted {
        println!(
            "\nDestroy complete! Resources: {} destroyed.",
            outcome.done.len()
        );
        return Ok(true);
    }
    for (addr, e) in &outcome.failed {
        eprintln!("error: {addr}: {}: {} ({})", e.code, e.message, e.operation);
    }
    eprintln!(
        "Destroy incomplete: {} destroyed, {} failed, {} skipped.",
        outcome.done.len(),
        outcome.failed.len(),
        outcome.skipped.len()
    );
    Ok(false)
}
