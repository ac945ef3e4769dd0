//! Integration-test harness for the local cloud.
//!
//! - `cloud()` makes sure LocalStack + moto answer, starting them once per test binary when they
//!   do not (and stopping them when the binary exits, since this run started them);
//! - `Scope` gives each test a unique lowercase name prefix and, when dropped (also when the test
//!   panics), deletes everything in the local cloud whose name starts with it.

#![allow(dead_code)]

pub mod stack;

use dekit::cloud::{Clients, Target, local};
use dekit::model::LocalEngine;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use tokio::runtime::Runtime;

pub struct Cloud {
    pub rt: Runtime,
    pub clients: Clients,
    /// The engine that runs: the suite runs on both (CI runs the engine tests on each).
    pub engine: LocalEngine,
}

pub static CLOUD: OnceLock<Cloud> = OnceLock::new();

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
        // Whichever engine runs; else start the one DEKIT_LOCAL_ENGINE names (default MiniStack).
        let wanted = Target::local_default();
        let engine = match rt.block_on(local::ensure_up(&wanted, false)) {
            Ok(Some(running)) => running,
            _ => {
                let Target::Local { engine, .. } = wanted else {
                    unreachable!()
                };
                let code = local::run("start", &["--engine", engine.as_str()])
                    .expect("local cloud script runs");
                assert_eq!(code, 0, "the local cloud must start for integration tests");
                // This run started it, so this run stops it. The test harness exits through
                // exit(3), which runs atexit handlers.
                unsafe { atexit(stop_local_cloud) };
                engine
            }
        };
        // The local database servers that `local` sources run on (a no-op when they run).
        let code = local::run("databases", &["start"]).expect("databases script runs");
        assert_eq!(
            code, 0,
            "the local database servers must start for integration tests"
        );
        let clients = rt.block_on(Clients::connect(&Target::local(engine)));
        Cloud {
            rt,
            clients,
            engine,
        }
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

/// One thing in the local cloud: its kind (`bucket`, `stream`, ...) and name.
pub type Item = (&'static str, String);

fn err(what: &str, e: impl std::fmt::Debug) -> String {
    format!("listing {what} failed: {e:?}")
}

/// Everything of the kinds dekit creates, every page of every list. A failed list call is an
/// error, never an empty answer: a "nothing left" check that cannot list proves nothing.
pub async fn inventory(c: &Clients) -> Result<Vec<Item>, String> {
    let mut out: Vec<Item> = vec![];
    let mut p = c.s3.list_buckets().into_paginator().send();
    while let Some(page) = p.next().await {
        let page = page.map_err(|e| err("buckets", e))?;
        out.extend(
            page.buckets()
                .iter()
                .filter_map(|b| b.name())
                .map(|n| ("bucket", n.to_string())),
        );
    }
    let mut p = c.kinesis.list_streams().into_paginator().send();
    while let Some(page) = p.next().await {
        let page = page.map_err(|e| err("streams", e))?;
        out.extend(page.stream_names().iter().map(|n| ("stream", n.clone())));
    }
    let mut start: Option<String> = None;
    loop {
        let page = c
            .firehose
            .list_delivery_streams()
            .limit(1000)
            .set_exclusive_start_delivery_stream_name(start.clone())
            .send()
            .await
            .map_err(|e| err("delivery streams", e))?;
        out.extend(
            page.delivery_stream_names()
                .iter()
                .map(|n| ("firehose", n.clone())),
        );
        start = page.delivery_stream_names().last().cloned();
        if !page.has_more_delivery_streams() || start.is_none() {
            break;
        }
    }
    let mut p = c.iam.list_roles().into_paginator().send();
    while let Some(page) = p.next().await {
        let page = page.map_err(|e| err("roles", e))?;
        out.extend(
            page.roles()
                .iter()
                .map(|r| ("role", r.role_name().to_string())),
        );
    }
    let mut p = c.cloudwatch.describe_alarms().into_paginator().send();
    while let Some(page) = p.next().await {
        let page = page.map_err(|e| err("alarms", e))?;
        out.extend(
            page.metric_alarms()
                .iter()
                .filter_map(|a| a.alarm_name())
                .map(|n| ("alarm", n.to_string())),
        );
    }
    let mut p = c.glue.get_databases().into_paginator().send();
    while let Some(page) = p.next().await {
        let page = page.map_err(|e| err("Glue databases", e))?;
        out.extend(
            page.database_list()
                .iter()
                .map(|d| ("database", d.name().to_string())),
        );
    }
    let mut p = c.glue.get_jobs().into_paginator().send();
    while let Some(page) = p.next().await {
        let page = page.map_err(|e| err("Glue jobs", e))?;
        out.extend(
            page.jobs()
                .iter()
                .filter_map(|j| j.name())
                .map(|n| ("job", n.to_string())),
        );
    }
    let mut p = c.glue.get_triggers().into_paginator().send();
    while let Some(page) = p.next().await {
        let page = page.map_err(|e| err("Glue triggers", e))?;
        out.extend(
            page.triggers()
                .iter()
                .filter_map(|t| t.name())
                .map(|n| ("trigger", n.to_string())),
        );
    }
    let mut p = c.glue.get_crawlers().into_paginator().send();
    while let Some(page) = p.next().await {
        let page = page.map_err(|e| err("Glue crawlers", e))?;
        out.extend(
            page.crawlers()
                .iter()
                .filter_map(|c| c.name())
                .map(|n| ("crawler", n.to_string())),
        );
    }
    let mut p = c.glue.get_security_configurations().into_paginator().send();
    while let Some(page) = p.next().await {
        let page = page.map_err(|e| err("Glue security configurations", e))?;
        out.extend(
            page.security_configurations()
                .iter()
                .filter_map(|s| s.name())
                .map(|n| ("security_configuration", n.to_string())),
        );
    }
    let mut p = c.secretsmanager.list_secrets().into_paginator().send();
    while let Some(page) = p.next().await {
        let page = page.map_err(|e| err("secrets", e))?;
        out.extend(
            page.secret_list()
                .iter()
                .filter_map(|x| x.name())
                .map(|n| ("secret", n.to_string())),
        );
    }
    let mut p = c.athena.list_work_groups().into_paginator().send();
    while let Some(page) = p.next().await {
        let page = page.map_err(|e| err("Athena workgroups", e))?;
        out.extend(
            page.work_groups()
                .iter()
                .filter_map(|w| w.name())
                .map(|n| ("workgroup", n.to_string())),
        );
    }
    Ok(out)
}

fn in_scope(item: &Item, prefix: &str) -> bool {
    let glue_prefix = prefix.replace('-', "_");
    match item.0 {
        "database" => item.1.starts_with(&glue_prefix),
        _ => item.1.starts_with(prefix),
    }
}

/// Delete every resource whose name starts with `prefix`; returns what could not be deleted (a
/// failed list included).
pub async fn cleanup(c: &Clients, prefix: &str) -> Vec<String> {
    let items = match inventory(c).await {
        Ok(items) => items,
        Err(e) => return vec![e],
    };
    let mut failed = vec![];
    // Dependents first: deliveries read streams, triggers start jobs.
    for kind in [
        "firehose",
        "trigger",
        "crawler",
        "job",
        "security_configuration",
        "alarm",
        "stream",
        "workgroup",
        "secret",
        "bucket",
        "database",
        "role",
    ] {
        for (_, name) in items.iter().filter(|i| i.0 == kind && in_scope(i, prefix)) {
            if let Err(e) = delete(c, kind, name).await {
                failed.push(format!("{kind} {name}: {e}"));
            }
        }
    }
    failed
}

async fn delete(c: &Clients, kind: &str, name: &str) -> Result<(), String> {
    let s = |e: &dyn std::fmt::Debug| format!("{e:?}");
    match kind {
        "firehose" => c
            .firehose
            .delete_delivery_stream()
            .delivery_stream_name(name)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| s(&e)),
        "trigger" => c
            .glue
            .delete_trigger()
            .name(name)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| s(&e)),
        "crawler" => c
            .glue
            .delete_crawler()
            .name(name)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| s(&e)),
        "job" => c
            .glue
            .delete_job()
            .job_name(name)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| s(&e)),
        "security_configuration" => c
            .glue
            .delete_security_configuration()
            .name(name)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| s(&e)),
        "alarm" => c
            .cloudwatch
            .delete_alarms()
            .alarm_names(name)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| s(&e)),
        "stream" => match c
            .kinesis
            .delete_stream()
            .stream_name(name)
            .enforce_consumer_deletion(true)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // Already being deleted, or gone: either way it will not be left.
            Err(e)
                if e.as_service_error().is_some_and(|x| {
                    x.is_resource_in_use_exception() || x.is_resource_not_found_exception()
                }) =>
            {
                Ok(())
            }
            Err(e) => Err(s(&e)),
        },
        "workgroup" => c
            .athena
            .delete_work_group()
            .work_group(name)
            .recursive_delete_option(true)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| s(&e)),
        "bucket" => {
            empty_bucket(c, name).await?;
            c.s3.delete_bucket()
                .bucket(name)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| s(&e))
        }
        "database" => c
            .glue
            .delete_database()
            .name(name)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| s(&e)),
        "role" => {
            let policies = c
                .iam
                .list_role_policies()
                .role_name(name)
                .send()
                .await
                .map_err(|e| s(&e))?;
            for p in policies.policy_names() {
                c.iam
                    .delete_role_policy()
                    .role_name(name)
                    .policy_name(p)
                    .send()
                    .await
                    .map_err(|e| s(&e))?;
            }
            c.iam
                .delete_role()
                .role_name(name)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| s(&e))
        }
        "secret" => c
            .secretsmanager
            .delete_secret()
            .secret_id(name)
            .force_delete_without_recovery(true)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| s(&e)),
        other => Err(format!("unknown kind {other}")),
    }
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

/// Everything in the local cloud whose name starts with `prefix` (for "nothing left" checks).
/// Panics when the local cloud cannot be listed.
pub async fn leftovers(c: &Clients, prefix: &str) -> Vec<String> {
    let items = inventory(c).await.unwrap_or_else(|e| panic!("{e}"));
    let mut out: Vec<String> = items
        .iter()
        .filter(|i| in_scope(i, prefix))
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    out.sort();
    out
}

/// Names of everything carrying the tag `dekit:stack = <stack>` (buckets, streams, delivery
/// streams, roles, alarms): what an orphan search by tag finds. Panics when a list or tag read
/// fails (other than for something deleted meanwhile).
pub async fn tagged_with_stack(c: &Clients, stack: &str) -> Vec<String> {
    let is_ours = |k: &str, v: &str| k == "dekit:stack" && v == stack;
    let gone =
        |e: &str| e.contains("NoSuch") || e.contains("NotFound") || e.contains("ResourceNotFound");
    let mut out = vec![];
    for (kind, name) in inventory(c).await.unwrap_or_else(|e| panic!("{e}")) {
        let tags: Result<Vec<(String, String)>, String> = match kind {
            "bucket" => match c.s3.get_bucket_tagging().bucket(&name).send().await {
                Ok(t) => Ok(t
                    .tag_set()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().to_string()))
                    .collect()),
                Err(e) if format!("{e:?}").contains("NoSuchTagSet") => Ok(vec![]),
                Err(e) => Err(format!("{e:?}")),
            },
            "stream" => c
                .kinesis
                .list_tags_for_stream()
                .stream_name(&name)
                .send()
                .await
                .map(|t| {
                    t.tags()
                        .iter()
                        .map(|t| {
                            (
                                t.key().to_string(),
                                t.value().unwrap_or_default().to_string(),
                            )
                        })
                        .collect()
                })
                .map_err(|e| format!("{e:?}")),
            "firehose" => c
                .firehose
                .list_tags_for_delivery_stream()
                .delivery_stream_name(&name)
                .send()
                .await
                .map(|t| {
                    t.tags()
                        .iter()
                        .map(|t| {
                            (
                                t.key().to_string(),
                                t.value().unwrap_or_default().to_string(),
                            )
                        })
                        .collect()
                })
                .map_err(|e| format!("{e:?}")),
            "role" => c
                .iam
                .list_role_tags()
                .role_name(&name)
                .send()
                .await
                .map(|t| {
                    t.tags()
                        .iter()
                        .map(|t| (t.key().to_string(), t.value().to_string()))
                        .collect()
                })
                .map_err(|e| format!("{e:?}")),
            "alarm" => {
                let described = c
                    .cloudwatch
                    .describe_alarms()
                    .alarm_names(&name)
                    .send()
                    .await
                    .map_err(|e| format!("{e:?}"));
                match described {
                    Ok(d) => match d.metric_alarms().first().and_then(|a| a.alarm_arn()) {
                        Some(arn) => c
                            .cloudwatch
                            .list_tags_for_resource()
                            .resource_arn(arn)
                            .send()
                            .await
                            .map(|t| {
                                t.tags()
                                    .iter()
                                    .map(|t| {
                                        (
                                            t.key().unwrap_or_default().to_string(),
                                            t.value().unwrap_or_default().to_string(),
                                        )
                                    })
                                    .collect()
                            })
                            .map_err(|e| format!("{e:?}")),
                        None => Ok(vec![]),
                    },
                    Err(e) => Err(e),
                }
            }
            "secret" => c
                .secretsmanager
                .describe_secret()
                .secret_id(&name)
                .send()
                .await
                .map(|d| {
                    d.tags()
                        .iter()
                        .map(|t| {
                            (
                                t.key().unwrap_or_default().to_string(),
                                t.value().unwrap_or_default().to_string(),
                            )
                        })
                        .collect()
                })
                .map_err(|e| format!("{e:?}")),
            _ => continue,
        };
        match tags {
            Ok(t) if t.iter().any(|(k, v)| is_ours(k, v)) => out.push(name),
            Ok(_) => {}
            Err(e) if gone(&e) => {}
            Err(e) => panic!("reading the tags of {kind} {name} failed: {e}"),
        }
    }
    out.sort();
    out
}

/// A finished command's stdout and stderr, for assertion messages.
pub fn out(o: &std::process::Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The outcome named `name` of a test report (`dekit test --json`).
pub fn outcome<'a>(r: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    r["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == name)
        .unwrap_or_else(|| panic!("no outcome {name} in {r:#}"))
}

/// The record of step `name` in a run manifest (`dekit run --json`).
pub fn step<'a>(m: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    m["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == name)
        .unwrap_or_else(|| panic!("no step {name} in {m}"))
}

/// An SQS client for the local cloud (a topic's subscriber in tests).
pub fn sqs() -> aws_sdk_sqs::Client {
    let c = cloud();
    let endpoint = c.clients.target.endpoint("sqs").expect("a local endpoint");
    aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::new()
            .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
            .region(aws_sdk_sqs::config::Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(aws_sdk_sqs::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .build(),
    )
}

/// Messages waiting in the queue (waits up to `wait` seconds for the first).
pub fn receive(q: &aws_sdk_sqs::Client, url: &str, wait: i32) -> Vec<serde_json::Value> {
    let out = cloud()
        .rt
        .block_on(
            q.receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .wait_time_seconds(wait)
                .send(),
        )
        .expect("ReceiveMessage");
    out.messages()
        .iter()
        .map(|m| serde_json::from_str(m.body().unwrap_or_default()).expect("an SNS envelope"))
        .collect()
}

/// One HTTP/1.1 request as a test server reads it: the request line, the headers (names
/// lowercased) and the body (`Content-Length` bytes).
pub struct Request {
    pub line: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// The next request on a kept-alive connection; `None` when the client closed it.
pub fn read_request(reader: &mut impl std::io::BufRead) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return None;
    }
    let mut headers = vec![];
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        if h.trim().is_empty() {
            break;
        }
        if let Some((n, v)) = h.split_once(':') {
            headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let len: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        line,
        headers,
        body,
    })
}
