//! `glue_table`: an external catalog table over a lake prefix: columns, partition keys, location,
//! input/output format and SerDe, and dekit's stack/environment parameters.
//!
//! Why: Athena and Glue jobs read the lake through these definitions; a wrong column type is a
//! query failure, so every column is read back after a write.
//!
//! Example: `glue_table.orders` → `retail_local.orders` at `s3://.../raw/shop/orders/`.

use super::{Attrs, Fut, Provider, absent, s};
use crate::cloud::error::from_sdk;
use crate::cloud::{Clients, CloudError};
use aws_sdk_glue::types::{Column, SerDeInfo, StorageDescriptor, TableInput};
use serde_json::{Value, json};

pub struct GlueTable;

fn columns(v: &Value) -> Result<Vec<Column>, CloudError> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            Column::builder()
                .name(c["name"].as_str().unwrap_or_default())
                .r#type(c["type"].as_str().unwrap_or_default())
                .build()
                .map_err(|e| CloudError::new("Build", "column", "InvalidInput", e.to_string()))
        })
        .collect()
}

pub fn input(d: &Attrs) -> Result<TableInput, CloudError> {
    let st = &d["storage"];
    let sd = StorageDescriptor::builder()
        .location(s(d, "location"))
        .input_format(st["input_format"].as_str().unwrap_or_default())
        .output_format(st["output_format"].as_str().unwrap_or_default())
        .serde_info(
            SerDeInfo::builder()
                .serialization_library(st["serde"].as_str().unwrap_or_default())
                .build(),
        )
        .set_columns(Some(columns(&d["columns"])?))
        .build();
    let mut t = TableInput::builder()
        .name(s(d, "name"))
        .description(s(d, "description"))
        .table_type("EXTERNAL_TABLE")
        .storage_descriptor(sd)
        .set_partition_keys(Some(columns(&d["partition_keys"])?));
    for (k, v) in d["parameters"].as_object().into_iter().flatten() {
        t = t.parameters(k, v.as_str().unwrap_or_default());
    }
    t.build()
        .map_err(|e| CloudError::new("Build", s(d, "name"), "InvalidInput", e.to_string()))
}

fn cols(c: &[Column]) -> Value {
    c.iter()
        .map(|c| json!({ "name": c.name(), "type": c.r#type().unwrap_or_default() }))
        .collect()
}

/// Objects under an `s3://bucket/prefix` location (at most one page).
pub async fn objects_under(c: &Clients, location: &str) -> Result<usize, CloudError> {
    let Some((bucket, prefix)) = location
        .strip_prefix("s3://")
        .and_then(|l| l.split_once('/'))
    else {
        return Ok(0);
    };
    let out =
        c.s3.list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .max_keys(1000)
            .send()
            .await;
    match super::absent(out.map_err(|e| from_sdk("ListObjectsV2", location, e)))? {
        Some(o) => Ok(o.contents().len()),
        None => Ok(0),
    }
}

fn live_of(t: &aws_sdk_glue::types::Table, db: &str) -> Attrs {
    let sd = t.storage_descriptor();
    let mut live = Attrs::new();
    live.insert("database".into(), json!(t.database_name().unwrap_or(db)));
    live.insert("name".into(), json!(t.name()));
    live.insert(
        "description".into(),
        json!(t.description().unwrap_or_default()),
    );
    live.insert(
        "location".into(),
        json!(sd.and_then(|s| s.location()).unwrap_or_default()),
    );
    live.insert(
        "format".into(),
        // The format is whatever the SerDe reads.
        json!(match sd
            .and_then(|s| s.serde_info())
            .and_then(|s| s.serialization_library())
            .unwrap_or_default()
        {
            "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe" => "parquet",
            "org.openx.data.jsonserde.JsonSerDe" => "json",
            "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe" => "csv",
            other => other,
        }),
    );
    live.insert(
        "storage".into(),
        json!({
            "input_format": sd.and_then(|s| s.input_format()).unwrap_or_default(),
            "output_format": sd.and_then(|s| s.output_format()).unwrap_or_default(),
            "serde": sd.and_then(|s| s.serde_info()).and_then(|s| s.serialization_library()).unwrap_or_default(),
        }),
    );
    live.insert(
        "columns".into(),
        cols(sd.map(|s| s.columns()).unwrap_or_default()),
    );
    live.insert("partition_keys".into(), cols(t.partition_keys()));
    let params: serde_json::Map<String, Value> = t
        .parameters()
        .map(|p| p.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
        .unwrap_or_default();
    live.insert("parameters".into(), Value::Object(params));
    live
}

impl Provider for GlueTable {
    fn replace_on(&self) -> &'static [&'static str] {
        &["database", "name"]
    }
    fn tagged(&self) -> bool {
        false
    }
    /// GetTables answers for every table of a database with what GetTable would.
    fn read_many<'a>(
        &'a self,
        c: &'a Clients,
        desired: &'a [Attrs],
    ) -> Fut<'a, Option<Vec<Option<Attrs>>>> {
        Box::pin(async move {
            let dbs: std::collections::BTreeSet<&str> =
                desired.iter().map(|d| s(d, "database")).collect();
            let mut found = std::collections::HashMap::new();
            for db in dbs {
                let mut pages = c
                    .glue
                    .get_tables()
                    .database_name(db)
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    let page = match absent(page.map_err(|e| from_sdk("GetTables", db, e)))? {
                        Some(p) => p,
                        // No database: none of its tables exist.
                        None => break,
                    };
                    for t in page.table_list() {
                        found.insert((db.to_string(), t.name().to_string()), live_of(t, db));
                    }
                }
            }
            Ok(Some(
                desired
                    .iter()
                    .map(|d| {
                        found
                            .get(&(s(d, "database").to_string(), s(d, "name").to_string()))
                            .cloned()
                    })
                    .collect(),
            ))
        })
    }
    fn data_note<'a>(&'a self, c: &'a Clients, a: &'a Attrs) -> Fut<'a, Option<String>> {
        Box::pin(async move {
            let n = objects_under(c, s(a, "location")).await?;
            Ok((n > 0).then(|| {
                format!(
                    "table data at {}: {}{} objects",
                    s(a, "location"),
                    n,
                    if n >= 1000 { "+" } else { "" }
                )
            }))
        })
    }

    fn read<'a>(&'a self, c: &'a Clients, d: &'a Attrs) -> Fut<'a, Option<Attrs>> {
        Box::pin(async move {
            let (db, name) = (s(d, "database"), s(d, "name"));
            let id = format!("{db}.{name}");
            let Some(out) = absent(
                c.glue
                    .get_table()
                    .database_name(db)
                    .name(name)
                    .send()
                    .await
                    .map_err(|e| from_sdk("GetTable", &id, e)),
            )?
            else {
                return Ok(None);
            };
            let Some(t) = out.table() else {
                return Ok(None);
            };
            Ok(Some(live_of(t, db)))
        })
    }

    fn create<'a>(&'a self, c: &'a Clients, d: &'a Attrs) -> Fut<'a, ()> {
        Box::pin(async move {
            let id = format!("{}.{}", s(d, "database"), s(d, "name"));
            c.glue
                .create_table()
                .database_name(s(d, "database"))
                .table_input(input(d)?)
                .send()
                .await
                .map_err(|e| from_sdk("CreateTable", &id, e))?;
            Ok(())
        })
    }

    fn update<'a>(&'a self, c: &'a Clients, d: &'a Attrs, _live: &'a Attrs) -> Fut<'a, ()> {
        Box::pin(async move {
            let id = format!("{}.{}", s(d, "database"), s(d, "name"));
            c.glue
                .update_table()
                .database_name(s(d, "database"))
                .table_input(input(d)?)
                .send()
                .await
                .map_err(|e| from_sdk("UpdateTable", &id, e))?;
            Ok(())
        })
    }

    fn delete<'a>(&'a self, c: &'a Clients, a: &'a Attrs, force: bool) -> Fut<'a, ()> {
        Box::pin(async move {
            let id = format!("{}.{}", s(a, "database"), s(a, "name"));
            if !force && objects_under(c, s(a, "location")).await? > 0 {
                return Err(CloudError::new(
                    "DeleteTable",
                    &id,
                    "TableHasData",
                    format!(
                        "{} holds data; pass --force-delete-data to drop the table definition",
                        s(a, "location")
                    ),
                ));
            }
            absent(
                c.glue
                    .delete_table()
                    .database_name(s(a, "database"))
                    .name(s(a, "name"))
                    .send()
                    .await
                    .map_err(|e| from_sdk("DeleteTable", &id, e)),
            )?;
            Ok(())
        })
    }
}
