//! `s3_bucket`: a lake or artifacts bucket with versioning, default encryption, all four public
//! access blocks, lifecycle rules per zone, a TLS-only bucket policy and tags.
//!
//! Why a provider of its own: each setting is a separate S3 API, and a bucket created without them
//! is exposed until they land, so create applies them all before reporting success, and apply reads
//! every one back.
//!
//! Example: `s3_bucket.lake` → `dekit-retail-local-lake`, lifecycle `zone-raw` expiring after 365 days.

use super::{Attrs, Fut, Provider, absent, s, tag_map, tags};
use crate::cloud::error::from_sdk;
use crate::cloud::{Clients, CloudError};
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketLocationConstraint,
    BucketVersioningStatus, CreateBucketConfiguration, ExpirationStatus, LifecycleExpiration,
    LifecycleRule, LifecycleRuleFilter, NoncurrentVersionExpiration,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Tag, Tagging, Transition,
    TransitionStorageClass, VersioningConfiguration,
};
use serde_json::{Value, json};

pub struct S3Bucket;

fn build_err(name: &str) -> impl Fn(aws_sdk_s3::error::BuildError) -> CloudError + '_ {
    move |e| CloudError::new("Build", name, "InvalidInput", e.to_string())
}

// Long: one S3 call per bucket setting, in the order S3 accepts them.
async fn apply_settings(c: &Clients, d: &Attrs, live: Option<&Attrs>) -> Result<(), CloudError> {
    let name = s(d, "name");
    let changed = |k: &str| live.is_none_or(|l| l.get(k) != d.get(k));
    if changed("public_access_block") {
        let p = &d["public_access_block"];
        let cfg = PublicAccessBlockConfiguration::builder()
            .block_public_acls(p["block_public_acls"].as_bool().unwrap_or(true))
            .ignore_public_acls(p["ignore_public_acls"].as_bool().unwrap_or(true))
            .block_public_policy(p["block_public_policy"].as_bool().unwrap_or(true))
            .restrict_public_buckets(p["restrict_public_buckets"].as_bool().unwrap_or(true))
            .build();
        c.s3.put_public_access_block()
            .bucket(name)
            .public_access_block_configuration(cfg)
            .send()
            .await
            .map_err(|e| from_sdk("PutPublicAccessBlock", name, e))?;
    }
    if changed("encryption") {
        let e = &d["encryption"];
        let mut by_default = ServerSideEncryptionByDefault::builder().sse_algorithm(
            ServerSideEncryption::from(e["algorithm"].as_str().unwrap_or("AES256")),
        );
        if let Some(k) = e["kms_key"].as_str() {
            by_default = by_default.kms_master_key_id(k);
        }
        let rule = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(by_default.build().map_err(build_err(name))?)
            .set_bucket_key_enabled(e["bucket_key"].as_bool())
            .build();
        let cfg = ServerSideEncryptionConfiguration::builder()
            .rules(rule)
            .build()
            .map_err(build_err(name))?;
        c.s3.put_bucket_encryption()
            .bucket(name)
            .server_side_encryption_configuration(cfg)
            .send()
            .await
            .map_err(|e| from_sdk("PutBucketEncryption", name, e))?;
    }
    if changed("versioning") {
        // A versioned bucket can only be suspended, never unversioned again.
        let status = if d["versioning"] == true {
            BucketVersioningStatus::Enabled
        } else {
            BucketVersioningStatus::Suspended
        };
        if d["versioning"] == true || live.is_some() {
            c.s3.put_bucket_versioning()
                .bucket(name)
                .versioning_configuration(VersioningConfiguration::builder().status(status).build())
                .send()
                .await
                .map_err(|e| from_sdk("PutBucketVersioning", name, e))?;
        }
    }
    if changed("lifecycle_rules") {
        let mut rules = vec![];
        for r in d["lifecycle_rules"].as_array().into_iter().flatten() {
            let mut b = LifecycleRule::builder()
                .id(r["id"].as_str().unwrap_or_default())
                .status(ExpirationStatus::Enabled)
                .filter(
                    LifecycleRuleFilter::builder()
                        .prefix(r["prefix"].as_str().unwrap_or_default())
                        .build(),
                );
            if let Some(days) = r["expire_days"].as_i64() {
                b = b.expiration(LifecycleExpiration::builder().days(days as i32).build());
            }
            if let Some(days) = r["noncurrent_expire_days"].as_i64() {
                b = b.noncurrent_version_expiration(
                    NoncurrentVersionExpiration::builder()
                        .noncurrent_days(days as i32)
                        .build(),
                );
            }
            if let Some(days) = r["abort_incomplete_multipart_days"].as_i64() {
                b = b.abort_incomplete_multipart_upload(
                    AbortIncompleteMultipartUpload::builder()
                        .days_after_initiation(days as i32)
                        .build(),
                );
            }
            for t in r["transitions"].as_array().into_iter().flatten() {
                b = b.transitions(
                    Transition::builder()
                        .days(t["days"].as_i64().unwrap_or_default() as i32)
                        .storage_class(TransitionStorageClass::from(
                            t["storage_class"].as_str().unwrap_or_default(),
                        ))
                        .build(),
                );
            }
            rules.push(b.build().map_err(build_err(name))?);
        }
        let cfg = BucketLifecycleConfiguration::builder()
            .set_rules(Some(rules))
            .build()
            .map_err(build_err(name))?;
        c.s3.put_bucket_lifecycle_configuration()
            .bucket(name)
            .lifecycle_configuration(cfg)
            .send()
            .await
            .map_err(|e| from_sdk("PutBucketLifecycleConfiguration", name, e))?;
    }
    if changed("policy") {
        c.s3.put_bucket_policy()
            .bucket(name)
            .policy(d["policy"].to_string())
            .send()
            .await
            .map_err(|e| from_sdk("PutBucketPolicy", name, e))?;
    }
    if changed("tags") {
        let set: Vec<Tag> = tags(d)
            .into_iter()
            .map(|(k, v)| {
                Tag::builder()
                    .key(k)
                    .value(v)
                    .build()
                    .map_err(build_err(name))
            })
            .collect::<Result<_, _>>()?;
        c.s3.put_bucket_tagging()
            .bucket(name)
            .tagging(
                Tagging::builder()
                    .set_tag_set(Some(set))
                    .build()
                    .map_err(build_err(name))?,
            )
            .send()
            .await
            .map_err(|e| from_sdk("PutBucketTagging", name, e))?;
    }
    Ok(())
}

// Long: one S3 read per bucket setting, each with its own not-found code.
async fn read(c: &Clients, d: &Attrs) -> Result<Option<Attrs>, CloudError> {
    let name = s(d, "name");
    // All settings at once: a missing bucket answers NoSuchBucket to each of them.
    let (versioning, encryption, pab, lifecycle, policy, tagging) = tokio::join!(
        c.s3.get_bucket_versioning().bucket(name).send(),
        c.s3.get_bucket_encryption().bucket(name).send(),
        c.s3.get_public_access_block().bucket(name).send(),
        c.s3.get_bucket_lifecycle_configuration()
            .bucket(name)
            .send(),
        c.s3.get_bucket_policy().bucket(name).send(),
        c.s3.get_bucket_tagging().bucket(name).send(),
    );
    let versioning = match versioning.map_err(|e| from_sdk("GetBucketVersioning", name, e)) {
        Err(e) if e.code == "NoSuchBucket" => return Ok(None),
        other => other?,
    };
    let mut live = Attrs::new();
    live.insert("name".into(), json!(name));
    live.insert(
        "versioning".into(),
        json!(versioning.status() == Some(&BucketVersioningStatus::Enabled)),
    );
    let encryption = absent(encryption.map_err(|e| from_sdk("GetBucketEncryption", name, e)))?;
    let enc = encryption
        .as_ref()
        .and_then(|e| e.server_side_encryption_configuration())
        .and_then(|c| c.rules().first())
        .map(|r| {
            let by_default = r.apply_server_side_encryption_by_default();
            let mut v = json!({ "algorithm": by_default.map(|b| b.sse_algorithm().as_str()).unwrap_or_default() });
            if let Some(k) = by_default.and_then(|b| b.kms_master_key_id()) {
                v["kms_key"] = json!(k);
            }
            if d["encryption"].get("bucket_key").is_some() {
                v["bucket_key"] = json!(r.bucket_key_enabled().unwrap_or(false));
            }
            v
        })
        .unwrap_or(Value::Null);
    live.insert("encryption".into(), enc);
    let pab = absent(pab.map_err(|e| from_sdk("GetPublicAccessBlock", name, e)))?;
    live.insert(
        "public_access_block".into(),
        match pab
            .as_ref()
            .and_then(|p| p.public_access_block_configuration())
        {
            Some(p) => json!({
                "block_public_acls": p.block_public_acls().unwrap_or(false),
                "ignore_public_acls": p.ignore_public_acls().unwrap_or(false),
                "block_public_policy": p.block_public_policy().unwrap_or(false),
                "restrict_public_buckets": p.restrict_public_buckets().unwrap_or(false),
            }),
            None => Value::Null,
        },
    );
    let lifecycle =
        absent(lifecycle.map_err(|e| from_sdk("GetBucketLifecycleConfiguration", name, e)))?;
    let rules: Vec<Value> = lifecycle
        .as_ref()
        .map(|l| l.rules())
        .unwrap_or_default()
        .iter()
        .map(|r| {
            let mut v = json!({
                "id": r.id().unwrap_or_default(),
                "prefix": r.filter().and_then(|f| f.prefix()).unwrap_or_default(),
            });
            if let Some(d) = r.abort_incomplete_multipart_upload().and_then(|a| a.days_after_initiation()) {
                v["abort_incomplete_multipart_days"] = json!(d);
            }
            if let Some(d) = r.expiration().and_then(|e| e.days()) {
                v["expire_days"] = json!(d);
            }
            if let Some(d) = r.noncurrent_version_expiration().and_then(|e| e.noncurrent_days()) {
                v["noncurrent_expire_days"] = json!(d);
            }
            if !r.transitions().is_empty() {
                v["transitions"] = r
                    .transitions()
                    .iter()
                    .map(|t| json!({ "days": t.days().unwrap_or_default(), "storage_class": t.storage_class().map(|s| s.as_str()).unwrap_or_default() }))
                    .collect();
            }
            v
        })
        .collect();
    live.insert("lifecycle_rules".into(), json!(rules));
    let policy = absent(policy.map_err(|e| from_sdk("GetBucketPolicy", name, e)))?;
    live.insert(
        "policy".into(),
        policy
            .and_then(|p| p.policy().map(super::decode_policy))
            .unwrap_or(Value::Null),
    );
    let tagging = absent(tagging.map_err(|e| from_sdk("GetBucketTagging", name, e)))?;
    live.insert(
        "tags".into(),
        tag_map(
            tagging
                .as_ref()
                .map(|t| t.tag_set())
                .unwrap_or_default()
                .iter()
                .map(|t| (t.key(), t.value())),
        ),
    );
    // Not an AWS setting: dekit's own guard, carried over from the stack.
    live.insert(
        "prevent_destroy".into(),
        d.get("prevent_destroy").cloned().unwrap_or(json!(false)),
    );
    Ok(Some(live))
}

async fn object_count(c: &Clients, name: &str) -> Result<i64, CloudError> {
    let out =
        c.s3.list_object_versions()
            .bucket(name)
            .max_keys(1000)
            .send()
            .await
            .map_err(|e| from_sdk("ListObjectVersions", name, e))?;
    Ok((out.versions().len() + out.delete_markers().len()) as i64)
}

impl Provider for S3Bucket {
    fn read<'a>(&'a self, c: &'a Clients, d: &'a Attrs) -> Fut<'a, Option<Attrs>> {
        Box::pin(read(c, d))
    }

    fn create<'a>(&'a self, c: &'a Clients, d: &'a Attrs) -> Fut<'a, ()> {
        Box::pin(async move {
            let name = s(d, "name");
            let mut req = c.s3.create_bucket().bucket(name);
            let region = c.target.region();
            if region != "us-east-1" {
                req = req.create_bucket_configuration(
                    CreateBucketConfiguration::builder()
                        .location_constraint(BucketLocationConstraint::from(region))
                        .build(),
                );
            }
            req.send()
                .await
                .map_err(|e| from_sdk("CreateBucket", name, e))?;
            apply_settings(c, d, None).await
        })
    }

    fn update<'a>(&'a self, c: &'a Clients, d: &'a Attrs, live: &'a Attrs) -> Fut<'a, ()> {
        Box::pin(apply_settings(c, d, Some(live)))
    }

    fn delete<'a>(&'a self, c: &'a Clients, a: &'a Attrs, force: bool) -> Fut<'a, ()> {
        Box::pin(async move {
            let name = s(a, "name");
            loop {
                let out =
                    c.s3.list_object_versions()
                        .bucket(name)
                        .send()
                        .await
                        .map_err(|e| from_sdk("ListObjectVersions", name, e))?;
                let mut keys: Vec<(String, Option<String>)> = out
                    .versions()
                    .iter()
                    .map(|v| {
                        (
                            v.key().unwrap_or_default().to_string(),
                            v.version_id().map(str::to_string),
                        )
                    })
                    .collect();
                keys.extend(out.delete_markers().iter().map(|m| {
                    (
                        m.key().unwrap_or_default().to_string(),
                        m.version_id().map(str::to_string),
                    )
                }));
                if keys.is_empty() {
                    break;
                }
                if !force {
                    return Err(CloudError::new(
                        "DeleteBucket",
                        name,
                        "BucketNotEmpty",
                        format!(
                            "the bucket holds data ({}{} object versions); pass --force-delete-data to delete it",
                            keys.len(),
                            if out.is_truncated() == Some(true) {
                                "+"
                            } else {
                                ""
                            }
                        ),
                    ));
                }
                for (k, v) in keys {
                    c.s3.delete_object()
                        .bucket(name)
                        .key(&k)
                        .set_version_id(v)
                        .send()
                        .await
                        .map_err(|e| from_sdk("DeleteObject", &format!("{name}/{k}"), e))?;
                }
            }
            c.s3.delete_bucket()
                .bucket(name)
                .send()
                .await
                .map_err(|e| from_sdk("DeleteBucket", name, e))?;
            Ok(())
        })
    }

    fn data_note<'a>(&'a self, c: &'a Clients, a: &'a Attrs) -> Fut<'a, Option<String>> {
        Box::pin(async move {
            let n = object_count(c, s(a, "name")).await?;
            Ok((n > 0).then(|| {
                format!(
                    "bucket has {}{} objects",
                    group(n),
                    if n >= 1000 { "+" } else { "" }
                )
            }))
        })
    }
}

/// 1204 → "1,204".
pub fn group(n: i64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
