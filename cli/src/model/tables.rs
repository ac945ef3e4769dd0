//! `tables:` catalog tables over lake data, declared or derived from an ingest's output.

use crate::model::DataFormat;
use crate::yaml::{Named, Spanned};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Table {
    pub zone: Spanned<String>,
    /// The ingest (stream or batch) that writes this table's data.
    #[serde(default)]
    pub from: Option<Spanned<String>>,
    /// Written by something outside the stack (another pipeline, a vendor's drop): dekit
    /// catalogs and reads it but nothing in the stack writes it.
    #[serde(default)]
    pub external: Option<Spanned<bool>>,
    /// For batch ingests: the source table (default: this table's name).
    #[serde(default)]
    pub source_table: Option<Spanned<String>>,
    /// Key prefix inside the zone (default: where `from` writes, else `<table>/`).
    #[serde(default)]
    pub prefix: Option<Spanned<String>>,
    #[serde(default)]
    pub format: Option<Spanned<DataFormat>>,
    #[serde(default)]
    pub description: Option<String>,
    /// Column name to Glue/Hive type (`bigint`, `string`, `decimal(10,2)`, `array<string>`, ...).
    pub columns: Named<Spanned<String>>,
    #[serde(default)]
    pub partitions: Named<Spanned<String>>,
    /// A column that only grows (an id, an update time): batch loads take only rows above the
    /// highest value loaded before, kept in the lake (like a Glue job bookmark).
    #[serde(default)]
    pub watermark: Option<Spanned<String>>,
    /// Let a Glue crawler keep partitions up to date.
    #[serde(default)]
    pub crawler: Option<Crawler>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Crawler {
    #[serde(default)]
    pub schedule: Option<Spanned<String>>,
}
