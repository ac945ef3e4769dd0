//! One provider per AWS resource kind, all behind the `Provider` trait: read live state, create,
//! update in place, delete. Each kind lives in its own file, opening with what it manages and why.
//!
//! `read` returns live attributes in the same shape the graph compiler produces, so plan can diff
//! desired against live key by key, and apply can verify every write by reading it back.

pub mod athena_workgroup;
pub mod cloudwatch_alarm;
pub mod firehose_delivery_stream;
pub mod glue_catalog_encryption;
pub mod glue_crawler;
pub mod glue_database;
pub mod glue_job;
pub mod glue_security_configuration;
pub mod glue_table;
pub mod glue_trigger;
pub mod iam_role;
pub mod kind;
pub mod kinesis_stream;
pub mod lambda_function;
pub mod s3_bucket;
pub mod s3_object;
pub mod scheduler_schedule;
pub mod secretsmanager_secret;
pub mod sfn_state_machine;
pub mod sns_topic;

use crate::cloud::{Clients, CloudError};
use kind::ResourceKind;
use serde_json::{Map, Value};
use std::future::Future;
use std::pin::Pin;

pub type Attrs = Map<String, Value>;
pub type Fut<'a, T> = Pin<Box<dyn Future<Output = Result<T, CloudError>> + Send + 'a>>;

/// Lifecycle of one resource kind against AWS. `desired` is the node's attribute map.
pub trait Provider: Send + Sync {
    /// Attributes AWS cannot change in place: a different value means delete and re-create.
    fn replace_on(&self) -> &'static [&'static str] {
        &["name"]
    }
    /// Attributes only AWS knows (an ARN), read back after a write and recorded in state, where
    /// references (`graph::refs`) from other resources find them.
    fn outputs(&self) -> &'static [&'static str] {
        &[]
    }
    /// Whether the resource carries dekit's tags (Glue tables keep them as parameters instead).
    fn tagged(&self) -> bool {
        true
    }
    /// Live attributes, or `None` when the resource does not exist.
    fn read<'a>(&'a self, c: &'a Clients, desired: &'a Attrs) -> Fut<'a, Option<Attrs>>;
    fn create<'a>(&'a self, c: &'a Clients, desired: &'a Attrs) -> Fut<'a, ()>;
    /// Create, returning the live attributes when the create's own last calls read them all
    /// anyway (a wait for ACTIVE describes the resource): apply verifies those instead of
    /// reading again. `None`: apply reads it back.
    fn create_observed<'a>(&'a self, c: &'a Clients, desired: &'a Attrs) -> Fut<'a, Option<Attrs>> {
        Box::pin(async move {
            self.create(c, desired).await?;
            Ok(None)
        })
    }
    /// Bring a live resource to `desired` without replacing it.
    fn update<'a>(&'a self, c: &'a Clients, desired: &'a Attrs, live: &'a Attrs) -> Fut<'a, ()>;
    fn delete<'a>(
        &'a self,
        c: &'a Clients,
        attrs: &'a Attrs,
        force_delete_data: bool,
    ) -> Fut<'a, ()>;
    /// Which of `names` exist, in as few calls as the API allows (a list or a batch read), so a
    /// refresh reads in full only what exists. `None`: no cheaper way than reading each.
    fn existing<'a>(
        &'a self,
        _c: &'a Clients,
        _names: &'a [String],
    ) -> Fut<'a, Option<std::collections::BTreeSet<String>>> {
        Box::pin(async { Ok(None) })
    }
    /// Full live attributes of each of `desired` (`None` where it does not exist), in fewer
    /// calls than one read each: a list call that returns everything `read` would. `None`: the
    /// API has no such call, read each.
    fn read_many<'a>(
        &'a self,
        _c: &'a Clients,
        _desired: &'a [Attrs],
    ) -> Fut<'a, Option<Vec<Option<Attrs>>>> {
        Box::pin(async { Ok(None) })
    }
    /// What deleting it would destroy (e.g. "bucket has 1,204 objects"), for plans.
    fn data_note<'a>(&'a self, _c: &'a Clients, _attrs: &'a Attrs) -> Fut<'a, Option<String>> {
        Box::pin(async { Ok(None) })
    }
}

pub fn provider(kind: ResourceKind) -> &'static dyn Provider {
    match kind {
        ResourceKind::S3Bucket => &s3_bucket::S3Bucket,
        ResourceKind::S3Object => &s3_object::S3Object,
        ResourceKind::KinesisStream => &kinesis_stream::KinesisStream,
        ResourceKind::FirehoseDeliveryStream => &firehose_delivery_stream::FirehoseDeliveryStream,
        ResourceKind::GlueDatabase => &glue_database::GlueDatabase,
        ResourceKind::GlueTable => &glue_table::GlueTable,
        ResourceKind::GlueCrawler => &glue_crawler::GlueCrawler,
        ResourceKind::GlueJob => &glue_job::GlueJob,
        ResourceKind::GlueTrigger => &glue_trigger::GlueTrigger,
        ResourceKind::GlueSecurityConfiguration => {
            &glue_security_configuration::GlueSecurityConfiguration
        }
        ResourceKind::GlueCatalogEncryption => &glue_catalog_encryption::GlueCatalogEncryption,
        ResourceKind::IamRole => &iam_role::IamRole,
        ResourceKind::CloudwatchAlarm => &cloudwatch_alarm::CloudwatchAlarm,
        ResourceKind::AthenaWorkgroup => &athena_workgroup::AthenaWorkgroup,
        ResourceKind::SecretsmanagerSecret => &secretsmanager_secret::SecretsmanagerSecret,
        ResourceKind::SnsTopic => &sns_topic::SnsTopic,
        ResourceKind::LambdaFunction => &lambda_function::LambdaFunction,
        ResourceKind::SfnStateMachine => &sfn_state_machine::SfnStateMachine,
        ResourceKind::SchedulerSchedule => &scheduler_schedule::SchedulerSchedule,
    }
}

/// Call `done` until it says yes, for at most `secs` seconds (waiting for ACTIVE, or for an
/// asynchronous delete to free the name). See [`poll_for`].
pub async fn poll_until<F, Fu>(
    operation: &str,
    resource: &str,
    secs: u64,
    mut done: F,
) -> Result<(), CloudError>
where
    F: FnMut() -> Fu,
    Fu: Future<Output = Result<bool, CloudError>>,
{
    poll_for(operation, resource, secs, || {
        let f = done();
        async move { Ok(f.await?.then_some(())) }
    })
    .await
}

/// Call `ready` until it returns a value, for at most `secs` seconds: at once (a fast service is
/// done already), then every 250 ms for the first second, then every 500 ms. A wait on AWS lasts
/// seconds; on LocalStack about half a second, and its Kinesis serves one call at a time, so
/// polling harder only delays every other stream's calls.
pub async fn poll_for<T, F, Fu>(
    operation: &str,
    resource: &str,
    secs: u64,
    mut ready: F,
) -> Result<T, CloudError>
where
    F: FnMut() -> Fu,
    Fu: Future<Output = Result<Option<T>, CloudError>>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    let began = std::time::Instant::now();
    let mut pause = std::time::Duration::from_millis(250);
    loop {
        if let Some(v) = ready().await? {
            crate::timings::span("wait", operation, began, serde_json::json!({}));
            return Ok(v);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(CloudError::new(
                operation,
                resource,
                "Timeout",
                format!("still not done after {secs} s"),
            ));
        }
        tokio::time::sleep(pause).await;
        if began.elapsed() >= std::time::Duration::from_secs(1) {
            pause = std::time::Duration::from_millis(500);
        }
    }
}

/// Error codes meaning "it does not exist" across services.
pub fn is_not_found(e: &CloudError) -> bool {
    matches!(
        e.code.as_str(),
        "NoSuchBucket"
            | "NotFound"
            | "NoSuchKey"
            | "ResourceNotFoundException"
            | "EntityNotFoundException"
            | "NoSuchEntity"
            | "ResourceNotFound"
            | "NoSuchLifecycleConfiguration"
            | "ServerSideEncryptionConfigurationNotFoundError"
            | "NoSuchPublicAccessBlockConfiguration"
            | "NoSuchBucketPolicy"
            | "NoSuchTagSet"
            | "StateMachineDoesNotExist"
    )
}

/// `Ok(None)` for not-found, the error otherwise.
pub fn absent<T>(r: Result<T, CloudError>) -> Result<Option<T>, CloudError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

pub fn s<'a>(a: &'a Attrs, k: &str) -> &'a str {
    a.get(k).and_then(Value::as_str).unwrap_or_default()
}

pub fn int(a: &Attrs, k: &str) -> i64 {
    a.get(k).and_then(Value::as_i64).unwrap_or_default()
}

pub fn tags(a: &Attrs) -> Vec<(String, String)> {
    a.get("tags")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// Tag keys the live resource has and the desired one does not: tagging calls only add or
/// overwrite, so these are removed with the service's untag call.
pub fn extra_tags(live: &Attrs, desired: &Attrs) -> Vec<String> {
    let wanted = tags(desired);
    tags(live)
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| !wanted.iter().any(|(w, _)| w == k))
        .collect()
}

pub fn tag_map<'a>(it: impl Iterator<Item = (&'a str, &'a str)>) -> Value {
    Value::Object(it.map(|(k, v)| (k.to_string(), Value::from(v))).collect())
}

/// IAM returns policy documents URL-encoded; LocalStack sometimes does not.
pub fn decode_policy(doc: &str) -> Value {
    let decoded = if doc.trim_start().starts_with('{') {
        doc.to_string()
    } else {
        percent_decode(doc)
    };
    serde_json::from_str(&decoded).unwrap_or(Value::String(decoded))
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
        } else if b[i] == b'+' {
            out.push(b' ');
            i += 1;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
