//! What each local engine does where it differs from AWS, pinned down so that an upstream fix (or
//! a regression) shows up as a failing test rather than as a silent change. Each test documents
//! the behaviour of the engine that runs; CI runs this file on MiniStack, and on LocalStack
//! without the `ministack_` tests (`--skip ministack_`), which pin MiniStack's own gaps.

mod common;
mod harness;

use aws_sdk_kinesis::types::{ScalingType, StreamStatus};
use dekit::model::LocalEngine;
use harness::{Scope, cloud};
use std::time::{Duration, Instant};

async fn wait_active(c: &dekit::cloud::Clients, stream: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let d = c
            .kinesis
            .describe_stream_summary()
            .stream_name(stream)
            .send()
            .await;
        if let Ok(d) = d
            && d.stream_description_summary().map(|s| s.stream_status())
                == Some(&StreamStatus::Active)
        {
            return;
        }
        assert!(Instant::now() < deadline, "{stream} never became ACTIVE");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// AWS closes the parent shards of a reshard and names them in the children's `ParentShardId`;
/// readers rely on that to read parents before children. LocalStack does; MiniStack 1.5.33 adds a
/// shard and closes nothing (so resharding is tested on LocalStack).
#[test]
fn resharding_lineage() {
    let c = cloud();
    let scope = Scope::new("reshard");
    let stream = scope.name("clicks");
    c.rt.block_on(async {
        let k = &c.clients.kinesis;
        k.create_stream()
            .stream_name(&stream)
            .shard_count(1)
            .send()
            .await
            .expect("create stream");
        wait_active(&c.clients, &stream).await;
        k.update_shard_count()
            .stream_name(&stream)
            .target_shard_count(2)
            .scaling_type(ScalingType::UniformScaling)
            .send()
            .await
            .expect("update shard count");
        wait_active(&c.clients, &stream).await;
        let shards = k.list_shards().stream_name(&stream).send().await.expect("list shards");
        let with_parent = shards
            .shards()
            .iter()
            .filter(|s| s.parent_shard_id().is_some())
            .count();
        let closed = shards
            .shards()
            .iter()
            .filter(|s| {
                s.sequence_number_range()
                    .and_then(|r| r.ending_sequence_number())
                    .is_some()
            })
            .count();
        match c.engine {
            LocalEngine::Localstack => {
                assert!(with_parent >= 2 && closed >= 1, "LocalStack keeps lineage: {shards:?}");
            }
            LocalEngine::Ministack => assert_eq!(
                (with_parent, closed),
                (0, 0),
                "MiniStack's resharding gained lineage: update docs/local-cloud.md's engine table and the gap list"
            ),
        }
    });
}

/// The `ministack_` tests pin MiniStack's own gaps. On another engine they would check nothing, so
/// they refuse to pass there: CI leaves them out of the LocalStack phase by name
/// (`--skip ministack_`), which the test runner counts as filtered out.
fn only_on_ministack(c: &harness::Cloud) {
    assert_eq!(
        c.engine,
        LocalEngine::Ministack,
        "this test pins MiniStack's behaviour and checks nothing on {:?}: run it on MiniStack, or leave it out with `--skip ministack_`",
        c.engine
    );
}

/// MiniStack's Glue returns no tags for a crawler (AWS and moto return them).
#[test]
fn ministack_glue_crawler_tags() {
    let c = cloud();
    only_on_ministack(c);
    let scope = Scope::new("crawltags");
    let db = scope.glue_name("db");
    let crawler = scope.name("crawler");
    c.rt.block_on(async {
        let g = &c.clients.glue;
        g.create_database()
            .database_input(
                aws_sdk_glue::types::DatabaseInput::builder()
                    .name(&db)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .expect("database");
        g.create_crawler()
            .name(&crawler)
            .role("arn:aws:iam::000000000000:role/crawler")
            .database_name(&db)
            .targets(
                aws_sdk_glue::types::CrawlerTargets::builder()
                    .s3_targets(
                        aws_sdk_glue::types::S3Target::builder()
                            .path("s3://b/p/")
                            .build(),
                    )
                    .build(),
            )
            .tags("dekit:stack", "t")
            .send()
            .await
            .expect("crawler");
        let arn = format!("arn:aws:glue:us-east-1:000000000000:crawler/{crawler}");
        let tags = g
            .get_tags()
            .resource_arn(&arn)
            .send()
            .await
            .expect("get tags");
        assert!(
            tags.tags().map(|t| t.is_empty()).unwrap_or(true),
            "MiniStack now returns crawler tags ({:?}): read them back in glue_crawler.rs",
            tags.tags()
        );
    });
}

/// Run one Athena query and return its final state and reason.
async fn athena(c: &dekit::cloud::Clients, workgroup: &str, sql: &str) -> (String, String) {
    let id = c
        .athena
        .start_query_execution()
        .work_group(workgroup)
        .query_string(sql)
        .send()
        .await
        .map(|o| o.query_execution_id().unwrap_or_default().to_string());
    let id = match id {
        Ok(id) => id,
        Err(e) => return ("REFUSED".into(), format!("{e:?}")),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let q = c
            .athena
            .get_query_execution()
            .query_execution_id(&id)
            .send()
            .await
            .expect("get query execution");
        let status = q.query_execution().and_then(|e| e.status()).cloned();
        let state = status
            .as_ref()
            .and_then(|s| s.state())
            .map(|s| s.as_str().to_string())
            .unwrap_or_default();
        if matches!(state.as_str(), "SUCCEEDED" | "FAILED" | "CANCELLED") {
            let reason = status
                .and_then(|s| s.state_change_reason().map(str::to_string))
                .unwrap_or_default();
            return (state, reason);
        }
        assert!(Instant::now() < deadline, "query {id} never finished");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// MiniStack's Athena is DuckDB: plain SELECTs run, but Athena's CTAS properties and Trino-only
/// functions do not (those stay covered by the Trino-dialect checks of the transforms).
#[test]
fn ministack_athena_dialect() {
    let c = cloud();
    only_on_ministack(c);
    let scope = Scope::new("athena");
    let bucket = scope.name("results");
    let wg = scope.name("wg");
    c.rt.block_on(async {
        c.clients.s3.create_bucket().bucket(&bucket).send().await.expect("bucket");
        let cfg = aws_sdk_athena::types::WorkGroupConfiguration::builder()
            .result_configuration(
                aws_sdk_athena::types::ResultConfiguration::builder()
                    .output_location(format!("s3://{bucket}/athena-results/"))
                    .build(),
            )
            .build();
        c.clients
            .athena
            .create_work_group()
            .name(&wg)
            .configuration(cfg)
            .send()
            .await
            .expect("workgroup");
        let (state, why) = athena(&c.clients, &wg, "SELECT 1 + 1 AS two").await;
        assert_eq!(state, "SUCCEEDED", "a plain SELECT runs: {why}");
        let ctas = format!(
            "CREATE TABLE t WITH (format = 'PARQUET', external_location = 's3://{bucket}/t/') AS SELECT 1 AS x"
        );
        let (state, why) = athena(&c.clients, &wg, &ctas).await;
        assert_ne!(
            state, "SUCCEEDED",
            "MiniStack now runs Athena CTAS with WITH properties: exercise model CTAS locally"
        );
        eprintln!("CTAS on MiniStack: {state}: {why}");
        let (state, why) =
            athena(&c.clients, &wg, "SELECT from_iso8601_timestamp('2026-01-01T00:00:00Z')").await;
        assert_ne!(
            state, "SUCCEEDED",
            "MiniStack now has Trino's from_iso8601_timestamp"
        );
        eprintln!("from_iso8601_timestamp on MiniStack: {state}: {why}");
        c.clients
            .athena
            .delete_work_group()
            .work_group(&wg)
            .recursive_delete_option(true)
            .send()
            .await
            .expect("delete workgroup");
    });
}

/// AWS buffers records (here up to 1 MiB or 60 s) into one object; MiniStack writes one object
/// per record, ignoring the buffering hints.
#[test]
fn ministack_firehose_buffering() {
    let c = cloud();
    only_on_ministack(c);
    let scope = Scope::new("fhbuffer");
    let bucket = scope.name("lake");
    let delivery = scope.name("clicks-delivery");
    c.rt.block_on(async {
        c.clients.s3.create_bucket().bucket(&bucket).send().await.expect("bucket");
        let dest = aws_sdk_firehose::types::ExtendedS3DestinationConfiguration::builder()
            .bucket_arn(format!("arn:aws:s3:::{bucket}"))
            .role_arn("arn:aws:iam::000000000000:role/firehose")
            .prefix("raw/")
            .buffering_hints(
                aws_sdk_firehose::types::BufferingHints::builder()
                    .size_in_mbs(1)
                    .interval_in_seconds(60)
                    .build(),
            )
            .build()
            .unwrap();
        c.clients
            .firehose
            .create_delivery_stream()
            .delivery_stream_name(&delivery)
            .delivery_stream_type(aws_sdk_firehose::types::DeliveryStreamType::DirectPut)
            .extended_s3_destination_configuration(dest)
            .send()
            .await
            .expect("create delivery stream");
        for i in 0..3 {
            let record = aws_sdk_firehose::types::Record::builder()
                .data(aws_sdk_firehose::primitives::Blob::new(format!("{{\"n\":{i}}}\n")))
                .build()
                .unwrap();
            c.clients
                .firehose
                .put_record()
                .delivery_stream_name(&delivery)
                .record(record)
                .send()
                .await
                .expect("put record");
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        let count = loop {
            let listed = c
                .clients
                .s3
                .list_objects_v2()
                .bucket(&bucket)
                .prefix("raw/")
                .send()
                .await
                .expect("list");
            let n = listed.contents().len();
            if n >= 3 || Instant::now() >= deadline {
                break n;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert_eq!(
            count, 3,
            "MiniStack's Firehose no longer writes one object per record within seconds: it may buffer now"
        );
        c.clients
            .firehose
            .delete_delivery_stream()
            .delivery_stream_name(&delivery)
            .send()
            .await
            .expect("delete delivery stream");
    });
}

/// MiniStack evaluates a metric alarm over every datapoint of its namespace and metric, whatever
/// their dimensions (AWS matches an alarm's dimensions exactly), while GetMetricStatistics does
/// filter by them: one stack's `FailedChecks` can set another stack's alarm. So
/// `tests/alarms.rs` needs a local cloud where no other stack published dekit's metrics in the
/// alarm's period (CI runs it first, on a fresh MiniStack).
#[test]
fn ministack_alarms_ignore_dimensions() {
    use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, MetricDatum, Statistic};
    let c = cloud();
    only_on_ministack(c);
    let scope = Scope::new("alarmdims");
    let namespace = scope.name("ns");
    let alarm = scope.name("stack-b");
    let dim = |v: &str| Dimension::builder().name("Stack").value(v).build();
    let (state, stats) = c.rt.block_on(async {
        let cw = &c.clients.cloudwatch;
        cw.put_metric_alarm()
            .alarm_name(&alarm)
            .namespace(&namespace)
            .metric_name("Failed")
            .dimensions(dim("b"))
            .statistic(Statistic::Maximum)
            .period(10)
            .evaluation_periods(1)
            .threshold(1.0)
            .comparison_operator(ComparisonOperator::GreaterThanOrEqualToThreshold)
            .send()
            .await
            .expect("PutMetricAlarm");
        cw.put_metric_data()
            .namespace(&namespace)
            .metric_data(
                MetricDatum::builder()
                    .metric_name("Failed")
                    .dimensions(dim("a"))
                    .value(5.0)
                    .build(),
            )
            .send()
            .await
            .expect("PutMetricData");
        let deadline = Instant::now() + Duration::from_secs(30);
        let state = loop {
            let out = cw
                .describe_alarms()
                .alarm_names(&alarm)
                .send()
                .await
                .expect("DescribeAlarms");
            let s = out.metric_alarms()[0]
                .state_value()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default();
            if s == "ALARM" || Instant::now() >= deadline {
                break s;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        let now = std::time::SystemTime::now();
        let stats = cw
            .get_metric_statistics()
            .namespace(&namespace)
            .metric_name("Failed")
            .dimensions(dim("b"))
            .start_time(aws_smithy_types::DateTime::from(
                now - Duration::from_secs(600),
            ))
            .end_time(aws_smithy_types::DateTime::from(
                now + Duration::from_secs(60),
            ))
            .period(60)
            .statistics(Statistic::Maximum)
            .send()
            .await
            .expect("GetMetricStatistics")
            .datapoints()
            .len();
        cw.delete_alarms()
            .alarm_names(&alarm)
            .send()
            .await
            .expect("DeleteAlarms");
        (state, stats)
    });
    // The statistics of stack b's metric are right: it has no datapoint.
    assert_eq!(
        stats, 0,
        "GetMetricStatistics no longer filters by dimension"
    );
    assert_eq!(
        state, "ALARM",
        "MiniStack now evaluates an alarm on its own dimensions only: update docs/local-cloud.md's engine gaps and tests/alarms.rs's note"
    );
}
