//! `serving:` views for BI and exports for ML and other consumers.

use crate::model::DataFormat;
use crate::yaml::{Named, Spanned};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Serving {
    #[serde(default)]
    pub views: Named<View>,
    #[serde(default)]
    pub exports: Named<Export>,
}

/// A catalog view (Athena) in the serving zone's database, for BI tools.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct View {
    pub sql: Spanned<String>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum Consumer {
    #[default]
    Bi,
    Ml,
}

/// Files written from a model or view to a zone prefix, for consumers outside the catalog.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Export {
    /// The model, view or table to export.
    pub from: Spanned<String>,
    pub zone: Spanned<String>,
    #[serde(default)]
    pub prefix: Option<Spanned<String>>,
    #[serde(default)]
    pub format: DataFormat,
    #[serde(default)]
    pub consumer: Consumer,
    #[serde(default)]
    pub schedule: Option<Spanned<String>>,
}
