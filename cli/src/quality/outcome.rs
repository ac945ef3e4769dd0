//! What a quality run reports: each check's outcome and verdict, and the report of a run. Below
//! the runner and the check kinds alike, which all write outcomes (so none imports the runner).

use crate::model::CheckSeverity;
use datafusion::arrow::array::RecordBatch;
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
