//! `quality:` data tests per table or model. Each check kind is documented in `crate::quality`.

use crate::yaml::Spanned;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    NotNull(Vec<Spanned<String>>),
    Unique(Vec<Spanned<String>>),
    AcceptedValues(AcceptedValues),
    RowCount(RowCount),
    Freshness(Freshness),
    Relationships(Relationships),
    Range(Range),
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptedValues {
    pub column: Spanned<String>,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RowCount {
    #[serde(default)]
    pub min: Option<Spanned<u64>>,
    #[serde(default)]
    pub max: Option<Spanned<u64>>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Freshness {
    pub column: Spanned<String>,
    pub max_age_hours: Spanned<u32>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Relationships {
    pub column: Spanned<String>,
    /// `table.column` the values must exist in.
    pub to: Spanned<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Range {
    pub column: Spanned<String>,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
}
