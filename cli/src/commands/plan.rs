//! `dekit plan FILE [--offline] [--json]`: what apply would change.

use super::StackArgs;
use crate::graph::compile;
use crate::plan::{self, render};
use std::collections::BTreeMap;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Plan against an empty account, without any network access.
    #[arg(long)]
    pub offline: bool,
    /// Print the plan as JSON.
    #[arg(long)]
    pub json: bool,
    /// Exit 0 when there are no changes, 2 when there are, 1 on errors.
    #[arg(long)]
    pub detailed_exitcode: bool,
}

pub fn run(a: Args) -> ExitCode {
    let Some(checked) = super::checked(&a.stack.file, a.stack.env.as_deref()) else {
        return ExitCode::FAILURE;
    };
    if !a.offline {
        eprintln!(
            "error: planning against live infrastructure is not available yet; use `--offline` to plan against an empty account"
        );
        return ExitCode::FAILURE;
    }
    let graph = compile::compile(&checked);
    let p = match plan::diff(&graph, &BTreeMap::new()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&p).expect("plan serializes")
        );
    } else {
        let header = format!(
            "dekit plan: stack `{}`, environment `{}` (offline: against an empty account)",
            p.stack, p.environment
        );
        print!("{}", render::text(&p, &header));
    }
    if a.detailed_exitcode && p.has_changes() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}
