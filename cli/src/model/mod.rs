//! The stack model: what a stack file says, decoded and typed, before any checks across sections.
//!
//! One file describes the whole lifecycle; each section has its own module. Names that other
//! sections refer to are `Spanned` so checks can point at them.

pub mod environments;
pub mod ingest;
pub mod observe;
pub mod orchestration;
pub mod quality;
pub mod security;
pub mod serving;
pub mod sources;
pub mod storage;
pub mod tables;
pub mod transforms;
pub mod unit_tests;

pub use environments::*;
pub use ingest::*;
pub use observe::*;
pub use orchestration::Orchestration;
pub use quality::*;
pub use security::*;
pub use serving::*;
pub use sources::*;
pub use storage::*;
pub use tables::*;
pub use transforms::*;
pub use unit_tests::UnitTest;

use crate::yaml::{Named, Spanned};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A dekit stack: one AWS data platform, from sources to serving.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Stack {
    /// Name of the stack; prefixes and tags every resource. Lowercase letters, digits and dashes.
    pub stack: Spanned<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Environment used when `--env` is not given (default: the first one declared).
    #[serde(default)]
    pub default_environment: Option<Spanned<String>>,
    /// Values for `${var.NAME}`; an environment's `variables` override them.
    #[serde(default)]
    pub variables: Named<Spanned<String>>,
    #[serde(default)]
    pub environments: Named<Environment>,
    #[serde(default)]
    pub sources: Named<Source>,
    #[serde(default)]
    pub ingest: Ingest,
    pub storage: Storage,
    #[serde(default)]
    pub tables: Named<Table>,
    #[serde(default)]
    pub transforms: Named<Transform>,
    #[serde(default)]
    pub serving: Serving,
    /// Data quality checks, per table, model, view or export name.
    #[serde(default)]
    pub quality: Named<Vec<QualityCheck>>,
    /// Models run on fixture rows, with the rows they must return (`dekit test`).
    #[serde(default)]
    pub unit_tests: Named<UnitTest>,
    #[serde(default)]
    pub observe: Observe,
    /// The pipeline deployed and scheduled on AWS (Step Functions, dekit on Lambda).
    #[serde(default)]
    pub orchestration: Option<Spanned<Orchestration>>,
    #[serde(default)]
    pub security: Security,
}

impl Stack {
    /// The relation names a model may read: tables, models, views.
    pub fn relations(&self) -> std::collections::BTreeSet<String> {
        self.tables
            .iter()
            .map(|(n, _)| n.value.clone())
            .chain(self.transforms.iter().map(|(n, _)| n.value.clone()))
            .chain(self.serving.views.iter().map(|(n, _)| n.value.clone()))
            .collect()
    }

    /// The models' names as the catalog holds them (lower case).
    pub fn models(&self) -> std::collections::BTreeSet<String> {
        self.transforms
            .iter()
            .map(|(n, _)| n.value.to_ascii_lowercase())
            .collect()
    }
}

/// Storage formats of data in the lake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum DataFormat {
    #[default]
    Parquet,
    Json,
    Csv,
}

impl DataFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            DataFormat::Parquet => "parquet",
            DataFormat::Json => "json",
            DataFormat::Csv => "csv",
        }
    }
}
