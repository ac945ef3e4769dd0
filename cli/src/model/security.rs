//! `security:` overrides of dekit's secure defaults (which can be tightened, never loosened to public).

use crate::yaml::Spanned;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Encryption {
    /// SSE-S3 (AES256), Kinesis with the AWS-managed key.
    #[default]
    Aws,
    /// SSE-KMS with `kms_key`.
    Kms,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Security {
    #[serde(default)]
    pub encryption: Spanned<Encryption>,
    /// KMS key ARN or `alias/...`, required with `encryption: kms`.
    #[serde(default)]
    pub kms_key: Option<Spanned<String>>,
    /// Public access to lake data. Only `false` is accepted; it exists to say so explicitly.
    #[serde(default)]
    pub public_access: Option<Spanned<bool>>,
    /// Principals (role ARNs) granted read access to a zone, e.g. a BI tool's role.
    #[serde(default)]
    pub readers: Vec<Reader>,
    /// Permissions boundary attached to every generated role.
    #[serde(default)]
    pub permissions_boundary: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Reader {
    pub principal: Spanned<String>,
    pub zone: Spanned<String>,
}
