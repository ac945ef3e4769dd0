//! Unit tests of models (`unit_tests:`): the model's SQL run by the local engine on the fixture
//! rows alone (in memory, nothing read from the lake), its result compared with the expected rows
//! as a multiset on the columns the expectation names.

use super::outcome::{Outcome, Verdict, to_json};
use crate::model::UnitTest;
use crate::model::unit_tests::Fixture;
use crate::model::unit_tests::Row;
use crate::transform::errors::at_model;
use crate::validate::Checked;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::json::ReaderBuilder;
use datafusion::datasource::MemTable;
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;

pub async fn run(checked: &Checked, name: &str, t: &UnitTest) -> Outcome {
    let started = Instant::now();
    let model = t.model.value.clone();
    let sql = checked
        .models
        .get(&model)
        .map(|m| m.sql.clone())
        .unwrap_or_default();
    let mut o = Outcome::new(format!("unit.{name}"), &model, "unit_test", sql);
    match compare(checked, t).await {
        Ok((got, missing, unexpected)) => {
            if missing.is_empty() && unexpected.is_empty() {
                o.message = format!("{got} rows as expected");
            } else {
                o.verdict = Verdict::Fail;
                o.failures = (missing.len() + unexpected.len()) as u64;
                o.message = format!(
                    "expected {} rows, got {got}: {} expected rows missing, {} rows not expected",
                    got - unexpected.len() + missing.len(),
                    missing.len(),
                    unexpected.len()
                );
                o.sample = missing
                    .into_iter()
                    .map(|r| serde_json::json!({ "missing": r }))
                    .chain(
                        unexpected
                            .into_iter()
                            .map(|r| serde_json::json!({ "unexpected": r })),
                    )
                    .take(10)
                    .collect();
            }
        }
        Err(e) => {
            o.verdict = Verdict::Error;
            o.message = e;
        }
    }
    o.duration_ms = started.elapsed().as_millis() as u64;
    o
}

/// (rows returned, expected rows not found, returned rows not expected).
async fn compare(checked: &Checked, t: &UnitTest) -> Result<(usize, Vec<Row>, Vec<Value>), String> {
    let model = &t.model.value;
    let m = checked
        .models
        .get(model)
        .ok_or_else(|| format!("`{model}` is not a model or view of this stack"))?;
    if let Some((given, _)) = t.given.iter().find(|(g, _)| !m.reads.contains(&g.value)) {
        return Err(format!(
            "`{}` is given, but {model}'s SQL does not read it (it reads {})",
            given.value,
            m.reads.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    let ctx = crate::transform::session::engine();
    let dir = checked.loaded.src.dir();
    let expect = fixture_rows(&dir, &t.expect).map_err(|e| format!("expect: {e}"))?;
    for rel in &m.reads {
        let rows: Vec<Row> = match t.given.get(rel) {
            Some(f) => fixture_rows(&dir, f).map_err(|e| format!("given `{rel}`: {e}"))?,
            None => vec![],
        };
        // Columns by the catalog's (lowercase) names, as the loader writes them and the engine
        // resolves unquoted names: `customerNumber` given is the column `customernumber`.
        let rows: Vec<Row> = rows
            .into_iter()
            .map(|r| {
                r.into_iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), v))
                    .collect()
            })
            .collect();
        let rows = rows.as_slice();
        let schema = schema_of(checked, rel, rows)?;
        let mut text = String::new();
        for r in rows {
            text.push_str(&serde_json::to_string(r).expect("rows serialize"));
            text.push('\n');
        }
        let batches = ReaderBuilder::new(schema.clone())
            .build(std::io::Cursor::new(text.into_bytes()))
            .and_then(|r| r.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("rows given for `{rel}`: {e}"))?;
        let table = MemTable::try_new(schema, vec![batches]).map_err(|e| e.to_string())?;
        ctx.register_table(rel.as_str(), Arc::new(table))
            .map_err(|e| e.to_string())?;
    }
    let result = ctx
        .sql(&m.sql)
        .await
        .map_err(|e| at_model(&m.path, &m.sql, &e))?
        .collect()
        .await
        .map_err(|e| at_model(&m.path, &m.sql, &e))?;
    let got = to_json(&result, usize::MAX);
    let mut unmatched: Vec<Value> = got.clone();
    let mut missing = vec![];
    for want in &expect {
        match unmatched.iter().position(|row| matches(want, row)) {
            Some(i) => {
                unmatched.remove(i);
            }
            None => missing.push(want.clone()),
        }
    }
    Ok((got.len(), missing, unmatched))
}

/// A fixture's rows: inline, or read from its file — which must lie inside the stack's directory
/// (a stack from elsewhere must not make `dekit test` read the machine's files).
pub fn fixture_rows(dir: &std::path::Path, f: &Fixture) -> Result<Vec<Row>, String> {
    let file = match f {
        Fixture::Rows(rows) => return Ok(rows.clone()),
        Fixture::File { file } => file,
    };
    // Inside the stack's directory, a regular text file of bounded size (as model SQL files).
    let (_, text) =
        crate::stack_files::read(dir, file).map_err(|e| format!("fixture file `{file}`: {e}"))?;
    if file.ends_with(".jsonl") || file.ends_with(".json") {
        return text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                serde_json::from_str::<Row>(l)
                    .map_err(|e| format!("fixture file `{file}` line {}: {e}", i + 1))
            })
            .collect();
    }
    // CSV with a header: numbers as numbers, an empty field as null, the rest as text.
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header = r
        .headers()
        .map_err(|e| format!("fixture file `{file}`: {e}"))?
        .clone();
    let mut rows = vec![];
    for (i, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| format!("fixture file `{file}` row {}: {e}", i + 1))?;
        let row: Row = header
            .iter()
            .zip(rec.iter())
            .map(|(k, v)| {
                let v = if v.is_empty() {
                    Value::Null
                } else if let Ok(n) = v.parse::<i64>() {
                    Value::from(n)
                } else if let Some(n) = v.parse::<f64>().ok().and_then(serde_json::Number::from_f64)
                {
                    Value::Number(n)
                } else {
                    Value::String(v.to_string())
                };
                (k.to_string(), v)
            })
            .collect();
        rows.push(row);
    }
    Ok(rows)
}

/// A table's declared columns (its partitions as strings); otherwise the columns of the rows.
fn schema_of(checked: &Checked, rel: &str, rows: &[Row]) -> Result<Arc<Schema>, String> {
    let s = &checked.loaded.stack;
    if let Some(t) = s.tables.get(rel) {
        let mut fields: Vec<Field> = crate::schema::of_table(rel, t)?
            .iter()
            .map(|c| Field::new(&c.name, c.kind.arrow(), true))
            .collect();
        fields.extend(
            t.partitions
                .iter()
                .map(|(p, _)| Field::new(p.value.to_ascii_lowercase(), DataType::Utf8, true)),
        );
        return Ok(Arc::new(Schema::new(fields)));
    }
    if rows.is_empty() {
        return Err(format!(
            "give rows for `{rel}`: it is a model, whose columns are known only from its rows"
        ));
    }
    let values = rows
        .iter()
        .map(|r| Ok(Value::Object(r.clone().into_iter().collect())));
    datafusion::arrow::json::reader::infer_json_schema_from_iterator(values)
        .map(Arc::new)
        .map_err(|e| format!("rows given for `{rel}`: {e}"))
}

/// Every expected column equal: numbers by value (`10` = `10.00`), timestamps with `T` or a
/// space, everything else as text.
fn matches(want: &Row, row: &Value) -> bool {
    want.iter().all(|(k, w)| {
        let g = &row[k.to_ascii_lowercase().as_str()];
        let text = |v: &Value| match v {
            Value::String(s) => s.replace('T', " "),
            Value::Null => "null".into(),
            other => other.to_string(),
        };
        let num = |v: &Value| match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.parse::<f64>().ok(),
            _ => None,
        };
        match (num(w), num(g)) {
            (Some(a), Some(b)) => (a - b).abs() < 1e-9,
            _ => text(w) == text(g),
        }
    })
}
