//! `environments:` where a stack is deployed: the local cloud or an AWS account.

use crate::yaml::{Named, Spanned};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// LocalStack (+ moto for Glue and Athena) on this machine.
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
];
