//! `unit_tests:` a model's SQL run on fixture rows, like dbt's unit tests: rows given for what it
//! reads, the rows it must return. `dekit test` runs them with the local engine, in memory.

use crate::yaml::{Named, Spanned};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One row: column → value.
pub type Row = BTreeMap<String, serde_json::Value>;

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UnitTest {
    /// The model (of `transforms:`) or view under test.
    pub model: Spanned<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Rows of each table or model the SQL reads; one not given is empty (a table's columns
    /// come from its declaration, a model's from the rows given).
    #[serde(default)]
    pub given: Named<Fixture>,
    /// The rows the model must return, in any order; only the columns named are compared.
    pub expect: Fixture,
}

/// Rows written inline, or a file of them beside the stack: `{file: fixtures/orders.csv}` (CSV
/// with a header, or JSON lines with `.jsonl`).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Fixture {
    Rows(Vec<Row>),
    File {
        /// A path relative to the stack file, inside its directory.
        file: String,
    },
}
