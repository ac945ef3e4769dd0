//! `transforms:` SQL models that read tables and other models (a DAG), materialized in a zone.

use crate::model::DataFormat;
use crate::yaml::{Named, Spanned};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum Materialized {
    #[default]
    Table,
    View,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// Athena CTAS / CREATE VIEW.
    #[default]
    Athena,
    /// A Glue Spark job running the SQL.
    Glue,
}

/// Rebuild only what changed: the result's partitions are compared with the last build's, and
/// only partitions whose rows changed are written and switched; the others stay where they are.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Incremental {
    /// Columns that identify a row: a result with duplicates fails the model.
    #[serde(default)]
    pub unique_key: Vec<Spanned<String>>,
    /// The partitions compared (default: the model's `partition_by`).
    #[serde(default)]
    pub partition_by: Vec<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Transform {
    /// SQL file (relative to the stack file) with one SELECT; it names tables and models directly.
    pub sql: Spanned<String>,
    #[serde(default)]
    pub materialized: Materialized,
    pub zone: Spanned<String>,
    #[serde(default)]
    pub engine: Engine,
    #[serde(default)]
    pub format: DataFormat,
    #[serde(default)]
    pub partition_by: Vec<Spanned<String>>,
    #[serde(default)]
    pub incremental: Option<Incremental>,
    /// Extra dependencies the SQL does not show.
    #[serde(default)]
    pub depends_on: Vec<Spanned<String>>,
    /// The columns and Glue types the model promises its readers (a contract, as in dbt): the
    /// result is cast to them, and a missing, undeclared or unfitting column fails the model.
    #[serde(default)]
    pub columns: Named<Spanned<String>>,
    #[serde(default)]
    pub description: Option<String>,
}

impl Transform {
    /// The partition columns, lowercased: `incremental.partition_by` when given, else
    /// `partition_by`.
    pub fn partitions(&self) -> Vec<String> {
        let p = match &self.incremental {
            Some(i) if !i.partition_by.is_empty() => &i.partition_by,
            _ => &self.partition_by,
        };
        p.iter().map(|c| c.value.to_ascii_lowercase()).collect()
    }
}
