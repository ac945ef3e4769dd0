//! Integration-test harness for the local cloud.
//!
//! - `cloud()` makes sure LocalStack + moto answer, starting them once per test binary when they
//!   do not (and stopping them when the binary exits, since this run started them);
//! - `Scope` gives each test a unique lowercase name prefix and, when dropped (also when the test
//!   panics), deletes everything in the local cloud whose name starts with it.

#![allow(dead_code)]

use dekit::cloud::{Clients, Target, local};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use tokio::runtime::Runtime;

pub struct Cloud {
    pub rt: Runtime,
    pub clients: Clients,
}

static CLOUD: OnceLock<Cloud> = OnceLock::new();

unsafe extern "C" {
    fn atexit(cb: extern "C" fn()) -> std::ffi::c_int;
}

extern "C" fn stop_local_cloud() {
    let _ = local::run("stop", &[]);
}

pub fn cloud() -> &'static Cloud {
    CLOUD.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let target = Target::local_default();
        let up = rt.block_on(local::ensure_up(&target, false)).is_ok();
        if !up {
            let code = local::run("start", &[]).expect("local cloud script runs");
            assert_eq!(code, 0, "the local cloud must start for integration tests");
            // This run started it, so this run stops it. The test harness exits through exit(3),
            // which runs atexit handlers.
            unsafe { atexit(stop_local_cloud) };
        }
        let clients = rt.block_on(Clients::connect(&target));
        Cloud { rt, clients }
    })
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A test's own namespace in the shared local cloud.
pub struct Scope {
    pub prefix: String,
}

impl Scope {
    pub fn new(test: &str) -> Scope {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let short: String = test
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(10)
            .collect::<String>()
            .to_lowercase();
        Scope {
            prefix: format!("t{:x}{n}{short}-", (std::process::id() ^ nanos) & 0xfffff),
        }
    }

    /// A name inside the scope, valid for buckets, streams and roles.
    pub fn name(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.prefix)
    }

    /// A name valid for Glue (lowercase, digits, underscores).
    pub fn glue_name(&self, suffix: &str) -> String {
        self.name(suffix).replace('-', "_")
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        let Some(c) = CLOUD.get() else { return };
        let leftovers = c.rt.block_on(cleanup(&c.clients, &self.prefix));
        if !leftovers.is_empty() && !std::thread::panicking() {
            panic!("cleanup of {} failed: {leftovers:?}", self.prefix);
        }
    }
}

/// Delete every resource whose name starts with `prefix`; returns what could not be deleted.
pub async fn cleanup(c: &Clients, prefix: &str) -> Vec<String> {
    let mut failed = vec![];
    let glue_prefix = prefix.replace('-', "_");
    if let Ok(out) = c.firehose.list_delivery_streams().limit(1000).send().await {
        for name in out
            .delivery_stream_names()
            .iter()
            .filter(|n| n.starts_with(prefix))
        {
            if let Err(e) = c
                .firehose
                .delete_delivery_stream()
                .delivery_stream_name(name)
                .send()
                .await
            {
                failed.push(format!("firehose {name}: {e}"));
            }
        }
    }
    if let Ok(out) = c.kinesis.list_streams().send().await {
        for name in out.stream_names().iter().filter(|n| n.starts_with(prefix)) {
            // A stream already being deleted refuses another delete; it is gone soon either way.
            if let Err(e) = c
                .kinesis
                .delete_stream()
                .stream_name(name)
                .enforce_consumer_deletion(true)
                .send()
                .await
                && !e.as_service_error().is_some_and(|s| {
                    s.is_resource_in_use_exception() || s.is_resource_not_found_exception()
                })
            {
                failed.push(format!("stream {name}: {e:?}"));
            }
        }
    }
    if let Ok(out) = c.s3.list_buckets().send().await {
        for b in out
            .buckets()
            .iter()
            .filter_map(|b| b.name())
            .filter(|n| n.starts_with(prefix))
        {
            if let Err(e) = empty_bucket(c, b).await {
                failed.push(format!("bucket {b}: {e}"));
                continue;
            }
            if let Err(e) = c.s3.delete_bucket().bucket(b).send().await {
                failed.push(format!("bucket {b}: {e}"));
            }
        }
    }
    if let Ok(out) = c.glue.get_databases().send().await {
        for db in out
            .database_list()
            .iter()
            .map(|d| d.name())
            .filter(|n| n.starts_with(&glue_prefix))
        {
            if let Err(e) = c.glue.delete_database().name(db).send().await {
                failed.push(format!("glue database {db}: {e}"));
            }
        }
    }
    if let Ok(out) = c.iam.list_roles().send().await {
        for role in out
            .roles()
            .iter()
            .map(|r| r.role_name())
            .filter(|n| n.starts_with(prefix))
        {
            if let Ok(p) = c.iam.list_role_policies().role_name(role).send().await {
                for name in p.policy_names() {
                    let _ = c
                        .iam
                        .delete_role_policy()
                        .role_name(role)
                        .policy_name(name)
                        .send()
                        .await;
                }
            }
            if let Err(e) = c.iam.delete_role().role_name(role).send().await {
                failed.push(format!("role {role}: {e}"));
            }
        }
    }
    if let Ok(out) = c
        .cloudwatch
        .describe_alarms()
        .alarm_name_prefix(prefix)
        .send()
        .await
    {
        let names: Vec<String> = out
            .metric_alarms()
            .iter()
            .filter_map(|a| a.alarm_name().map(str::to_string))
            .collect();
        if !names.is_empty()
            && c.cloudwatch
                .delete_alarms()
                .set_alarm_names(Some(names.clone()))
                .send()
                .await
                .is_err()
        {
            failed.push(format!("alarms {names:?}"));
        }
    }
    if let Ok(out) = c.glue.get_triggers().send().await {
        for t in out
            .triggers()
            .iter()
            .filter_map(|t| t.name())
            .filter(|n| n.starts_with(prefix))
        {
            let _ = c.glue.delete_trigger().name(t).send().await;
        }
    }
    if let Ok(out) = c.glue.get_jobs().send().await {
        for j in out
            .jobs()
            .iter()
            .filter_map(|j| j.name())
            .filter(|n| n.starts_with(prefix))
        {
            let _ = c.glue.delete_job().job_name(j).send().await;
        }
    }
    if let Ok(out) = c.glue.get_crawlers().send().await {
        for cr in out
            .crawlers()
            .iter()
            .filter_map(|c| c.name())
            .filter(|n| n.starts_with(prefix))
        {
            let _ = c.glue.delete_crawler().name(cr).send().await;
        }
    }
    if let Ok(out) = c.athena.list_work_groups().send().await {
        for wg in out
            .work_groups()
            .iter()
            .filter_map(|w| w.name())
            .filter(|n| n.starts_with(prefix))
        {
            if let Err(e) = c
                .athena
                .delete_work_group()
                .work_group(wg)
                .recursive_delete_option(true)
                .send()
                .await
            {
                failed.push(format!("workgroup {wg}: {e}"));
            }
        }
    }
    failed
}

async fn empty_bucket(c: &Clients, bucket: &str) -> Result<(), String> {
    loop {
        let out =
            c.s3.list_object_versions()
                .bucket(bucket)
                .send()
                .await
                .map_err(|e| e.to_string())?;
        let mut ids = vec![];
        for v in out.versions() {
            ids.push((
                v.key().unwrap_or_default().to_string(),
                v.version_id().map(str::to_string),
            ));
        }
        for m in out.delete_markers() {
            ids.push((
                m.key().unwrap_or_default().to_string(),
                m.version_id().map(str::to_string),
            ));
        }
        if ids.is_empty() {
            return Ok(());
        }
        for (key, version) in ids {
            c.s3.delete_object()
                .bucket(bucket)
                .key(&key)
                .set_version_id(version)
                .send()
                .await
                .map_err(|e| e.to_string())?;
        }
    }
}

/// `leftovers`, waiting up to 15 s for deletions in progress (streams pass through DELETING).
pub async fn settled_leftovers(c: &Clients, prefix: &str) -> Vec<String> {
    let mut left = leftovers(c, prefix).await;
    for _ in 0..30 {
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        left = leftovers(c, prefix).await;
    }
    left
}

/// Names of everything in the local cloud starting with `prefix` (for "nothing left" checks).
pub async fn leftovers(c: &Clients, prefix: &str) -> Vec<String> {
    let glue_prefix = prefix.replace('-', "_");
    let mut out = vec![];
    if let Ok(o) = c.s3.list_buckets().send().await {
        out.extend(
            o.buckets()
                .iter()
                .filter_map(|b| b.name())
                .filter(|n| n.starts_with(prefix))
                .map(|n| format!("bucket {n}")),
        );
    }
    if let Ok(o) = c.kinesis.list_streams().send().await {
        out.extend(
            o.stream_names()
                .iter()
                .filter(|n| n.starts_with(prefix))
                .map(|n| format!("stream {n}")),
        );
    }
    if let Ok(o) = c.firehose.list_delivery_streams().limit(1000).send().await {
        out.extend(
            o.delivery_stream_names()
                .iter()
                .filter(|n| n.starts_with(prefix))
                .map(|n| format!("firehose {n}")),
        );
    }
    if let Ok(o) = c.iam.list_roles().send().await {
        out.extend(
            o.roles()
                .iter()
                .map(|r| r.role_name())
                .filter(|n| n.starts_with(prefix))
                .map(|n| format!("role {n}")),
        );
    }
    if let Ok(o) = c
        .cloudwatch
        .describe_alarms()
        .alarm_name_prefix(prefix)
        .send()
        .await
    {
        out.extend(
            o.metric_alarms()
                .iter()
                .filter_map(|a| a.alarm_name())
                .map(|n| format!("alarm {n}")),
        );
    }
    if let Ok(o) = c.glue.get_databases().send().await {
        out.extend(
            o.database_list()
                .iter()
                .map(|d| d.name())
                .filter(|n| n.starts_with(&glue_prefix))
                .map(|n| format!("database {n}")),
        );
    }
    if let Ok(o) = c.glue.get_jobs().send().await {
        out.extend(
            o.jobs()
                .iter()
                .filter_map(|j| j.name())
                .filter(|n| n.starts_with(prefix))
                .map(|n| format!("job {n}")),
        );
    }
    if let Ok(o) = c.glue.get_triggers().send().await {
        out.extend(
            o.triggers()
                .iter()
                .filter_map(|t| t.name())
                .filter(|n| n.starts_with(prefix))
                .map(|n| format!("trigger {n}")),
        );
    }
    if let Ok(o) = c.glue.get_crawlers().send().await {
        out.extend(
            o.crawlers()
                .iter()
                .map(|t| t.name().unwrap_or_default())
                .filter(|n| n.starts_with(prefix))
                .map(|n| format!("crawler {n}")),
        );
    }
    if let Ok(o) = c.athena.list_work_groups().send().await {
        out.extend(
            o.work_groups()
                .iter()
                .filter_map(|w| w.name())
                .filter(|n| n.starts_with(prefix))
                .map(|n| format!("workgroup {n}")),
        );
    }
    out.sort();
    out
}

/// Physical names of everything carrying the tag `dekit:stack = <stack>` (buckets, streams,
/// delivery streams, roles, alarms): what an orphan search by tag finds.
pub async fn tagged_with_stack(c: &Clients, stack: &str) -> Vec<String> {
    let is_ours = |k: &str, v: &str| k == "dekit:stack" && v == stack;
    let mut out = vec![];
    if let Ok(o) = c.s3.list_buckets().send().await {
        for b in o.buckets().iter().filter_map(|b| b.name()) {
            if let Ok(t) = c.s3.get_bucket_tagging().bucket(b).send().await
                && t.tag_set().iter().any(|t| is_ours(t.key(), t.value()))
            {
                out.push(b.to_string());
            }
        }
    }
    if let Ok(o) = c.kinesis.list_streams().send().await {
        for s in o.stream_names() {
            if let Ok(t) = c.kinesis.list_tags_for_stream().stream_name(s).send().await
                && t.tags()
                    .iter()
                    .any(|t| is_ours(t.key(), t.value().unwrap_or_default()))
            {
                out.push(s.clone());
            }
        }
    }
    if let Ok(o) = c.firehose.list_delivery_streams().limit(1000).send().await {
        for s in o.delivery_stream_names() {
            if let Ok(t) = c
                .firehose
                .list_tags_for_delivery_stream()
                .delivery_stream_name(s)
                .send()
                .await
                && t.tags()
                    .iter()
                    .any(|t| is_ours(t.key(), t.value().unwrap_or_default()))
            {
                out.push(s.clone());
            }
        }
    }
    if let Ok(o) = c.iam.list_roles().send().await {
        for r in o.roles() {
            if let Ok(t) = c.iam.list_role_tags().role_name(r.role_name()).send().await
                && t.tags().iter().any(|t| is_ours(t.key(), t.value()))
            {
                out.push(r.role_name().to_string());
            }
        }
    }
    if let Ok(o) = c.cloudwatch.describe_alarms().send().await {
        for a in o.metric_alarms() {
            if let Some(arn) = a.alarm_arn()
                && let Ok(t) = c
                    .cloudwatch
                    .list_tags_for_resource()
                    .resource_arn(arn)
                    .send()
                    .await
                && t.tags()
                    .iter()
                    .any(|t| is_ours(t.key().unwrap_or_default(), t.value().unwrap_or_default()))
            {
                out.push(a.alarm_name().unwrap_or_default().to_string());
            }
        }
    }
    out.sort();
    out
}
