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
    /// Concurrent resource operations. Most of an operation is waiting (for a stream to be
    /// ACTIVE, for a delete to finish), so more than the few calls a service serves at once;
    /// throttled calls back off and retry.
    #[arg(long, default_value_t = 20)]
    pub parallelism: usize,
    /// Only what changed since git revision REF (the stack's components and SQL files) and
    /// everything that depends on it.
    #[arg(long, value_name = "REF")]
    pub since: Option<String>,
}

pub fn run(a: Args) -> ExitCode {
    let timings = a.timings.clone();
    super::traced(timings, || execute(a))
}

// Long: one linear sequence, load → refresh → diff → render → save → exit code; to split next.
fn execute(a: Args) -> ExitCode {
    let Some(checked) = super::checked_or_json(&a.stack.file, a.stack.env.as_deref(), a.json)
    else {
        return ExitCode::FAILURE;
    };
    let stack_hash = crate::hash::sha256(&checked.loaded.src.text);
    let since = match &a.since {
        Some(rev) => match crate::revision::since(&checked.loaded, rev) {
            Ok(c) => Some((rev.clone(), c)),
            Err(e) => return super::fail(&e),
        },
        None => None,
    };
    let mut selected = std::collections::BTreeSet::new();
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
        if let Some((_, changes)) = &since {
            let keep = crate::revision::addresses(changes, &graph);
            p.changes.retain(|c| keep.contains(&c.address));
            selected = crate::revision::selected(changes, &graph, &checked.loaded.stack);
        }
        let h = format!(
            "dekit plan: stack `{}`, environment `{}` (offline: against an empty account)",
            p.stack, p.environment
        );
        (p, h, None)
    } else {
        let result = crate::runtime::block_on(async {
            let d = deploy::open(checked, a.start_local).await?;
            d.check_targets(&a.target)?;
            let mut p = d.plan(a.parallelism).await?;
            if !a.target.is_empty() {
                p.retain_targets(&d.graph, &a.target);
            }
            let mut selected = Default::default();
            if let Some((_, changes)) = &since {
                let keep = crate::revision::addresses(changes, &d.graph);
                p.changes.retain(|c| keep.contains(&c.address));
                selected = crate::revision::selected(changes, &d.graph, &d.checked.loaded.stack);
            }
            Ok::<_, String>((p, d.state.lineage.clone(), d.state.serial, selected))
        });
        match result {
            Ok((p, lineage, serial, sel)) => {
                selected = sel;
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
    crate::summary::append(&crate::summary::plan(&p));
    if a.json {
        let mut v = serde_json::to_value(&p).expect("plan serializes");
        if let Some((rev, changes)) = &since {
            v["since"] =
                serde_json::json!({ "ref": rev, "changed": changes, "selected": selected });
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&v).expect("plan serializes")
        );
    } else {
        let header = match &since {
            Some((rev, changes)) => format!(
                "{header}\nSince {rev}: {}; the plan is limited to them and what depends on them; `run --since {rev}` runs {}.",
                if changes.is_empty() {
                    "nothing changed".to_string()
                } else {
                    format!(
                        "changed {}",
                        changes
                            .iter()
                            .map(|c| c.component.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                },
                if selected.is_empty() {
                    "nothing".to_string()
                } else {
                    selected.iter().cloned().collect::<Vec<_>>().join(", ")
                }
            ),
            None => header,
        };
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
