//! Stack → resource graph: the concrete AWS resources a checked stack needs, with generated
//! least-privilege roles, plus the pipeline steps (source → ingest → transform → quality → serve).

use super::{Graph, Node, NodeKind, ResourceKind as R, StepKind as S};
use crate::load::Loaded;
use crate::model::{DataFormat, Encryption, Engine, Materialized, Metric, StreamMode};
use crate::names::{Names, with_slash};
use crate::policy::{Arns, Policy, list_prefixes, trust};
use crate::templates;
use crate::validate::{Checked, Relation};
use serde_json::{Map, Value, json};
use sha2::Digest;
use std::collections::BTreeSet;

/// Glue version of every generated job (Spark 3.3, Python 3.10).
pub const GLUE_VERSION: &str = "4.0";

struct Builder<'a> {
    loaded: &'a Loaded,
    names: Names<'a>,
    arns: Arns<'a>,
    nodes: Vec<Node>,
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!("attributes are always objects"),
    }
}

pub fn sha256(s: &str) -> String {
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

impl<'a> Builder<'a> {
    fn add(
        &mut self,
        kind: NodeKind,
        name: &str,
        attrs: Value,
        deps: impl IntoIterator<Item = String>,
    ) -> String {
        let prefix = match kind {
            NodeKind::Resource(r) => r.as_str(),
            NodeKind::Step(s) => s.as_str(),
        };
        let address = format!("{prefix}.{name}");
        self.nodes.push(Node {
            address: address.clone(),
            kind,
            name: name.to_string(),
            attrs: obj(attrs),
            depends_on: deps.into_iter().collect(),
        });
        address
    }

    fn resource(
        &mut self,
        kind: R,
        name: &str,
        mut attrs: Value,
        deps: impl IntoIterator<Item = String>,
    ) -> String {
        if tagged(kind) {
            attrs["tags"] = self.tags();
        }
        self.add(NodeKind::Resource(kind), name, attrs, deps)
    }

    fn step(
        &mut self,
        kind: S,
        name: &str,
        attrs: Value,
        deps: impl IntoIterator<Item = String>,
    ) -> String {
        self.add(NodeKind::Step(kind), name, attrs, deps)
    }

    fn tags(&self) -> Value {
        json!({
            "dekit:managed-by": "dekit",
            "dekit:stack": self.loaded.stack.stack.value,
            "dekit:environment": self.loaded.env_name,
        })
    }

    fn kms_key(&self) -> Option<String> {
        match self.loaded.stack.security.encryption {
            Encryption::Kms => self
                .loaded
                .stack
                .security
                .kms_key
                .as_ref()
                .map(|k| k.value.clone()),
            Encryption::Aws => None,
        }
    }

    fn encryption(&self) -> Value {
        match self.kms_key() {
            Some(k) => json!({ "algorithm": "aws:kms", "kms_key": k, "bucket_key": true }),
            None => json!({ "algorithm": "AES256" }),
        }
    }

    /// A role trusted by `service` with `policy` inline, and its address.
    fn role(&mut self, name: &str, service: &str, policy: Policy) -> String {
        let mut policy = policy;
        if let Some(k) = self.kms_key() {
            policy = policy.allow(
                "UseLakeKey",
                &["kms:Decrypt", "kms:GenerateDataKey"],
                vec![self.arns.kms_key(&k)],
            );
        }
        let physical = self.names.scoped(&name.replace('_', "-"));
        let mut attrs = json!({
            "name": physical,
            "assume_role_policy": trust(service, self.loaded.account()),
            "inline_policy": policy.build(),
        });
        if let Some(b) = &self.loaded.stack.security.permissions_boundary {
            attrs["permissions_boundary"] = json!(b.value);
        }
        self.resource(R::IamRole, name, attrs, [])
    }

    /// A Glue job: its rendered script uploaded to the artifacts bucket, its own role (`policy` plus
    /// reading that script and writing Glue's logs), and the job itself. Returns the job's address.
    fn glue_job(
        &mut self,
        name: &str,
        script: String,
        policy: Policy,
        arguments: Value,
        deps: Vec<String>,
    ) -> String {
        let artifacts = self.names.artifacts_bucket();
        let script_key = format!("glue/{name}.py");
        let script_addr = self.resource(
            R::S3Object,
            &format!("{name}_script"),
            json!({ "bucket": artifacts, "key": script_key, "content_sha256": sha256(&script), "content": script }),
            ["s3_bucket.artifacts".to_string()],
        );
        let policy = policy
            .allow(
                "ReadScript",
                &["s3:GetObject"],
                vec![self.arns.object(&artifacts, &script_key)],
            )
            .allow(
                "Logs",
                &["logs:CreateLogStream", "logs:PutLogEvents"],
                vec![
                    self.arns.log_group("/aws-glue/jobs/output"),
                    self.arns.log_group("/aws-glue/jobs/error"),
                ],
            );
        let role_addr = self.role(&format!("{name}_job"), "glue.amazonaws.com", policy);
        let role_name = self.names.scoped(&format!("{name}-job"));
        let mut args = json!({ "--job-language": "python" });
        for (k, v) in arguments.as_object().into_iter().flatten() {
            args[k] = v.clone();
        }
        self.resource(
            R::GlueJob,
            name,
            json!({
                "name": self.names.scoped(name),
                "role_arn": self.arns.role(&role_name),
                "script_location": format!("s3://{artifacts}/{script_key}"),
                "glue_version": GLUE_VERSION,
                "worker_type": "G.1X",
                "number_of_workers": 2,
                "default_arguments": args,
            }),
            [script_addr, role_addr].into_iter().chain(deps),
        )
    }

    fn zone_location(&self, zone: &str, prefix: &str) -> (String, String) {
        let key = format!("{}{}", self.names.zone_prefix(zone), with_slash(prefix));
        (format!("s3://{}/{key}", self.names.lake_bucket()), key)
    }
}

fn tagged(kind: R) -> bool {
    !matches!(kind, R::GlueTable | R::S3Object)
}

/// Glue storage descriptor parts for a data format.
fn glue_format(f: DataFormat) -> Value {
    match f {
        DataFormat::Parquet => json!({
            "input_format": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            "output_format": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
            "serde": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
        }),
        DataFormat::Json => json!({
            "input_format": "org.apache.hadoop.mapred.TextInputFormat",
            "output_format": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
            "serde": "org.openx.data.jsonserde.JsonSerDe",
        }),
        DataFormat::Csv => json!({
            "input_format": "org.apache.hadoop.mapred.TextInputFormat",
            "output_format": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
            "serde": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
        }),
    }
}

pub fn compile(checked: &Checked) -> Graph {
    let loaded = &checked.loaded;
    let s = &loaded.stack;
    let mut b = Builder {
        loaded,
        names: Names::new(loaded),
        arns: Arns {
            region: loaded.region(),
            account: loaded.account(),
        },
        nodes: vec![],
    };
    let lake = b.names.lake_bucket();
    let artifacts = b.names.artifacts_bucket();
    let db = b.names.database();

    // Storage.
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
    let db_addr = b.resource(
        R::GlueDatabase,
        "catalog",
        json!({
            "name": db,
            "description": s.storage.catalog.description.clone().unwrap_or_default(),
            "location_uri": format!("s3://{lake}/"),
        }),
        [lake_addr.clone()],
    );
    let uses_athena = s.transforms.iter().any(|(_, t)| t.engine == Engine::Athena)
        || !s.serving.views.is_empty()
        || !s.serving.exports.is_empty();
    let workgroup = uses_athena.then(|| {
        b.resource(
            R::AthenaWorkgroup,
            "main",
            json!({
                "name": b.names.prefix(),
                "result_location": format!("s3://{artifacts}/athena-results/"),
                "result_encryption": if b.kms_key().is_some() { "SSE_KMS" } else { "SSE_S3" },
                "enforce_workgroup_configuration": true,
                "bytes_scanned_cutoff_per_query": 10u64 * 1024 * 1024 * 1024,
            }),
            [artifacts_addr.clone()],
        )
    });

    // Sources.
    for (name, src) in s.sources.iter() {
        let mut attrs = json!({ "kind": src.kind.value });
        if let Some(t) = (!src.tables.is_empty()).then(|| {
            src.tables
                .iter()
                .map(|t| t.value.clone())
                .collect::<Vec<_>>()
        }) {
            attrs["tables"] = json!(t);
        }
        b.step(S::Source, name, attrs, []);
    }

    // Streaming ingest.
    for (name, st) in s.ingest.streams.iter() {
        let physical = b.names.stream(name);
        let mut attrs = json!({
            "name": physical,
            "mode": match st.mode { StreamMode::Provisioned => "PROVISIONED", StreamMode::OnDemand => "ON_DEMAND" },
            "retention_hours": st.retention_hours.as_ref().map_or(24, |r| r.value),
            "encryption": { "type": "KMS", "key": b.kms_key().unwrap_or_else(|| "alias/aws/kinesis".into()) },
        });
        if st.mode == StreamMode::Provisioned {
            attrs["shard_count"] = json!(st.shards.as_ref().map_or(1, |s| s.value));
        }
        let stream_addr = b.resource(R::KinesisStream, name, attrs, []);
        let mut ingest_deps = vec![stream_addr.clone()];
        let mut step = json!({ "mode": "streaming", "stream": physical });
        if let Some(d) = &st.delivery {
            let prefix = d
                .prefix
                .as_ref()
                .map_or_else(|| format!("{name}/"), |p| p.value.clone());
            let (url, key) = b.zone_location(&d.zone, &prefix);
            let error_key = match &d.error_prefix {
                Some(e) => format!("{}{}", b.names.zone_prefix(&d.zone), with_slash(e)),
                None => format!(
                    "{}errors/{}",
                    b.names.zone_prefix(&d.zone),
                    with_slash(name)
                ),
            };
            let delivery_name = b.names.delivery(name);
            let policy = Policy::default()
                .allow(
                    "ReadStream",
                    &[
                        "kinesis:DescribeStream",
                        "kinesis:GetShardIterator",
                        "kinesis:GetRecords",
                        "kinesis:ListShards",
                    ],
                    vec![b.arns.stream(&physical)],
                )
                .allow(
                    "WriteLake",
                    &["s3:PutObject", "s3:AbortMultipartUpload"],
                    vec![
                        b.arns.objects(&lake, &key),
                        b.arns.objects(&lake, &error_key),
                    ],
                )
                .allow_if(
                    "ListLake",
                    &[
                        "s3:ListBucket",
                        "s3:GetBucketLocation",
                        "s3:ListBucketMultipartUploads",
                    ],
                    vec![b.arns.bucket(&lake)],
                    list_prefixes(&[key.clone(), error_key.clone()]),
                )
                .allow(
                    "Logs",
                    &["logs:PutLogEvents"],
                    vec![
                        b.arns
                            .log_group(&format!("/aws/kinesisfirehose/{delivery_name}")),
                    ],
                );
            let role_addr = b.role(
                &format!("{name}_delivery"),
                "firehose.amazonaws.com",
                policy,
            );
            let role_name = b.names.scoped(&format!("{name}-delivery"));
            let fh = b.resource(
                R::FirehoseDeliveryStream,
                name,
                json!({
                    "name": delivery_name,
                    "source": firehose_source(loaded, &b.arns.stream(&physical)),
                    "role_arn": b.arns.role(&role_name),
                    "destination": {
                        "bucket_arn": b.arns.bucket(&lake),
                        "prefix": key,
                        "error_prefix": error_key,
                        "buffer_size_mb": d.buffer.size_mb.value,
                        "buffer_interval_seconds": d.buffer.interval_seconds.value,
                        "compression": match d.compression {
                            crate::model::Compression::None => "UNCOMPRESSED",
                            crate::model::Compression::Gzip => "GZIP",
                            crate::model::Compression::Snappy => "Snappy",
                            crate::model::Compression::Zip => "ZIP",
                        },
                        "format": d.format.value.as_str(),
                    },
                }),
                [stream_addr.clone(), role_addr, lake_addr.clone()],
            );
            step["delivers_to"] = json!(url);
            ingest_deps.push(fh);
        }
        if let Some(src) = &st.source {
            ingest_deps.push(format!("source.{}", src.value));
        }
        b.step(S::Ingest, name, step, ingest_deps);
    }

    // Batch ingest: a Glue job per batch, on a schedule.
    for (name, batch) in s.ingest.batch.iter() {
        let src = s.sources.get(&batch.source);
        let tables: Vec<String> = if batch.tables.is_empty() {
            src.map(|s| s.tables.iter().map(|t| t.value.clone()).collect())
                .unwrap_or_default()
        } else {
            batch.tables.iter().map(|t| t.value.clone()).collect()
        };
        let prefix = batch
            .prefix
            .as_ref()
            .map_or_else(|| format!("{}/", batch.source.value), |p| p.value.clone());
        let (url, key) = b.zone_location(&batch.zone, &prefix);
        let job_name = b.names.scoped(name);
        let script = templates::render(
            "glue/batch_ingest.py",
            &json!({
                "job": job_name,
                "source": batch.source.value,
                "kind": src.map(|s| s.kind.value),
                "tables": tables,
                "target": url,
                "format": batch.format.as_str(),
                "partition_by": batch.partition_by.iter().map(|p| p.value.clone()).collect::<Vec<_>>(),
                "database": db,
            }),
        );
        let secret = format!("{}/{}", b.names.prefix(), batch.source.value);
        let table_arns: Vec<String> = tables.iter().map(|t| b.arns.glue_table(&db, t)).collect();
        let mut glue_resources = vec![b.arns.glue_catalog(), b.arns.glue_database(&db)];
        glue_resources.extend(table_arns);
        let policy = Policy::default()
            .allow(
                "WriteLake",
                &["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
                vec![b.arns.objects(&lake, &key)],
            )
            .allow_if(
                "ListLake",
                &["s3:ListBucket"],
                vec![b.arns.bucket(&lake)],
                list_prefixes(std::slice::from_ref(&key)),
            )
            .allow(
                "Catalog",
                &[
                    "glue:GetDatabase",
                    "glue:GetTable",
                    "glue:UpdateTable",
                    "glue:BatchCreatePartition",
                    "glue:GetPartitions",
                ],
                glue_resources,
            )
            .allow(
                "SourceSecret",
                &["secretsmanager:GetSecretValue"],
                vec![format!(
                    "arn:aws:secretsmanager:{}:{}:secret:{secret}-*",
                    b.arns.region, b.arns.account
                )],
            );
        let job = b.glue_job(
            name,
            script,
            policy,
            json!({ "--source_secret_id": secret }),
            vec![db_addr.clone()],
        );
        let trigger = b.resource(
            R::GlueTrigger,
            name,
            json!({ "name": job_name, "type": "SCHEDULED", "schedule": batch.schedule.value, "job": job_name }),
            [job.clone()],
        );
        b.step(
            S::Ingest,
            name,
            json!({ "mode": "batch", "schedule": batch.schedule.value, "writes": url, "tables": tables }),
            [job, trigger, format!("source.{}", batch.source.value)],
        );
    }

    // Catalog tables.
    for (name, t) in s.tables.iter() {
        let from_batch = t
            .from
            .as_ref()
            .and_then(|f| s.ingest.batch.get(f).map(|b| (f, b)));
        let from_stream = t
            .from
            .as_ref()
            .and_then(|f| s.ingest.streams.get(f).map(|s| (f, s)));
        let prefix = match (&t.prefix, from_batch, from_stream) {
            (Some(p), _, _) => p.value.clone(),
            (None, Some((_, batch)), _) => {
                let base = batch
                    .prefix
                    .as_ref()
                    .map_or_else(|| format!("{}/", batch.source.value), |p| p.value.clone());
                let table = t
                    .source_table
                    .as_ref()
                    .map_or(name.value.as_str(), |s| s.value.as_str());
                format!("{}{table}/", with_slash(&base))
            }
            (None, None, Some((f, st))) => st
                .delivery
                .as_ref()
                .and_then(|d| d.prefix.as_ref())
                .map_or_else(|| format!("{}/", f.value), |p| p.value.clone()),
            _ => format!("{}/", name.value),
        };
        let format = t
            .format
            .as_ref()
            .map(|f| f.value)
            .or(from_batch.map(|(_, b)| b.format))
            .or(from_stream.and_then(|(_, s)| s.delivery.as_ref().map(|d| d.format.value)));
        let format = format.unwrap_or_default();
        let (url, key) = b.zone_location(&t.zone, &prefix);
        let cols = |m: &crate::yaml::Named<crate::yaml::Spanned<String>>| -> Vec<Value> {
            m.iter()
                .map(|(k, v)| json!({ "name": k.value, "type": v.value.to_lowercase() }))
                .collect()
        };
        let mut attrs = json!({
            "database": db,
            "name": name.value,
            "description": t.description.clone().unwrap_or_default(),
            "location": url,
            "format": format.as_str(),
            "storage": glue_format(format),
            "columns": cols(&t.columns),
            "partition_keys": cols(&t.partitions),
            "parameters": {
                "classification": format.as_str(),
                "dekit:stack": s.stack.value,
                "dekit:environment": loaded.env_name,
            },
        });
        if format == DataFormat::Csv {
            attrs["parameters"]["skip.header.line.count"] = json!("1");
        }
        let table_addr = b.resource(R::GlueTable, name, attrs, [db_addr.clone()]);
        if let Some(c) = &t.crawler {
            let policy = Policy::default()
                .allow(
                    "ReadData",
                    &["s3:GetObject"],
                    vec![b.arns.objects(&lake, &key)],
                )
                .allow_if(
                    "ListData",
                    &["s3:ListBucket"],
                    vec![b.arns.bucket(&lake)],
                    list_prefixes(std::slice::from_ref(&key)),
                )
                .allow(
                    "Catalog",
                    &[
                        "glue:GetDatabase",
                        "glue:GetTable",
                        "glue:UpdateTable",
                        "glue:BatchCreatePartition",
                        "glue:BatchGetPartition",
                        "glue:GetPartitions",
                        "glue:UpdatePartition",
                    ],
                    vec![
                        b.arns.glue_catalog(),
                        b.arns.glue_database(&db),
                        b.arns.glue_table(&db, name),
                    ],
                )
                .allow(
                    "Logs",
                    &[
                        "logs:CreateLogGroup",
                        "logs:CreateLogStream",
                        "logs:PutLogEvents",
                    ],
                    vec![b.arns.log_group("/aws-glue/crawlers")],
                );
            let role_addr = b.role(&format!("{name}_crawler"), "glue.amazonaws.com", policy);
            let role_name = b.names.scoped(&format!("{name}-crawler"));
            let mut attrs = json!({
                "name": b.names.scoped(&format!("{name}-crawler")),
                "role_arn": b.arns.role(&role_name),
                "database": db,
                "catalog_target": name.value,
                "schema_change_policy": { "update_behavior": "LOG", "delete_behavior": "LOG" },
            });
            if let Some(sched) = &c.schedule {
                attrs["schedule"] = json!(sched.value);
            }
            b.resource(R::GlueCrawler, name, attrs, [role_addr, table_addr]);
        }
    }

    // Transforms, views and exports: pipeline steps over the catalog.
    let quality: BTreeSet<&str> = s.quality.keys().collect();
    let upstream = |rel: &str, reader: &str| -> Vec<String> {
        let mut deps = match checked_relation(checked, rel) {
            Some(Relation::Table) => {
                let mut d = vec![format!("glue_table.{rel}")];
                if let Some(from) = s.tables.get(rel).and_then(|t| t.from.as_ref()) {
                    d.push(format!("ingest.{}", from.value));
                }
                d
            }
            Some(Relation::Transform) => vec![format!("transform.{rel}")],
            Some(Relation::View) => vec![format!("serve.{rel}")],
            None => vec![],
        };
        // Data is tested before anything downstream reads it (dbt's `build` order).
        if quality.contains(rel) && rel != reader {
            deps.push(format!("quality.{rel}"));
        }
        deps
    };
    for (name, t) in s.transforms.iter() {
        let model = &checked.models[&name.value];
        let mut deps: Vec<String> = model.reads.iter().flat_map(|r| upstream(r, name)).collect();
        deps.extend(t.depends_on.iter().flat_map(|d| {
            if s.ingest.streams.get(d).is_some() || s.ingest.batch.get(d).is_some() {
                vec![format!("ingest.{}", d.value)]
            } else {
                upstream(d, name)
            }
        }));
        let (url, key) = b.zone_location(&t.zone, &name.value);
        let mut attrs = json!({
            "engine": t.engine,
            "materialized": t.materialized,
            "sql": model.path.strip_prefix(loaded.src.dir()).unwrap_or(&model.path).to_string_lossy().replace('\\', "/"),
            "database": db,
            "reads": model.reads,
        });
        if t.materialized == Materialized::Table {
            attrs["location"] = json!(url);
            attrs["format"] = json!(t.format.as_str());
            if !t.partition_by.is_empty() {
                attrs["partition_by"] = json!(
                    t.partition_by
                        .iter()
                        .map(|p| p.value.clone())
                        .collect::<Vec<_>>()
                );
            }
        }
        match t.engine {
            Engine::Athena => deps.extend(workgroup.clone()),
            Engine::Glue => {
                let job_name = b.names.scoped(name);
                let script = templates::render(
                    "glue/transform.py",
                    &json!({ "job": job_name, "model": name.value, "sql": model.sql, "target": url, "format": t.format.as_str(), "database": db }),
                );
                let read_prefixes: Vec<String> = model
                    .reads
                    .iter()
                    .filter_map(|r| relation_prefix(&b, checked, r))
                    .collect();
                let reads: Vec<String> = read_prefixes
                    .iter()
                    .map(|p| b.arns.objects(&lake, p))
                    .collect();
                let mut listed = read_prefixes.clone();
                listed.push(key.clone());
                let mut tables: Vec<String> = vec![
                    b.arns.glue_catalog(),
                    b.arns.glue_database(&db),
                    b.arns.glue_table(&db, name),
                ];
                tables.extend(model.reads.iter().map(|r| b.arns.glue_table(&db, r)));
                let mut policy = Policy::default().allow(
                    "WriteModel",
                    &["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
                    vec![b.arns.objects(&lake, &key)],
                );
                if !reads.is_empty() {
                    policy = policy.allow("ReadInputs", &["s3:GetObject"], reads);
                }
                let policy = policy
                    .allow_if(
                        "ListLake",
                        &["s3:ListBucket"],
                        vec![b.arns.bucket(&lake)],
                        list_prefixes(&listed),
                    )
                    .allow(
                        "Catalog",
                        &[
                            "glue:GetDatabase",
                            "glue:GetTable",
                            "glue:GetPartitions",
                            "glue:CreateTable",
                            "glue:UpdateTable",
                            "glue:BatchCreatePartition",
                        ],
                        tables,
                    );
                let job = b.glue_job(name, script, policy, json!({}), vec![db_addr.clone()]);
                deps.push(job);
            }
        }
        b.step(S::Transform, name, attrs, deps);
    }
    for (name, _) in s.serving.views.iter() {
        let model = &checked.models[&name.value];
        let mut deps: Vec<String> = model.reads.iter().flat_map(|r| upstream(r, name)).collect();
        deps.extend(workgroup.clone());
        b.step(
            S::Serve,
            name,
            json!({
                "engine": "athena",
                "materialized": "view",
                "sql": model.path.strip_prefix(loaded.src.dir()).unwrap_or(&model.path).to_string_lossy().replace('\\', "/"),
                "database": db,
                "reads": model.reads,
            }),
            deps,
        );
    }
    for (name, e) in s.serving.exports.iter() {
        let prefix = e
            .prefix
            .as_ref()
            .map_or_else(|| format!("{name}/"), |p| p.value.clone());
        let (url, _) = b.zone_location(&e.zone, &prefix);
        let mut deps = upstream(&e.from, name);
        deps.extend(workgroup.clone());
        let mut attrs = json!({ "from": e.from.value, "writes": url, "format": e.format.as_str(), "consumer": e.consumer });
        if let Some(sch) = &e.schedule {
            attrs["schedule"] = json!(sch.value);
        }
        b.step(S::Export, name, attrs, deps);
    }
    for (name, checks) in s.quality.iter() {
        let mut deps = upstream(name, name);
        deps.extend(workgroup.clone());
        let tests: Vec<Value> = checks
            .iter()
            .map(|c| json!(crate::quality::describe(c)))
            .collect();
        b.step(
            S::Quality,
            name,
            json!({ "relation": name.value, "checks": tests }),
            deps,
        );
    }

    // Alarms.
    for (name, a) in s.observe.alarms.iter() {
        let (namespace, metric, dim) = a.metric.cloudwatch();
        let (dim_value, dep) = if a.metric == Metric::DeliveryFreshnessSeconds {
            (
                b.names.delivery(&a.stream),
                format!("firehose_delivery_stream.{}", a.stream.value),
            )
        } else {
            (
                b.names.stream(&a.stream),
                format!("kinesis_stream.{}", a.stream.value),
            )
        };
        b.resource(
            R::CloudwatchAlarm,
            name,
            json!({
                "name": b.names.scoped(name),
                "description": a.description.clone().unwrap_or_default(),
                "namespace": namespace,
                "metric": metric,
                "dimensions": { dim: dim_value },
                "statistic": "Maximum",
                "period_seconds": a.period_seconds.value,
                "evaluation_periods": a.evaluation_periods.value,
                "threshold": a.threshold,
                "comparison": a.comparison.cloudwatch(),
                "treat_missing_data": "notBreaching",
                "alarm_actions": a.notify.iter().map(|n| n.value.clone()).collect::<Vec<_>>(),
            }),
            [dep],
        );
    }

    Graph {
        stack: s.stack.value.clone(),
        environment: loaded.env_name.clone(),
        nodes: b.nodes,
    }
}

fn checked_relation(checked: &Checked, name: &str) -> Option<Relation> {
    let s = &checked.loaded.stack;
    if s.tables.get(name).is_some() {
        Some(Relation::Table)
    } else if s.transforms.get(name).is_some() {
        Some(Relation::Transform)
    } else if s.serving.views.get(name).is_some() {
        Some(Relation::View)
    } else {
        None
    }
}

/// Key prefix holding a relation's data (tables and table models), for read grants.
fn relation_prefix(b: &Builder, checked: &Checked, name: &str) -> Option<String> {
    let node = b
        .nodes
        .iter()
        .find(|n| n.address == format!("glue_table.{name}"));
    if let Some(loc) = node.and_then(|n| n.attrs["location"].as_str()) {
        return loc
            .strip_prefix(&format!("s3://{}/", b.names.lake_bucket()))
            .map(str::to_string);
    }
    let t = checked.loaded.stack.transforms.get(name)?;
    Some(format!(
        "{}{}",
        b.names.zone_prefix(&t.zone),
        with_slash(name)
    ))
}

/// LocalStack cannot run Kinesis-sourced Firehose offline (it downloads Java 11 and the stream ends
/// in CREATING_FAILED), so local targets deliver with DirectPut and `dekit run` forwards records.
fn firehose_source(loaded: &Loaded, stream_arn: &str) -> Value {
    match loaded.env.target.value {
        crate::model::Target::Local => json!({ "type": "DirectPut" }),
        crate::model::Target::Aws => {
            json!({ "type": "KinesisStreamAsSource", "stream_arn": stream_arn })
        }
    }
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
