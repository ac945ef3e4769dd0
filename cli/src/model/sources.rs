//! `sources:` the systems data comes from.

use crate::model::DataFormat;
use crate::yaml::Spanned;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Postgres,
    Mysql,
    Files,
    HttpApi,
    Events,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Postgres => "postgres",
            SourceKind::Mysql => "mysql",
            SourceKind::Files => "files",
            SourceKind::HttpApi => "http_api",
            SourceKind::Events => "events",
        }
    }

    pub fn is_database(self) -> bool {
        matches!(self, SourceKind::Postgres | SourceKind::Mysql)
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub kind: Spanned<SourceKind>,
    #[serde(default)]
    pub description: Option<String>,
    /// Database host (postgres, mysql).
    #[serde(default)]
    pub host: Option<Spanned<String>>,
    #[serde(default)]
    pub port: Option<Spanned<u16>>,
    #[serde(default)]
    pub database: Option<Spanned<String>>,
    #[serde(default)]
    pub user: Option<Spanned<String>>,
    /// Must be `${env.NAME}`: a literal password is an error.
    #[serde(default)]
    pub password: Option<Spanned<String>>,
    /// Tables a database source offers for ingestion.
    #[serde(default)]
    pub tables: Vec<Spanned<String>>,
    /// Files: a path or glob, relative to the stack file.
    #[serde(default)]
    pub path: Option<Spanned<String>>,
    #[serde(default)]
    pub format: Option<Spanned<DataFormat>>,
    /// HTTP API base URL.
    #[serde(default)]
    pub url: Option<Spanned<String>>,
    /// HTTP API token; must be `${env.NAME}`.
    #[serde(default)]
    pub token: Option<Spanned<String>>,
    /// Sample data (a directory or file, relative to the stack file) used by local runs and tests.
    #[serde(default)]
    pub sample: Option<Spanned<String>>,
}
