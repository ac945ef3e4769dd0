//! `tables:`: a Glue table each (columns, partitions, storage format, located in its zone), and a
//! crawler with its own role where one is declared.

use super::{Builder, R, reference, resource_address};
use crate::model::DataFormat;
use crate::policy::{Policy, list_prefixes};
use serde_json::{Value, json};

// Long: one stack section to its nodes (table, crawler, role), in reference order.
pub fn add(b: &mut Builder) {
    let s = b.s;
    let lake = b.lake();
    let db_addr = resource_address(R::GlueDatabase, "catalog");
    let db = b.name_of(&db_addr);
    let db_name = db.as_str().unwrap_or_default().to_string();
    for (name, t) in s.tables.iter() {
        let from_batch = t
            .from
            .as_ref()
            .and_then(|f| s.ingest.batch.get(f).map(|b| (f, b)));
        let from_stream = t
            .from
            .as_ref()
            .and_then(|f| s.ingest.streams.get(f).map(|s| (f, s)));
        let prefix = b.names.table_prefix(name, t);
        let format = t
            .format
            .as_ref()
            .map(|f| f.value)
            .or(from_batch.map(|(_, b)| b.format))
            .or(from_stream.and_then(|(_, s)| s.delivery.as_ref().map(|d| d.format.value)))
            // A stream without delivery is landed by `dekit run` as JSON lines.
            .or(from_stream.map(|_| DataFormat::Json))
            .unwrap_or_default();
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
                "dekit:environment": b.loaded.env_name,
            },
        });
        if format == DataFormat::Csv {
            attrs["parameters"]["skip.header.line.count"] = json!("1");
        }
        let table_addr = b.resource(R::GlueTable, name, attrs, [db_addr.clone()]);
        if t.crawler.is_none() {
            continue;
        }
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
                    b.arns.glue_database(&db_name),
                    b.arns.glue_table(&db_name, name),
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
        let (sc_addr, sc) = b.glue_security();
        let policy = b.encrypted_glue_logs(policy, &b.names.role(name, "crawler"), &sc, true);
        let role_addr = b.role(name, "crawler", "glue.amazonaws.com", policy);
        let mut attrs = json!({
            "security_configuration": sc,
            "name": b.names.scoped(&format!("{name}-crawler")),
            "role_arn": reference(&role_addr, "arn"),
            "database": db,
            "catalog_target": b.name_of(&table_addr),
            "schema_change_policy": { "update_behavior": "LOG", "delete_behavior": "LOG" },
        });
        if let Some(sched) = t.crawler.as_ref().and_then(|c| c.schedule.as_ref()) {
            attrs["schedule"] = json!(sched.value);
        }
        b.resource(
            R::GlueCrawler,
            name,
            attrs,
            [role_addr, table_addr, sc_addr],
        );
    }
}

/// Glue storage descriptor parts for a data format.
pub fn glue_format(f: DataFormat) -> Value {
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
