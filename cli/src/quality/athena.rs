//! The checks on AWS: the same SQL as locally, its relations qualified with the catalog database,
//! run by Athena. Three statements per check: the failing count; when it is not 0, a sample of
//! five rows; and an UNLOAD of every failing row as Parquet under `_dekit/failures/` in the lake.
//!
//! Why: on AWS the data is too big to pull to the machine running `dekit test`, and Athena is
//! what reads the lake there. The statements are snapshot-tested and parsed as Trino by sqlglot
//! (`tests/dialects.rs`); no emulator runs Athena's engine.

use super::outcome::{At, Found};
use crate::checks::Query;
use crate::lake::Lake;
use crate::model::Check;
use crate::transform::athena::qualified;
use crate::transform::session::Catalog;
use std::collections::BTreeSet;

#[derive(Debug, Clone)]
pub struct Statements {
    pub count: String,
    pub sample: String,
    /// The query UNLOAD writes (kept apart so it can be parsed on its own).
    pub failing: String,
    pub unload: String,
}

/// The statements of a SQL check, or none for the checks that are not SQL (schema, anomalies).
pub fn render(
    c: &Check,
    relation: &str,
    db: &str,
    known: &BTreeSet<String>,
    failures_url: &str,
) -> Option<Statements> {
    Some(statements(
        &crate::checks::query(c, relation)?,
        db,
        known,
        failures_url,
    ))
}

fn statements(q: &Query, db: &str, known: &BTreeSet<String>, failures_url: &str) -> Statements {
    let count = qualified(&q.count, db, known);
    let failing = qualified(&q.rows, db, known);
    Statements {
        count,
        sample: format!("SELECT * FROM ({failing}) f LIMIT 5"),
        unload: format!(
            "UNLOAD ({failing}) TO '{}' WITH (format = 'PARQUET', compression = 'SNAPPY')",
            failures_url.replace('\'', "''")
        ),
        failing,
    }
}

/// A SQL check by Athena: the count; when failing, a sample and every failing row UNLOADed.
pub async fn count_and_unload(
    cat: Catalog<'_>,
    q: &Query,
    lake: &Lake,
    at: &At<'_>,
) -> Result<Found, String> {
    use crate::transform::remote;
    let prefix = at.key("/");
    let known = cat.checked.loaded.stack.relations();
    let st = statements(q, &cat.database(), &known, &lake.url(&prefix));
    let what = format!("{}.{}", at.relation, at.kind);
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
