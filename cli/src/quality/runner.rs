//! `dekit test`: every selected quality check run by the local engine over the lake, each with its
//! failing-row count, a sample of the offending rows, and all of them stored in the lake under
//! `_dekit/failures/<relation>/<n>-<check>.parquet` (dbt's `store_failures`); plus the
//! reconciliation of each stream's produced and landed records (`reconcile`).

use super::outcome::{Outcome, Report, Verdict, first_int, to_json};
use super::reconcile;
use crate::lake::Lake;
use crate::model::{Anomaly, Check, CheckSeverity};
use crate::records::Manifest;
use crate::transform::engine::SqlEngine;
use crate::transform::errors::message;
use crate::transform::session::{self, Catalog};
use datafusion::prelude::SessionContext;
use std::time::Instant;

/// A check's name as reports show it: `not_null(order_id, customer_id)`.
pub fn label(c: &Check) -> String {
    let cols = |v: &[crate::yaml::Spanned<String>]| {
        v.iter()
            .map(|c| c.value.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match c {
        Check::NotNull(v) => format!("not_null({})", cols(v)),
        Check::Unique(v) => format!("unique({})", cols(v)),
        Check::AcceptedValues(a) => format!("accepted_values({})", a.column.value),
        Check::RowCount(r) => format!(
            "row_count({}..{})",
            r.min
                .as_ref()
                .map(|m| m.value.to_string())
                .unwrap_or_default(),
            r.max
                .as_ref()
                .map(|m| m.value.to_string())
                .unwrap_or_default()
        ),
        Check::Freshness(f) => format!("freshness({}, {}h)", f.column.value, f.max_age_hours.value),
        Check::Relationships(r) => format!("relationships({} -> {})", r.column.value, r.to.value),
        Check::Range(r) => format!("range({})", r.column.value),
        Check::Schema(_) => "schema".into(),
        Check::Sql(_) => "sql".into(),
        Check::RowCountMatches(m) => format!("row_count_matches({})", m.to.value),
        Check::VolumeAnomaly(_) => "volume_anomaly".into(),
        Check::FreshnessAnomaly(_) => "freshness_anomaly".into(),
    }
}

/// Run the checks of `relations` (all when empty) and the reconciliations.
// Long: one match over the check kinds, each arm a call; the history and the session are shared across them.
pub async fn run(cat: Catalog<'_>, lake: &Lake, relations: &[String]) -> Result<Report, String> {
    let s = &cat.checked.loaded.stack;
    let started = crate::clock::now();
    let test_id = crate::clock::run_id();
    let ctx = session::new(cat)?;
    let unavailable = session::register_stack(&ctx, cat).await?;
    let mut outcomes = vec![];
    let mut history: Option<Vec<Manifest>> = None;
    // The SQL checks run where the data is: on AWS, Athena.
    let engine = SqlEngine::of(cat.checked);
    for (rel, checks) in s.quality.iter() {
        if !relations.is_empty() && !relations.contains(&rel.value) {
            continue;
        }
        for (i, qc) in checks.iter().enumerate() {
            let c = &qc.check;
            let t = Instant::now();
            let name = format!("{}.{}", rel.value, label(c));
            let sql = crate::checks::sql(c, &rel.value);
            let mut o = Outcome::new(
                name,
                &rel.value,
                crate::checks::kind(c),
                sql.clone().unwrap_or_default(),
            );
            o.severity = qc.severity;
            let found = match (c, &sql) {
                (Check::Schema(sc), _) => {
                    schema(&ctx, cat, lake, &rel.value, i, sc.allow_extra).await
                }
                (Check::VolumeAnomaly(a) | Check::FreshnessAnomaly(a), _) => {
                    if history.is_none() {
                        history = Some(crate::records::last_manifests(lake, 100).await?);
                    }
                    Ok(anomaly(
                        cat,
                        c,
                        a,
                        &rel.value,
                        history.as_deref().unwrap_or_default(),
                    ))
                }
                (_, Some(sql)) => match engine {
                    SqlEngine::Local => one(&ctx, lake, c, &rel.value, i, sql).await,
                    _ => on_aws(cat, lake, c, &rel.value, i).await,
                },
                (_, None) => Err("the check has no query".into()),
            };
            match found {
                Ok(f) if f.skipped => {
                    o.verdict = Verdict::Skipped;
                    o.message = f.message.unwrap_or_else(|| "skipped".into());
                }
                Ok(f) if f.failures == 0 => {
                    o.message = f.message.unwrap_or_else(|| "passed".into())
                }
                Ok(f) => {
                    o.verdict = match qc.severity {
                        CheckSeverity::Error => Verdict::Fail,
                        CheckSeverity::Warn => Verdict::Warn,
                    };
                    o.failures = f.failures;
                    o.message = f.message.unwrap_or_else(|| match c {
                        Check::RowCount(_) => "the row count is out of range".into(),
                        Check::Freshness(_) => {
                            "the newest row is too old (or there is none)".into()
                        }
                        Check::RowCountMatches(_) => "the row counts differ".into(),
                        _ => format!("{} failing rows", f.failures),
                    });
                    o.sample = f.sample;
                    o.stored = f.stored;
                }
                Err(e) => {
                    o.verdict = Verdict::Error;
                    o.message = match unavailable
                        .iter()
                        .find(|u| u.starts_with(&format!("{}:", rel.value)))
                    {
                        Some(u) => format!("not available: {u}"),
                        None => e,
                    };
                }
            }
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
    outcomes.extend(reconcile::streams(cat, &ctx, lake, relations).await?);
    outcomes.extend(reconcile::loads(cat, lake, relations).await?);
    outcomes.extend(reconcile::exports(cat, &ctx, lake, relations).await?);
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

/// What a check found: its failing count (0 passes), a sample, where all failures went, and a
/// message when the check explains itself (anomalies).
#[derive(Default)]
struct Found {
    failures: u64,
    sample: Vec<serde_json::Value>,
    stored: Option<String>,
    message: Option<String>,
    /// The check did not judge (the message says why).
    skipped: bool,
}

fn anomaly(cat: Catalog<'_>, c: &Check, a: &Anomaly, relation: &str, runs: &[Manifest]) -> Found {
    let step =
        crate::graph::steps::producer(&cat.checked.loaded.stack, relation).unwrap_or_default();
    let hist = super::anomaly::history(runs, &step, relation);
    let j = match c {
        Check::VolumeAnomaly(_) => super::anomaly::volume(a, &hist),
        _ => super::anomaly::freshness(a, &hist, crate::clock::now()),
    };
    Found {
        failures: j.failed as u64,
        sample: if j.failed { vec![j.detail] } else { vec![] },
        stored: None,
        message: Some(format!("{} (step {step})", j.message)),
        skipped: j.skipped,
    }
}

/// The data's columns against the declared ones; the differences stored as JSON lines.
async fn schema(
    ctx: &SessionContext,
    cat: Catalog<'_>,
    lake: &Lake,
    relation: &str,
    index: usize,
    allow_extra: bool,
) -> Result<Found, String> {
    let s = &cat.checked.loaded.stack;
    let declared: Vec<(String, String)> = if let Some(t) = s.transforms.get(relation) {
        let parts = t.partitions();
        t.columns
            .iter()
            .filter(|(n, _)| !parts.iter().any(|p| p.eq_ignore_ascii_case(&n.value)))
            .map(|(n, ty)| (n.value.clone(), ty.value.clone()))
            .collect()
    } else {
        cat.graph
            .catalog_table(relation)
            .map(|t| t.columns())
            .unwrap_or_default()
            .iter()
            .map(|c| (c.name.to_string(), c.r#type.to_string()))
            .collect()
    };
    let mut found = (*session::data_schema(ctx, cat, relation).await?).clone();
    if let Some(t) = s.transforms.get(relation) {
        let parts = t.partitions();
        let keep: Vec<_> = found
            .fields()
            .iter()
            .filter(|f| !parts.iter().any(|p| p.eq_ignore_ascii_case(f.name())))
            .cloned()
            .collect();
        found = datafusion::arrow::datatypes::Schema::new(keep);
    }
    let rows = super::schema::compare(&declared, &found, allow_extra);
    if rows.is_empty() {
        return Ok(Found::default());
    }
    let key = format!("_dekit/failures/{relation}/{index}-schema.jsonl");
    let mut body = vec![];
    for r in &rows {
        serde_json::to_writer(&mut body, r).map_err(|e| e.to_string())?;
        body.push(b'\n');
    }
    lake.put(&key, body).await.map_err(|e| e.to_string())?;
    Ok(Found {
        failures: rows.len() as u64,
        message: Some(format!(
            "{} columns differ from the declaration",
            rows.len()
        )),
        sample: rows.into_iter().take(5).collect(),
        stored: Some(lake.url(&key)),
        skipped: false,
    })
}

/// A SQL check by Athena: the count; when failing, a sample and every failing row UNLOADed.
async fn on_aws(
    cat: Catalog<'_>,
    lake: &Lake,
    c: &Check,
    relation: &str,
    index: usize,
) -> Result<Found, String> {
    use crate::transform::remote;
    let prefix = format!(
        "_dekit/failures/{relation}/{index}-{}/",
        crate::checks::kind(c)
    );
    let st = super::athena::render(
        c,
        relation,
        &cat.database(),
        &cat.checked.loaded.stack.relations(),
        &lake.url(&prefix),
    )
    .ok_or("the check has no query")?;
    let what = format!("{relation}.{}", crate::checks::kind(c));
    let counted = remote::select(cat, &st.count, &what).await?;
    let n = counted
        .first()
        .and_then(|r| r["failures"].as_str())
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(|| format!("{what}: Athena returned no failure count"))?;
    if n == 0 {
        return Ok(Found::default());
    }
    let sample = remote::select(cat, &st.sample, &what).await?;
    // UNLOAD refuses a destination that holds objects: the previous failures go first.
    for k in lake.list(&prefix).await.map_err(|e| e.to_string())? {
        lake.delete(&k).await.map_err(|e| e.to_string())?;
    }
    remote::execute(cat, &st.unload, &what).await?;
    Ok(Found {
        failures: n,
        sample,
        stored: Some(lake.url(&prefix)),
        message: None,
        skipped: false,
    })
}

/// One check: failing count, sample, and where every failing row was stored.
async fn one(
    ctx: &SessionContext,
    lake: &Lake,
    c: &Check,
    relation: &str,
    index: usize,
    sql: &str,
) -> Result<Found, String> {
    let batches = ctx
        .sql(sql)
        .await
        .map_err(|e| message(&e))?
        .collect()
        .await
        .map_err(|e| message(&e))?;
    let n = first_int(&batches)?;
    if n == 0 {
        return Ok(Found::default());
    }
    let rows_sql = crate::checks::rows_sql(c, relation).ok_or("the check has no query")?;
    let df = ctx.sql(&rows_sql).await.map_err(|e| message(&e))?;
    let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
    let rows = df.collect().await.map_err(|e| message(&e))?;
    let sample = to_json(&rows, 5);
    let key = format!(
        "_dekit/failures/{relation}/{index}-{}.parquet",
        crate::checks::kind(c)
    );
    let mut body = vec![];
    let mut w = datafusion::parquet::arrow::ArrowWriter::try_new(&mut body, schema, None)
        .map_err(|e| e.to_string())?;
    for b in &rows {
        w.write(b).map_err(|e| e.to_string())?;
    }
    w.close().map_err(|e| e.to_string())?;
    lake.put(&key, body).await.map_err(|e| e.to_string())?;
    Ok(Found {
        failures: n,
        sample,
        stored: Some(lake.url(&key)),
        message: None,
        skipped: false,
    })
}
