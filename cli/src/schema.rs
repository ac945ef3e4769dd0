//! Declared Glue column types as Arrow types, and text or JSON values converted to them.
//!
//! Every loader (CSV files, PostgreSQL's `COPY ... CSV`, JSON lines, stream records) turns a row
//! into typed columns here, so a value that does not fit its declared type is refused the same
//! way everywhere, naming the column and why.

use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Decimal128Builder, Float32Builder, Float64Builder, Int8Builder,
    Int16Builder, Int32Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use std::sync::Arc;

/// A declared column: its (lowercase) Glue name and type.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub kind: Kind,
}

/// The Glue types a load can write.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    TinyInt,
    SmallInt,
    Int,
    BigInt,
    Float,
    Double,
    Decimal(u8, i8),
    String,
    Boolean,
    Date,
    Timestamp,
}

impl Kind {
    /// The Glue/Hive type, or why a load cannot write it.
    pub fn parse(glue: &str) -> Result<Kind, String> {
        let t = glue.trim().to_ascii_lowercase();
        Ok(match t.as_str() {
            "tinyint" => Kind::TinyInt,
            "smallint" => Kind::SmallInt,
            "int" | "integer" => Kind::Int,
            "bigint" => Kind::BigInt,
            "float" | "real" => Kind::Float,
            "double" => Kind::Double,
            "string" => Kind::String,
            "boolean" => Kind::Boolean,
            "date" => Kind::Date,
            "timestamp" => Kind::Timestamp,
            _ if t.starts_with("varchar") || t.starts_with("char") => Kind::String,
            _ if t.starts_with("decimal") => {
                let inner = t
                    .trim_start_matches("decimal")
                    .trim()
                    .trim_start_matches('(')
                    .trim_end_matches(')');
                let (p, s) = inner.split_once(',').unwrap_or((inner, "0"));
                let p: u8 = p.trim().parse().map_err(|_| format!("bad type `{glue}`"))?;
                let s: i8 = s.trim().parse().map_err(|_| format!("bad type `{glue}`"))?;
                if !(1..=38).contains(&p) || s < 0 || s as u8 > p {
                    return Err(format!("bad type `{glue}`"));
                }
                Kind::Decimal(p, s)
            }
            _ => {
                return Err(format!(
                    "type `{glue}` cannot be loaded yet (complex types arrive as strings: declare it `string`)"
                ));
            }
        })
    }

    pub fn arrow(self) -> DataType {
        match self {
            Kind::TinyInt => DataType::Int8,
            Kind::SmallInt => DataType::Int16,
            Kind::Int => DataType::Int32,
            Kind::BigInt => DataType::Int64,
            Kind::Float => DataType::Float32,
            Kind::Double => DataType::Float64,
            Kind::Decimal(p, s) => DataType::Decimal128(p, s),
            Kind::String => DataType::Utf8,
            Kind::Boolean => DataType::Boolean,
            Kind::Date => DataType::Date32,
            // Micro-second timestamps without a zone: what Athena (Trino) and Spark read as
            // `timestamp`. Zoned source values are converted to UTC.
            Kind::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        }
    }
}

/// A catalog table's declared columns (names lowercased, as Glue stores them), or the first type
/// a load cannot write, naming table and column.
pub fn of_table(name: &str, table: &crate::model::Table) -> Result<Vec<Column>, String> {
    table
        .columns
        .iter()
        .map(|(c, t)| {
            Kind::parse(&t.value)
                .map(|kind| Column {
                    name: c.value.to_ascii_lowercase(),
                    kind,
                })
                .map_err(|e| format!("table `{name}` column `{}`: {e}", c.value))
        })
        .collect()
}

pub fn schema(cols: &[Column]) -> SchemaRef {
    Arc::new(Schema::new(
        cols.iter()
            .map(|c| Field::new(&c.name, c.kind.arrow(), true))
            .collect::<Vec<_>>(),
    ))
}

/// A value as it arrives: text (CSV, COPY), JSON, or already typed by a binary source
/// (PostgreSQL's binary COPY), which skips printing and parsing where the declared type is its
/// own and reads as its text would otherwise.
pub enum Value<'a> {
    Text(&'a str),
    Json(&'a serde_json::Value),
    Int(i64),
    Float(f64),
    /// Days since 1970-01-01.
    Days(i32),
    /// Microseconds since 1970-01-01 00:00 UTC.
    Micros(i64),
}

enum Builder {
    I8(Int8Builder),
    I16(Int16Builder),
    I32(Int32Builder),
    I64(Int64Builder),
    F32(Float32Builder),
    F64(Float64Builder),
    Dec(Decimal128Builder),
    Str(StringBuilder),
    Bool(BooleanBuilder),
    Date(Date32Builder),
    Ts(TimestampMicrosecondBuilder),
}

/// One column's typed value, parsed before anything is appended so a bad row leaves no trace.
enum Parsed<'a> {
    Null,
    I(i64),
    F(f64),
    Dec(i128),
    S(std::borrow::Cow<'a, str>),
    B(bool),
    D(i32),
    Ts(i64),
}

/// Rows converted to Arrow column by column, a whole row or nothing.
pub struct Rows {
    cols: Vec<Column>,
    builders: Vec<Builder>,
    len: usize,
}

impl Rows {
    pub fn new(cols: &[Column]) -> Rows {
        let builders = cols
            .iter()
            .map(|c| match c.kind {
                Kind::TinyInt => Builder::I8(Int8Builder::new()),
                Kind::SmallInt => Builder::I16(Int16Builder::new()),
                Kind::Int => Builder::I32(Int32Builder::new()),
                Kind::BigInt => Builder::I64(Int64Builder::new()),
                Kind::Float => Builder::F32(Float32Builder::new()),
                Kind::Double => Builder::F64(Float64Builder::new()),
                Kind::Decimal(p, s) => Builder::Dec(
                    Decimal128Builder::new()
                        .with_precision_and_scale(p, s)
                        .expect("checked in Kind::parse"),
                ),
                Kind::String => Builder::Str(StringBuilder::new()),
                Kind::Boolean => Builder::Bool(BooleanBuilder::new()),
                Kind::Date => Builder::Date(Date32Builder::new()),
                Kind::Timestamp => Builder::Ts(TimestampMicrosecondBuilder::new()),
            })
            .collect();
        Rows {
            cols: cols.to_vec(),
            builders,
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Append one row (values in column order, `None` for null). On error nothing is appended and
    /// the message names the column.
    pub fn push(&mut self, values: &[Option<Value>]) -> Result<(), String> {
        let mut parsed = Vec::with_capacity(self.cols.len());
        for (i, c) in self.cols.iter().enumerate() {
            let v = values.get(i).and_then(|v| v.as_ref());
            parsed.push(match v {
                None => Parsed::Null,
                Some(v) => parse(c.kind, v).map_err(|e| format!("column `{}`: {e}", c.name))?,
            });
        }
        for (b, p) in self.builders.iter_mut().zip(parsed) {
            append(b, p);
        }
        self.len += 1;
        Ok(())
    }

    /// The rows so far as one batch; the builders start empty again.
    pub fn finish(&mut self) -> RecordBatch {
        let arrays: Vec<ArrayRef> = self
            .builders
            .iter_mut()
            .map(|b| -> ArrayRef {
                match b {
                    Builder::I8(b) => Arc::new(b.finish()),
                    Builder::I16(b) => Arc::new(b.finish()),
                    Builder::I32(b) => Arc::new(b.finish()),
                    Builder::I64(b) => Arc::new(b.finish()),
                    Builder::F32(b) => Arc::new(b.finish()),
                    Builder::F64(b) => Arc::new(b.finish()),
                    Builder::Dec(b) => Arc::new(b.finish()),
                    Builder::Str(b) => Arc::new(b.finish()),
                    Builder::Bool(b) => Arc::new(b.finish()),
                    Builder::Date(b) => Arc::new(b.finish()),
                    Builder::Ts(b) => Arc::new(b.finish()),
                }
            })
            .collect();
        self.len = 0;
        RecordBatch::try_new(schema(&self.cols), arrays).expect("builders match the schema")
    }
}

fn append(b: &mut Builder, p: Parsed<'_>) {
    match (b, p) {
        (Builder::I8(b), Parsed::I(v)) => b.append_value(v as i8),
        (Builder::I16(b), Parsed::I(v)) => b.append_value(v as i16),
        (Builder::I32(b), Parsed::I(v)) => b.append_value(v as i32),
        (Builder::I64(b), Parsed::I(v)) => b.append_value(v),
        (Builder::F32(b), Parsed::F(v)) => b.append_value(v as f32),
        (Builder::F64(b), Parsed::F(v)) => b.append_value(v),
        (Builder::Dec(b), Parsed::Dec(v)) => b.append_value(v),
        (Builder::Str(b), Parsed::S(v)) => b.append_value(v.as_ref()),
        (Builder::Bool(b), Parsed::B(v)) => b.append_value(v),
        (Builder::Date(b), Parsed::D(v)) => b.append_value(v),
        (Builder::Ts(b), Parsed::Ts(v)) => b.append_value(v),
        (b, _) => match b {
            Builder::I8(b) => b.append_null(),
            Builder::I16(b) => b.append_null(),
            Builder::I32(b) => b.append_null(),
            Builder::I64(b) => b.append_null(),
            Builder::F32(b) => b.append_null(),
            Builder::F64(b) => b.append_null(),
            Builder::Dec(b) => b.append_null(),
            Builder::Str(b) => b.append_null(),
            Builder::Bool(b) => b.append_null(),
            Builder::Date(b) => b.append_null(),
            Builder::Ts(b) => b.append_null(),
        },
    }
}

/// Days and microseconds of 0001-01-01 and 9999-12-31 23:59:59.999999, the range a typed date or
/// timestamp loads in (their text has four-digit years).
pub const DAYS: std::ops::RangeInclusive<i64> = -719_162..=2_932_896;
pub const MICROS: std::ops::RangeInclusive<i64> = -62_135_596_800_000_000..=253_402_300_799_999_999;

fn parse<'a>(kind: Kind, v: &Value<'a>) -> Result<Parsed<'a>, String> {
    let text = match v {
        Value::Int(_) | Value::Float(_) | Value::Days(_) | Value::Micros(_) => {
            return native(kind, v);
        }
        Value::Json(serde_json::Value::Null) => return Ok(Parsed::Null),
        Value::Json(serde_json::Value::String(s)) => s.as_str(),
        Value::Json(j @ serde_json::Value::Number(n)) => {
            return match kind {
                Kind::String => Ok(Parsed::S(j.to_string().into())),
                Kind::Float | Kind::Double => n
                    .as_f64()
                    .map(Parsed::F)
                    .ok_or_else(|| format!("{n} is not a number")),
                Kind::Decimal(..) | Kind::Timestamp | Kind::Date => {
                    parse(kind, &Value::Text(&n.to_string())).map(owned)
                }
                _ => match n.as_i64() {
                    Some(i) => int(kind, i),
                    None => Err(format!("{n} is not an integer")),
                },
            };
        }
        Value::Json(serde_json::Value::Bool(b)) => {
            return match kind {
                Kind::Boolean => Ok(Parsed::B(*b)),
                Kind::String => Ok(Parsed::S(b.to_string().into())),
                _ => Err(format!("{b} is not a {}", name(kind))),
            };
        }
        Value::Json(other) => {
            return match kind {
                // Nested JSON kept as its text when the column is declared `string`.
                Kind::String => Ok(Parsed::S(other.to_string().into())),
                _ => Err(format!(
                    "a JSON {} is not a {}",
                    json_kind(other),
                    name(kind)
                )),
            };
        }
        Value::Text(s) => s,
    };
    match kind {
        Kind::String => Ok(Parsed::S(std::borrow::Cow::Borrowed(text))),
        _ if text.is_empty() => Ok(Parsed::Null),
        Kind::TinyInt | Kind::SmallInt | Kind::Int | Kind::BigInt => match text.parse::<i64>() {
            Ok(i) => int(kind, i),
            Err(_) => Err(format!("`{}` is not an integer", clip(text))),
        },
        Kind::Float | Kind::Double => text
            .parse::<f64>()
            .map(Parsed::F)
            .map_err(|_| format!("`{}` is not a number", clip(text))),
        Kind::Decimal(p, s) => decimal(text, p, s).map(Parsed::Dec),
        Kind::Boolean => match text.to_ascii_lowercase().as_str() {
            "true" | "t" | "1" | "yes" => Ok(Parsed::B(true)),
            "false" | "f" | "0" | "no" => Ok(Parsed::B(false)),
            _ => Err(format!("`{}` is not a boolean", clip(text))),
        },
        Kind::Date => date(text).map(Parsed::D),
        Kind::Timestamp => timestamp(text).map(Parsed::Ts),
    }
}

/// A value a binary source typed: as itself where the declared type is its own, else as its text.
fn native(kind: Kind, v: &Value<'_>) -> Result<Parsed<'static>, String> {
    match v {
        Value::Int(i) => int(kind, *i),
        Value::Float(f) => match kind {
            Kind::Float | Kind::Double => Ok(Parsed::F(*f)),
            _ => parse(kind, &Value::Text(&f.to_string())).map(owned),
        },
        Value::Days(d) => {
            if !DAYS.contains(&(*d as i64)) {
                return Err(format!(
                    "day {d} after 1970-01-01 is outside years 1 to 9999"
                ));
            }
            match kind {
                Kind::Date => Ok(Parsed::D(*d)),
                _ => {
                    let day = EPOCH + chrono::TimeDelta::days(*d as i64);
                    parse(kind, &Value::Text(&day.to_string())).map(owned)
                }
            }
        }
        Value::Micros(us) => {
            if !MICROS.contains(us) {
                return Err(format!(
                    "{us} µs after 1970-01-01 is outside years 1 to 9999"
                ));
            }
            match kind {
                Kind::Timestamp => Ok(Parsed::Ts(*us)),
                _ => {
                    let t = DateTime::from_timestamp_micros(*us)
                        .expect("in range")
                        .naive_utc();
                    parse(
                        kind,
                        &Value::Text(&t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()),
                    )
                    .map(owned)
                }
            }
        }
        Value::Text(_) | Value::Json(_) => unreachable!("typed values only"),
    }
}

/// A parsed value that borrows nothing.
fn owned(p: Parsed<'_>) -> Parsed<'static> {
    match p {
        Parsed::S(c) => Parsed::S(std::borrow::Cow::Owned(c.into_owned())),
        Parsed::Null => Parsed::Null,
        Parsed::I(v) => Parsed::I(v),
        Parsed::F(v) => Parsed::F(v),
        Parsed::Dec(v) => Parsed::Dec(v),
        Parsed::B(v) => Parsed::B(v),
        Parsed::D(v) => Parsed::D(v),
        Parsed::Ts(v) => Parsed::Ts(v),
    }
}

fn int(kind: Kind, i: i64) -> Result<Parsed<'static>, String> {
    let (lo, hi) = match kind {
        Kind::TinyInt => (i8::MIN as i64, i8::MAX as i64),
        Kind::SmallInt => (i16::MIN as i64, i16::MAX as i64),
        Kind::Int => (i32::MIN as i64, i32::MAX as i64),
        Kind::BigInt => (i64::MIN, i64::MAX),
        Kind::Float | Kind::Double => return Ok(Parsed::F(i as f64)),
        // As its text: exact digits for a decimal, `1`/`0` for a boolean, refused as a date.
        _ => return parse(kind, &Value::Text(&i.to_string())).map(owned),
    };
    if i < lo || i > hi {
        return Err(format!("{i} is out of range for {}", name(kind)));
    }
    Ok(Parsed::I(i))
}

fn name(kind: Kind) -> String {
    match kind {
        Kind::TinyInt => "tinyint".into(),
        Kind::SmallInt => "smallint".into(),
        Kind::Int => "int".into(),
        Kind::BigInt => "bigint".into(),
        Kind::Float => "float".into(),
        Kind::Double => "double".into(),
        Kind::Decimal(p, s) => format!("decimal({p},{s})"),
        Kind::String => "string".into(),
        Kind::Boolean => "boolean".into(),
        Kind::Date => "date".into(),
        Kind::Timestamp => "timestamp".into(),
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
        _ => "value",
    }
}

/// Long bad values are cut in messages: the error object keeps the whole row.
fn clip(s: &str) -> String {
    if s.chars().count() <= 40 {
        return s.to_string();
    }
    format!("{}…", s.chars().take(40).collect::<String>())
}

/// `-123.45` as an unscaled integer with `scale` digits; more digits than fit is an error, never
/// a silent rounding.
pub fn decimal(text: &str, precision: u8, scale: i8) -> Result<i128, String> {
    let bad = || format!("`{}` is not a decimal", clip(text));
    let t = text.trim();
    let (neg, digits) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (int_part, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int_part.is_empty() && frac.is_empty() {
        return Err(bad());
    }
    if !int_part.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let scale = scale as usize;
    let frac_trimmed = frac.trim_end_matches('0');
    if frac_trimmed.len() > scale {
        return Err(format!(
            "{t} has more than {scale} decimal places (decimal({precision},{scale}))"
        ));
    }
    let int_digits = int_part.trim_start_matches('0');
    if int_digits.len() + scale > precision as usize {
        return Err(format!(
            "{t} does not fit decimal({precision},{scale}) (at most {} digits before the point)",
            precision as usize - scale
        ));
    }
    let mut v: i128 = 0;
    for b in int_digits.bytes() {
        v = v * 10 + (b - b'0') as i128;
    }
    for i in 0..scale {
        let d = frac_trimmed.as_bytes().get(i).map_or(0, |b| b - b'0');
        v = v * 10 + d as i128;
    }
    Ok(if neg { -v } else { v })
}

const EPOCH: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");

fn date(text: &str) -> Result<i32, String> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map(|d| (d - EPOCH).num_days() as i32)
        .map_err(|_| format!("`{}` is not a date (YYYY-MM-DD)", clip(text)))
}

/// `YYYY-MM-DD[ T]HH:MM:SS[.f]` (optionally `Z`), the form nearly every value has, read without
/// trying formats one by one; anything else is left to `chrono`.
fn fast_timestamp(t: &str) -> Option<i64> {
    let b = t.strip_suffix('Z').unwrap_or(t).as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b' ' || b[10] == b'T') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        b[r].iter().try_fold(0i64, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + (c - b'0') as i64)
        })
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut micros = 0i64;
    if b.len() > 19 {
        if b[19] != b'.' || b.len() == 20 || b.len() > 29 {
            return None;
        }
        let frac = &b[20..];
        let mut v = num(20..b.len())?;
        for _ in frac.len()..6 {
            v *= 10;
        }
        for _ in 6..frac.len() {
            v /= 10;
        }
        micros = v;
    }
    let date = NaiveDate::from_ymd_opt(y as i32, m as u32, d as u32)?;
    if hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    let days = (date - EPOCH).num_days();
    Some(((days * 24 + hh) * 60 + mm) * 60_000_000 + ss * 1_000_000 + micros)
}

/// ISO 8601 and PostgreSQL's text forms, with or without a zone (zoned values become UTC).
pub fn timestamp(text: &str) -> Result<i64, String> {
    let t = text.trim();
    if let Some(v) = fast_timestamp(t) {
        return Ok(v);
    }
    for f in [
        "%Y-%m-%d %H:%M:%S%.f%#z",
        "%Y-%m-%dT%H:%M:%S%.f%#z",
        "%Y-%m-%d %H:%M:%S%#z",
        "%Y-%m-%dT%H:%M:%S%#z",
    ] {
        if let Ok(d) = DateTime::parse_from_str(t, f) {
            return Ok(d.timestamp_micros());
        }
    }
    if let Some(z) = t.strip_suffix('Z')
        && let Ok(d) = naive(z)
    {
        return Ok(d.and_utc().timestamp_micros());
    }
    naive(t)
        .map(|d| d.and_utc().timestamp_micros())
        .map_err(|_| format!("`{}` is not a timestamp", clip(text)))
}

fn naive(t: &str) -> Result<NaiveDateTime, ()> {
    for f in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(d) = NaiveDateTime::parse_from_str(t, f) {
            return Ok(d);
        }
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight"))
        .map_err(|_| ())
}

/// A JSON record.
pub type Obj = serde_json::Map<String, serde_json::Value>;

/// One JSON line as an object. Fields the table does not declare are allowed (events grow);
/// what is refused is a line that is not JSON, or not an object.
pub fn record(line: &[u8]) -> Result<Obj, (String, serde_json::Value)> {
    match serde_json::from_slice::<serde_json::Value>(line) {
        Ok(serde_json::Value::Object(o)) => Ok(o),
        Ok(other) => Err((
            "not a JSON object".into(),
            serde_json::Value::String(other.to_string()),
        )),
        Err(e) => Err((
            format!("not JSON: {e}"),
            serde_json::Value::String(String::from_utf8_lossy(line).into_owned()),
        )),
    }
}

/// A field by its declared (lowercase) name, matched case-insensitively.
pub fn field<'a>(obj: &'a Obj, name: &str) -> Option<&'a serde_json::Value> {
    obj.get(name).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;

    fn col(name: &str, t: &str) -> Column {
        Column {
            name: name.into(),
            kind: Kind::parse(t).unwrap(),
        }
    }

    #[test]
    fn decimals_fit_or_fail_never_round() {
        assert_eq!(decimal("76.01", 10, 2), Ok(7601));
        assert_eq!(decimal("-0.5", 10, 2), Ok(-50));
        assert_eq!(decimal("12", 4, 2), Ok(1200));
        assert_eq!(decimal("1.230", 10, 2), Ok(123));
        assert!(
            decimal("1.234", 10, 2)
                .unwrap_err()
                .contains("decimal places")
        );
        assert!(decimal("123", 4, 2).unwrap_err().contains("does not fit"));
        assert!(decimal("1e3", 10, 2).is_err());
        assert!(decimal(".", 10, 2).is_err());
    }

    #[test]
    fn the_fast_path_agrees_with_chrono() {
        for t in [
            "2026-01-02 03:04:05",
            "2026-01-02T03:04:05.5",
            "1969-12-31 23:59:59.999999",
            "2024-02-29 12:00:00.123456789",
            "2026-01-02 03:04:05Z",
        ] {
            let fast = fast_timestamp(t).unwrap();
            let slow = naive(t.trim_end_matches('Z'))
                .unwrap()
                .and_utc()
                .timestamp_micros();
            assert_eq!(fast, slow, "{t}");
        }
        for t in [
            "2026-02-30 00:00:00",
            "2026-01-02 24:00:00",
            "2026-01-02 03:04",
            "2026-01-02 03:04:05.",
        ] {
            assert!(fast_timestamp(t).is_none(), "{t}");
        }
    }

    #[test]
    fn timestamps_in_every_form_sources_write() {
        let base = timestamp("2026-01-02 03:04:05").unwrap();
        assert_eq!(timestamp("2026-01-02T03:04:05Z").unwrap(), base);
        assert_eq!(timestamp("2026-01-02 05:04:05+02").unwrap(), base);
        assert_eq!(timestamp("2026-01-02T04:04:05+01:00").unwrap(), base);
        assert_eq!(timestamp("2026-01-02 03:04:05.5").unwrap(), base + 500_000);
        assert!(timestamp("yesterday").is_err());
    }

    #[test]
    fn a_bad_value_appends_nothing_and_names_the_column() {
        let mut rows = Rows::new(&[col("id", "int"), col("price", "decimal(5,2)")]);
        rows.push(&[Some(Value::Text("1")), Some(Value::Text("9.99"))])
            .unwrap();
        let err = rows
            .push(&[Some(Value::Text("2")), Some(Value::Text("99999"))])
            .unwrap_err();
        assert!(err.starts_with("column `price`"), "{err}");
        let err = rows
            .push(&[Some(Value::Text("3000000000")), None])
            .unwrap_err();
        assert!(err.contains("out of range for int"), "{err}");
        rows.push(&[Some(Value::Text("")), None]).unwrap();
        let batch = rows.finish();
        assert_eq!(batch.num_rows(), 2);
        assert!(batch.column(0).is_null(1));
    }

    #[test]
    fn json_values_keep_their_types() {
        let mut rows = Rows::new(&[col("n", "bigint"), col("s", "string"), col("b", "boolean")]);
        let n = serde_json::json!(5);
        let s = serde_json::json!({"a": 1});
        let b = serde_json::json!(true);
        rows.push(&[
            Some(Value::Json(&n)),
            Some(Value::Json(&s)),
            Some(Value::Json(&b)),
        ])
        .unwrap();
        let f = serde_json::json!(1.5);
        assert!(rows.push(&[Some(Value::Json(&f)), None, None]).is_err());
        assert_eq!(rows.finish().num_rows(), 1);
    }

    #[test]
    fn complex_types_are_refused_with_a_way_out() {
        assert!(Kind::parse("array<string>").unwrap_err().contains("string"));
        assert_eq!(Kind::parse("DECIMAL(10, 2)"), Ok(Kind::Decimal(10, 2)));
    }
}
