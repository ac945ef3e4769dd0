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

/// What a model, view or table is exported as: files in a lake zone (`zone:`), or rows in a table
/// of a database source (`to:`), written back into an operational system.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Export {
    /// The model, view or table to export.
    pub from: Spanned<String>,
    /// Files: the zone they are written to.
    #[serde(default)]
    pub zone: Option<Spanned<String>>,
    #[serde(default)]
    pub prefix: Option<Spanned<String>>,
    #[serde(default)]
    pub format: DataFormat,
    #[serde(default)]
    pub consumer: Consumer,
    #[serde(default)]
    pub schedule: Option<Spanned<String>>,
    /// Rows: the database source (postgres, mysql) whose table receives them.
    #[serde(default)]
    pub to: Option<Spanned<String>>,
    /// The target table (`schema.table` on PostgreSQL; created when absent).
    #[serde(default)]
    pub table: Option<Spanned<String>>,
    /// The columns that identify a row in the target.
    #[serde(default)]
    pub key: Vec<Spanned<String>>,
    /// How the target is brought in line with the rows (default `upsert`).
    #[serde(default)]
    pub mode: Option<Spanned<ExportMode>>,
    /// HTTP API exports: the path after the source's `url` (default `/<export name>`).
    #[serde(default)]
    pub path: Option<Spanned<String>>,
    /// HTTP API exports: `POST` (default) or `PUT`.
    #[serde(default)]
    pub method: Option<Spanned<HttpMethod>>,
    /// HTTP API exports: rows per request (default 100).
    #[serde(default)]
    pub batch_size: Option<Spanned<u32>>,
    /// HTTP API exports: requests per second at most (default: no limit).
    #[serde(default)]
    pub rate_per_second: Option<Spanned<u32>>,
}

impl Export {
    /// Where an export of rows writes, as messages, its sync state and `dekit test` name it:
    /// `<source>.<table>` for a database, `<source>/<path>` for an HTTP API (the path defaults
    /// to the export's name; never the URL, whose host may come from a secret). `None` for files.
    pub fn target(&self, name: &str) -> Option<String> {
        let to = &self.to.as_ref()?.value;
        Some(match (&self.table, &self.path) {
            (Some(t), _) => format!("{to}.{}", t.value),
            (None, Some(p)) => format!("{to}/{}", p.value.trim_start_matches('/')),
            (None, None) => format!("{to}/{name}"),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    #[default]
    Post,
    Put,
}

/// How a database export writes: rows are staged, then applied in one transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum ExportMode {
    /// Insert new keys, update changed rows; other rows of the target are left alone.
    #[default]
    Upsert,
    /// The target becomes exactly the rows (what was there and is not is deleted).
    Replace,
    /// Upsert, and delete the rows whose key left the model.
    UpsertDelete,
}

impl ExportMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ExportMode::Upsert => "upsert",
            ExportMode::Replace => "replace",
            ExportMode::UpsertDelete => "upsert_delete",
        }
    }
}
