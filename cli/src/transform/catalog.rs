//! The Glue Data Catalog entries a run writes for models: a table switched to a new location in
//! one UpdateTable (readers see the old version or the new, never a half-written one), its
//! partitions, and Athena views in the form Athena itself stores them.

use crate::cloud::Clients;
use crate::cloud::error::from_sdk;
use crate::model::DataFormat;
use aws_sdk_glue::types::{Column, PartitionInput, StorageDescriptor, TableInput};
use base64::Engine as _;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// The catalog table `name`, `None` when there is no such table.
pub async fn table(
    c: &Clients,
    db: &str,
    name: &str,
) -> Result<Option<aws_sdk_glue::types::Table>, String> {
    match c.glue.get_table().database_name(db).name(name).send().await {
        Ok(t) => Ok(t.table().cloned()),
        Err(e) => {
            let e = from_sdk("GetTable", &format!("{db}.{name}"), e);
            if e.code == "EntityNotFoundException" {
                Ok(None)
            } else {
                Err(e.to_string())
            }
        }
    }
}

/// The catalog as one session reads it: tables by name and the partitions of the partitioned
/// models among them, read before anything is registered, so every relation of the session is
/// read from one moment of the catalog and each table is asked for once.
#[derive(Default)]
pub struct Snapshot {
    pub tables: BTreeMap<String, aws_sdk_glue::types::Table>,
    pub partitions: BTreeMap<String, Vec<(Vec<String>, String)>>,
}

impl Snapshot {
    /// Every table of `db` (GetTables, all pages); partitions for `models`.
    pub async fn all(c: &Clients, db: &str, models: &BTreeSet<String>) -> Result<Snapshot, String> {
        let mut s = Snapshot::default();
        let mut token = None;
        loop {
            let page = c
                .glue
                .get_tables()
                .database_name(db)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| from_sdk("GetTables", &format!("database {db}"), e).to_string())?;
            for t in page.table_list() {
                s.tables.insert(t.name().to_ascii_lowercase(), t.clone());
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        s.with_partitions(c, db, models).await
    }

    /// The tables of `models` (GetTable each; one not built yet is left out), and their partitions.
    pub async fn of(c: &Clients, db: &str, models: &BTreeSet<String>) -> Result<Snapshot, String> {
        let mut s = Snapshot::default();
        for n in models {
            if let Some(t) = table(c, db, n).await? {
                s.tables.insert(n.to_ascii_lowercase(), t);
            }
        }
        s.with_partitions(c, db, models).await
    }

    async fn with_partitions(
        mut self,
        c: &Clients,
        db: &str,
        models: &BTreeSet<String>,
    ) -> Result<Snapshot, String> {
        let partitioned: Vec<String> = self
            .tables
            .iter()
            .filter(|(n, t)| models.contains(*n) && !t.partition_keys().is_empty())
            .map(|(n, _)| n.clone())
            .collect();
        for n in partitioned {
            let parts = partitions(c, db, &n).await?;
            self.partitions.insert(n, parts);
        }
        Ok(self)
    }
}

/// Where the catalog table `name` points now, `None` when there is no such table.
pub async fn location(c: &Clients, db: &str, name: &str) -> Result<Option<String>, String> {
    Ok(table(c, db, name).await?.and_then(|t| {
        t.storage_descriptor()
            .and_then(|sd| sd.location())
            .map(str::to_string)
    }))
}

/// A model's table: Parquet at `location`, the result's columns, `partition` columns last.
pub struct ModelTable<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub location: &'a str,
    pub columns: &'a [(String, String)],
    pub partition: &'a [(String, String)],
    pub parameters: Vec<(&'a str, String)>,
}

/// Create the table, or switch the existing one to the new columns and location.
pub async fn put_table(c: &Clients, db: &str, t: &ModelTable<'_>) -> Result<(), String> {
    let cols = |v: &[(String, String)]| -> Value {
        v.iter()
            .map(|(n, t)| json!({ "name": n, "type": t }))
            .collect()
    };
    let mut params = serde_json::Map::new();
    params.insert("classification".into(), json!("parquet"));
    for (k, v) in &t.parameters {
        params.insert((*k).into(), json!(v));
    }
    let attrs = json!({
        "name": t.name,
        "description": t.description,
        "location": t.location,
        "storage": crate::graph::compile::tables::glue_format(DataFormat::Parquet),
        "columns": cols(t.columns),
        "partition_keys": cols(t.partition),
        "parameters": params,
    });
    let input = crate::resources::glue_table::input(attrs.as_object().expect("object"))
        .map_err(|e| e.to_string())?;
    upsert(c, db, t.name, input).await
}

async fn upsert(c: &Clients, db: &str, name: &str, input: TableInput) -> Result<(), String> {
    let at = format!("{db}.{name}");
    if exists(c, db, name).await? {
        c.glue
            .update_table()
            .database_name(db)
            .table_input(input)
            .send()
            .await
            .map_err(|e| from_sdk("UpdateTable", &at, e).to_string())?;
    } else {
        c.glue
            .create_table()
            .database_name(db)
            .table_input(input)
            .send()
            .await
            .map_err(|e| from_sdk("CreateTable", &at, e).to_string())?;
    }
    Ok(())
}

async fn exists(c: &Clients, db: &str, name: &str) -> Result<bool, String> {
    Ok(table(c, db, name).await?.is_some())
}

/// Every partition of `table`: its values and location, all pages.
pub async fn partitions(
    c: &Clients,
    db: &str,
    table: &str,
) -> Result<Vec<(Vec<String>, String)>, String> {
    let at = format!("{db}.{table}");
    let mut out = vec![];
    let mut token = None;
    loop {
        let page = c
            .glue
            .get_partitions()
            .database_name(db)
            .table_name(table)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| from_sdk("GetPartitions", &at, e).to_string())?;
        out.extend(page.partitions().iter().map(|p| {
            let loc = p
                .storage_descriptor()
                .and_then(|sd| sd.location())
                .unwrap_or_default()
                .to_string();
            (p.values().to_vec(), loc)
        }));
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// Replace the partitions of `table` with `parts` (values in partition-key order, location).
pub async fn put_partitions(
    c: &Clients,
    db: &str,
    table: &str,
    columns: &[(String, String)],
    parts: &[(Vec<String>, String)],
) -> Result<(), String> {
    let at = format!("{db}.{table}");
    // What each partition points at now.
    let old = partitions(c, db, table).await?;
    let fresh: std::collections::BTreeSet<&Vec<String>> = parts.iter().map(|(v, _)| v).collect();
    // New partitions are created, moved ones switched (each atomically), unchanged ones left.
    let create: Vec<&(Vec<String>, String)> = parts
        .iter()
        .filter(|(v, _)| !old.iter().any(|(o, _)| o == v))
        .collect();
    let moved: Vec<&(Vec<String>, String)> = parts
        .iter()
        .filter(|(v, l)| old.iter().any(|(o, ol)| o == v && ol != l))
        .collect();
    for chunk in create.chunks(100) {
        let r = c
            .glue
            .batch_create_partition()
            .database_name(db)
            .table_name(table)
            .set_partition_input_list(Some(
                chunk
                    .iter()
                    .map(|(v, l)| partition(v, l, columns))
                    .collect(),
            ))
            .send()
            .await
            .map_err(|e| from_sdk("BatchCreatePartition", &at, e).to_string())?;
        if let Some(e) = r.errors().first() {
            return Err(format!(
                "BatchCreatePartition {at}: {}",
                e.error_detail()
                    .and_then(|d| d.error_message())
                    .unwrap_or("failed")
            ));
        }
    }
    for chunk in moved.chunks(100) {
        let entries = chunk
            .iter()
            .map(|(v, l)| {
                aws_sdk_glue::types::BatchUpdatePartitionRequestEntry::builder()
                    .set_partition_value_list(Some(v.clone()))
                    .partition_input(partition(v, l, columns))
                    .build()
                    .map_err(|e| format!("BatchUpdatePartition {at}: {e}"))
            })
            .collect::<Result<Vec<_>, String>>()?;
        let r = c
            .glue
            .batch_update_partition()
            .database_name(db)
            .table_name(table)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| from_sdk("BatchUpdatePartition", &at, e).to_string())?;
        if let Some(e) = r.errors().first() {
            return Err(format!(
                "BatchUpdatePartition {at}: {}",
                e.error_detail()
                    .and_then(|d| d.error_message())
                    .unwrap_or("failed")
            ));
        }
    }
    let gone: Vec<&Vec<String>> = old
        .iter()
        .map(|(v, _)| v)
        .filter(|v| !fresh.contains(v))
        .collect();
    for chunk in gone.chunks(25) {
        c.glue
            .batch_delete_partition()
            .database_name(db)
            .table_name(table)
            .set_partitions_to_delete(Some(
                chunk
                    .iter()
                    .map(|v| {
                        aws_sdk_glue::types::PartitionValueList::builder()
                            .set_values(Some((*v).clone()))
                            .build()
                            .expect("values set")
                    })
                    .collect(),
            ))
            .send()
            .await
            .map_err(|e| from_sdk("BatchDeletePartition", &at, e).to_string())?;
    }
    Ok(())
}

fn partition(values: &[String], location: &str, columns: &[(String, String)]) -> PartitionInput {
    let st = crate::graph::compile::tables::glue_format(DataFormat::Parquet);
    PartitionInput::builder()
        .set_values(Some(values.to_vec()))
        .storage_descriptor(
            StorageDescriptor::builder()
                .location(location)
                .input_format(st["input_format"].as_str().unwrap_or_default())
                .output_format(st["output_format"].as_str().unwrap_or_default())
                .serde_info(
                    aws_sdk_glue::types::SerDeInfo::builder()
                        .serialization_library(st["serde"].as_str().unwrap_or_default())
                        .build(),
                )
                .set_columns(Some(glue_columns(columns)))
                .build(),
        )
        .build()
}

fn glue_columns(cols: &[(String, String)]) -> Vec<Column> {
    cols.iter()
        .map(|(n, t)| {
            Column::builder()
                .name(n)
                .r#type(t)
                .build()
                .expect("name set")
        })
        .collect()
}

/// The stored text of an Athena view: Athena (Presto) keeps the view's SQL and its columns as
/// base64 JSON in `ViewOriginalText`; Athena lists views made this way as its own.
pub fn presto_view(sql: &str, db: &str, columns: &[(String, String)]) -> String {
    let doc = json!({
        "originalSql": sql,
        "catalog": "awsdatacatalog",
        "schema": db,
        "columns": columns
            .iter()
            .map(|(n, t)| json!({ "name": n, "type": super::types::trino(t) }))
            .collect::<Vec<_>>(),
    });
    format!(
        "/* Presto View: {} */",
        base64::engine::general_purpose::STANDARD.encode(doc.to_string())
    )
}

/// A view in the catalog, as Athena's CREATE VIEW writes it.
pub async fn put_view(
    c: &Clients,
    db: &str,
    name: &str,
    description: &str,
    sql: &str,
    columns: &[(String, String)],
) -> Result<(), String> {
    let input = TableInput::builder()
        .name(name)
        .description(description)
        .table_type("VIRTUAL_VIEW")
        .view_original_text(presto_view(sql, db, columns))
        .view_expanded_text("/* Presto View */")
        .parameters("presto_view", "true")
        .parameters("comment", "Presto View")
        .storage_descriptor(
            StorageDescriptor::builder()
                .set_columns(Some(glue_columns(columns)))
                .build(),
        )
        .build()
        .map_err(|e| format!("view {db}.{name}: {e}"))?;
    upsert(c, db, name, input).await
}
