//! `environments:` where a stack is deployed: the local cloud or an AWS account.

use crate::yaml::{Named, Spanned};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// The local cloud on this machine (MiniStack, or LocalStack + moto).
    Local,
    /// A real AWS account, through the standard credential chain.
    Aws,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    pub target: Spanned<Target>,
    /// AWS region (default us-east-1).
    #[serde(default)]
    pub region: Option<Spanned<String>>,
    /// The 12-digit account id; required for `aws` so a plan can never reach the wrong account.
    #[serde(default)]
    pub account: Option<Spanned<String>>,
    /// Named profile of the shared AWS config (`aws` only).
    #[serde(default)]
    pub profile: Option<Spanned<String>>,
    /// Endpoint of the local cloud (`local` only; default http://127.0.0.1:4566).
    #[serde(default)]
    pub endpoint: Option<Spanned<String>>,
    /// Per-service endpoint overrides, e.g. `glue: http://127.0.0.1:5000`.
    #[serde(default)]
    pub endpoints: Named<Spanned<String>>,
    #[serde(default)]
    pub variables: Named<Spanned<String>>,
    /// Where state lives: a local path (default `.dekit/<env>.state.json`) or `s3://bucket/key`.
    #[serde(default)]
    pub state: Option<Spanned<String>>,
    /// Start the local cloud when it is not running (`local` only).
    #[serde(default)]
    pub start_local: bool,
    /// Pin the local cloud's engine (`local` only). Unpinned, dekit uses whichever runs, and
    /// starts MiniStack.
    #[serde(default)]
    pub engine: Option<Spanned<LocalEngine>>,
    /// Serve database sources that have `sample:` data from the local database servers
    /// (`dekit local start` runs them), seeded from the sample (`local` only).
    #[serde(default)]
    pub local_sources: bool,
}

/// The engines of the local cloud, each with what it can do (SQLMesh-style capability flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum LocalEngine {
    /// MiniStack: every service on one port, Firehose reading Kinesis, Athena SELECT on DuckDB.
    #[default]
    Ministack,
    /// LocalStack 2026.3 (free edition) with moto's server for Glue and Athena.
    Localstack,
}

impl LocalEngine {
    pub fn as_str(self) -> &'static str {
        match self {
            LocalEngine::Ministack => "ministack",
            LocalEngine::Localstack => "localstack",
        }
    }

    /// The path that answers 200 when the engine is up.
    pub fn health_path(self) -> &'static str {
        match self {
            LocalEngine::Ministack => "/_ministack/health",
            LocalEngine::Localstack => "/_localstack/health",
        }
    }

    /// Whether Firehose can read from a Kinesis stream (LocalStack needs a Java download for it
    /// and the delivery stream ends in CREATING_FAILED).
    pub fn firehose_reads_kinesis(self) -> bool {
        self == LocalEngine::Ministack
    }

    /// Services served by moto's server beside the engine rather than by the engine itself.
    pub fn moto_services(self) -> &'static [&'static str] {
        match self {
            LocalEngine::Ministack => &[],
            LocalEngine::Localstack => &["glue", "athena"],
        }
    }
}

pub const SERVICES: &[&str] = &[
    "s3",
    "kinesis",
    "firehose",
    "glue",
    "athena",
    "iam",
    "sts",
    "cloudwatch",
    "logs",
    "secretsmanager",
];
