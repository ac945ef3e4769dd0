//! `dekit observe`: one snapshot of the platform — every resource (there, missing, drifted), each
//! stream (status, shards, records produced), each zone and table of the lake (objects, bytes,
//! newest object), the last runs, the latest test results, alarm states — and, from symptom to
//! cause, what it can see behind a stale table or a failed check: the failed step upstream of it
//! in the lineage, and what that step said.

pub mod html;

use crate::deploy::Deployment;
use crate::graph::NodeKind;
use crate::lake::Lake;
use crate::plan::Action;
use crate::records::{Manifest, Status, StepRecord};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Serialize)]
pub struct Snapshot {
    pub stack: String,
    pub environment: String,
    pub taken_at: String,
    pub resources: Vec<Resource>,
    pub streams: Vec<Stream>,
    pub zones: Vec<Place>,
    pub tables: Vec<Place>,
    pub runs: Vec<Run>,
    /// The deployed pipeline's last executions, newest first (empty without `orchestration:`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub executions: Vec<Execution>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tests: Option<Tests>,
    pub alarms: Vec<Alarm>,
    /// Alarms in ALARM, with the causes behind them.
    pub incidents: Vec<Incident>,
    pub causes: Vec<Cause>,
    /// The pipeline's steps and the steps each waits for (the lineage, in data order).
    pub lineage: BTreeMap<String, BTreeSet<String>>,
}

#[derive(Debug, Serialize)]
pub struct Resource {
    pub address: String,
    /// `ok`, `missing` or `changed` (the stack and the account differ).
    pub status: &'static str,
    /// Attributes changed outside dekit since the last apply.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub drifted: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Stream {
    pub name: String,
    pub physical: String,
    pub status: String,
    pub shards: Option<i32>,
    /// Records `dekit produce` sent, in all.
    pub produced: u64,
    /// CloudWatch over the last hour: records in (sum) and consumer lag (max iterator age);
    /// none when the service published no data point (a local cloud publishes none).
    pub incoming_records_1h: Option<f64>,
    pub iterator_age_ms_max_1h: Option<f64>,
    /// The Firehose delivery stream's status, when the stream has a delivery.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<String>,
    /// Objects Firehose wrote to the delivery's error prefix (records it could not deliver).
    pub delivery_errors: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_errors_newest: Option<String>,
}

/// Objects under a prefix: a zone, or a table's location.
#[derive(Debug, Serialize)]
pub struct Place {
    pub name: String,
    pub location: String,
    pub objects: u64,
    pub bytes: u64,
    /// The newest object's time (RFC 3339) and age in hours.
    pub newest: Option<String>,
    pub age_hours: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct Run {
    pub run_id: String,
    pub started_at: String,
    pub ok: bool,
    pub rows: u64,
    pub duration_s: f64,
    pub failed: Vec<String>,
    pub steps: Vec<(String, Status, u64, f64)>,
}

/// One execution of the deployed pipeline: what Step Functions says, and its steps' records so
/// far (a running execution has no manifest yet).
#[derive(Debug, Serialize)]
pub struct Execution {
    pub name: String,
    /// Step Functions' status: RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED.
    pub status: String,
    pub started_at: String,
    pub run_id: String,
    /// Steps with a record in this execution.
    pub steps_done: usize,
    /// Steps recorded as failed, with why.
    pub failed: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Tests {
    pub test_id: String,
    pub checks: usize,
    pub passed: usize,
    pub failed: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Alarm {
    pub name: String,
    pub state: String,
    pub metric: String,
    pub reason: String,
    /// When it entered its state (RFC 3339).
    pub since: Option<String>,
}

/// An alarm in ALARM, and what `observe` sees behind it.
#[derive(Debug, Serialize)]
pub struct Incident {
    pub alarm: String,
    pub since: Option<String>,
    pub reason: String,
    pub causes: Vec<String>,
}

/// A symptom and what is behind it.
#[derive(Debug, Serialize)]
pub struct Cause {
    pub symptom: String,
    pub cause: String,
    /// The step (or resource) named as the cause.
    pub at: String,
}

/// Everything `observe` shows, read now: one collector per section.
pub async fn snapshot(d: &Deployment, lake: &Lake) -> Result<Snapshot, String> {
    let l = &d.checked.loaded;
    let now = crate::clock::now();
    let resources = resources(d).await?;
    let streams = streams(d, lake).await?;
    let (zones, tables) = places(d, lake).await?;
    let manifests = {
        // The last five runs, newest first.
        let mut m = crate::records::last_manifests(lake, 5).await?;
        m.reverse();
        m
    };
    let runs = manifests.iter().map(run_of).collect();
    let executions = executions(d, lake).await?;
    let report = last_test_report(lake).await?;
    let tests = report.as_ref().map(tests_of);
    let alarms = alarms(d).await?;
    let causes = causes(d, manifests.first(), report.as_ref(), &resources, &streams);
    let incidents = incidents(&alarms, &causes, &streams);
    Ok(Snapshot {
        stack: l.stack.stack.value.clone(),
        environment: l.env_name.clone(),
        taken_at: now.to_rfc3339(),
        resources,
        streams,
        zones,
        tables,
        runs,
        executions,
        tests,
        alarms,
        incidents,
        causes,
        lineage: crate::graph::steps::step_graph(&d.graph),
    })
}

/// The deployed pipeline's last five executions (none when the stack deploys no pipeline, or
/// it is not applied yet), each with the steps its invocations recorded.
async fn executions(d: &Deployment, lake: &Lake) -> Result<Vec<Execution>, String> {
    use crate::graph::ResourceKind;
    let Some(machine) = d
        .graph
        .nodes
        .iter()
        .find(|n| n.kind == NodeKind::Resource(ResourceKind::SfnStateMachine))
        .and_then(|n| n.attrs.get("arn").and_then(serde_json::Value::as_str))
    else {
        return Ok(vec![]);
    };
    let listed = d
        .clients
        .sfn
        .list_executions()
        .state_machine_arn(machine)
        .max_results(5)
        .send()
        .await;
    let listed = match crate::resources::absent(
        listed.map_err(|e| crate::cloud::error::from_sdk("ListExecutions", machine, e)),
    )
    .map_err(|e| e.to_string())?
    {
        Some(l) => l,
        None => return Ok(vec![]),
    };
    let mut out = vec![];
    for e in listed.executions() {
        let at = e.start_date();
        let started = chrono::DateTime::from_timestamp(at.secs(), at.subsec_nanos())
            .unwrap_or_default()
            .to_rfc3339();
        let run_id = crate::run::deployed::run_id(e.name(), &started)?;
        let mut steps_done = 0;
        let mut failed = vec![];
        for key in lake
            .list(&format!("_dekit/executions/{run_id}/"))
            .await
            .map_err(|e| e.to_string())?
        {
            steps_done += 1;
            if let Some(r) = lake
                .get_json::<StepRecord>(&key)
                .await
                .map_err(|e| e.to_string())?
                && r.status == Status::Failed
            {
                failed.push(format!("{} ({})", r.step, r.error.unwrap_or_default()));
            }
        }
        out.push(Execution {
            name: e.name().to_string(),
            status: e.status().as_str().to_string(),
            started_at: started,
            run_id,
            steps_done,
            failed,
        });
    }
    out.sort_by(|a, b| b.started_at.cmp(&a.started_at));
    Ok(out)
}

/// Each resource of the graph: in place, missing or changed, and what drifted.
async fn resources(d: &Deployment) -> Result<Vec<Resource>, String> {
    let plan = d.plan(10).await?;
    let mut drift: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (addr, attr, _, _) in &plan.drift {
        drift.entry(addr.as_str()).or_default().push(attr.clone());
    }
    Ok(plan
        .changes
        .iter()
        .map(|c| Resource {
            address: c.address.clone(),
            status: match c.action {
                Action::NoOp => "ok",
                Action::Create => "missing",
                _ => "changed",
            },
            drifted: drift.remove(c.address.as_str()).unwrap_or_default(),
        })
        .collect())
}

/// Each stream: its status and shards, what was produced into it, its delivery and the
/// delivery's errors, the last hour's metrics.
async fn streams(d: &Deployment, lake: &Lake) -> Result<Vec<Stream>, String> {
    let s = &d.checked.loaded.stack;
    let names = crate::names::Names::new(&d.checked.loaded);
    let mut streams = vec![];
    for (name, _) in s.ingest.streams.iter() {
        let physical = names.stream(name);
        let (status, shards) = match d
            .clients
            .kinesis
            .describe_stream_summary()
            .stream_name(&physical)
            .send()
            .await
        {
            Ok(o) => o
                .stream_description_summary()
                .map_or(("unknown".into(), None), |x| {
                    (
                        x.stream_status().as_str().to_string(),
                        Some(x.open_shard_count()),
                    )
                }),
            Err(e) => {
                let e = crate::cloud::error::from_sdk("DescribeStreamSummary", &physical, e);
                if e.code == "ResourceNotFoundException" {
                    ("missing".into(), None)
                } else {
                    return Err(e.to_string());
                }
            }
        };
        let produced: u64 = crate::quality::reconcile::produced(lake, name)
            .await?
            .iter()
            .map(|(_, d)| d["records"].as_u64().unwrap_or(0))
            .sum();
        let delivery = match s.ingest.streams.get(name).and_then(|x| x.delivery.as_ref()) {
            Some(_) => Some(delivery_status(d, &names.delivery(name)).await?),
            None => None,
        };
        let error_prefix = d
            .graph
            .get(&format!("firehose_delivery_stream.{}", name.value))
            .and_then(|n| n.attrs["destination"]["error_prefix"].as_str())
            .map(str::to_string);
        let errors = match &error_prefix {
            Some(p) => lake
                .list_objects(p, None)
                .await
                .map_err(|e| e.to_string())?,
            None => vec![],
        };
        streams.push(Stream {
            name: name.value.clone(),
            incoming_records_1h: last_hour(d, "IncomingRecords", "Sum", &physical).await?,
            iterator_age_ms_max_1h: last_hour(
                d,
                "GetRecords.IteratorAgeMilliseconds",
                "Maximum",
                &physical,
            )
            .await?,
            physical,
            status,
            shards,
            produced,
            delivery,
            delivery_errors: errors.len() as u64,
            delivery_errors_newest: errors
                .iter()
                .map(|o| o.last_modified)
                .max()
                .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
                .map(|t| t.to_rfc3339()),
        });
    }

    Ok(streams)
}

/// Each zone's and each table's objects: how many, how large, how old.
async fn places(d: &Deployment, lake: &Lake) -> Result<(Vec<Place>, Vec<Place>), String> {
    let s = &d.checked.loaded.stack;
    let names = crate::names::Names::new(&d.checked.loaded);
    let place = |name: &str, prefix: &str, objects: &[crate::lake::Object]| {
        let newest = objects.iter().map(|o| o.last_modified).max();
        Place {
            name: name.to_string(),
            location: lake.url(prefix),
            objects: objects.len() as u64,
            bytes: objects.iter().map(|o| o.size).sum(),
            newest: newest
                .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
                .map(|t| t.to_rfc3339()),
            // Objects' times are the cloud's, so their age is by the system clock.
            age_hours: newest.map(|t| {
                ((chrono::Utc::now().timestamp() - t) as f64 / 3600.0 * 100.0).round() / 100.0
            }),
        }
    };
    let mut zones = vec![];
    for (z, _) in s.storage.lake.zones.iter() {
        let prefix = names.zone_prefix(z);
        let objects = lake
            .list_objects(&prefix, None)
            .await
            .map_err(|e| e.to_string())?;
        zones.push(place(&z.value, &prefix, &objects));
    }
    let mut tables = vec![];
    for (t, _) in s.tables.iter() {
        let loc = d
            .graph
            .catalog_table(&t.value)
            .map(|t| t.location())
            .unwrap_or_default()
            .to_string();
        let prefix = loc
            .strip_prefix(&format!("s3://{}/", lake.bucket))
            .unwrap_or_default()
            .to_string();
        let objects = lake
            .list_objects(&prefix, None)
            .await
            .map_err(|e| e.to_string())?;
        tables.push(place(&t.value, &prefix, &objects));
    }

    Ok((zones, tables))
}

fn run_of(m: &crate::records::Manifest) -> Run {
    Run {
        run_id: m.run_id.clone(),
        started_at: m.started_at.clone(),
        ok: m.ok(),
        rows: m.steps.iter().map(|s| s.stats.rows).sum(),
        duration_s: duration(m),
        failed: m
            .steps
            .iter()
            .filter(|s| s.status == Status::Failed)
            .map(|s| s.step.clone())
            .collect(),
        steps: m
            .steps
            .iter()
            .map(|s| {
                (
                    s.step.clone(),
                    s.status,
                    s.stats.rows,
                    s.duration_ms as f64 / 1000.0,
                )
            })
            .collect(),
    }
}

/// The last `dekit test` report stored in the lake.
async fn last_test_report(lake: &Lake) -> Result<Option<crate::quality::outcome::Report>, String> {
    let mut test_keys = lake
        .list("_dekit/tests/")
        .await
        .map_err(|e| e.to_string())?;
    test_keys.sort();
    Ok(match test_keys.last() {
        Some(k) => lake.get_json(k).await.map_err(|e| e.to_string())?,
        None => None,
    })
}

fn tests_of(r: &crate::quality::outcome::Report) -> Tests {
    Tests {
        test_id: r.test_id.clone(),
        checks: r.outcomes.len(),
        passed: r
            .outcomes
            .iter()
            .filter(|o| o.verdict == crate::quality::outcome::Verdict::Pass)
            .count(),
        failed: r
            .outcomes
            .iter()
            .filter(|o| {
                matches!(
                    o.verdict,
                    crate::quality::outcome::Verdict::Fail
                        | crate::quality::outcome::Verdict::Error
                )
            })
            .map(|o| o.name.clone())
            .collect(),
    }
}

/// The stack's alarms and their states.
async fn alarms(d: &Deployment) -> Result<Vec<Alarm>, String> {
    let alarm_names: Vec<String> = d
        .graph
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Resource(crate::graph::ResourceKind::CloudwatchAlarm))
        .filter_map(|n| {
            n.attrs
                .get("name")
                .and_then(|v| v.as_str())
                .map(str::to_string)
        })
        .collect();
    let mut alarms = vec![];
    for chunk in alarm_names.chunks(100) {
        let out = d
            .clients
            .cloudwatch
            .describe_alarms()
            .set_alarm_names(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| {
                crate::cloud::error::from_sdk("DescribeAlarms", "alarms", e).to_string()
            })?;
        alarms.extend(out.metric_alarms().iter().map(|a| {
            Alarm {
                name: a.alarm_name().unwrap_or_default().to_string(),
                state: a
                    .state_value()
                    .map_or("unknown".into(), |s| s.as_str().to_string()),
                metric: a.metric_name().unwrap_or_default().to_string(),
                reason: a.state_reason().unwrap_or_default().to_string(),
                since: a.state_updated_timestamp().map(|t| {
                    chrono::DateTime::from_timestamp(t.secs(), 0)
                        .map(|t| t.to_rfc3339())
                        .unwrap_or_default()
                }),
            }
        }));
    }

    Ok(alarms)
}

/// What a stream shows behind its table's data: records Firehose could not deliver, consumers
/// far behind. (cause, where)
fn stream_causes(streams: &[Stream], step: &str) -> Vec<(String, String)> {
    let Some(st) = step
        .strip_prefix("ingest.")
        .and_then(|n| streams.iter().find(|s| s.name == n))
    else {
        return vec![];
    };
    let mut out = vec![];
    if st.delivery_errors > 0 {
        out.push((
            format!(
                "delivery of `{}` wrote {} objects to its error prefix (newest {}): records it could not deliver",
                st.name,
                st.delivery_errors,
                st.delivery_errors_newest.as_deref().unwrap_or("-")
            ),
            format!("firehose_delivery_stream.{}", st.name),
        ));
    }
    if let Some(age) = st.iterator_age_ms_max_1h.filter(|a| *a >= 60_000.0) {
        out.push((
            format!(
                "stream `{}`: its consumers are up to {:.0} s behind (iterator age)",
                st.name,
                age / 1000.0
            ),
            format!("kinesis_stream.{}", st.name),
        ));
    }
    if st.delivery.as_deref().is_some_and(|d| d != "ACTIVE") {
        out.push((
            format!(
                "delivery of `{}` is {}",
                st.name,
                st.delivery.as_deref().unwrap_or_default()
            ),
            format!("firehose_delivery_stream.{}", st.name),
        ));
    }
    out
}

/// Alarms in ALARM, each with the causes that fit its metric: a failed run's failed steps, a
/// failed check's or a stale table's upstream cause, a stream's lag.
fn incidents(alarms: &[Alarm], causes: &[Cause], streams: &[Stream]) -> Vec<Incident> {
    alarms
        .iter()
        .filter(|a| a.state == "ALARM")
        .map(|a| {
            let fits = |c: &&Cause| match a.metric.as_str() {
                "FailedSteps" => c.symptom.contains(" did not succeed in run "),
                "FailedChecks" => c.symptom.starts_with("check "),
                "StaleTables" => c.symptom.contains("freshness") || c.symptom.contains(" is stale"),
                _ => false,
            };
            let mut found: Vec<String> = causes
                .iter()
                .filter(fits)
                .map(|c| format!("{}: {} ({})", c.symptom, c.cause, c.at))
                .collect();
            if a.metric.contains("IteratorAge") || a.metric == "IncomingRecords" {
                found.extend(streams.iter().filter_map(|s| {
                    s.iterator_age_ms_max_1h
                        .map(|age| format!("stream {}: consumers {age:.0} ms behind", s.name))
                }));
            }
            Incident {
                alarm: a.name.clone(),
                since: a.since.clone(),
                reason: a.reason.clone(),
                causes: found,
            }
        })
        .collect()
}

/// A Kinesis metric of `stream` over the last hour, or none without data points.
async fn last_hour(
    d: &Deployment,
    metric: &str,
    statistic: &str,
    stream: &str,
) -> Result<Option<f64>, String> {
    use aws_sdk_cloudwatch::types::{Dimension, Statistic};
    let now = std::time::SystemTime::now();
    let out = d
        .clients
        .cloudwatch
        .get_metric_statistics()
        .namespace("AWS/Kinesis")
        .metric_name(metric)
        .dimensions(
            Dimension::builder()
                .name("StreamName")
                .value(stream)
                .build(),
        )
        .start_time(aws_smithy_types::DateTime::from(
            now - std::time::Duration::from_secs(3600),
        ))
        .end_time(aws_smithy_types::DateTime::from(now))
        .period(3600)
        .statistics(Statistic::from(statistic))
        .send()
        .await
        .map_err(|e| crate::cloud::error::from_sdk("GetMetricStatistics", stream, e).to_string())?;
    Ok(out
        .datapoints()
        .iter()
        .filter_map(|p| {
            if statistic == "Sum" {
                p.sum()
            } else {
                p.maximum()
            }
        })
        .reduce(f64::max))
}

/// A delivery stream's status (`ACTIVE`, `CREATING`, ...), or `missing`.
async fn delivery_status(d: &Deployment, name: &str) -> Result<String, String> {
    match d
        .clients
        .firehose
        .describe_delivery_stream()
        .delivery_stream_name(name)
        .send()
        .await
    {
        Ok(o) => Ok(o
            .delivery_stream_description()
            .map(|x| x.delivery_stream_status().as_str().to_string())
            .unwrap_or_else(|| "unknown".into())),
        Err(e) => {
            let e = crate::cloud::error::from_sdk("DescribeDeliveryStream", name, e);
            if e.code == "ResourceNotFoundException" {
                Ok("missing".into())
            } else {
                Err(e.to_string())
            }
        }
    }
}

fn duration(m: &Manifest) -> f64 {
    let t = |s: &str| chrono::DateTime::parse_from_rfc3339(s).ok();
    match (t(&m.started_at), t(&m.finished_at)) {
        (Some(a), Some(b)) => (b - a).num_milliseconds() as f64 / 1000.0,
        _ => 0.0,
    }
}

/// The step that produces a relation.
fn producer(d: &Deployment, relation: &str) -> Option<String> {
    crate::graph::steps::producer(&d.checked.loaded.stack, relation)
}

/// From symptoms (steps that did not succeed in the last run, checks that failed) to the failed
/// step furthest upstream of each, through the step DAG, and resources missing or changed.
// Long: one walk from each symptom upstream through the step DAG; the arms share what was already named.
fn causes(
    d: &Deployment,
    last: Option<&Manifest>,
    tests: Option<&crate::quality::outcome::Report>,
    resources: &[Resource],
    streams: &[Stream],
) -> Vec<Cause> {
    let steps = crate::graph::steps::step_graph(&d.graph);
    let mut out = vec![];
    let record = |step: &str| last.and_then(|m| m.steps.iter().find(|s| s.step == step));
    // The failed steps upstream of `step` (itself included) that have no failed step upstream.
    let roots = |step: &str| -> Vec<String> {
        let mut up = BTreeSet::new();
        let mut todo = vec![step.to_string()];
        while let Some(s) = todo.pop() {
            if up.insert(s.clone())
                && let Some(deps) = steps.get(&s)
            {
                todo.extend(deps.iter().cloned());
            }
        }
        let failed: BTreeSet<&String> = up
            .iter()
            .filter(|s| record(s).is_some_and(|r| r.status == Status::Failed))
            .collect();
        failed
            .iter()
            .filter(|f| {
                steps
                    .get(f.as_str())
                    .is_none_or(|deps| !deps.iter().any(|d| failed.contains(d)))
            })
            .map(|f| f.to_string())
            .collect()
    };
    let said = |step: &str| {
        record(step)
            .and_then(|r| r.error.clone())
            .unwrap_or_else(|| "failed".into())
    };
    if let Some(m) = last {
        // Relations left stale: produced by a step that did not succeed.
        let s = &d.checked.loaded.stack;
        let relations = s
            .tables
            .iter()
            .map(|(n, _)| n.value.clone())
            .chain(s.transforms.iter().map(|(n, _)| n.value.clone()));
        for rel in relations {
            let Some(p) = producer(d, &rel) else { continue };
            let Some(r) = m.steps.iter().find(|x| x.step == p) else {
                continue;
            };
            if !matches!(r.status, Status::Failed | Status::Skipped) {
                continue;
            }
            for root in roots(&p) {
                out.push(Cause {
                    symptom: format!(
                        "`{rel}` is stale: `{p}` did not succeed in run {}",
                        m.run_id
                    ),
                    cause: format!("`{root}` failed: {}", said(&root)),
                    at: root.clone(),
                });
            }
        }
    }
    if let Some(r) = tests {
        for o in r.outcomes.iter().filter(|o| {
            !matches!(
                o.verdict,
                crate::quality::outcome::Verdict::Pass | crate::quality::outcome::Verdict::Skipped
            )
        }) {
            let Some(p) = producer(d, &o.relation) else {
                continue;
            };
            let found = roots(&p);
            // A stream's table: what the stream itself shows behind its data.
            let behind = stream_causes(streams, &p);
            for (cause, at) in &behind {
                out.push(Cause {
                    symptom: format!("check {} failed: {}", o.name, o.message),
                    cause: cause.clone(),
                    at: at.clone(),
                });
            }
            if found.is_empty() && behind.is_empty() {
                out.push(Cause {
                    symptom: format!("check {} failed: {}", o.name, o.message),
                    cause: format!("the last run of `{p}` succeeded: the data itself (see the sample and `{}`)", o.stored.as_deref().unwrap_or("the test report")),
                    at: p.clone(),
                });
            }
            for root in found {
                out.push(Cause {
                    symptom: format!("check {} failed: {}", o.name, o.message),
                    cause: format!("`{root}` failed: {}", said(&root)),
                    at: root.clone(),
                });
            }
        }
    }
    for res in resources
        .iter()
        .filter(|r| r.status != "ok" || !r.drifted.is_empty())
    {
        out.push(Cause {
            symptom: format!(
                "resource {} is {}",
                res.address,
                if res.drifted.is_empty() {
                    res.status.to_string()
                } else {
                    format!("drifted ({})", res.drifted.join(", "))
                }
            ),
            cause: "changed outside dekit, or not applied: `dekit plan` shows the difference"
                .into(),
            at: res.address.clone(),
        });
    }
    out
}

/// `  failed: a, b` after a run's or an execution's line, nothing when none failed.
fn failed_suffix(failed: &[String]) -> String {
    if failed.is_empty() {
        String::new()
    } else {
        format!("  failed: {}", failed.join(", "))
    }
}

/// The snapshot as text, for a terminal.
// Long: the terminal page, section by section, in the order it shows them.
pub fn render(s: &Snapshot) -> String {
    let mut o = format!(
        "dekit observe: {} / {} at {}\n",
        s.stack, s.environment, s.taken_at
    );
    let ok = s
        .resources
        .iter()
        .filter(|r| r.status == "ok" && r.drifted.is_empty())
        .count();
    o.push_str(&format!(
        "\nResources: {ok} of {} as declared\n",
        s.resources.len()
    ));
    for r in s
        .resources
        .iter()
        .filter(|r| r.status != "ok" || !r.drifted.is_empty())
    {
        o.push_str(&format!(
            "  {:<48} {}{}\n",
            r.address,
            r.status,
            if r.drifted.is_empty() {
                String::new()
            } else {
                format!(", drifted: {}", r.drifted.join(", "))
            }
        ));
    }
    o.push_str("\nStreams\n");
    for st in &s.streams {
        o.push_str(&format!(
            "  {:<24} {:<10} shards {:<4} produced {:<8} in last hour {:<8} lag {}{}\n",
            st.name,
            st.status,
            st.shards.map_or("-".into(), |n| n.to_string()),
            st.produced,
            st.incoming_records_1h.map_or("-".into(), |n| n.to_string()),
            st.iterator_age_ms_max_1h
                .map_or("-".into(), |n| format!("{n:.0} ms")),
            st.delivery
                .as_ref()
                .map_or(String::new(), |d| format!("  delivery {d}"))
        ));
    }
    let places = |title: &str, v: &[Place], o: &mut String| {
        o.push_str(&format!("\n{title}\n"));
        for p in v {
            o.push_str(&format!(
                "  {:<24} {:>8} objects {:>12} bytes  newest {}\n",
                p.name,
                p.objects,
                p.bytes,
                p.age_hours.map_or("-".into(), |h| format!("{h:.1} h ago"))
            ));
        }
    };
    places("Zones", &s.zones, &mut o);
    places("Tables", &s.tables, &mut o);
    o.push_str("\nRuns (newest first)\n");
    for r in &s.runs {
        o.push_str(&format!(
            "  {}  {}  {} rows  {:.1} s{}\n",
            r.run_id,
            if r.ok { "ok    " } else { "FAILED" },
            r.rows,
            r.duration_s,
            failed_suffix(&r.failed)
        ));
    }
    if !s.executions.is_empty() {
        o.push_str("\nPipeline executions (newest first)\n");
        for e in &s.executions {
            o.push_str(&format!(
                "  {}  {:<9}  run {}  {} steps recorded{}\n",
                e.name,
                e.status,
                e.run_id,
                e.steps_done,
                failed_suffix(&e.failed)
            ));
        }
    }
    if let Some(t) = &s.tests {
        o.push_str(&format!(
            "\nTests {}: {} of {} passed\n",
            t.test_id, t.passed, t.checks
        ));
        for f in &t.failed {
            o.push_str(&format!("  FAIL {f}\n"));
        }
    }
    o.push_str("\nAlarms\n");
    for a in &s.alarms {
        o.push_str(&format!("  {:<48} {:<17} {}\n", a.name, a.state, a.metric));
    }
    if !s.incidents.is_empty() {
        o.push_str("\nOpen incidents\n");
        for i in &s.incidents {
            o.push_str(&format!(
                "  {} since {}: {}\n",
                i.alarm,
                i.since.as_deref().unwrap_or("-"),
                i.reason
            ));
            for c in &i.causes {
                o.push_str(&format!("    ← {c}\n"));
            }
        }
    }
    if !s.causes.is_empty() {
        o.push_str("\nLikely causes\n");
        for c in &s.causes {
            o.push_str(&format!("  {}\n    ← {}\n", c.symptom, c.cause));
        }
    }
    o
}
