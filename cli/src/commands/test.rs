//! `dekit test FILE`: the stack's quality checks, unit tests and reconciliations (streams, loads,
//! database exports), run against the environment's lake; a line per check, a sample of what
//! failed, JUnit XML for CI (`--junit FILE`), the report as JSON (`--json`); exit 1 when any check
//! fails.

use super::StackArgs;
use crate::deploy;
use crate::quality::{junit, outcome, runner};
use crate::transform::session::Catalog;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Tables, models or views whose checks run (repeatable; default all).
    #[arg(long, short)]
    pub select: Vec<String>,
    /// Write JUnit XML here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<std::path::PathBuf>,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: Args) -> ExitCode {
    let Some(checked) = super::checked_or_json(&a.stack.file, a.stack.env.as_deref(), a.json)
    else {
        return ExitCode::FAILURE;
    };
    let select: Vec<String> = a
        .select
        .iter()
        .map(|s| s.trim_matches('+').to_string())
        .collect();
    // A relation (its checks, its reconciliation, its unit tests) or a unit test's name.
    if let Some(bad) = select.iter().find(|s| {
        let st = &checked.loaded.stack;
        st.quality.get(s.as_str()).is_none()
            && st.unit_tests.get(s.as_str()).is_none()
            && st.tables.get(s.as_str()).is_none()
            && st.transforms.get(s.as_str()).is_none()
            && st.serving.views.get(s.as_str()).is_none()
    }) {
        return super::fail(&format!(
            "`{bad}` is not a table, model, view or unit test of this stack"
        ));
    }
    let result = crate::runtime::block_on(async move {
        let d = deploy::open(checked, false).await?;
        let lake = crate::lake::Lake::of(&d.checked.loaded, d.clients.clone());
        let cat = Catalog {
            checked: &d.checked,
            graph: &d.graph,
            clients: &d.clients,
        };
        let report = runner::run(cat, &lake, &select).await?;
        crate::lineage::tested(
            &d.checked.loaded,
            &report.test_id,
            &report.started_at,
            &report.assertions(),
        )
        .await;
        Ok::<_, String>(report)
    });
    let report = match result {
        Ok(r) => r,
        Err(e) => return super::fail(&e),
    };
    crate::summary::append(&crate::summary::test(&report));
    if let Some(path) = &a.junit
        && let Err(e) = std::fs::write(path, junit::render(&report))
    {
        return super::fail(&format!("writing {}: {e}", path.display()));
    }
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("report serializes")
        );
    } else {
        for o in &report.outcomes {
            let mark = match o.verdict {
                outcome::Verdict::Pass => "PASS ",
                outcome::Verdict::Fail => "FAIL ",
                outcome::Verdict::Warn => "WARN ",
                outcome::Verdict::Error => "ERROR",
                outcome::Verdict::Skipped => "SKIP ",
            };
            println!("{mark} {}: {}", o.name, o.message);
            for s in &o.sample {
                println!("        {s}");
            }
            if let Some(s) = &o.stored {
                println!("        all failing rows: {s}");
            }
        }
        let n = |v: outcome::Verdict| report.outcomes.iter().filter(|o| o.verdict == v).count();
        let (failed, warned) = (
            n(outcome::Verdict::Fail) + n(outcome::Verdict::Error),
            n(outcome::Verdict::Warn),
        );
        println!(
            "\n{} checks, {} passed, {warned} warned, {failed} failed, {} skipped. Report: _dekit/tests/{}.json in the lake.",
            report.outcomes.len(),
            n(outcome::Verdict::Pass),
            n(outcome::Verdict::Skipped),
            report.test_id
        );
    }
    if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
