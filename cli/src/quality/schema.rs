//! `schema: {allow_extra}`: the relation's data has the declared columns with the declared types
//! (a table's `columns:`, a model's `columns:` contract), and no others unless `allow_extra`.
//!
//! Why: a source that renamed a column or widened a type loads fine and breaks every query
//! downstream; what is compared is what the data files say (Parquet footers, or the catalog for
//! JSON and CSV), not the declaration against itself. Types compare as the catalog names them, so
//! `varchar` and `string` agree.
//!
//! Example: `orders: [{schema: {}}]` → `order_total: declared decimal(10,2), found double`.

use crate::transform::types::glue;
use datafusion::arrow::datatypes::Schema;
use serde_json::{Value, json};

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
