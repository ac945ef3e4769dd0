//! `storage:`: the lake bucket with its zones' lifecycle and readers, the artifacts bucket (Glue
//! scripts, Athena results), the Glue database, and the Athena workgroup when anything uses Athena.

use super::{Builder, R, resource_address};
use crate::model::{CatalogEncryption, Engine};
use crate::policy::{Arns, list_prefixes};
use serde_json::{Value, json};

// Long: one stack section to its nodes (buckets, settings, catalog, workgroup), in reference order.
pub fn add(b: &mut Builder) {
    let s = b.s;
    let lake = b.lake();
    let artifacts = b.names.artifacts_bucket();
    let mut rules = vec![json!({
        "id": "abort-incomplete-uploads",
        "prefix": "",
        "abort_incomplete_multipart_days": 7,
    })];
    for (zone, z) in s.storage.lake.zones.iter() {
        if z.expire_days.is_none() && z.transitions.is_empty() && z.noncurrent_expire_days.is_none()
        {
            continue;
        }
        let mut rule =
            json!({ "id": format!("zone-{}", zone.value), "prefix": b.names.zone_prefix(zone) });
        if let Some(e) = &z.expire_days {
            rule["expire_days"] = json!(e.value);
        }
        if let Some(e) = &z.noncurrent_expire_days {
            rule["noncurrent_expire_days"] = json!(e.value);
        }
        if !z.transitions.is_empty() {
            rule["transitions"] = z
                .transitions
                .iter()
                .map(|t| json!({ "days": t.days.value, "storage_class": t.storage_class.as_str() }))
                .collect();
        }
        rules.push(rule);
    }
    let mut lake_policy = vec![deny_insecure_transport(&b.arns, &lake)];
    for r in &s.security.readers {
        let prefix = b.names.zone_prefix(&r.zone);
        lake_policy.push(json!({
            "Sid": format!("Read{}", r.zone.value),
            "Effect": "Allow",
            "Principal": { "AWS": r.principal.value },
            "Action": ["s3:GetObject"],
            "Resource": [b.arns.objects(&lake, &prefix)],
        }));
        lake_policy.push(json!({
            "Sid": format!("List{}", r.zone.value),
            "Effect": "Allow",
            "Principal": { "AWS": r.principal.value },
            "Action": ["s3:ListBucket"],
            "Resource": [b.arns.bucket(&lake)],
            "Condition": list_prefixes(&[prefix]),
        }));
    }
    let enc = b.encryption();
    let lake_addr = b.resource(
        R::S3Bucket,
        "lake",
        json!({
            "name": lake,
            "versioning": s.storage.lake.versioning,
            "encryption": enc,
            "public_access_block": public_access_block(),
            "lifecycle_rules": rules,
            "policy": { "Version": "2012-10-17", "Statement": lake_policy },
            "prevent_destroy": s.storage.lake.prevent_destroy,
        }),
        [],
    );
    let artifacts_addr = b.resource(
        R::S3Bucket,
        "artifacts",
        json!({
            "name": artifacts,
            "versioning": true,
            "encryption": enc,
            "public_access_block": public_access_block(),
            "lifecycle_rules": [
                { "id": "abort-incomplete-uploads", "prefix": "", "abort_incomplete_multipart_days": 7 },
                { "id": "athena-results", "prefix": "athena-results/", "expire_days": 30 },
            ],
            "policy": { "Version": "2012-10-17", "Statement": [deny_insecure_transport(&b.arns, &artifacts)] },
            "prevent_destroy": false,
        }),
        [],
    );
    let lake_name = b.name_of(&lake_addr);
    b.resource(
        R::GlueDatabase,
        "catalog",
        json!({
            "name": b.database(),
            "description": s.storage.catalog.description.clone().unwrap_or_default(),
            "location_uri": format!("s3://{}/", lake_name.as_str().unwrap_or_default()),
        }),
        [lake_addr],
    );
    if s.security.catalog_encryption.as_ref().map(|c| c.value) == Some(CatalogEncryption::Managed) {
        let mut attrs = json!({
            "name": b.loaded.account(),
            "catalog_encryption": "SSE-KMS",
            "connection_password_encryption": false,
        });
        if let Some(k) = b.kms_key() {
            attrs["kms_key"] = json!(b.arns.kms_key(&k));
            attrs["connection_password_encryption"] = json!(true);
        }
        b.resource(R::GlueCatalogEncryption, "catalog", attrs, []);
    }
    let uses_athena = s.transforms.iter().any(|(_, t)| t.engine == Engine::Athena)
        || !s.serving.views.is_empty()
        || !s.serving.exports.is_empty();
    if uses_athena {
        let results = b.name_of(&artifacts_addr);
        b.resource(
            R::AthenaWorkgroup,
            "main",
            json!({
                "name": b.names.prefix(),
                "result_location": format!("s3://{}/athena-results/", results.as_str().unwrap_or_default()),
                "result_encryption": if b.kms_key().is_some() { "SSE_KMS" } else { "SSE_S3" },
                "enforce_workgroup_configuration": true,
                "bytes_scanned_cutoff_per_query": 10u64 * 1024 * 1024 * 1024,
            }),
            [artifacts_addr],
        );
    }
}

/// The workgroup's address, when the stack has one.
pub fn workgroup(b: &Builder) -> Option<String> {
    let addr = resource_address(R::AthenaWorkgroup, "main");
    b.node(&addr).map(|_| addr)
}

fn public_access_block() -> Value {
    json!({
        "block_public_acls": true,
        "ignore_public_acls": true,
        "block_public_policy": true,
        "restrict_public_buckets": true,
    })
}

fn deny_insecure_transport(arns: &Arns, bucket: &str) -> Value {
    json!({
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [arns.bucket(bucket), arns.objects(bucket, "")],
        "Condition": { "Bool": { "aws:SecureTransport": "false" } },
    })
}
