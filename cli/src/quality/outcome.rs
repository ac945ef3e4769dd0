//! What a quality run reports: each check's outcome and verdict, and the report of a run. Below
//! the runner and the check kinds alike, which all write outcomes (so none imports the runner).

use crate::model::{Check, CheckSeverity};
use datafusion::arrow::array::{Array, RecordBatch};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
    /// Failed, at `severity: warn`: reported, not failing the test.
    Warn,
    /// The check could not run (a relation not built, a column missing).
    Error,
    /// The check did not judge, and says why (too little history to judge an anomaly, a load
    /// recorded without what reconciliation needs). Not a pass: shown and counted as such.
    Skipped,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Outcome {
    /// `customers.not_null(customer_id, email)`.
    pub name: String,
    pub relation: String,
    pub check: String,
    #[serde(default)]
    pub severity: CheckSeverity,
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

impl Outcome {
    /// A check about to run: passing, nothing found yet, at severity error.
    /// Whether it lets what is built on it go ahead: passed, a warning, or skipped by design.
    pub fn ok(&self) -> bool {
        matches!(
            self.verdict,
            Verdict::Pass | Verdict::Warn | Verdict::Skipped
        )
    }

    pub fn new(name: String, relation: &str, check: &str, sql: String) -> Outcome {
        Outcome {
            name,
            relation: relation.to_string(),
            check: check.to_string(),
            severity: CheckSeverity::Error,
            verdict: Verdict::Pass,
            failures: 0,
            message: String::new(),
            sample: vec![],
            stored: None,
            sql,
            duration_ms: 0,
        }
    }
}

/// Where a check's failures go: `_dekit/failures/<relation>/<index>-<kind>`.
pub struct At<'a> {
    pub relation: &'a str,
    pub index: usize,
    pub kind: &'a str,
}

impl At<'_> {
    /// The key (or prefix) of this check's failures, ending in `tail` (`.parquet`, `/`).
    pub fn key(&self, tail: &str) -> String {
        format!(
            "_dekit/failures/{}/{}-{}{tail}",
            self.relation, self.index, self.kind
        )
    }
}

/// What a check found: its failing count (0 passes), a sample, where all failures went, and a
/// message when the check explains itself (anomalies, schema).
#[derive(Default)]
pub struct Found {
    pub failures: u64,
    pub sample: Vec<serde_json::Value>,
    pub stored: Option<String>,
    pub message: Option<String>,
    /// The check did not judge (the message says why).
    pub skipped: bool,
}

impl Outcome {
    /// The verdict on what a check found, at its severity. A check that could not run names the
    /// relation's registration failure when there is one (`unavailable`: `relation: why`), the
    /// cause behind its own error.
    pub fn judge(&mut self, check: &Check, found: Result<Found, String>, unavailable: &[String]) {
        match found {
            Ok(f) if f.skipped => {
                self.verdict = Verdict::Skipped;
                self.message = f.message.unwrap_or_else(|| "skipped".into());
            }
            Ok(f) if f.failures == 0 => self.message = f.message.unwrap_or_else(|| "passed".into()),
            Ok(f) => {
                self.verdict = match self.severity {
                    CheckSeverity::Error => Verdict::Fail,
                    CheckSeverity::Warn => Verdict::Warn,
                };
                self.failures = f.failures;
                self.message = f.message.unwrap_or_else(|| match check {
                    Check::RowCount(_) => "the row count is out of range".into(),
                    Check::Freshness(_) => "the newest row is too old (or there is none)".into(),
                    Check::RowCountMatches(_) => "the row counts differ".into(),
                    _ => format!("{} failing rows", f.failures),
                });
                self.sample = f.sample;
                self.stored = f.stored;
            }
            Err(e) => {
                self.verdict = Verdict::Error;
                let prefix = format!("{}:", self.relation);
                self.message = match unavailable.iter().find(|u| u.starts_with(&prefix)) {
                    Some(u) => format!("not available: {u}"),
                    None => e,
                };
            }
        }
    }
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
        self.outcomes.iter().all(Outcome::ok)
    }

    /// By relation, in the order tested: whether it passed as a gate (no check at severity error
    /// failed), and each check that ran as an assertion (its kind, its one column when it names
    /// one, whether it found nothing wrong, whatever its severity). Skipped checks are left out.
    pub fn assertions(&self) -> Vec<(String, bool, crate::lineage::Assertions)> {
        let mut out: Vec<(String, bool, crate::lineage::Assertions)> = vec![];
        for o in self
            .outcomes
            .iter()
            .filter(|o| o.verdict != Verdict::Skipped)
        {
            let column = o
                .name
                .split_once('(')
                .and_then(|(_, r)| r.strip_suffix(')'))
                .filter(|c| !c.is_empty() && c.chars().all(|ch| ch.is_alphanumeric() || ch == '_'))
                .map(str::to_string);
            let a = (o.check.clone(), column, o.verdict == Verdict::Pass);
            match out.iter_mut().find(|(r, ..)| *r == o.relation) {
                Some((_, ok, list)) => {
                    *ok &= o.ok();
                    list.push(a);
                }
                None => out.push((o.relation.clone(), o.ok(), vec![a])),
            }
        }
        out
    }
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

/// The failing count a check's query returned. No row, a NULL or a negative count is an error:
/// read as 0 it would pass a check that judged nothing.
pub fn first_int(batches: &[RecordBatch]) -> Result<u64, String> {
    let b = batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .ok_or("the check's query returned no count")?;
    let col = datafusion::arrow::compute::cast(
        b.column(0),
        &datafusion::arrow::datatypes::DataType::Int64,
    )
    .map_err(|e| format!("the check's count is not a number: {e}"))?;
    let a = col
        .as_any()
        .downcast_ref::<datafusion::arrow::array::Int64Array>()
        .ok_or("the check's count is not a number")?;
    if a.is_null(0) {
        return Err("the check's query returned NULL as its failing count".into());
    }
    u64::try_from(a.value(0)).map_err(|_| {
        format!(
            "the check's query returned a negative count ({})",
            a.value(0)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int64Array;
    use std::sync::Arc;

    fn counted(v: Option<i64>) -> Vec<RecordBatch> {
        vec![
            RecordBatch::try_from_iter([("failures", Arc::new(Int64Array::from(vec![v])) as _)])
                .unwrap(),
        ]
    }

    #[test]
    fn a_count_that_judged_nothing_is_an_error_not_a_pass() {
        assert_eq!(first_int(&counted(Some(3))), Ok(3));
        assert_eq!(first_int(&counted(Some(0))), Ok(0));
        let e = first_int(&counted(None)).unwrap_err();
        assert!(e.contains("NULL"), "{e}");
        let e = first_int(&counted(Some(-1))).unwrap_err();
        assert!(e.contains("negative"), "{e}");
        let e = first_int(&[]).unwrap_err();
        assert!(e.contains("no count"), "{e}");
    }
}
