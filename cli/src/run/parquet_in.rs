//! Parquet files as a source, column by column: each declared column is cast whole to its
//! declared type where the cast is exact for every value of the batch, and otherwise converted
//! value by value the way every other source's values are (`schema::Rows`: the value as JSON,
//! dates and timestamps as ISO text, decimals as exact text), so an out-of-range or inexact value
//! is a bad row with the same message whichever path found it, never a rounded one.
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
use arrow_array::{Array, ArrayRef, BooleanArray, PrimitiveArray, RecordBatch};
use arrow_schema::{DataType, Schema, TimeUnit};
use datafusion::arrow::compute::{self, CastOptions};
use serde_json::{Value, json};
use std::sync::Arc;

use super::convert::{Bad, Part, Sink, Spec, Summary, above, match_columns, pipelined};
use crate::schema::{Column, Kind, Rows};

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

/// Rows per batch read from the file: whole columns are cast at a time, so larger batches cost
/// less per row; a batch of a wide table stays a few megabytes.
const BATCH_ROWS: usize = 65_536;

/// Load a Parquet file into parts, column by column.
pub fn load(
    file: std::fs::File,
    spec: &Spec,
    emit: &mut (dyn FnMut(Part) -> Result<(), String> + Send),
) -> Result<Summary, String> {
    pipelined(&spec.cols, emit, |sink| rows(file, spec, sink))
}

/// Read a Parquet file on this (blocking) thread and hand on batches of the declared columns.
fn rows(file: std::fs::File, spec: &Spec, sink: &mut Sink) -> Result<Summary, String> {
    use parquet::arrow::ProjectionMask;
    use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
    let name = &spec.source;
    let bytes_in = file.metadata().map_or(0, |m| m.len());
    let not_parquet = |e: parquet::errors::ParquetError| format!("{name} is not Parquet: {e}");
    let file_schema = ParquetRecordBatchReaderBuilder::try_new(
        file.try_clone().map_err(|e| format!("{name}: {e}"))?,
    )
    .map_err(not_parquet)?
    .schema()
    .clone();
    // Strings decoded straight into plain strings rather than into views copied afterwards.
    let hint = Arc::new(Schema::new_with_metadata(
        file_schema
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                DataType::Utf8View | DataType::LargeUtf8 => {
                    Arc::new(f.as_ref().clone().with_data_type(DataType::Utf8))
                }
                _ => f.clone(),
            })
            .collect::<Vec<_>>(),
        file_schema.metadata().clone(),
    ));
    let again = file.try_clone().map_err(|e| format!("{name}: {e}"))?;
    // Without the hint where the reader refuses it: views are cast after reading then.
    let builder = ParquetRecordBatchReaderBuilder::try_new_with_options(
        file,
        ArrowReaderOptions::new().with_schema(hint),
    )
    .or_else(|_| ParquetRecordBatchReaderBuilder::try_new(again))
    .map_err(not_parquet)?;
    let names: Vec<&str> = file_schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    let (index, notes) = match_columns(name, &spec.cols, &names)?;
    // Only the declared columns are decoded; a bad row shows those.
    let mask = ProjectionMask::roots(builder.parquet_schema(), index.iter().flatten().copied());
    let reader = builder
        .with_projection(mask)
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| format!("{name}: {e}"))?;
    let mut sum = Summary {
        notes,
        bytes_in,
        ..Summary::default()
    };
    let mut seen = 0usize;
    for batch in reader {
        let batch = batch.map_err(|e| format!("{name}: {e}"))?;
        let n = batch.num_rows();
        if let Some(b) = typed(&batch, spec, seen, &mut sum)? {
            sink(b)?;
        }
        seen += n;
    }
    Ok(sum)
}

/// One batch of the file as a batch of the declared columns: rows below the watermark left out,
/// rows with a value that does not fit kept in `sum.bad` with their row number.
fn typed(
    batch: &RecordBatch,
    spec: &Spec,
    seen: usize,
    sum: &mut Summary,
) -> Result<Option<RecordBatch>, String> {
    let n = batch.num_rows();
    let source: Vec<(&str, ArrayRef)> = spec
        .cols
        .iter()
        .map(|c| {
            let (i, f) = batch
                .schema_ref()
                .fields()
                .iter()
                .enumerate()
                .find(|(_, f)| f.name().eq_ignore_ascii_case(&c.name))
                .map(|(i, f)| (i, f.name().as_str()))
                .ok_or_else(|| format!("{}: no column `{}` was read", spec.source, c.name))?;
            plain(batch.column(i), f).map(|a| (f, a))
        })
        .collect::<Result<_, _>>()?;
    let mut errors: Vec<Option<String>> = vec![];
    let mut columns = Vec::with_capacity(spec.cols.len());
    for (c, (_, a)) in spec.cols.iter().zip(&source) {
        columns.push(match exact(a, c.kind) {
            Some(a) => a,
            None => by_value(a, c, &mut errors)?,
        });
    }
    let mut keep: Option<Vec<bool>> = None;
    if let Some((wi, lo)) = &spec.watermark {
        let a = &source[*wi].1;
        let mut k = Vec::with_capacity(n);
        for i in 0..n {
            // As the JSON loader reads a field: a null is the text `null`, no mark, and kept.
            let text = match value(a.as_ref(), i, &spec.cols[*wi].name)? {
                Value::String(s) => s,
                other => other.to_string(),
            };
            k.push(above(spec, *wi, lo, Some(&text), sum));
        }
        keep = Some(k);
    }
    if !errors.is_empty() {
        let k = keep.get_or_insert_with(|| vec![true; n]);
        for (i, e) in errors.iter_mut().enumerate() {
            if let Some(error) = e.take()
                && k[i]
            {
                k[i] = false;
                let mut row = serde_json::Map::new();
                for (name, a) in &source {
                    row.insert(name.to_string(), value(a.as_ref(), i, name)?);
                }
                sum.bad.push(Bad {
                    source: spec.source.clone(),
                    at: format!("row {}", seen + i + 1),
                    error,
                    row: Value::Object(row),
                });
            }
        }
    }
    let out = RecordBatch::try_new(crate::schema::schema(&spec.cols), columns)
        .map_err(|e| format!("{}: {e}", spec.source))?;
    let out = match keep {
        None => out,
        Some(k) => compute::filter_record_batch(&out, &BooleanArray::from(k))
            .map_err(|e| format!("{}: {e}", spec.source))?,
    };
    sum.rows += out.num_rows() as u64;
    Ok((out.num_rows() > 0).then_some(out))
}

/// A column converted value by value through `schema::Rows`, as a row-wise source's would be;
/// a value that does not fit records its row's first error (columns are taken in declared
/// order) and stands as null in the column.
fn by_value(
    a: &ArrayRef,
    c: &Column,
    errors: &mut Vec<Option<String>>,
) -> Result<ArrayRef, String> {
    let mut rows = Rows::new(std::slice::from_ref(c));
    for i in 0..a.len() {
        let v = value(a.as_ref(), i, &c.name)?;
        if let Err(e) = rows.push(&[Some(crate::schema::Value::Json(&v))]) {
            if errors.is_empty() {
                errors.resize(a.len(), None);
            }
            errors[i].get_or_insert(e);
            rows.push(&[None]).expect("a null fits every column");
        }
    }
    Ok(rows.finish().column(0).clone())
}

/// Days and microseconds of 0000-01-01 and 9999-12-31 23:59:59.999999: outside them, dates and
/// timestamps are converted value by value (their text is not `YYYY-MM-DD`).
const DAYS: (i64, i64) = (-719_528, 2_932_896);
const MICROS: (i64, i64) = (-62_167_219_200_000_000, 253_402_300_799_999_999);

/// The whole column cast to `kind` when that is exact for every value, as the value-by-value
/// conversion would make it; `None` otherwise (a value out of range, a rounding, a cast this does
/// not know), and the column goes value by value.
fn exact(a: &ArrayRef, kind: Kind) -> Option<ArrayRef> {
    let to = kind.arrow();
    let from = a.data_type();
    if from == &DataType::Null {
        return Some(arrow_array::new_null_array(&to, a.len()));
    }
    let strict = |to: &DataType| -> Option<ArrayRef> {
        let out = compute::cast_with_options(a, to, &CastOptions::default()).ok()?;
        (out.null_count() == a.null_count()).then_some(out)
    };
    let out = match (from, kind) {
        (f, Kind::String) if f == &DataType::Utf8 => a.clone(),
        (DataType::Boolean, Kind::Boolean) => a.clone(),
        (f, Kind::TinyInt | Kind::SmallInt | Kind::Int | Kind::BigInt) if f.is_integer() => {
            strict(&to)?
        }
        (DataType::Float64, Kind::Double) | (DataType::Float32, Kind::Float) if finite(a) => {
            a.clone()
        }
        (DataType::Float32, Kind::Double) | (DataType::Float64, Kind::Float) if finite(a) => {
            strict(&to)?
        }
        // Through f64, as a JSON number is, so a wide integer rounds the same way.
        (f, Kind::Float | Kind::Double) if f.is_integer() => {
            let wide = strict(&DataType::Float64)?;
            compute::cast(&wide, &to).ok()?
        }
        // Not u64: a JSON number above i64's range is not an integer to the value-by-value path.
        (f, Kind::Decimal(p, _)) if f.is_integer() && f != &DataType::UInt64 => {
            decimal(strict(&to)?, p)?
        }
        (DataType::Decimal128(_, s1), Kind::Decimal(p, s)) if s >= *s1 => decimal(strict(&to)?, p)?,
        (DataType::Date32, Kind::Date) => {
            let d = a.as_primitive::<Date32Type>();
            within(d.iter().flatten().map(i64::from), DAYS)?;
            a.clone()
        }
        (DataType::Timestamp(unit, _), Kind::Timestamp) => micros(a, *unit)?,
        _ => return None,
    };
    Some(out)
}

fn finite(a: &ArrayRef) -> bool {
    match a.data_type() {
        DataType::Float64 => a
            .as_primitive::<Float64Type>()
            .iter()
            .flatten()
            .all(f64::is_finite),
        DataType::Float32 => a
            .as_primitive::<Float32Type>()
            .iter()
            .flatten()
            .all(f32::is_finite),
        _ => false,
    }
}

/// Every value within `(lo, hi)`, or `None`.
fn within(mut values: impl Iterator<Item = i64>, (lo, hi): (i64, i64)) -> Option<()> {
    values.all(|v| (lo..=hi).contains(&v)).then_some(())
}

/// A decimal column whose every value has at most `precision` digits.
fn decimal(a: ArrayRef, precision: u8) -> Option<ArrayRef> {
    a.as_primitive::<arrow_array::types::Decimal128Type>()
        .validate_decimal_precision(precision)
        .ok()?;
    Some(a)
}

/// Timestamps of any unit (and zone: the instant is kept, in UTC) as microseconds, below a
/// microsecond dropped toward the past, as the ISO text with six decimals does.
fn micros(a: &ArrayRef, unit: TimeUnit) -> Option<ArrayRef> {
    let raw = compute::cast(a, &DataType::Int64).ok()?;
    let raw = raw.as_primitive::<Int64Type>();
    let us: PrimitiveArray<TimestampMicrosecondType> = match unit {
        TimeUnit::Second => raw.try_unary(|v| v.checked_mul(1_000_000).ok_or(())).ok()?,
        TimeUnit::Millisecond => raw.try_unary(|v| v.checked_mul(1_000).ok_or(())).ok()?,
        TimeUnit::Microsecond => raw.unary(|v| v),
        TimeUnit::Nanosecond => raw.unary(|v| v.div_euclid(1_000)),
    };
    within(us.iter().flatten(), MICROS)?;
    Some(Arc::new(us))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::convert::{self, Mark, Part};
    use arrow_array::*;
    use arrow_schema::Field;

    /// The value-by-value path for a whole batch: its rows as JSON lines through the JSON
    /// loader, as Parquet files were loaded before the columnar path.
    fn by_rows(batch: &RecordBatch, spec: &Spec) -> (Vec<RecordBatch>, Summary) {
        let plain: Vec<ArrayRef> = batch
            .columns()
            .iter()
            .map(|c| super::plain(c, "c").unwrap())
            .collect();
        let mut lines = vec![];
        for i in 0..batch.num_rows() {
            let mut o = serde_json::Map::new();
            for (c, f) in plain.iter().zip(batch.schema().fields()) {
                o.insert(f.name().clone(), value(c.as_ref(), i, f.name()).unwrap());
            }
            serde_json::to_writer(&mut lines, &Value::Object(o)).unwrap();
            lines.push(b'\n');
        }
        let mut parts = vec![];
        let sum = convert::json_lines(&lines[..], spec, &mut |p| {
            parts.push(p);
            Ok(())
        })
        .unwrap();
        (read(&parts), sum)
    }

    fn read(parts: &[Part]) -> Vec<RecordBatch> {
        parts
            .iter()
            .flat_map(|p| {
                parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
                    bytes::Bytes::from(p.bytes.clone()),
                )
                .unwrap()
                .build()
                .unwrap()
                .map(|b| b.unwrap())
            })
            .collect()
    }

    fn by_columns(batch: &RecordBatch, spec: &Spec) -> (Vec<RecordBatch>, Summary) {
        let mut sum = Summary::default();
        let out = typed(batch, spec, 0, &mut sum).unwrap();
        (out.into_iter().collect(), sum)
    }

    fn spec(kind: Kind, watermark: Option<Mark>) -> Spec {
        Spec {
            source: "f.parquet".into(),
            cols: vec![
                Column {
                    name: "id".into(),
                    kind: Kind::BigInt,
                },
                Column {
                    name: "v".into(),
                    kind,
                },
            ],
            watermark: watermark.map(|m| (1, Some(m))),
            null: None,
            by_key: false,
            names: vec![],
        }
    }

    fn concat(b: &[RecordBatch], cols: &[Column]) -> RecordBatch {
        compute::concat_batches(&crate::schema::schema(cols), b).unwrap()
    }

    fn sources() -> Vec<ArrayRef> {
        let ts = [
            Some(0i64),
            Some(-1),
            Some(1_700_000_000_123_456_789),
            None,
            Some(-62_000_000_000_000_000_000_i128 as i64 / 1_000_000),
            Some(1_999),
        ];
        vec![
            Arc::new(Int64Array::from(vec![
                Some(1),
                Some(-5),
                Some(i64::MAX),
                None,
                Some(127),
                Some(-128),
            ])),
            Arc::new(Int32Array::from(vec![
                Some(1),
                Some(-40_000),
                Some(i32::MAX),
                None,
                Some(0),
                Some(99_999),
            ])),
            Arc::new(UInt64Array::from(vec![
                Some(u64::MAX),
                Some(3),
                None,
                Some(1 << 63),
                Some(0),
                Some(7),
            ])),
            Arc::new(Float64Array::from(vec![
                Some(1.5),
                Some(f64::NAN),
                Some(f64::INFINITY),
                Some(1e300),
                Some(-0.0),
                None,
            ])),
            Arc::new(Float64Array::from(vec![
                Some(0.1),
                Some(0.30000000000000004),
                Some(12.0),
                Some(-1e-7),
                None,
                Some(9007199254740993.0),
            ])),
            Arc::new(Float32Array::from(vec![
                Some(0.1f32),
                Some(f32::MAX),
                None,
                Some(-3.5),
                Some(f32::NAN),
                Some(1e-30),
            ])),
            Arc::new(
                Decimal128Array::from(vec![
                    Some(12345),
                    Some(-1),
                    Some(99_999_999_999_999),
                    None,
                    Some(10),
                    Some(-99_999_999_999_999),
                ])
                .with_precision_and_scale(15, 2)
                .unwrap(),
            ),
            Arc::new(
                Decimal128Array::from(vec![
                    Some(12340),
                    Some(-1),
                    Some(5),
                    None,
                    Some(0),
                    Some(123_456_789),
                ])
                .with_precision_and_scale(20, 4)
                .unwrap(),
            ),
            Arc::new(
                Decimal64Array::from(vec![
                    Some(12345),
                    Some(-1),
                    Some(99999999),
                    None,
                    Some(0),
                    Some(1),
                ])
                .with_precision_and_scale(10, 2)
                .unwrap(),
            ),
            Arc::new(Date32Array::from(vec![
                Some(0),
                Some(-1),
                Some(20_000),
                None,
                Some(3_000_000),
                Some(-719_528),
            ])),
            Arc::new(Date64Array::from(vec![
                Some(0),
                Some(86_400_000),
                Some(-1),
                None,
                Some(1_700_000_000_000),
                Some(5),
            ])),
            Arc::new(TimestampNanosecondArray::from(ts.to_vec())),
            Arc::new(TimestampNanosecondArray::from(ts.to_vec()).with_timezone("+02:00")),
            Arc::new(TimestampMillisecondArray::from(vec![
                Some(0),
                Some(-1),
                Some(1_700_000_000_123),
                None,
                Some(253_402_300_800_000),
                Some(-62_167_219_200_001),
            ])),
            Arc::new(TimestampSecondArray::from(vec![
                Some(0),
                Some(-1),
                Some(1_700_000_000),
                None,
                Some(i64::MAX / 2),
                Some(86_399),
            ])),
            Arc::new(TimestampMicrosecondArray::from(vec![
                Some(0),
                Some(-1),
                Some(1_700_000_000_123_456),
                None,
                Some(253_402_300_799_999_999),
                Some(253_402_300_800_000_000),
            ])),
            Arc::new(StringViewArray::from(vec![
                Some("1"),
                Some("x"),
                Some("2024-01-02"),
                None,
                Some("12.50"),
                Some("a string longer than twelve bytes"),
            ])),
            Arc::new(StringArray::from(vec![
                Some("true"),
                Some("no"),
                Some(""),
                None,
                Some("2024-01-02 03:04:05"),
                Some("-7"),
            ])),
            Arc::new(BooleanArray::from(vec![
                Some(true),
                Some(false),
                None,
                Some(true),
                Some(false),
                Some(true),
            ])),
            Arc::new(NullArray::new(6)),
            Arc::new(
                vec![Some("R"), None, Some("A"), Some("R"), Some("9"), Some("F")]
                    .into_iter()
                    .collect::<DictionaryArray<Int32Type>>(),
            ),
        ]
    }

    const KINDS: [Kind; 14] = [
        Kind::TinyInt,
        Kind::SmallInt,
        Kind::Int,
        Kind::BigInt,
        Kind::Float,
        Kind::Double,
        Kind::Decimal(15, 2),
        Kind::Decimal(10, 2),
        Kind::Decimal(38, 6),
        Kind::Decimal(6, 1),
        Kind::String,
        Kind::Boolean,
        Kind::Date,
        Kind::Timestamp,
    ];

    /// Every source type against every declared type: the columnar path makes the rows, the
    /// bad rows (message and values) and the watermark the value-by-value path makes.
    #[test]
    fn whole_columns_load_as_value_by_value_would() {
        let mut fast = 0;
        for a in sources() {
            for kind in KINDS {
                let batch = RecordBatch::try_new(
                    Arc::new(Schema::new(vec![
                        Field::new("id", DataType::Int64, true),
                        Field::new("V", a.data_type().clone(), true),
                    ])),
                    vec![Arc::new(Int64Array::from_iter_values(1..=6)), a.clone()],
                )
                .unwrap();
                let what = format!("{} as {kind:?}", a.data_type());
                if exact(&plain(&a, "v").unwrap(), kind).is_some() {
                    fast += 1;
                }
                let s = spec(kind, None);
                let (want, want_sum) = by_rows(&batch, &s);
                let (got, got_sum) = by_columns(&batch, &s);
                assert_eq!(concat(&got, &s.cols), concat(&want, &s.cols), "{what}");
                assert_eq!(got_sum.rows, want_sum.rows, "{what}");
                let bad = |sum: &Summary| -> Vec<String> {
                    sum.bad
                        .iter()
                        .map(|b| format!("{} {} {}", b.at.replace("line", "row"), b.error, b.row))
                        .collect()
                };
                assert_eq!(bad(&got_sum), bad(&want_sum), "{what}");
            }
        }
        // The exact casts are taken where they apply (the rest go value by value).
        assert!(fast >= 40, "{fast} exact casts");
        // What Arrow-based writers write for TPC-H and most tables is cast whole.
        let s = sources();
        for (a, kind) in [
            (&s[0], Kind::BigInt),
            (&s[6], Kind::Decimal(15, 2)),
            (&s[9], Kind::Date),
            (&s[15], Kind::Timestamp),
            (&s[16], Kind::String),
            (&s[18], Kind::Boolean),
        ] {
            let a: ArrayRef = a.slice(0, 3);
            assert!(
                exact(&plain(&a, "v").unwrap(), kind).is_some(),
                "{} as {kind:?}",
                a.data_type()
            );
        }
    }

    #[test]
    fn the_watermark_leaves_out_what_was_loaded_and_finds_the_new_high() {
        let batch = RecordBatch::try_from_iter(vec![
            (
                "id",
                Arc::new(Int64Array::from_iter_values(1..=4)) as ArrayRef,
            ),
            (
                "v",
                Arc::new(TimestampMicrosecondArray::from(vec![
                    Some(5_000_000),
                    None,
                    Some(9_000_000),
                    Some(1_000_000),
                ])) as ArrayRef,
            ),
        ])
        .unwrap();
        let s = spec(
            Kind::Timestamp,
            Mark::parse(Kind::Timestamp, "1970-01-01 00:00:02"),
        );
        let (want, want_sum) = by_rows(&batch, &s);
        let (got, got_sum) = by_columns(&batch, &s);
        assert_eq!(concat(&got, &s.cols), concat(&want, &s.cols));
        // A row without a mark is kept, as every loader keeps it.
        assert_eq!((got_sum.rows, want_sum.rows), (3, 3));
        assert_eq!(got_sum.high, want_sum.high);
        assert_eq!(got_sum.high.unwrap().1, "1970-01-01 00:00:09.000000");
    }

    fn file(batches: &[RecordBatch], name: &str) -> std::fs::File {
        let path =
            std::env::temp_dir().join(format!("dekit-{}-{name}.parquet", std::process::id()));
        let f = std::fs::File::create(&path).unwrap();
        let mut w = parquet::arrow::ArrowWriter::try_new(f, batches[0].schema(), None).unwrap();
        for b in batches {
            w.write(b).unwrap();
        }
        w.close().unwrap();
        let f = std::fs::File::open(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        f
    }

    /// A file of several reader batches: bad rows named by their row in the file, the rest in
    /// parts with their string views read as plain strings; a declared column the file lacks
    /// fails the load before any row.
    #[test]
    fn a_file_loads_by_columns_and_names_bad_rows_by_their_row() {
        let n = BATCH_ROWS as i64 + 10;
        let b = RecordBatch::try_from_iter(vec![
            (
                "ID",
                Arc::new(Int64Array::from_iter_values(0..n)) as ArrayRef,
            ),
            (
                "v",
                Arc::new(StringViewArray::from_iter_values((0..n).map(|i| {
                    if i == n - 3 {
                        "not a number".to_string()
                    } else {
                        i.to_string()
                    }
                }))) as ArrayRef,
            ),
            (
                "extra",
                Arc::new(Int64Array::from_iter_values(0..n)) as ArrayRef,
            ),
        ])
        .unwrap();
        let mut parts = vec![];
        let s = spec(Kind::Int, None);
        let sum = load(file(std::slice::from_ref(&b), "rows"), &s, &mut |p| {
            parts.push(p);
            Ok(())
        })
        .unwrap();
        assert_eq!(sum.rows, n as u64 - 1);
        assert_eq!(sum.bad.len(), 1);
        assert_eq!(sum.bad[0].at, format!("row {}", n - 2));
        assert_eq!(sum.bad[0].row["v"], "not a number");
        assert!(
            sum.bad[0].error.contains("column `v`"),
            "{}",
            sum.bad[0].error
        );
        assert_eq!(sum.notes.len(), 1, "{:?}", sum.notes);
        let got = read(&parts);
        assert_eq!(
            got.iter().map(|b| b.num_rows()).sum::<usize>(),
            n as usize - 1
        );
        assert_eq!(got[0].schema(), crate::schema::schema(&s.cols));

        let s = spec(Kind::Date, None);
        let mut s = s;
        s.cols[1].name = "missing".into();
        let err = load(file(&[b], "missing"), &s, &mut |_| Ok(())).unwrap_err();
        assert!(err.contains("no column `missing`"), "{err}");
    }
}
