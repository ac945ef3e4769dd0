//! `s3_object`: a generated file dekit uploads (Glue job scripts), compared by SHA-256.
//!
//! Why: jobs run the script at their `script_location`; changing the model's SQL must replace the
//! script before the job runs again, and the plan should show that it changes.
//!
//! Example: `s3_object.shop_tables_script` → `s3://...-artifacts/glue/shop_tables.py`.

use super::{Attrs, Fut, Provider, absent, s};
use crate::cloud::error::from_sdk;
use crate::cloud::{Clients, CloudError};
use crate::hash::sha256;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use serde_json::json;

pub struct S3Object;

async fn put(c: &Clients, d: &Attrs) -> Result<(), CloudError> {
    let (bucket, key) = (s(d, "bucket"), s(d, "key"));
    c.s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(s(d, "content").as_bytes().to_vec()))
        .content_type("text/x-python")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .send()
        .await
        .map_err(|e| from_sdk("PutObject", &format!("s3://{bucket}/{key}"), e))?;
    Ok(())
}

impl Provider for S3Object {
    fn replace_on(&self) -> &'static [&'static str] {
        &["bucket", "key"]
    }
    fn tagged(&self) -> bool {
        false
    }
    fn read<'a>(&'a self, c: &'a Clients, d: &'a Attrs) -> Fut<'a, Option<Attrs>> {
        Box::pin(async move {
            let (bucket, key) = (s(d, "bucket"), s(d, "key"));
            let id = format!("s3://{bucket}/{key}");
            let Some(o) = absent(
                c.s3.get_object()
                    .bucket(bucket)
                    .key(key)
                    .send()
                    .await
                    .map_err(|e| from_sdk("GetObject", &id, e)),
            )?
            else {
                return Ok(None);
            };
            let bytes = o
                .body
                .collect()
                .await
                .map_err(|e| CloudError::new("GetObject", &id, "ReadBody", e.to_string()))?
                .into_bytes();
            let content = String::from_utf8_lossy(&bytes).into_owned();
            let mut live = Attrs::new();
            live.insert("bucket".into(), json!(bucket));
            live.insert("key".into(), json!(key));
            live.insert("content_sha256".into(), json!(sha256(&content)));
            live.insert("content".into(), json!(content));
            Ok(Some(live))
        })
    }

    fn create<'a>(&'a self, c: &'a Clients, d: &'a Attrs) -> Fut<'a, ()> {
        Box::pin(put(c, d))
    }

    fn update<'a>(&'a self, c: &'a Clients, d: &'a Attrs, _live: &'a Attrs) -> Fut<'a, ()> {
        Box::pin(put(c, d))
    }

    fn delete<'a>(&'a self, c: &'a Clients, a: &'a Attrs, _force: bool) -> Fut<'a, ()> {
        Box::pin(async move {
            let (bucket, key) = (s(a, "bucket"), s(a, "key"));
            // Delete every version: the artifacts bucket is versioned, and destroy must empty it.
            let out = absent(
                c.s3.list_object_versions()
                    .bucket(bucket)
                    .prefix(key)
                    .send()
                    .await
                    .map_err(|e| from_sdk("ListObjectVersions", bucket, e)),
            )?;
            let versions = out
                .as_ref()
                .map(|o| o.versions())
                .unwrap_or_default()
                .iter()
                .map(|v| (v.key(), v.version_id()));
            let markers = out
                .as_ref()
                .map(|o| o.delete_markers())
                .unwrap_or_default()
                .iter()
                .map(|m| (m.key(), m.version_id()));
            for (_, version) in versions.chain(markers).filter(|(k, _)| *k == Some(key)) {
                c.s3.delete_object()
                    .bucket(bucket)
                    .key(key)
                    .set_version_id(version.map(str::to_string))
                    .send()
                    .await
                    .map_err(|e| from_sdk("DeleteObject", key, e))?;
            }
            Ok(())
        })
    }
}
