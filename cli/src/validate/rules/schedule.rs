//! E120 schedule: schedules are AWS `cron(...)` (six fields) or `rate(...)` expressions.
//!
//! Why: Glue triggers and EventBridge reject bad expressions only at create time, and five-field
//! Unix cron looks valid but is not.
//!
//! Example: `schedule: 0 2 * * *` → `schedule: cron(0 2 * * ? *)`.

use super::Rule;
use crate::diagnostic::Diagnostic;
use crate::validate::Cx;
use crate::yaml::Spanned;

pub const RULE: Rule = Rule {
    code: "E120",
    name: "schedule",
    summary: "schedules parse as AWS cron or rate expressions",
    hint: "AWS schedules look like `cron(0 2 * * ? *)` (six fields, one of day-of-month/day-of-week is `?`) or `rate(1 hour)`",
    source: include_str!("schedule.rs"),
    also: &[],
    check,
};

fn check(cx: &Cx, out: &mut Vec<Diagnostic>) {
    let s = &cx.loaded.stack;
    let mut all: Vec<&Spanned<String>> = s
        .ingest
        .batch
        .iter()
        .filter_map(|(_, b)| b.schedule.as_ref())
        .collect();
    all.extend(
        s.tables
            .iter()
            .filter_map(|(_, t)| t.crawler.as_ref()?.schedule.as_ref()),
    );
    all.extend(
        s.serving
            .exports
            .iter()
            .filter_map(|(_, e)| e.schedule.as_ref()),
    );
    all.extend(s.orchestration.iter().filter_map(|o| o.schedule.as_ref()));
    for sched in all {
        if let Err(e) = crate::schedule::parse(sched) {
            let mut d = cx.error_in(
                "E120",
                format!("invalid schedule: {}", e.message),
                sched,
                e.offset,
                e.len,
            );
            if !sched.starts_with("cron(") && !sched.starts_with("rate(") {
                d = d.hint("AWS schedules look like `cron(0 2 * * ? *)` (minutes hours day-of-month month day-of-week year) or `rate(1 hour)`");
            }
            out.push(d);
        }
    }
}
