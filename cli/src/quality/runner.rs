//! `dekit test`: every selected quality check run by the local engine over the lake, each with its
//! failing-row count, a sample of the offending rows, and all of them stored in the lake under
//! `_dekit/failures/<relation>/<n>-<check>.parquet` (dbt's `store_failures`); plus the
//! reconciliation of each stream's produced and landed records (`reconcile`).

use super::reconcile;
use crate::model::Check;
use crate::run::lake::Lake;
use crate::transform::errors::message;
use crate::transform::session::{self, Catalog};
use datafusion::arrow::array::{Array, RecordBatch};
use datafusion::prelude::SessionContext;
use serde::{Deserialize, Serialize};
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
    /// The check could not run (a relation not built, a column missing).
    Error,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Outcome {
    /// `customers.not_null(customer_id, email)`.
    pub name: String,
    pub relation: String,
    pub check: String,
    pub verdict: Verdict,
    /// Failing rows (1 for row_count and freshness, which fail as a whole).
    pub failures: u64,
    pub message: String,
    /// Up to 5 offending rows, as JSON objects.
    pub sample: Vec<serde_json::Value>,
    /// Where all offending rows were stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stored: Option<String>,
    pub sql: String,
    pub duration_ms: u64,
}

/// The test report, also written to `_dekit/tests/<id>.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub test_id: String,
    pub stack: String,
    pub environment: String,
    pub started_at: String,
    pub outcomes: Vec<Outcome>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.outcomes.iter().all(|o| o.verdict == Verdict::Pass)
    }
}

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
    }
}

/// Run the checks of `relations` (all when empty) and the reconciliations.
pub async fn run(cat: Catalog<'_>, lake: &Lake, relations: &[String]) -> Result<Report, String> {
    let s = &cat.checked.loaded.stack;
    let started = chrono::Utc::now();
    let test_id = format!(
        "{}-{:04x}",
        started.format("%Y%m%dT%H%M%SZ"),
        rand::random::<u16>()
    );
    let ctx = session::new(cat)?;
    let unavailable = session::register_stack(&ctx, cat).await?;
    let mut outcomes = vec![];
    for (rel, checks) in s.quality.iter() {
        if !relations.is_empty() && !relations.contains(&rel.value) {
            continue;
        }
        for (i, c) in checks.iter().enumerate() {
            let t = Instant::now();
            let name = format!("{}.{}", rel.value, label(c));
            let sql = super::sql(c, &rel.value);
            let mut o = Outcome {
                name,
                relation: rel.value.clone(),
                check: super::kind(c).to_string(),
                verdict: Verdict::Pass,
                failures: 0,
                message: String::new(),
                sample: vec![],
                stored: None,
                sql: sql.clone(),
                duration_ms: 0,
            };
            match one(&ctx, lake, c, &rel.value, i, &sql).await {
                Ok((0, _, _)) => o.message = "passed".into(),
                Ok((n, sample, stored)) => {
                    o.verdict = Verdict::Fail;
                    o.failures = n;
                    o.message = match c {
                        Check::RowCount(_) => "the row count is out of range".into(),
                        Check::Freshness(_) => {
                            "the newest row is too old (or there is none)".into()
                        }
                        _ => format!("{n} failing rows"),
                    };
                    o.sample = sample;
                    o.stored = stored;
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
    let failed = report
        .outcomes
        .iter()
        .filter(|o| o.verdict != Verdict::Pass)
        .count() as f64;
    use aws_sdk_cloudwatch::types::StandardUnit;
    if let Err(e) = crate::observe::metrics::publish(
        cat.clients,
        &report.stack,
        &report.environment,
        &[
            ("FailedChecks", failed, StandardUnit::Count),
            ("Checks", report.outcomes.len() as f64, StandardUnit::Count),
        ],
    )
    .await
    {
        eprintln!("warning: the test's metrics were not published: {e}");
    }
    Ok(report)
}

/// One check: failing count, sample, and where every failing row was stored.
async fn one(
    ctx: &SessionContext,
    lake: &Lake,
    c: &Check,
    relation: &str,
    index: usize,
    sql: &str,
) -> Result<(u64, Vec<serde_json::Value>, Option<String>), String> {
    let batches = ctx
        .sql(sql)
        .await
        .map_err(|e| message(&e))?
        .collect()
        .await
        .map_err(|e| message(&e))?;
    let n = first_int(&batches).ok_or("the check's query returned no count")?;
    if n == 0 {
        return Ok((0, vec![], None));
    }
    let df = ctx
        .sql(&super::rows_sql(c, relation))
        .await
        .map_err(|e| message(&e))?;
    let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
    let rows = df.collect().await.map_err(|e| message(&e))?;
    let sample = to_json(&rows, 5);
    let key = format!(
        "_dekit/failures/{relation}/{index}-{}.parquet",
        super::kind(c)
    );
    let mut body = vec![];
    let mut w = datafusion::parquet::arrow::ArrowWriter::try_new(&mut body, schema, None)
        .map_err(|e| e.to_string())?;
    for b in &rows {
        w.write(b).map_err(|e| e.to_string())?;
    }
    w.close().map_err(|e| e.to_string())?;
    lake.put(&key, body).await.map_err(|e| e.to_string())?;
    Ok((n, sample, Some(lake.url(&key))))
}

fn first_int(batches: &[RecordBatch]) -> Option<u64> {
    let b = batches.iter().find(|b| b.num_rows() > 0)?;
    let col = datafusion::arrow::compute::cast(
        b.column(0),
        &datafusion::arrow::datatypes::DataType::Int64,
    )
    .ok()?;
    let a = col
        .as_any()
        .downcast_ref::<datafusion::arrow::array::Int64Array>()?;
    if a.is_null(0) {
        return Some(0);
    }
    Some(a.value(0).max(0) as u64)
}

/// The first `limit` rows as JSON objects.
pub fn to_json(batches: &[RecordBatch], limit: usize) -> Vec<serde_json::Value> {
    let mut out = vec![];
    let mut left = limit;
    for b in batches {
        if left == 0 {
            break;
        }
        let n = b.num_rows().min(left);
        left -= n;
        let mut buf = vec![];
        let mut w = datafusion::arrow::json::ArrayWriter::new(&mut buf);
        if w.write(&b.slice(0, n)).is_ok()
            && w.finish().is_ok()
            && let Ok(serde_json::Value::Array(rows)) = serde_json::from_slice(&buf)
        {
            out.extend(rows);
        }
    }
    out
}
