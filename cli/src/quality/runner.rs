//! `dekit test`: every selected quality check run where the data is (the local engine over the
//! lake, or Athena on AWS), each with its failing-row count, a sample of the offending rows, and
//! all of them stored in the lake under `_dekit/failures/<relation>/<n>-<check>` (dbt's
//! `store_failures`); the unit tests; and the reconciliations (`reconcile`).

use super::outcome::{At, Outcome, Report, Verdict};
use super::reconcile;
use crate::lake::Lake;
use crate::model::Check;
use crate::records::Manifest;
use crate::transform::catalog::Snapshot;
use crate::transform::engine::SqlEngine;
use crate::transform::session::{self, Catalog};
use std::time::Instant;

/// Run the checks of `relations` (all when empty) and the reconciliations.
///
/// The stack flows one way from here: the catalog is read once, the session registered from it,
/// and each check handed to the module that judges its kind, on the engine chosen once.
// Long: one loop over the checks, each kind a call; the history and the session are shared across them.
pub async fn run(cat: Catalog<'_>, lake: &Lake, relations: &[String]) -> Result<Report, String> {
    let s = &cat.checked.loaded.stack;
    let started = crate::clock::now();
    let test_id = crate::clock::run_id();
    // The SQL checks run where the data is: on AWS, Athena.
    let engine = SqlEngine::of(cat.checked);
    let glue = Snapshot::all(cat.clients, &cat.database(), &s.models()).await?;
    let ctx = session::new(cat)?;
    let unavailable = session::register_stack(&ctx, cat, &glue).await?;
    let mut outcomes = vec![];
    let mut history: Option<Vec<Manifest>> = None;
    let asked = |name: &str| relations.is_empty() || relations.iter().any(|r| r == name);
    for (rel, checks) in s.quality.iter().filter(|(rel, _)| asked(&rel.value)) {
        for (index, qc) in checks.iter().enumerate() {
            let c = &qc.check;
            let t = Instant::now();
            let (kind, label, query) = (
                crate::checks::kind(c),
                crate::checks::label(c),
                crate::checks::query(c, &rel.value),
            );
            let at = At {
                relation: &rel.value,
                index,
                kind,
            };
            let found = match (c, &query) {
                (Check::Schema(sc), _) => {
                    super::schema::check_columns(cat, &ctx, &glue, lake, &at, sc.allow_extra).await
                }
                (Check::VolumeAnomaly(a) | Check::FreshnessAnomaly(a), _) => {
                    if history.is_none() {
                        history = Some(crate::records::last_manifests(lake, 100).await?);
                    }
                    let runs = history.as_deref().unwrap_or_default();
                    Ok(super::anomaly::against_history(cat, c, a, &rel.value, runs))
                }
                (_, Some(q)) => match engine {
                    SqlEngine::Local => super::local::count_and_store(&ctx, q, lake, &at).await,
                    _ => super::athena::count_and_unload(cat, q, lake, &at).await,
                },
                (_, None) => Err("the check has no query".into()),
            };
            let sql = query.map(|q| q.count).unwrap_or_default();
            let mut o = Outcome::new(format!("{}.{label}", rel.value), &rel.value, kind, sql);
            o.severity = qc.severity;
            o.judge(c, found, &unavailable);
            o.duration_ms = t.elapsed().as_millis() as u64;
            outcomes.push(o);
        }
    }
    for (name, t) in s.unit_tests.iter() {
        if relations.is_empty()
            || relations.contains(&t.model.value)
            || relations.contains(&name.value)
        {
            outcomes.push(super::unit::run(cat.checked, name, t).await);
        }
    }
    outcomes.extend(reconcile::all(cat, &ctx, lake, relations).await?);
    let report = Report {
        test_id: test_id.clone(),
        stack: s.stack.value.clone(),
        environment: cat.checked.loaded.env_name.clone(),
        started_at: started.to_rfc3339(),
        outcomes,
    };
    lake.put_json(&format!("_dekit/tests/{test_id}.json"), &report)
        .await
        .map_err(|e| format!("writing the test report: {e}"))?;
    let failing = |o: &&Outcome| matches!(o.verdict, Verdict::Fail | Verdict::Error);
    let failed = report.outcomes.iter().filter(failing).count() as f64;
    // Tables whose freshness check (fixed or against history) fails: the "stale tables" alarms watch.
    let stale = report
        .outcomes
        .iter()
        .filter(failing)
        .filter(|o| o.check == "freshness" || o.check == "freshness_anomaly")
        .count() as f64;
    use aws_sdk_cloudwatch::types::StandardUnit;
    if let Err(e) = crate::metrics::publish(
        cat.clients,
        &report.stack,
        &report.environment,
        &[
            ("FailedChecks", failed, StandardUnit::Count),
            ("Checks", report.outcomes.len() as f64, StandardUnit::Count),
            ("StaleTables", stale, StandardUnit::Count),
        ],
    )
    .await
    {
        eprintln!("warning: the test's metrics were not published: {e}");
    }
    Ok(report)
}
