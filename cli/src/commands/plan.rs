//! `dekit plan FILE`: refresh live state and show what apply would change (`--offline`: against an
//! empty account, without network).

use super::StackArgs;
use crate::deploy;
use crate::graph::compile;
use crate::plan::saved::SavedPlan;
use crate::plan::{self, render};
use std::collections::BTreeMap;
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
    /// Plan against an empty account, without any network access.
    #[arg(long)]
    pub offline: bool,
    /// Print the plan as JSON.
    #[arg(long)]
    pub json: bool,
    /// Exit 0 when there are no changes, 2 when there are, 1 on errors.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Save the plan; `dekit apply FILE --plan PATH` applies exactly it, if nothing changed since.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Only this resource (and what it depends on). Repeatable.
    #[arg(long)]
    pub target: Vec<String>,
    /// Start the local cloud if a `local` environment finds it stopped.
    #[arg(long)]
    pub start_local: bool,
    /// Concurrent API calls while refreshing.
    #[arg(long, default_value_t = 10)]
    pub parallelism: usize,
}

pub fn run(a: Args) -> ExitCode {
    let timings = a.timings.clone();
    super::traced(timings, || execute(a))
}

fn execute(a: Args) -> ExitCode {
    let Some(checked) = super::checked_or_json(&a.stack.file, a.stack.env.as_deref(), a.json)
    else {
        return ExitCode::FAILURE;
    };
    let stack_hash = crate::hash::sha256(&checked.loaded.src.text);
    let (p, header, saved) = if a.offline {
        let graph = match compile::compile(&checked) {
            Ok(g) => g,
            Err(e) => return super::fail(&e.to_string()),
        };
        if let Some(t) = a.target.iter().find(|t| graph.get(t).is_none()) {
            return super::fail(&format!(
                "--target {t}: no such resource in the stack (see `dekit graph`)"
            ));
        }
        let mut p = match plan::diff(&graph, &BTreeMap::new()) {
            Ok(p) => p,
            Err(e) => return super::fail(&e.to_string()),
        };
        if !a.target.is_empty() {
            p.retain_targets(&graph, &a.target);
        }
        let h = format!(
            "dekit plan: stack `{}`, environment `{}` (offline: against an empty account)",
            p.stack, p.environment
        );
        (p, h, None)
    } else {
        let result = super::block_on(async {
            let d = deploy::open(checked, a.start_local).await?;
            d.check_targets(&a.target)?;
            let mut p = d.plan(a.parallelism).await?;
            if !a.target.is_empty() {
                p.retain_targets(&d.graph, &a.target);
            }
            Ok::<_, String>((p, d.state.lineage.clone(), d.state.serial))
        });
        match result {
            Ok((p, lineage, serial)) => {
                let h = format!(
                    "dekit plan: stack `{}`, environment `{}`",
                    p.stack, p.environment
                );
                (p, h, Some((lineage, serial)))
            }
            Err(e) => return super::fail(&e),
        }
    };
    if let Some(path) = &a.out {
        let Some((lineage, serial)) = saved else {
            return super::fail("--out needs a live plan (without --offline)");
        };
        let doc = SavedPlan {
            lineage,
            serial,
            stack_sha256: stack_hash,
            plan: p.clone(),
        };
        if let Err(e) = doc.write(path) {
            return super::fail(&e);
        }
    }
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&p).expect("plan serializes")
        );
    } else {
        print!("{}", render::colorize(&render::text(&p, &header)));
        if let Some(path) = &a.out {
            println!(
                "\nSaved the plan to {}. Apply exactly it with `dekit apply {} --plan {}`.",
                path.display(),
                a.stack.file.display(),
                path.display()
            );
        }
    }
    if a.detailed_exitcode && p.has_changes() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}
