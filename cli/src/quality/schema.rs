//! `schema: {allow_extra}`: the relation's data has the declared columns with the declared types
//! (a table's `columns:`, a model's `columns:` contract), and no others unless `allow_extra`.
//!
//! Why: a source that renamed a column or widened a type loads fine and breaks every query
//! downstream; what is compared is what the data files say (Parquet footers, or the catalog for
//! JSON and CSV), not the declaration against itself. Types compare as the catalog names them, so
//! `varchar` and `string` agree.
//!
//! Example: `orders: [{schema: {}}]` → `order_total: declared decimal(10,2), found double`.

use super::outcome::{At, Found};
use crate::lake::Lake;
use crate::transform::catalog::Snapshot;
use crate::transform::session::Catalog;
use crate::transform::types::glue;
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use serde_json::{Value, json};

/// The data's columns (`ctx` has the stack registered; `glue` is the catalog it was registered
/// from) against the declared ones; the differences stored as JSON lines.
pub async fn check_columns(
    cat: Catalog<'_>,
    ctx: &SessionContext,
    glue: &Snapshot,
    lake: &Lake,
    at: &At<'_>,
    allow_extra: bool,
) -> Result<Found, String> {
    let s = &cat.checked.loaded.stack;
    let relation = at.relation;
    let model = s.transforms.get(relation);
    let parts = model.map(|t| t.partitions()).unwrap_or_default();
    let partition = |n: &str| parts.iter().any(|p| p.eq_ignore_ascii_case(n));
    let declared: Vec<(String, String)> = match model {
        Some(t) => t
            .columns
            .iter()
            .filter(|(n, _)| !partition(&n.value))
            .map(|(n, ty)| (n.value.clone(), ty.value.clone()))
            .collect(),
        None => cat
            .graph
            .catalog_table(relation)
            .map(|t| t.columns())
            .unwrap_or_default()
            .iter()
            .map(|c| (c.name.to_string(), c.r#type.to_string()))
            .collect(),
    };
    let data = data_schema(cat, ctx, glue, relation).await?;
    let found = Schema::new(
        data.fields()
            .iter()
            .filter(|f| !partition(f.name()))
            .cloned()
            .collect::<Vec<_>>(),
    );
    let rows = compare(&declared, &found, allow_extra);
    if rows.is_empty() {
        return Ok(Found::default());
    }
    let key = at.key(".jsonl");
    let mut body = vec![];
    for r in &rows {
        serde_json::to_writer(&mut body, r).map_err(|e| e.to_string())?;
        body.push(b'\n');
    }
    lake.put(&key, body).await.map_err(|e| e.to_string())?;
    Ok(Found {
        failures: rows.len() as u64,
        message: Some(format!(
            "{} columns differ from the declaration",
            rows.len()
        )),
        sample: rows.into_iter().take(5).collect(),
        stored: Some(lake.url(&key)),
        skipped: false,
    })
}

/// The columns the data itself has: a Parquet table's files (their footers, merged), a model's
/// or view's registered columns, or — for JSON and CSV, whose files carry no types — the catalog
/// table as it is now (not as the stack declares it).
async fn data_schema(
    cat: Catalog<'_>,
    ctx: &SessionContext,
    glue: &Snapshot,
    name: &str,
) -> Result<Schema, String> {
    if cat.checked.loaded.stack.tables.get(name).is_none() {
        let df = ctx.table(name).await.map_err(|e| e.to_string())?;
        return Ok(df.schema().as_arrow().clone());
    }
    let table = cat
        .graph
        .catalog_table(name)
        .ok_or_else(|| format!("no catalog table for `{name}` in the graph"))?;
    if table.format() == "parquet" {
        let location = table.location();
        let opts = ParquetReadOptions::default().file_extension(".parquet");
        let df = ctx
            .read_parquet(location, opts)
            .await
            .map_err(|e| format!("reading the schema at {location}: {e}"))?;
        return Ok(df.schema().as_arrow().clone());
    }
    let db = cat.database();
    let t = glue
        .tables
        .get(name)
        .ok_or_else(|| format!("catalog table {db}.{name} does not exist"))?;
    let fields: Result<Vec<Field>, String> = t
        .storage_descriptor()
        .map(|sd| sd.columns())
        .unwrap_or_default()
        .iter()
        .map(|c| {
            crate::schema::Kind::parse(c.r#type().unwrap_or_default())
                .map(|k| Field::new(c.name(), k.arrow(), true))
                .map_err(|e| format!("{db}.{name} column `{}`: {e}", c.name()))
        })
        .collect();
    Ok(Schema::new(fields?))
}

/// One row per column that differs: `{column, declared, found, problem}`.
pub fn compare(declared: &[(String, String)], found: &Schema, allow_extra: bool) -> Vec<Value> {
    let norm = |t: &str| {
        crate::schema::Kind::parse(t)
            .ok()
            .and_then(|k| glue(&k.arrow()).ok())
            .unwrap_or_else(|| t.to_ascii_lowercase())
    };
    let mut out = vec![];
    for (name, t) in declared {
        let want = norm(t);
        match found
            .fields()
            .iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
        {
            None => out.push(
                json!({"column": name, "declared": want, "found": null, "problem": "missing"}),
            ),
            Some(f) => {
                let got = glue(f.data_type()).unwrap_or_else(|_| f.data_type().to_string());
                if got != want {
                    out.push(
                        json!({"column": name, "declared": want, "found": got, "problem": "type"}),
                    );
                }
            }
        }
    }
    if !allow_extra {
        for f in found.fields() {
            if !declared
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(f.name()))
            {
                let got = glue(f.data_type()).unwrap_or_else(|_| f.data_type().to_string());
                out.push(json!({"column": f.name(), "declared": null, "found": got, "problem": "undeclared"}));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::{DataType, Field};

    #[test]
    fn missing_retyped_and_undeclared_columns() {
        let found = Schema::new(vec![
            Field::new("order_id", DataType::Int64, true),
            Field::new("total", DataType::Float64, true),
            Field::new("note", DataType::Utf8View, true),
        ]);
        let declared = [
            ("order_id".to_string(), "bigint".to_string()),
            ("total".to_string(), "decimal(10,2)".to_string()),
            ("status".to_string(), "varchar".to_string()),
        ];
        let rows = compare(&declared, &found, false);
        insta::assert_json_snapshot!(rows);
        assert_eq!(compare(&declared, &found, true).len(), 2);
        let same = [("order_id".to_string(), "BIGINT".to_string())];
        let only_id = Schema::new(vec![Field::new("ORDER_ID", DataType::Int64, true)]);
        assert!(compare(&same, &only_id, false).is_empty());
    }
}
