//! W201 orchestration-not-deployed: `orchestration:` describes the pipeline deployed as a Step
//! Functions state machine running dekit on Lambda; this version's `apply` deploys the step
//! runtime (the Lambda function) and renders the state machine (`dekit graph FILE --format asl`),
//! but deploys neither the state machine nor its schedule yet.
//!
//! Why: a section that reads as a schedule must not let anyone believe the pipeline runs on its
//! own. Until `apply` deploys it, run the pipeline with `dekit run` from a scheduler you own.
//!
//! Example: `orchestration: {schedule: rate(1 hour)}` → check the state machine with
//! `dekit graph stack.yaml --format asl`; schedule `dekit run` elsewhere meanwhile.

use super::Rule;
use crate::diagnostic::Diagnostic;
use crate::validate::Cx;

pub const RULE: Rule = Rule {
    code: "W201",
    name: "orchestration-not-deployed",
    summary: "`orchestration:` is deployed without its state machine and schedule yet",
    hint: "inspect it with `dekit graph FILE --format asl`; schedule `dekit run` meanwhile",
    source: include_str!("orchestration.rs"),
    also: &[],
    check,
};

fn check(cx: &Cx, out: &mut Vec<Diagnostic>) {
    if let Some(o) = &cx.loaded.stack.orchestration {
        out.push(cx.warning(
            "W201",
            "`apply` deploys the step runtime of `orchestration:` but not yet its state machine and schedule: nothing runs the pipeline on its own yet",
            o.span,
        ));
    }
}
