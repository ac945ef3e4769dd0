//! `glue_security_configuration`: how the stack's Glue jobs and crawlers encrypt what they write —
//! S3 data (SSE-KMS with the stack's key, else SSE-S3), their CloudWatch logs (SSE-KMS) and job
//! bookmarks (CSE-KMS); the last two need a key of the stack's own and are off without one.
//!
//! Why: a Glue job without a security configuration writes with whatever the bucket defaults to
//! and logs in clear; with one, the job's own writes are encrypted whatever bucket they land in,
//! and `lint` (S124) can check every job and crawler names it. Glue has no call to change a
//! security configuration, so any change re-creates it (jobs keep naming it: the name is stable).
//!
//! Example: `glue_security_configuration.glue` → `retail-local`, S3 `SSE-S3`, logs and bookmarks
//! `DISABLED` (no stack key); with `encryption: kms`: `SSE-KMS` / `SSE-KMS` / `CSE-KMS`.

use super::{Attrs, Fut, Provider, absent, s};
use crate::cloud::error::from_sdk;
use crate::cloud::{Clients, CloudError};
use aws_sdk_glue::types::{
    CloudWatchEncryption, CloudWatchEncryptionMode, EncryptionConfiguration,
    JobBookmarksEncryption, JobBookmarksEncryptionMode, S3Encryption, S3EncryptionMode,
};
use serde_json::json;

pub struct GlueSecurityConfiguration;

fn key(d: &Attrs) -> Option<String> {
    d.get("kms_key")
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

fn configuration(d: &Attrs) -> EncryptionConfiguration {
    let key = key(d);
    EncryptionConfiguration::builder()
        .s3_encryption(
            S3Encryption::builder()
                .s3_encryption_mode(S3EncryptionMode::from(s(d, "s3_encryption")))
                .set_kms_key_arn(key.clone())
                .build(),
        )
        .cloud_watch_encryption(
            CloudWatchEncryption::builder()
                .cloud_watch_encryption_mode(CloudWatchEncryptionMode::from(s(
                    d,
                    "cloudwatch_encryption",
                )))
                .set_kms_key_arn(key.clone())
                .build(),
        )
        .job_bookmarks_encryption(
            JobBookmarksEncryption::builder()
                .job_bookmarks_encryption_mode(JobBookmarksEncryptionMode::from(s(
                    d,
                    "job_bookmarks_encryption",
                )))
                .set_kms_key_arn(key)
                .build(),
        )
        .build()
}

impl Provider for GlueSecurityConfiguration {
    fn replace_on(&self) -> &'static [&'static str] {
        &[
            "name",
            "s3_encryption",
            "cloudwatch_encryption",
            "job_bookmarks_encryption",
            "kms_key",
        ]
    }

    /// Glue cannot tag a security configuration.
    fn tagged(&self) -> bool {
        false
    }

    fn read<'a>(&'a self, c: &'a Clients, d: &'a Attrs) -> Fut<'a, Option<Attrs>> {
        Box::pin(async move {
            let name = s(d, "name");
            let Some(out) = absent(
                c.glue
                    .get_security_configuration()
                    .name(name)
                    .send()
                    .await
                    .map_err(|e| from_sdk("GetSecurityConfiguration", name, e)),
            )?
            else {
                return Ok(None);
            };
            let Some(cfg) = out.security_configuration() else {
                return Ok(None);
            };
            let enc = cfg.encryption_configuration();
            let s3 = enc.and_then(|e| e.s3_encryption().first());
            let cw = enc.and_then(|e| e.cloud_watch_encryption());
            let jb = enc.and_then(|e| e.job_bookmarks_encryption());
            let mut live = Attrs::new();
            live.insert("name".into(), json!(cfg.name()));
            live.insert(
                "s3_encryption".into(),
                json!(
                    s3.and_then(|e| e.s3_encryption_mode())
                        .map_or("DISABLED", |m| m.as_str())
                ),
            );
            live.insert(
                "cloudwatch_encryption".into(),
                json!(
                    cw.and_then(|e| e.cloud_watch_encryption_mode())
                        .map_or("DISABLED", |m| m.as_str())
                ),
            );
            live.insert(
                "job_bookmarks_encryption".into(),
                json!(
                    jb.and_then(|e| e.job_bookmarks_encryption_mode())
                        .map_or("DISABLED", |m| m.as_str())
                ),
            );
            if let Some(k) = s3.and_then(|e| e.kms_key_arn()).filter(|k| !k.is_empty()) {
                live.insert("kms_key".into(), json!(k));
            }
            Ok(Some(live))
        })
    }

    fn create<'a>(&'a self, c: &'a Clients, d: &'a Attrs) -> Fut<'a, ()> {
        Box::pin(async move {
            let name = s(d, "name");
            c.glue
                .create_security_configuration()
                .name(name)
                .encryption_configuration(configuration(d))
                .send()
                .await
                .map_err(|e| from_sdk("CreateSecurityConfiguration", name, e))?;
            Ok(())
        })
    }

    fn update<'a>(&'a self, _c: &'a Clients, d: &'a Attrs, _live: &'a Attrs) -> Fut<'a, ()> {
        // Every attribute is in `replace_on`: plan never asks for an in-place update.
        Box::pin(async move {
            Err(CloudError::new(
                "UpdateSecurityConfiguration",
                s(d, "name"),
                "NotUpdatable",
                "Glue security configurations cannot be changed in place; dekit re-creates them",
            ))
        })
    }

    fn delete<'a>(&'a self, c: &'a Clients, a: &'a Attrs, _force: bool) -> Fut<'a, ()> {
        Box::pin(async move {
            let name = s(a, "name");
            absent(
                c.glue
                    .delete_security_configuration()
                    .name(name)
                    .send()
                    .await
                    .map_err(|e| from_sdk("DeleteSecurityConfiguration", name, e)),
            )?;
            Ok(())
        })
    }
}
