//! Parquet files as a source: each row becomes a JSON object (dates and timestamps as ISO text,
//! decimals as exact text), so Parquet input takes the path every other source takes and its
//! values are checked against the declared columns the same way.
//!
//! Writers choose among Arrow's physical variants of one logical type: Arrow-based tools (Polars,
//! DataFusion, DuckDB, `tpchgen-cli`) write strings as views, others as large strings,
//! dictionaries or unannotated byte arrays. Each column is first cast to one plain variant per
//! logical type (`plain`), so a string is a string whichever way it was stored.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use bytes::Bytes;
use serde_json::{Value, json};

/// The plain variant of a column's logical type that `value` reads: strings of every layout as
/// `Utf8`, dictionaries as their values, byte arrays as `Binary`, narrow or wide decimals as
/// `Decimal128` where the precision fits, `Date64` as `Date32`, half floats as `Float32`.
fn plain(a: &ArrayRef, column: &str) -> Result<ArrayRef, String> {
    let to = plain_type(a.data_type());
    if &to == a.data_type() {
        return Ok(a.clone());
    }
    datafusion::arrow::compute::cast(a, &to)
        .map_err(|e| format!("column `{column}` ({}): {e}", a.data_type()))
}

fn plain_type(t: &DataType) -> DataType {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => DataType::Utf8,
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => DataType::Binary,
        DataType::Decimal32(p, s) | DataType::Decimal64(p, s) => DataType::Decimal128(*p, *s),
        DataType::Decimal256(p, s) if *p <= 38 => DataType::Decimal128(*p, *s),
        DataType::Date64 => DataType::Date32,
        DataType::Float16 => DataType::Float32,
        DataType::Dictionary(_, v) => plain_type(v),
        other => other.clone(),
    }
}

/// One value of a column as JSON; a type it cannot carry is an error naming the column.
fn value(a: &dyn Array, i: usize, column: &str) -> Result<Value, String> {
    if a.is_null(i) || a.data_type() == &DataType::Null {
        return Ok(Value::Null);
    }
    Ok(match a.data_type() {
        DataType::Boolean => json!(a.as_boolean().value(i)),
        DataType::Int8 => json!(a.as_primitive::<Int8Type>().value(i)),
        DataType::Int16 => json!(a.as_primitive::<Int16Type>().value(i)),
        DataType::Int32 => json!(a.as_primitive::<Int32Type>().value(i)),
        DataType::Int64 => json!(a.as_primitive::<Int64Type>().value(i)),
        DataType::UInt8 => json!(a.as_primitive::<UInt8Type>().value(i)),
        DataType::UInt16 => json!(a.as_primitive::<UInt16Type>().value(i)),
        DataType::UInt32 => json!(a.as_primitive::<UInt32Type>().value(i)),
        DataType::UInt64 => json!(a.as_primitive::<UInt64Type>().value(i)),
        DataType::Float32 => json!(a.as_primitive::<Float32Type>().value(i)),
        DataType::Float64 => json!(a.as_primitive::<Float64Type>().value(i)),
        DataType::Utf8 => json!(a.as_string::<i32>().value(i)),
        // Byte arrays without a string annotation (older Hive and Spark writers): text when
        // they hold UTF-8, which a `string` column needs.
        DataType::Binary => match std::str::from_utf8(a.as_binary::<i32>().value(i)) {
            Ok(s) => json!(s),
            Err(e) => {
                return Err(format!(
                    "column `{column}` holds bytes that are not UTF-8 text ({e}): dekit loads byte arrays into `string` columns only"
                ));
            }
        },
        DataType::Decimal256(..) => json!(
            a.as_primitive::<arrow_array::types::Decimal256Type>()
                .value_as_string(i)
        ),
        DataType::Decimal128(..) => json!(
            a.as_primitive::<arrow_array::types::Decimal128Type>()
                .value_as_string(i)
        ),
        DataType::Date32 => json!(
            a.as_primitive::<Date32Type>()
                .value_as_date(i)
                .map(|d| d.to_string())
        ),
        DataType::Timestamp(unit, _) => {
            let t = match unit {
                TimeUnit::Second => a.as_primitive::<TimestampSecondType>().value_as_datetime(i),
                TimeUnit::Millisecond => a
                    .as_primitive::<TimestampMillisecondType>()
                    .value_as_datetime(i),
                TimeUnit::Microsecond => a
                    .as_primitive::<TimestampMicrosecondType>()
                    .value_as_datetime(i),
                TimeUnit::Nanosecond => a
                    .as_primitive::<TimestampNanosecondType>()
                    .value_as_datetime(i),
            };
            json!(t.map(|t| t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()))
        }
        other => {
            return Err(format!(
                "column `{column}` is Parquet type {other}, which dekit does not load yet"
            ));
        }
    })
}

/// A batch's rows as JSON lines.
pub fn lines(batch: &RecordBatch) -> Result<Bytes, String> {
    let schema = batch.schema();
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(c, f)| plain(c, f.name()))
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = vec![];
    for i in 0..batch.num_rows() {
        let mut o = serde_json::Map::new();
        for (c, f) in columns.iter().zip(schema.fields()) {
            o.insert(f.name().clone(), value(c.as_ref(), i, f.name())?);
        }
        serde_json::to_writer(&mut out, &Value::Object(o)).expect("JSON serializes");
        out.push(b'\n');
    }
    Ok(Bytes::from(out))
}

/// Read a Parquet file batch by batch on this (blocking) thread, sending its rows as JSON lines.
pub fn send(
    file: std::fs::File,
    name: &str,
    tx: tokio::sync::mpsc::Sender<Result<Bytes, String>>,
) -> Result<(), String> {
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| format!("{name} is not Parquet: {e}"))?
        .with_batch_size(8192)
        .build()
        .map_err(|e| format!("{name}: {e}"))?;
    for batch in reader {
        let batch = batch.map_err(|e| format!("{name}: {e}"))?;
        if tx.blocking_send(Ok(lines(&batch)?)).is_err() {
            break;
        }
    }
    Ok(())
}
