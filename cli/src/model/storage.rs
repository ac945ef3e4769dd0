//! `storage:` the S3 data lake (zones with lifecycle) and the Glue Data Catalog database.

use crate::yaml::{Named, Spanned};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Storage {
    pub lake: Lake,
    pub catalog: Catalog,
    /// Bucket for Glue scripts and Athena results (default `<lake bucket>-artifacts`).
    #[serde(default)]
    pub artifacts_bucket: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Lake {
    pub bucket: Spanned<String>,
    #[serde(default = "yes")]
    pub versioning: bool,
    /// Zones, usually `raw`, `curated` and `serving`.
    pub zones: Named<Zone>,
    /// Refuse `dekit destroy` of the lake outright.
    #[serde(default)]
    pub prevent_destroy: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Zone {
    /// Key prefix of the zone (default `<zone>/`).
    #[serde(default)]
    pub prefix: Option<Spanned<String>>,
    /// Delete objects this many days after creation.
    #[serde(default)]
    pub expire_days: Option<Spanned<u32>>,
    /// Delete old versions this many days after they stop being current.
    #[serde(default)]
    pub noncurrent_expire_days: Option<Spanned<u32>>,
    #[serde(default)]
    pub transitions: Vec<Transition>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StorageClass {
    StandardIa,
    OnezoneIa,
    IntelligentTiering,
    GlacierIr,
    Glacier,
    DeepArchive,
}

impl StorageClass {
    pub fn as_str(self) -> &'static str {
        match self {
            StorageClass::StandardIa => "STANDARD_IA",
            StorageClass::OnezoneIa => "ONEZONE_IA",
            StorageClass::IntelligentTiering => "INTELLIGENT_TIERING",
            StorageClass::GlacierIr => "GLACIER_IR",
            StorageClass::Glacier => "GLACIER",
            StorageClass::DeepArchive => "DEEP_ARCHIVE",
        }
    }

    /// S3 refuses transitions to the IA classes before 30 days.
    pub fn min_days(self) -> u32 {
        match self {
            StorageClass::StandardIa | StorageClass::OnezoneIa => 30,
            _ => 0,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Transition {
    pub days: Spanned<u32>,
    pub storage_class: Spanned<StorageClass>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// Glue database name: lowercase letters, digits and underscores (Athena-compatible).
    pub database: Spanned<String>,
    #[serde(default)]
    pub description: Option<String>,
}
