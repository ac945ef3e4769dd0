//! The checks on AWS: the same SQL as locally, its relations qualified with the catalog database,
//! run by Athena. Three statements per check: the failing count; when it is not 0, a sample of
//! five rows; and an UNLOAD of every failing row as Parquet under `_dekit/failures/` in the lake.
//!
//! Why: on AWS the data is too big to pull to the machine running `dekit test`, and Athena is
//! what reads the lake there. The statements are snapshot-tested and parsed as Trino by sqlglot
//! (`tests/dialects.rs`); no emulator runs Athena's engine.

use crate::model::Check;
use crate::transform::athena::qualified;
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
    let count = qualified(&crate::checks::sql(c, relation)?, db, known);
    let failing = qualified(&crate::checks::rows_sql(c, relation)?, db, known);
    Some(Statements {
        count,
        sample: format!("SELECT * FROM ({failing}) f LIMIT 5"),
        unload: format!(
            "UNLOAD ({failing}) TO '{}' WITH (format = 'PARQUET', compression = 'SNAPPY')",
            failures_url.replace('\'', "''")
        ),
        failing,
    })
}
