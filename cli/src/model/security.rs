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

/// Who sets the account's Glue Data Catalog encryption (one setting per account and region).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CatalogEncryption {
    /// This stack: SSE-KMS with `kms_key` (else the AWS managed `aws/glue` key). Declare it in
    /// one stack per account and region; `destroy` leaves it on.
    Managed,
    /// Something outside the stack (an account baseline); `lint` lists it as a note.
    External,
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
    /// Glue Data Catalog encryption at rest: `managed` by this stack or `external`.
    #[serde(default)]
    pub catalog_encryption: Option<Spanned<CatalogEncryption>>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Reader {
    pub principal: Spanned<String>,
    pub zone: Spanned<String>,
}
