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
