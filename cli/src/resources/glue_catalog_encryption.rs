//! `glue_catalog_encryption`: the account's Glue Data Catalog encrypts its metadata at rest
//! (SSE-KMS with the stack's key, else the AWS managed `aws/glue` key) and, with a stack key,
//! connection passwords. Only with `security: {catalog_encryption: managed}`.
//!
//! Why: table definitions name columns, locations and sometimes sample values; unencrypted they
//! are readable to anyone with the catalog's storage. The setting is one per account and region,
//! not per stack, so a stack manages it only when it says so (`external`: an account baseline
//! does; `lint` notes that and warns, S125, when a stack says neither). `destroy` leaves the
//! setting as it is: tearing down a stack must not turn off encryption for every other one.
//!
//! Example: `glue_catalog_encryption.catalog` → account `123456789012`, `SSE-KMS`.

use super::{Attrs, Fut, Provider, s};
use crate::cloud::error::from_sdk;
use crate::cloud::{Clients, CloudError};
use aws_sdk_glue::types::{
    CatalogEncryptionMode, ConnectionPasswordEncryption, DataCatalogEncryptionSettings,
    EncryptionAtRest,
};
use serde_json::{Value, json};

pub struct GlueCatalogEncryption;

fn bad(name: &str) -> impl Fn(aws_sdk_glue::error::BuildError) -> CloudError + '_ {
    move |e| CloudError::new("Build", name, "InvalidInput", e.to_string())
}

fn settings(d: &Attrs) -> Result<DataCatalogEncryptionSettings, CloudError> {
    let name = s(d, "name");
    let key = d.get("kms_key").and_then(Value::as_str).map(str::to_string);
    let at_rest = EncryptionAtRest::builder()
        .catalog_encryption_mode(CatalogEncryptionMode::from(s(d, "catalog_encryption")))
        .set_sse_aws_kms_key_id(key.clone())
        .build()
        .map_err(bad(name))?;
    let passwords = ConnectionPasswordEncryption::builder()
        .return_connection_password_encrypted(
            d.get("connection_password_encryption") == Some(&Value::Bool(true)),
        )
        .set_aws_kms_key_id(key)
        .build();
    Ok(DataCatalogEncryptionSettings::builder()
        .encryption_at_rest(at_rest)
        .connection_password_encryption(passwords)
        .build())
}

impl Provider for GlueCatalogEncryption {
    fn tagged(&self) -> bool {
        false
    }

    /// The setting always exists; "not encrypted" reads as absent, so a plan creates it. The
    /// calls name no catalog: the caller's account's is the stack's (`name`, for the plan).
    fn read<'a>(&'a self, c: &'a Clients, d: &'a Attrs) -> Fut<'a, Option<Attrs>> {
        Box::pin(async move {
            let name = s(d, "name");
            let out = c
                .glue
                .get_data_catalog_encryption_settings()
                .send()
                .await
                .map_err(|e| from_sdk("GetDataCatalogEncryptionSettings", name, e))?;
            let set = out.data_catalog_encryption_settings();
            let rest = set.and_then(|s| s.encryption_at_rest());
            let mode = rest.map_or("DISABLED", |r| r.catalog_encryption_mode().as_str());
            if mode == "DISABLED" {
                return Ok(None);
            }
            let mut live = Attrs::new();
            live.insert("name".into(), json!(name));
            live.insert("catalog_encryption".into(), json!(mode));
            if let Some(k) = rest
                .and_then(|r| r.sse_aws_kms_key_id())
                .filter(|k| !k.is_empty())
            {
                live.insert("kms_key".into(), json!(k));
            }
            live.insert(
                "connection_password_encryption".into(),
                json!(
                    set.and_then(|s| s.connection_password_encryption())
                        .is_some_and(|p| p.return_connection_password_encrypted())
                ),
            );
            Ok(Some(live))
        })
    }

    fn create<'a>(&'a self, c: &'a Clients, d: &'a Attrs) -> Fut<'a, ()> {
        Box::pin(async move {
            let name = s(d, "name");
            c.glue
                .put_data_catalog_encryption_settings()
                .data_catalog_encryption_settings(settings(d)?)
                .send()
                .await
                .map_err(|e| from_sdk("PutDataCatalogEncryptionSettings", name, e))?;
            Ok(())
        })
    }

    fn update<'a>(&'a self, c: &'a Clients, d: &'a Attrs, _live: &'a Attrs) -> Fut<'a, ()> {
        self.create(c, d)
    }

    /// Leaves the account's setting on (see the module's doc): dekit only stops managing it.
    fn delete<'a>(&'a self, _c: &'a Clients, _a: &'a Attrs, _force: bool) -> Fut<'a, ()> {
        Box::pin(async { Ok(()) })
    }
}
