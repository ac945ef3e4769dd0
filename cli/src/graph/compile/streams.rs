//! `ingest.streams`: a Kinesis stream each, and where declared a Firehose delivery to the lake with
//! its own role; plus the ingest step `dekit run` executes.

use super::{Builder, R, S, reference, resource_address};
use crate::load::Loaded;
use crate::model::StreamMode;
use crate::names::with_slash;
use crate::policy::{Policy, list_prefixes};
use serde_json::{Value, json};

// Long: one stack section to its nodes (stream, delivery, role, alarm), in reference order.
pub fn add(b: &mut Builder) {
    let lake = b.lake();
    let lake_addr = resource_address(R::S3Bucket, "lake");
    for (name, st) in b.s.ingest.streams.iter() {
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
        let mut step = json!({ "mode": "streaming", "stream": b.name_of(&stream_addr) });
        if let Some(d) = &st.delivery {
            let prefix = d
                .prefix
                .as_ref()
                .map_or_else(|| format!("{name}/"), |p| p.value.clone());
            let (url, key) = b.zone_location(&d.zone, &prefix);
            let zone_prefix = b.names.zone_prefix(&d.zone);
            let error_key = match &d.error_prefix {
                Some(e) => format!("{zone_prefix}{}", with_slash(e)),
                None => format!("{zone_prefix}errors/{}", with_slash(name)),
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
                // `s3:prefix` exists only in ListBucket requests: on the other bucket actions the
                // condition would never match and deny them (parliament's UNKNOWN_CONDITION).
                .allow_if(
                    "ListLake",
                    &["s3:ListBucket"],
                    vec![b.arns.bucket(&lake)],
                    list_prefixes(&[key.clone(), error_key.clone()]),
                )
                .allow(
                    "LocateLake",
                    &["s3:GetBucketLocation", "s3:ListBucketMultipartUploads"],
                    vec![b.arns.bucket(&lake)],
                )
                .allow(
                    "Logs",
                    &["logs:PutLogEvents"],
                    vec![
                        b.arns
                            .log_group(&format!("/aws/kinesisfirehose/{delivery_name}")),
                    ],
                );
            let role_addr = b.role(name, "delivery", "firehose.amazonaws.com", policy);
            let source = firehose_source(b.loaded, &stream_addr);
            // A DirectPut delivery does not read the stream: it need not wait for it.
            let mut deps = vec![role_addr.clone(), lake_addr.clone()];
            if source.get("stream_arn").is_some() {
                deps.push(stream_addr.clone());
            }
            let fh = b.resource(
                R::FirehoseDeliveryStream,
                name,
                json!({
                    "name": delivery_name,
                    "source": source,
                    "role_arn": reference(&role_addr, "arn"),
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
                deps,
            );
            step["delivers_to"] = json!(url);
            ingest_deps.push(fh);
        }
        if let Some(src) = &st.source {
            ingest_deps.push(format!("source.{}", src.value));
        }
        // The catalog tables it fills: it waits for them, and lineage shows it as their producer.
        let produces: Vec<String> =
            b.s.tables
                .iter()
                .filter(|(_, t)| t.from.as_ref().is_some_and(|f| f.value == name.value))
                .map(|(t, _)| resource_address(R::GlueTable, t))
                .collect();
        step["produces"] = json!(produces);
        ingest_deps.extend(produces);
        b.step(S::Ingest, name, step, ingest_deps);
    }
}

/// Firehose reads the stream, as on AWS, wherever the engine can: LocalStack cannot (it downloads
/// Java 11 and the delivery stream ends in CREATING_FAILED), so there it delivers with DirectPut
/// and `dekit run` forwards the records.
fn firehose_source(loaded: &Loaded, stream_addr: &str) -> Value {
    let local = loaded.env.target.value == crate::model::Target::Local;
    if local && !loaded.engine.firehose_reads_kinesis() {
        return json!({ "type": "DirectPut" });
    }
    json!({ "type": "KinesisStreamAsSource", "stream_arn": reference(stream_addr, "arn") })
}
