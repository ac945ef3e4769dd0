//! E160 value-range: numbers are within the limits AWS enforces.
//!
//! Why: Kinesis retention (24-8760 h), Firehose buffering (1-128 MiB, 0-900 s), alarm periods
//! (10, 30 or a multiple of 60 s) and S3 lifecycle days are rejected by AWS at create time.
//!
//! Example: `retention_hours: 12` → at least 24.

use super::Rule;
use crate::diagnostic::Diagnostic;
use crate::model::StreamMode;
use crate::validate::Cx;
use crate::yaml::Spanned;

pub const RULE: Rule = Rule {
    code: "E160",
    name: "value-range",
    summary: "numbers are within AWS limits",
    hint: "AWS rejects out-of-range values only when it creates the resource; pick a value inside the range",
    source: include_str!("value_range.rs"),
    also: &[],
    check,
};

// Long: one arm per bounded setting, each with its own range and diagnostic.
fn check(cx: &Cx, out: &mut Vec<Diagnostic>) {
    let s = &cx.loaded.stack;
    let range = |v: &Spanned<u32>, lo: u32, hi: u32, what: &str, out: &mut Vec<Diagnostic>| {
        if v.value < lo || v.value > hi {
            out.push(cx.error(
                "E160",
                format!("{what} must be {lo} to {hi}, found {}", v.value),
                v.span,
            ));
        }
    };
    if let Some(o) = &s.orchestration {
        // Lambda runs an invocation for at most 15 minutes, with 128 MiB to 10 GiB.
        range(&o.step_timeout_seconds, 1, 900, "step_timeout_seconds", out);
        range(&o.memory_mb, 128, 10_240, "memory_mb", out);
        range(&o.retries, 0, 10, "retries", out);
        range(
            &o.rows_per_invocation,
            1_000,
            1_000_000_000,
            "rows_per_invocation",
            out,
        );
    }
    for (_, st) in s.ingest.streams.iter() {
        if let Some(sh) = &st.shards {
            if st.mode == StreamMode::OnDemand {
                out.push(
                    cx.error("E160", "`shards` is only for provisioned streams", sh.span)
                        .hint("remove `shards`, or set `mode: provisioned`"),
                );
            } else {
                range(sh, 1, 10_000, "shards", out);
            }
        }
        if let Some(r) = &st.retention_hours {
            range(r, 24, 8760, "retention_hours", out);
        }
        if let Some(d) = &st.delivery {
            range(&d.buffer.size_mb, 1, 128, "buffer.size_mb", out);
            range(
                &d.buffer.interval_seconds,
                0,
                900,
                "buffer.interval_seconds",
                out,
            );
            // Parquet delivery needs Firehose record-format conversion against a Glue schema,
            // which dekit does not configure yet: refuse it rather than deliver JSON silently.
            if d.format.value != crate::model::DataFormat::Json {
                out.push(
                    cx.error(
                        "E160",
                        "dekit delivers streams to the lake as `json` only (for now)",
                        d.format.span,
                    )
                    .hint(
                        "use `format: json`; a transform can write parquet into the curated zone",
                    ),
                );
            }
        }
    }
    for (_, z) in s.storage.lake.zones.iter() {
        let expire = z.expire_days.as_ref().map(|e| e.value);
        if let Some(e) = &z.expire_days {
            range(e, 1, 36_500, "expire_days", out);
        }
        if let Some(e) = &z.noncurrent_expire_days {
            range(e, 1, 36_500, "noncurrent_expire_days", out);
        }
        for pair in z.transitions.windows(2) {
            // S3 applies transitions in order of days; a later one must come later and go
            // elsewhere, or the rule is refused (or one step never happens).
            if pair[1].days.value <= pair[0].days.value {
                out.push(cx.error(
                    "E160",
                    format!(
                        "transitions must be in order of days: {} after {}",
                        pair[1].days.value, pair[0].days.value
                    ),
                    pair[1].days.span,
                ));
            } else if pair[1].storage_class.value == pair[0].storage_class.value {
                out.push(cx.error(
                    "E160",
                    format!(
                        "two transitions to {}",
                        pair[1].storage_class.value.as_str()
                    ),
                    pair[1].storage_class.span,
                ));
            }
        }
        for t in &z.transitions {
            let min = t.storage_class.min_days();
            if t.days.value < min {
                out.push(cx.error(
                    "E160",
                    format!(
                        "S3 moves objects to {} after at least {min} days, found {}",
                        t.storage_class.as_str(),
                        t.days.value
                    ),
                    t.days.span,
                ));
            }
            if let Some(e) = expire
                && t.days.value >= e
            {
                out.push(cx.error(
                    "E160",
                    format!(
                        "transition after {} days never happens: objects expire after {e} days",
                        t.days.value
                    ),
                    t.days.span,
                ));
            }
        }
    }
    for (name, a) in s.observe.alarms.iter() {
        // Every metric dekit alarms on is a count, a rate or an age: never below 0.
        if !a.threshold.is_finite() || a.threshold < 0.0 {
            out.push(
                cx.error(
                    "E160",
                    format!(
                        "alarm `{}`: threshold must be 0 or more, found {}",
                        name.value, a.threshold
                    ),
                    name.span,
                )
                .hint("its metric is a count, a rate or an age, never negative: the alarm would be always on or never"),
            );
        }
        let p = a.period_seconds.value;
        if !(p == 10 || p == 30 || (p >= 60 && p % 60 == 0)) {
            out.push(cx.error(
                "E160",
                format!("alarm period must be 10, 30 or a multiple of 60 seconds, found {p}"),
                a.period_seconds.span,
            ));
        }
        range(&a.evaluation_periods, 1, 100, "evaluation_periods", out);
    }
    for (_, src) in s.sources.iter() {
        if let Some(p) = &src.port
            && p.value == 0
        {
            out.push(cx.error("E160", "port must be 1 to 65535", p.span));
        }
    }
    for (_, checks) in s.quality.iter() {
        for c in checks {
            match &c.check {
                crate::model::Check::RowCount(r) => {
                    if let (Some(lo), Some(hi)) = (&r.min, &r.max)
                        && lo.value > hi.value
                    {
                        out.push(cx.error(
                            "E160",
                            format!("row_count min {} is larger than max {}", lo.value, hi.value),
                            lo.span,
                        ));
                    }
                }
                crate::model::Check::Freshness(f) => {
                    range(&f.max_age_hours, 1, 8760, "max_age_hours", out)
                }
                crate::model::Check::Range(r) => {
                    if let (Some(lo), Some(hi)) = (r.min, r.max)
                        && lo > hi
                    {
                        out.push(cx.error(
                            "E160",
                            format!("range min {lo} is larger than max {hi}: every row would fail"),
                            r.column.span,
                        ));
                    }
                }
                _ => {}
            }
        }
    }
}
