//! The client factory against the real local cloud, one test per service family, and the local
//! cloud's own lifecycle (start twice, stop twice, taken ports, nothing left behind).

mod common;
mod harness;

use aws_sdk_glue::types::{Column, DatabaseInput, SerDeInfo, StorageDescriptor, TableInput};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::ShardIteratorType;
use aws_sdk_s3::primitives::ByteStream;
use harness::{Scope, cloud};
use std::time::{Duration, Instant};

#[test]
fn s3_put_get() {
    let c = cloud();
    let scope = Scope::new("s3");
    let bucket = scope.name("bucket");
    c.rt.block_on(async {
        let s3 = &c.clients.s3;
        s3.create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .expect("create bucket");
        let body = b"order_id,status\n1,placed\n".to_vec();
        s3.put_object()
            .bucket(&bucket)
            .key("raw/orders/part-0.csv")
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .expect("put");
        let got = s3
            .get_object()
            .bucket(&bucket)
            .key("raw/orders/part-0.csv")
            .send()
            .await
            .expect("get");
        let bytes = got.body.collect().await.unwrap().into_bytes();
        assert_eq!(bytes.as_ref(), body.as_slice());
        let listed = s3
            .list_objects_v2()
            .bucket(&bucket)
            .prefix("raw/")
            .send()
            .await
            .unwrap();
        assert_eq!(listed.key_count(), Some(1));
    });
}

#[test]
fn kinesis_put_get_records() {
    let c = cloud();
    let scope = Scope::new("kinesis");
    let stream = scope.name("clicks");
    c.rt.block_on(async {
        let k = &c.clients.kinesis;
        k.create_stream()
            .stream_name(&stream)
            .shard_count(2)
            .send()
            .await
            .expect("create stream");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let s = k
                .describe_stream_summary()
                .stream_name(&stream)
                .send()
                .await
                .expect("describe");
            if s.stream_description_summary()
                .map(|d| d.stream_status().as_str())
                == Some("ACTIVE")
            {
                break;
            }
            assert!(Instant::now() < deadline, "stream never became active");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let entries: Vec<_> = (0..50)
            .map(|i| {
                aws_sdk_kinesis::types::PutRecordsRequestEntry::builder()
                    .data(Blob::new(format!("{{\"event_id\":{i}}}")))
                    .partition_key(format!("customer-{i}"))
                    .build()
                    .unwrap()
            })
            .collect();
        let put = k
            .put_records()
            .stream_name(&stream)
            .set_records(Some(entries))
            .send()
            .await
            .expect("put records");
        assert_eq!(put.failed_record_count(), Some(0));
        let mut seen = 0;
        let shards = k.list_shards().stream_name(&stream).send().await.unwrap();
        assert_eq!(shards.shards().len(), 2);
        for shard in shards.shards() {
            let it = k
                .get_shard_iterator()
                .stream_name(&stream)
                .shard_id(shard.shard_id())
                .shard_iterator_type(ShardIteratorType::TrimHorizon)
                .send()
                .await
                .unwrap();
            let mut iter = it.shard_iterator().map(str::to_string);
            while let Some(i) = iter {
                let r = k.get_records().shard_iterator(i).send().await.unwrap();
                seen += r.records().len();
                if r.records().is_empty() {
                    break;
                }
                iter = r.next_shard_iterator().map(str::to_string);
            }
        }
        assert_eq!(seen, 50, "every record comes back");
    });
}

#[test]
fn firehose_direct_put_lands_in_s3() {
    let c = cloud();
    let scope = Scope::new("firehose");
    let bucket = scope.name("lake");
    let delivery = scope.name("clicks-delivery");
    c.rt.block_on(async {
        c.clients
            .s3
            .create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .expect("bucket");
        let dest = aws_sdk_firehose::types::ExtendedS3DestinationConfiguration::builder()
            .bucket_arn(format!("arn:aws:s3:::{bucket}"))
            .role_arn("arn:aws:iam::000000000000:role/firehose")
            .prefix("raw/clickstream/")
            .buffering_hints(
                aws_sdk_firehose::types::BufferingHints::builder()
                    .size_in_mbs(1)
                    .interval_in_seconds(0)
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
        let record = aws_sdk_firehose::types::Record::builder()
            .data(aws_sdk_firehose::primitives::Blob::new(
                "{\"event_id\":\"e1\"}\n",
            ))
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
        let deadline = Instant::now() + Duration::from_secs(90);
        let body = loop {
            let listed = c
                .clients
                .s3
                .list_objects_v2()
                .bucket(&bucket)
                .prefix("raw/clickstream/")
                .send()
                .await
                .unwrap();
            if let Some(key) = listed.contents().first().and_then(|o| o.key()) {
                let o = c
                    .clients
                    .s3
                    .get_object()
                    .bucket(&bucket)
                    .key(key)
                    .send()
                    .await
                    .unwrap();
                break o.body.collect().await.unwrap().into_bytes();
            }
            assert!(Instant::now() < deadline, "the record never reached S3");
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        assert!(String::from_utf8_lossy(&body).contains("\"event_id\":\"e1\""));
    });
}

#[test]
fn glue_database_and_table_roundtrip() {
    let c = cloud();
    let scope = Scope::new("glue");
    let db = scope.glue_name("retail");
    c.rt.block_on(async {
        let g = &c.clients.glue;
        g.create_database()
            .database_input(DatabaseInput::builder().name(&db).build().unwrap())
            .send()
            .await
            .expect("create database");
        let sd = StorageDescriptor::builder()
            .location("s3://lake/raw/shop/orders/")
            .input_format("org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat")
            .output_format("org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat")
            .serde_info(
                SerDeInfo::builder()
                    .serialization_library(
                        "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
                    )
                    .build(),
            )
            .columns(
                Column::builder()
                    .name("order_id")
                    .r#type("bigint")
                    .build()
                    .unwrap(),
            )
            .columns(
                Column::builder()
                    .name("status")
                    .r#type("string")
                    .build()
                    .unwrap(),
            )
            .build();
        let table = TableInput::builder()
            .name("orders")
            .table_type("EXTERNAL_TABLE")
            .storage_descriptor(sd)
            .partition_keys(
                Column::builder()
                    .name("ingest_date")
                    .r#type("string")
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        g.create_table()
            .database_name(&db)
            .table_input(table)
            .send()
            .await
            .expect("create table");
        let got = g
            .get_table()
            .database_name(&db)
            .name("orders")
            .send()
            .await
            .expect("get table");
        let t = got.table().unwrap();
        let cols: Vec<(&str, &str)> = t
            .storage_descriptor()
            .unwrap()
            .columns()
            .iter()
            .map(|c| (c.name(), c.r#type().unwrap_or_default()))
            .collect();
        assert_eq!(cols, [("order_id", "bigint"), ("status", "string")]);
        assert_eq!(t.partition_keys()[0].name(), "ingest_date");
        let err = g
            .get_table()
            .database_name(&db)
            .name("missing")
            .send()
            .await
            .unwrap_err();
        let e = dekit::cloud::error::from_sdk("GetTable", &format!("{db}.missing"), err);
        assert_eq!(e.code, "EntityNotFoundException", "{e}");
    });
}

#[test]
fn athena_workgroup_on_moto() {
    let c = cloud();
    let scope = Scope::new("athena");
    let wg = scope.name("wg");
    c.rt.block_on(async {
        let cfg = aws_sdk_athena::types::WorkGroupConfiguration::builder()
            .result_configuration(
                aws_sdk_athena::types::ResultConfiguration::builder()
                    .output_location("s3://artifacts/athena-results/")
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
            .expect("create workgroup");
        let got = c
            .clients
            .athena
            .get_work_group()
            .work_group(&wg)
            .send()
            .await
            .expect("get workgroup");
        let loc = got
            .work_group()
            .and_then(|w| w.configuration())
            .and_then(|c| c.result_configuration())
            .and_then(|r| r.output_location());
        assert_eq!(loc, Some("s3://artifacts/athena-results/"));
    });
}

#[test]
fn cli_status_probes_every_service() {
    cloud();
    let o = common::dekit(&["local", "status"]);
    let out = common::stdout(&o);
    assert!(o.status.success(), "{out}\n{}", common::stderr(&o));
    for svc in [
        "s3",
        "kinesis",
        "firehose",
        "iam",
        "sts",
        "cloudwatch",
        "glue",
        "athena",
    ] {
        assert!(
            out.lines()
                .any(|l| l.trim_start().starts_with(svc) && l.contains(" ok ")),
            "{svc} not ok:\n{out}"
        );
    }
    // The same as one JSON document on stdout (the script's process lines go to stderr).
    let o = common::dekit(&["local", "status", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&common::stdout(&o))
        .unwrap_or_else(|e| panic!("{e}: {}", common::stdout(&o)));
    assert!(o.status.success(), "{doc:#}");
    assert_eq!(doc["ok"], true);
    assert_eq!(doc["engine"], cloud().engine.as_str());
    let answered: Vec<&str> = doc["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["ok"] == true)
        .filter_map(|s| s["service"].as_str())
        .collect();
    for svc in [
        "s3",
        "kinesis",
        "firehose",
        "iam",
        "sts",
        "cloudwatch",
        "glue",
        "athena",
    ] {
        assert!(answered.contains(&svc), "{svc} not ok: {doc:#}");
    }
}

#[test]
fn connection_failure_names_the_fix() {
    let c = cloud();
    // Nothing listens on port 9 (discard) of loopback here.
    let target = dekit::cloud::Target::Local {
        region: "us-east-1".into(),
        endpoint: "http://127.0.0.1:9".into(),
        overrides: Default::default(),
        engine: dekit::model::LocalEngine::Ministack,
        pinned: false,
    };
    let err =
        c.rt.block_on(dekit::cloud::local::ensure_up(&target, false))
            .unwrap_err();
    assert!(
        err.contains("dekit local start") && err.contains("--start-local"),
        "{err}"
    );
    let clients = c.rt.block_on(dekit::cloud::Clients::connect(&target));
    let e = c.rt.block_on(clients.s3.list_buckets().send()).unwrap_err();
    let e = dekit::cloud::error::from_sdk("ListBuckets", "", e);
    assert_eq!(e.code, "ConnectionFailed", "{e}");
    assert!(e.is_retryable());
}

/// Credentials that reach another account than the one an `aws` environment names: refused
/// before anything is read, saying which account each is and how to find the right profile
/// (the local cloud's STS answers as account 000000000000; retail's prod names 123456789012).
#[test]
fn credentials_for_another_account_are_refused_with_the_fix() {
    let c = cloud();
    let sts = c.clients.target.endpoint("sts").unwrap().to_string();
    let dir = std::env::temp_dir().join(format!("dekit-account-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("credentials"),
        "[retail-prod]\naws_access_key_id = test\naws_secret_access_key = test\n",
    )
    .unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_dekit"))
        .args(["plan", "stacks/retail/stack.yaml", "--env", "prod"])
        .current_dir(common::repo_root())
        .env("AWS_CONFIG_FILE", dir.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL_STS", &sts)
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("the credentials (profile `retail-prod`) are for account 000000000000, but environment `prod` deploys to account 123456789012; refusing")
            && err.contains("aws sts get-caller-identity"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
