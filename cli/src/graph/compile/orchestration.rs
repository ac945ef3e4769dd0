//! `orchestration:`: the pipeline deployed. The step runtime, dekit on Lambda
//! (`lambda_function.steps`), with its own role allowed what the steps do and nothing else: the
//! lake's zones and `_dekit/`, the stack's catalog tables, its sources' secrets, its streams, its
//! metrics and its logs. The state machine (`sfn_state_machine.pipeline`, drawn from the step
//! graph), allowed to invoke that function and tell the `notify:` topics. The schedule
//! (`scheduler_schedule.pipeline`), allowed to start that state machine.

use super::{Builder, R, resource_address};
use crate::hash::sha256;
use crate::policy::{Policy, list_prefixes};
use serde_json::json;
use std::path::Path;

pub fn add(b: &mut Builder) {
    let Some(o) = b.s.orchestration.as_ref() else {
        return;
    };
    let name = b.names.scoped("steps");
    let policy = policy(b, &name);
    let role = b.role("pipeline", "steps", "lambda.amazonaws.com", policy);
    let artifacts_addr = resource_address(R::S3Bucket, "artifacts");
    let artifacts = b.name_of(&artifacts_addr);
    let dir = b.loaded.src.dir();
    let files = stack_files(&dir);
    let settings = crate::settings::get();
    let binary = settings
        .lambda_binary
        .clone()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    // On a local cloud that runs functions on this host, `bootstrap` runs this binary in place.
    let run_in_place = b.loaded.env.target.value == crate::model::Target::Local;
    let package = json!({
        "binary": binary,
        "run_in_place": run_in_place,
        "stack_dir": dir.to_string_lossy(),
        "files": files,
    });
    let hash = package_hash(&binary, run_in_place, &dir, &files);
    let function = b.resource(
        R::LambdaFunction,
        "steps",
        json!({
            "name": name,
            "arn": b.arns.function(&name),
            "role_arn": super::reference(&role, "arn"),
            "runtime": "provided.al2023",
            "memory_mb": o.memory_mb.value,
            "timeout_seconds": o.step_timeout_seconds.value,
            "environment": { "DEKIT_ENVIRONMENT": b.loaded.env_name },
            "artifacts_bucket": artifacts,
            "package": package,
            "package_sha256": hash,
        }),
        [role, artifacts_addr],
    );
    let machine = state_machine(b, &function);
    if let Some(schedule) = &o.schedule {
        let machine_arn = b.attr_of(&machine, "arn");
        let policy = Policy::default().allow(
            "StartPipeline",
            &["states:StartExecution"],
            vec![machine_arn.as_str().unwrap_or_default().to_string()],
        );
        let role = b.role("pipeline", "schedule", "scheduler.amazonaws.com", policy);
        b.resource(
            R::SchedulerSchedule,
            "pipeline",
            json!({
                "name": b.names.scoped("pipeline"),
                "schedule": schedule.value,
                "timezone": o.timezone.as_ref().map_or("UTC", |t| t.value.as_str()),
                "enabled": o.enabled,
                "target": {
                    "arn": machine_arn,
                    "role_arn": super::reference(&role, "arn"),
                    "input": "{}",
                },
            }),
            [machine, role],
        );
    }
}

/// The state machine and its role: invoke the step runtime, publish to the `notify:` topics.
fn state_machine(b: &mut Builder, function: &str) -> String {
    let graph = crate::graph::Graph {
        stack: b.s.stack.value.clone(),
        environment: b.loaded.env_name.clone(),
        nodes: b.nodes.clone(),
    };
    let definition = crate::graph::state_machine::of(&graph, b.loaded).unwrap_or_default();
    let function_arn = b.attr_of(function, "arn");
    let function_arn = function_arn.as_str().unwrap_or_default().to_string();
    let mut policy = Policy::default().allow(
        "InvokeSteps",
        &["lambda:InvokeFunction"],
        vec![function_arn.clone(), format!("{function_arn}:*")],
    );
    let mut deps = vec![function.to_string()];
    let topics: Vec<String> =
        b.s.orchestration
            .iter()
            .flat_map(|o| &o.notify)
            .map(|t| resource_address(R::SnsTopic, t))
            .collect();
    if !topics.is_empty() {
        let arns = topics
            .iter()
            .map(|t| b.attr_of(t, "arn").as_str().unwrap_or_default().to_string())
            .collect();
        policy = policy.allow("NotifyFailure", &["sns:Publish"], arns);
        deps.extend(topics);
    }
    let role = b.role("pipeline", "machine", "states.amazonaws.com", policy);
    let name = b.names.scoped("pipeline");
    deps.push(role.clone());
    b.resource(
        R::SfnStateMachine,
        "pipeline",
        json!({
            "name": name,
            "arn": b.arns.state_machine(&name),
            "role_arn": super::reference(&role, "arn"),
            "type": "STANDARD",
            "definition": definition,
        }),
        deps,
    )
}

/// What the steps read and write: the zones and `_dekit/` of the lake, the catalog's tables,
/// models and views, the sources' secrets, the streams landed, dekit's metrics, the logs.
fn policy(b: &Builder, function: &str) -> Policy {
    let s = b.s;
    let lake = b.lake();
    let db = b.database();
    let mut prefixes: Vec<String> = s
        .storage
        .lake
        .zones
        .iter()
        .map(|(z, _)| b.names.zone_prefix(z))
        .collect();
    prefixes.push("_dekit/".into());
    let mut catalog = vec![b.arns.glue_catalog(), b.arns.glue_database(&db)];
    catalog.extend(s.relations().iter().map(|r| b.arns.glue_table(&db, r)));
    let secrets: Vec<String> = s
        .sources
        .iter()
        .map(|(src, _)| {
            format!(
                "arn:aws:secretsmanager:{}:{}:secret:{}-*",
                b.arns.region,
                b.arns.account,
                super::sources::secret_name(b, src)
            )
        })
        .collect();
    let streams: Vec<String> = s
        .ingest
        .streams
        .iter()
        .map(|(st, _)| b.arns.stream(&b.names.stream(st)))
        .collect();
    let mut p = Policy::default()
        .allow(
            "Lake",
            &["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            prefixes.iter().map(|p| b.arns.objects(&lake, p)).collect(),
        )
        .allow_if(
            "ListLake",
            &["s3:ListBucket"],
            vec![b.arns.bucket(&lake)],
            list_prefixes(&prefixes),
        )
        .allow(
            "Catalog",
            &[
                "glue:GetDatabase",
                "glue:GetTable",
                "glue:GetTables",
                "glue:CreateTable",
                "glue:UpdateTable",
                "glue:GetPartitions",
                "glue:BatchCreatePartition",
            ],
            catalog,
        )
        .allow_if(
            "Metrics",
            &["cloudwatch:PutMetricData"],
            // PutMetricData takes no resource; the namespace condition limits it to dekit's.
            vec!["*".into()],
            json!({ "StringEquals": { "cloudwatch:namespace": "dekit" } }),
        )
        .allow(
            "Logs",
            &[
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
            ],
            vec![b.arns.log_group(&format!("/aws/lambda/{function}"))],
        );
    if !secrets.is_empty() {
        p = p.allow("SourceSecrets", &["secretsmanager:GetSecretValue"], secrets);
    }
    p = pushdown(b, p);
    if !streams.is_empty() {
        p = p.allow(
            "Streams",
            &[
                "kinesis:DescribeStreamSummary",
                "kinesis:ListShards",
                "kinesis:GetShardIterator",
                "kinesis:GetRecords",
            ],
            streams,
        );
    }
    p
}

/// On AWS the steps push models, views and checks down to Athena (the workgroup, its results
/// under the artifacts bucket, scratch tables dropped after a CTAS) and to the models' Glue
/// jobs; the function starts them and waits.
fn pushdown(b: &Builder, mut p: Policy) -> Policy {
    let s = b.s;
    let db = b.database();
    if let Some(wg) = super::storage::workgroup(b) {
        let workgroup = b.name_of(&wg);
        let results = b.name_of(&resource_address(R::S3Bucket, "artifacts"));
        let results = results.as_str().unwrap_or_default();
        p = p
            .allow(
                "Queries",
                &[
                    "athena:StartQueryExecution",
                    "athena:GetQueryExecution",
                    "athena:GetQueryResults",
                    "athena:StopQueryExecution",
                ],
                vec![b.arns.workgroup(workgroup.as_str().unwrap_or_default())],
            )
            .allow(
                "QueryResults",
                &["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                vec![b.arns.objects(results, "athena-results/")],
            )
            .allow(
                "LocateResults",
                &["s3:GetBucketLocation"],
                vec![b.arns.bucket(results)],
            );
        let scratch: Vec<String> = s
            .transforms
            .iter()
            .filter(|(_, t)| {
                t.engine == crate::model::Engine::Athena
                    && t.materialized == crate::model::Materialized::Table
            })
            .map(|(m, _)| b.arns.glue_table(&db, &format!("{}__dekit_*", m.value)))
            .collect();
        if !scratch.is_empty() {
            let mut resources = vec![b.arns.glue_catalog(), b.arns.glue_database(&db)];
            resources.extend(scratch);
            p = p.allow(
                "ScratchTables",
                &[
                    "glue:CreateTable",
                    "glue:GetTable",
                    "glue:GetPartitions",
                    "glue:DeleteTable",
                ],
                resources,
            );
        }
    }
    let jobs: Vec<String> = s
        .transforms
        .iter()
        .filter(|(_, t)| t.engine == crate::model::Engine::Glue)
        .filter_map(|(m, _)| {
            let job = b.name_of(&resource_address(R::GlueJob, m));
            job.as_str().map(|j| b.arns.glue_job(j))
        })
        .collect();
    if !jobs.is_empty() {
        p = p.allow("ModelJobs", &["glue:StartJobRun", "glue:GetJobRun"], jobs);
    }
    p
}

/// The stack's files to package, relative to its directory: everything but hidden entries (the
/// local state under `.dekit/`, `.git`), in a fixed order.
fn stack_files(dir: &Path) -> Vec<String> {
    let mut out = vec![];
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if e.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            if p.is_dir() {
                todo.push(p);
            } else if let Ok(rel) = p.strip_prefix(dir) {
                out.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

/// What the package is built from, as one hash: dekit's version, the binary (its path when run
/// in place, else its size and modification time), and every stack file's path and content.
fn package_hash(binary: &str, in_place: bool, dir: &Path, files: &[String]) -> String {
    let mut text = format!("dekit {}\n", env!("CARGO_PKG_VERSION"));
    let meta = std::fs::metadata(binary).ok();
    let modified = meta
        .as_ref()
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    text.push_str(&format!(
        "bootstrap {binary} {in_place} {} {modified}\n",
        meta.map_or(0, |m| m.len())
    ));
    for f in files {
        let content = std::fs::read(dir.join(f)).unwrap_or_default();
        text.push_str(&format!("{f} {}\n", crate::hash::sha256_bytes(&content)));
    }
    sha256(&text)
}
