//! W121 batch-schedule-in-pipeline: with `orchestration:`, a batch load's own `schedule:` is not
//! deployed; the pipeline's schedule runs the load.
//!
//! Why: one scheduler, one semantics. The deployed pipeline runs each load with exactly the code
//! `dekit run` uses (watermarks, load ids, the error prefix); a Glue trigger beside it would load
//! the same tables a second time by another route, with none of that. So the trigger is folded
//! into the pipeline, and the batch's `schedule:` says something that no longer happens.
//!
//! Example: `ingest.batch.shop_tables.schedule: cron(0 2 * * ? *)` beside `orchestration:` →
//! remove the batch's `schedule:` and set `orchestration.schedule: cron(0 2 * * ? *)` (the
//! pipeline runs every step, loads first); to keep the Glue trigger, remove `orchestration:`.

use super::Rule;
use crate::diagnostic::Diagnostic;
use crate::validate::Cx;

pub const RULE: Rule = Rule {
    code: "W121",
    name: "batch-schedule-in-pipeline",
    summary: "with a deployed pipeline, batch loads run on the pipeline's schedule, not their own",
    hint: "remove the batch's `schedule:`; `orchestration.schedule` runs it (or remove `orchestration:` to keep the Glue trigger)",
    source: include_str!("batch_schedule.rs"),
    also: &[],
    check,
};

fn check(cx: &Cx, out: &mut Vec<Diagnostic>) {
    let s = &cx.loaded.stack;
    let Some(pipeline) = &s.orchestration else {
        return;
    };
    let every = pipeline
        .schedule
        .as_ref()
        .map_or("its schedule".to_string(), |p| format!("`{}`", p.value));
    for (name, batch) in s.ingest.batch.iter() {
        let Some(own) = &batch.schedule else { continue };
        out.push(
            cx.warning(
                "W121",
                format!(
                    "batch `{}` keeps its own schedule `{}`, but the pipeline (`orchestration:`) runs it on {every}: no Glue trigger is deployed for it",
                    name.value, own.value
                ),
                own.span,
            )
            .hint("remove this `schedule:` (the pipeline loads it, then runs what depends on it), or remove `orchestration:` to keep the Glue trigger"),
        );
    }
}
