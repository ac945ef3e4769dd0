//! `volume_anomaly` and `freshness_anomaly`: the last run against the history of runs (their
//! manifests in `_dekit/runs/`), by robust statistics — the median and the median absolute
//! deviation, so one odd run in the history does not move the band. Failed runs are left out.
//!
//! Why: a fixed `row_count: {min: 1}` does not notice a load that brought 12 rows instead of the
//! usual 5,000, or a table nobody wrote for three days when it is written hourly.
//!
//! The band: median ± tolerance × max(1.4826 × MAD, 10% of the median). 1.4826 × MAD estimates
//! the standard deviation of normal data; the floor keeps a perfectly steady history from failing
//! on the smallest change.
//!
//! Example: `orders: [{volume_anomaly: {runs: 10, min_runs: 5, tolerance: 3}}]`.

use super::outcome::Found;
use crate::model::{Anomaly, Check};
use crate::records::{Manifest, Status};
use crate::transform::session::Catalog;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// A verdict with its reason, and the figures behind it (the failure's "row").
pub struct Judged {
    pub failed: bool,
    /// Too little history to judge: neither a pass nor a failure.
    pub skipped: bool,
    pub message: String,
    pub detail: Value,
}

/// Median and robust deviation of `values` (not empty).
pub fn band(values: &[f64]) -> (f64, f64) {
    let med = median(values);
    let dev: Vec<f64> = values.iter().map(|v| (v - med).abs()).collect();
    let mad = median(&dev);
    (med, (1.4826 * mad).max(0.1 * med.abs()))
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// (finished at, rows) of each successful run of `step`, oldest first; a batch step's rows for
/// `relation` when it recorded them per table.
pub fn history(manifests: &[Manifest], step: &str, relation: &str) -> Vec<(DateTime<Utc>, u64)> {
    let mut out: Vec<(DateTime<Utc>, u64)> = manifests
        .iter()
        .filter(|m| m.ok())
        .filter_map(|m| {
            let s = m
                .steps
                .iter()
                .find(|s| s.step == step && s.status == Status::Succeeded)?;
            let at = DateTime::parse_from_rfc3339(&m.finished_at).ok()?;
            let rows = s
                .stats
                .by_table
                .get(relation)
                .copied()
                .unwrap_or(s.stats.rows);
            Some((at.with_timezone(&Utc), rows))
        })
        .collect();
    out.sort_by_key(|(t, _)| *t);
    out
}

fn too_short(have: usize, a: &Anomaly, what: &str) -> Judged {
    Judged {
        failed: false,
        skipped: true,
        message: format!(
            "skipped: {have} {what} of history, {} needed before it judges",
            a.min_runs
        ),
        detail: json!({ "history": have, "min_runs": a.min_runs }),
    }
}

/// The latest run's rows against the runs before it.
pub fn volume(a: &Anomaly, hist: &[(DateTime<Utc>, u64)]) -> Judged {
    let Some(((_, last), before)) = hist.split_last() else {
        return too_short(0, a, "runs");
    };
    let before: Vec<f64> = before
        .iter()
        .rev()
        .take(a.runs as usize)
        .map(|(_, r)| *r as f64)
        .collect();
    if before.len() < a.min_runs as usize {
        return too_short(before.len(), a, "runs");
    }
    let (med, dev) = band(&before);
    let (lo, hi) = ((med - a.tolerance * dev).max(0.0), med + a.tolerance * dev);
    let v = *last as f64;
    let failed = v < lo || v > hi;
    Judged {
        failed,
        skipped: false,
        message: format!(
            "{}: the last run wrote {last} rows; the {} runs before: median {med:.0}, robust deviation {dev:.1}, so {lo:.0}..{hi:.0} (± {} deviations)",
            if failed { "anomaly" } else { "passed" },
            before.len(),
            a.tolerance
        ),
        detail: json!({ "rows": last, "median": med, "deviation": dev, "low": lo, "high": hi, "runs": before.len() }),
    }
}

/// The time since the last successful write against the usual interval between writes.
pub fn freshness(a: &Anomaly, hist: &[(DateTime<Utc>, u64)], now: DateTime<Utc>) -> Judged {
    let times: Vec<DateTime<Utc>> = hist
        .iter()
        .rev()
        .take(a.runs as usize + 1)
        .map(|(t, _)| *t)
        .collect();
    let intervals: Vec<f64> = times
        .windows(2)
        .map(|w| (w[0] - w[1]).num_milliseconds() as f64 / 3_600_000.0)
        .collect();
    if intervals.len() < a.min_runs as usize {
        return too_short(intervals.len(), a, "intervals between runs");
    }
    let (med, dev) = band(&intervals);
    let limit = med + a.tolerance * dev;
    let age = (now - times[0]).num_milliseconds() as f64 / 3_600_000.0;
    let failed = age > limit;
    Judged {
        failed,
        skipped: false,
        message: format!(
            "{}: last written {age:.2} h ago; the usual interval is {med:.2} h (median of {}), robust deviation {dev:.2} h, so at most {limit:.2} h (+ {} deviations)",
            if failed { "stale" } else { "passed" },
            intervals.len(),
            a.tolerance
        ),
        detail: json!({ "age_hours": age, "median_hours": med, "deviation_hours": dev, "limit_hours": limit, "last_written": times[0].to_rfc3339() }),
    }
}

/// An anomaly check of `relation` against the runs in `runs` of the step that produces it.
pub fn against_history(
    cat: Catalog<'_>,
    c: &Check,
    a: &Anomaly,
    relation: &str,
    runs: &[Manifest],
) -> Found {
    let step =
        crate::graph::steps::producer(&cat.checked.loaded.stack, relation).unwrap_or_default();
    let hist = history(runs, &step, relation);
    let j = match c {
        Check::VolumeAnomaly(_) => volume(a, &hist),
        _ => freshness(a, &hist, crate::clock::now()),
    };
    Found {
        failures: j.failed as u64,
        sample: if j.failed { vec![j.detail] } else { vec![] },
        stored: None,
        message: Some(format!("{} (step {step})", j.message)),
        skipped: j.skipped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a() -> Anomaly {
        Anomaly {
            runs: 10,
            min_runs: 5,
            tolerance: 3.0,
        }
    }

    fn hist(rows: &[u64]) -> Vec<(DateTime<Utc>, u64)> {
        let t0 = DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        rows.iter()
            .enumerate()
            .map(|(i, r)| (t0 + chrono::Duration::hours(i as i64), *r))
            .collect()
    }

    #[test]
    fn median_and_deviation_resist_one_outlier() {
        let (m, d) = band(&[100.0, 102.0, 98.0, 101.0, 5000.0]);
        assert_eq!(m, 101.0);
        // MAD = 1 (|100-101|,|102-101|,|98-101|,0,4899 → 1); the 10% floor wins.
        assert!((d - 10.1).abs() < 1e-9, "{d}");
    }

    #[test]
    fn volume_flags_a_drop_and_passes_the_usual() {
        let usual = hist(&[500, 510, 490, 505, 495, 500]);
        assert!(!volume(&a(), &usual).failed);
        let drop = hist(&[500, 510, 490, 505, 495, 12]);
        let j = volume(&a(), &drop);
        assert!(j.failed, "{}", j.message);
        assert!(j.message.contains("wrote 12 rows"), "{}", j.message);
        assert!(j.message.contains("median 500"), "{}", j.message);
    }

    #[test]
    fn short_history_is_skipped_saying_so() {
        let j = volume(&a(), &hist(&[500, 1]));
        assert!(!j.failed && j.skipped);
        assert!(
            j.message.contains("1 runs of history, 5 needed"),
            "{}",
            j.message
        );
    }

    #[test]
    fn freshness_against_the_usual_interval() {
        let h = hist(&[1, 1, 1, 1, 1, 1, 1]); // hourly
        let last = h.last().unwrap().0;
        assert!(!freshness(&a(), &h, last + chrono::Duration::minutes(50)).failed);
        let j = freshness(&a(), &h, last + chrono::Duration::hours(5));
        assert!(j.failed, "{}", j.message);
        assert!(
            j.message.contains("usual interval is 1.00 h"),
            "{}",
            j.message
        );
    }
}
