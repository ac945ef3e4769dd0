//! Markdown summaries of plan, run and test for CI: appended to the file `GITHUB_STEP_SUMMARY`
//! names (GitHub Actions shows it on the run's page; the GitLab pipeline `dekit ci init` writes
//! sets it to an artifact). Nothing is written when it is not set.

use crate::plan::{Action, Plan};
use crate::quality::outcome::{Report, Verdict};
use crate::records::{Manifest, Status};
use std::io::Write;

/// Append `md` to the summary file, if there is one; a failure to write is a warning only.
pub fn append(md: &str) {
    let Some(path) = crate::settings::get().step_summary.clone() else {
        return;
    };
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(md.as_bytes()));
    if let Err(e) = written {
        eprintln!(
            "warning: the step summary {} was not written: {e}",
            std::path::Path::new(&path).display()
        );
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn plan(p: &Plan) -> String {
    let mut md = format!(
        "### dekit plan: stack `{}`, environment `{}`\n\n",
        p.stack, p.environment
    );
    let changes: Vec<_> = p
        .changes
        .iter()
        .filter(|c| c.action != Action::NoOp)
        .collect();
    if changes.is_empty() {
        md.push_str("No changes.\n\n");
        return md;
    }
    md.push_str("| action | resource | note |\n|---|---|---|\n");
    for c in &changes {
        let action = match c.action {
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "**replace**",
            Action::Delete => "**delete**",
            Action::NoOp => "",
        };
        let mut note = c.forces_replacement.join(", ");
        if let Some(d) = &c.data_impact {
            note = format!("{note} {d}").trim().to_string();
        }
        md.push_str(&format!(
            "| {action} | `{}` | {} |\n",
            c.address,
            cell(&note)
        ));
    }
    md.push_str(&format!(
        "\n**{} to add, {} to change, {} to replace, {} to destroy.**\n\n",
        p.count(Action::Create),
        p.count(Action::Update),
        p.count(Action::Replace),
        p.count(Action::Delete)
    ));
    md
}

pub fn run(m: &Manifest) -> String {
    let mut md = format!(
        "### dekit run `{}`: {} (stack `{}`, environment `{}`)\n\n| step | status | rows | seconds |\n|---|---|---:|---:|\n",
        m.run_id,
        if m.ok() { "succeeded" } else { "**FAILED**" },
        m.stack,
        m.environment
    );
    for s in &m.steps {
        let status = match s.status {
            Status::Succeeded => "succeeded".to_string(),
            Status::Failed => format!("**failed**: {}", cell(s.error.as_deref().unwrap_or(""))),
            Status::Skipped => "skipped".to_string(),
            Status::NotRun => "not run".to_string(),
        };
        md.push_str(&format!(
            "| `{}` | {status} | {} | {:.1} |\n",
            s.step,
            s.stats.rows,
            s.duration_ms as f64 / 1000.0
        ));
    }
    md.push('\n');
    md
}

pub fn test(r: &Report) -> String {
    let n = |v: Verdict| r.outcomes.iter().filter(|o| o.verdict == v).count();
    let mut md = format!(
        "### dekit test: {} checks, {} passed, {} warned, {} failed, {} skipped (stack `{}`, environment `{}`)\n\n",
        r.outcomes.len(),
        n(Verdict::Pass),
        n(Verdict::Warn),
        n(Verdict::Fail) + n(Verdict::Error),
        n(Verdict::Skipped),
        r.stack,
        r.environment
    );
    let shown: Vec<_> = r
        .outcomes
        .iter()
        .filter(|o| o.verdict != Verdict::Pass)
        .collect();
    if !shown.is_empty() {
        md.push_str("| check | verdict | what |\n|---|---|---|\n");
        for o in shown {
            let v = match o.verdict {
                Verdict::Fail => "**fail**",
                Verdict::Error => "**error**",
                Verdict::Warn => "warn",
                Verdict::Pass => "pass",
                Verdict::Skipped => "skipped",
            };
            md.push_str(&format!("| `{}` | {v} | {} |\n", o.name, cell(&o.message)));
        }
        md.push('\n');
    }
    md
}
