//! A query result's Arrow types as the catalog stores them: Glue (Hive) types for table columns,
//! Trino types for the column list of an Athena view.

use datafusion::arrow::datatypes::{DataType, Schema};

/// The Glue type of an Arrow type, or why a model cannot be stored as a catalog table.
pub fn glue(t: &DataType) -> Result<String, String> {
    Ok(match t {
        DataType::Boolean => "boolean".into(),
        DataType::Int8 => "tinyint".into(),
        DataType::Int16 | DataType::UInt8 => "smallint".into(),
        DataType::Int32 | DataType::UInt16 => "int".into(),
        DataType::Int64 | DataType::UInt32 => "bigint".into(),
        DataType::UInt64 => "decimal(20,0)".into(),
        DataType::Float16 | DataType::Float32 => "float".into(),
        DataType::Float64 => "double".into(),
        DataType::Decimal32(p, s)
        | DataType::Decimal64(p, s)
        | DataType::Decimal128(p, s)
        | DataType::Decimal256(p, s) => {
            if *p > 38 {
                return Err(format!(
                    "decimal({p},{s}) is wider than Athena's 38 digits: cast it"
                ));
            }
            format!("decimal({p},{s})")
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "string".into(),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => "binary".into(),
        DataType::Date32 | DataType::Date64 => "date".into(),
        DataType::Timestamp(_, _) => "timestamp".into(),
        DataType::List(f) | DataType::LargeList(f) => format!("array<{}>", glue(f.data_type())?),
        DataType::Struct(fields) => {
            let inner: Result<Vec<String>, String> = fields
                .iter()
                .map(|f| Ok(format!("{}:{}", f.name(), glue(f.data_type())?)))
                .collect();
            format!("struct<{}>", inner?.join(","))
        }
        DataType::Null => "string".into(),
        other => return Err(format!("type {other} has no catalog type: cast it")),
    })
}

/// Trino's name for a Glue type, as an Athena view's stored definition lists its columns.
pub fn trino(glue: &str) -> String {
    match glue {
        "string" => "varchar".into(),
        "float" => "real".into(),
        "int" => "integer".into(),
        "timestamp" => "timestamp(3)".into(),
        other => other.into(),
    }
}

/// Name and Glue type of each column of a result, or the first column without one.
pub fn columns(schema: &Schema) -> Result<Vec<(String, String)>, String> {
    schema
        .fields()
        .iter()
        .map(|f| {
            glue(f.data_type())
                .map(|t| (f.name().to_ascii_lowercase(), t))
                .map_err(|e| format!("column `{}`: {e}", f.name()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::TimeUnit;

    #[test]
    fn catalog_types() {
        assert_eq!(glue(&DataType::Decimal128(21, 2)).unwrap(), "decimal(21,2)");
        assert_eq!(
            glue(&DataType::Timestamp(TimeUnit::Microsecond, None)).unwrap(),
            "timestamp"
        );
        assert_eq!(trino("string"), "varchar");
        assert!(
            glue(&DataType::Decimal256(60, 2))
                .unwrap_err()
                .contains("38")
        );
    }
}
