//! PostgreSQL tables read with `COPY ... TO STDOUT (FORMAT binary)`, decoded row by row straight
//! into the declared columns' builders: integers, floats, dates and timestamps arrive as numbers
//! (no printing on the server, no parsing here), text as text, numerics as the exact text
//! PostgreSQL prints. A column whose type is not read natively for its declared type is selected
//! as its output text (`format('%s', c)`: what a text COPY prints) and parsed as CSV values are,
//! so every value is checked against its declared type exactly as before, by `schema::Rows`.

use super::convert::{BATCH_ROWS, Bad, Part, Sink, Spec, Summary, above, pipelined};
use crate::schema::{DAYS, Kind, MICROS, Rows, Value};
use std::io::Read;
use tokio_postgres::types::Type;

/// How one selected column arrives in the binary stream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Wire {
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Numeric,
    /// UTF-8 text (text, varchar, bpchar, name, and any column selected as its output text).
    Text,
    Bool,
    Date,
    /// `timestamp` and `timestamptz` alike: microseconds since 2000-01-01 (UTC for `timestamptz`).
    Timestamp,
}

/// A column's select expression and how it arrives, for its PostgreSQL type and declared type.
pub fn select(column: &str, t: &Type, kind: Kind) -> (String, Wire) {
    let numeric = matches!(
        kind,
        Kind::TinyInt
            | Kind::SmallInt
            | Kind::Int
            | Kind::BigInt
            | Kind::Float
            | Kind::Double
            | Kind::Decimal(..)
            | Kind::String
    );
    let wire = match (t, kind) {
        (&Type::INT2, _) if numeric => Some(Wire::Int2),
        (&Type::INT4, _) if numeric => Some(Wire::Int4),
        (&Type::INT8, _) if numeric => Some(Wire::Int8),
        (&Type::FLOAT8, Kind::Float | Kind::Double) => Some(Wire::Float8),
        // A float4 read as its shortest text is another double than the float4 widened.
        (&Type::FLOAT4, Kind::Float) => Some(Wire::Float4),
        (&Type::NUMERIC, _) => Some(Wire::Numeric),
        (&Type::TEXT | &Type::VARCHAR | &Type::BPCHAR | &Type::NAME, _) => Some(Wire::Text),
        (&Type::BOOL, _) => Some(Wire::Bool),
        (&Type::DATE, Kind::Date) => Some(Wire::Date),
        (&Type::TIMESTAMP | &Type::TIMESTAMPTZ, Kind::Timestamp) => Some(Wire::Timestamp),
        _ => None,
    };
    match wire {
        Some(w) => (column.to_string(), w),
        // The type's output function, as COPY's text formats print it (a cast to text differs
        // for some types: `true::text` is `true`, COPY prints `t`).
        None => (
            format!("CASE WHEN {column} IS NULL THEN NULL ELSE format('%s', {column}) END"),
            Wire::Text,
        ),
    }
}

/// Days and microseconds from 1970-01-01 to PostgreSQL's epoch, 2000-01-01.
const PG_EPOCH_DAYS: i32 = 10_957;
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// Load PostgreSQL's binary COPY stream of `wires` into parts.
pub fn load(
    input: impl Read,
    spec: &Spec,
    wires: &[Wire],
    emit: &mut (dyn FnMut(Part) -> Result<(), String> + Send),
) -> Result<Summary, String> {
    pipelined(&spec.cols, emit, |sink| rows(input, spec, wires, sink))
}

/// Decode a binary COPY stream of `wires` into batches of the declared columns.
fn rows(input: impl Read, spec: &Spec, wires: &[Wire], sink: &mut Sink) -> Result<Summary, String> {
    let mut r = Stream {
        input: std::io::BufReader::with_capacity(256 << 10, input),
        read: 0,
        source: &spec.source,
    };
    let mut head = [0u8; 19];
    r.exact(&mut head)?;
    if &head[..11] != b"PGCOPY\n\xff\r\n\0" {
        return Err(format!("{}: not a binary COPY stream", spec.source));
    }
    let extension = u32::from_be_bytes(head[15..19].try_into().expect("4 bytes")) as usize;
    r.skip(extension)?;
    let mut sum = Summary::default();
    let mut rows = Rows::new(&spec.cols);
    let mut fields: Vec<Vec<u8>> = vec![vec![]; wires.len()];
    let mut present = vec![false; wires.len()];
    let mut numerics: Vec<String> = vec![String::new(); wires.len()];
    let mut n = 0u64;
    loop {
        let count = r.i16()?;
        if count == -1 {
            break;
        }
        if count as usize != wires.len() {
            return Err(format!(
                "{}: a row of {count} fields, {} selected",
                spec.source,
                wires.len()
            ));
        }
        n += 1;
        for (i, f) in fields.iter_mut().enumerate() {
            let len = r.i32()?;
            present[i] = len >= 0;
            if len >= 0 {
                f.resize(len as usize, 0);
                r.exact(f)?;
            }
        }
        let mut values: Vec<Option<Value>> = Vec::with_capacity(wires.len());
        for (i, ((w, f), text)) in wires
            .iter()
            .zip(&fields)
            .zip(numerics.iter_mut())
            .enumerate()
        {
            values.push(if present[i] {
                Some(decode(*w, f, text).map_err(|e| {
                    format!(
                        "{}: row {n}, column `{}`: {e}",
                        spec.source, spec.cols[i].name
                    )
                })?)
            } else {
                None
            });
        }
        // A row without a mark is kept, as every loader keeps it.
        if let Some((wi, lo)) = &spec.watermark
            && !above(
                spec,
                *wi,
                lo,
                Some(&values[*wi].as_ref().map(text).unwrap_or_default()),
                &mut sum,
            )
        {
            continue;
        }
        match rows.push(&values) {
            Ok(()) => sum.rows += 1,
            Err(error) => {
                let texts = values.iter().map(|v| v.as_ref().map(text)).collect();
                sum.bad.push(Bad::of_row(spec, n, texts, error));
            }
        }
        if rows.len() >= BATCH_ROWS {
            sink(rows.finish())?;
        }
    }
    if !rows.is_empty() {
        sink(rows.finish())?;
    }
    sum.bytes_in = r.read;
    Ok(sum)
}

/// A date (and time of day, in microseconds) outside years 1 to 9999 as PostgreSQL prints it.
fn pg_date(days: i64, micros: Option<i64>) -> String {
    use chrono::Datelike;
    let Some(d) = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)
        .and_then(|e| e.checked_add_signed(chrono::TimeDelta::try_days(days)?))
    else {
        return format!("day {days} after 1970-01-01");
    };
    let (year, bc) = if d.year() <= 0 {
        (1 - d.year(), " BC")
    } else {
        (d.year(), "")
    };
    let mut s = format!("{year:04}-{:02}-{:02}", d.month(), d.day());
    if let Some(us) = micros {
        let secs = us / 1_000_000;
        s.push_str(&format!(
            " {:02}:{:02}:{:02}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        ));
        let frac = us % 1_000_000;
        if frac > 0 {
            s.push_str(format!(".{frac:06}").trim_end_matches('0'));
        }
    }
    s.push_str(bc);
    s
}

/// One field's bytes as a value; `text_buf` holds a value's text where it has to be made
/// (numerics, dates outside years 1 to 9999).
fn decode<'a>(w: Wire, f: &'a [u8], text_buf: &'a mut String) -> Result<Value<'a>, String> {
    let be = |n: usize| -> Result<&[u8], String> {
        (f.len() == n)
            .then_some(f)
            .ok_or_else(|| format!("{} bytes where {n} were expected", f.len()))
    };
    Ok(match w {
        Wire::Int2 => Value::Int(i16::from_be_bytes(be(2)?.try_into().expect("2")) as i64),
        Wire::Int4 => Value::Int(i32::from_be_bytes(be(4)?.try_into().expect("4")) as i64),
        Wire::Int8 => Value::Int(i64::from_be_bytes(be(8)?.try_into().expect("8"))),
        Wire::Float4 => Value::Float(f32::from_be_bytes(be(4)?.try_into().expect("4")) as f64),
        Wire::Float8 => Value::Float(f64::from_be_bytes(be(8)?.try_into().expect("8"))),
        Wire::Bool => Value::Text(if be(1)?[0] != 0 { "t" } else { "f" }),
        Wire::Text => Value::Text(std::str::from_utf8(f).map_err(|e| e.to_string())?),
        Wire::Numeric => {
            numeric_text(f, text_buf)?;
            Value::Text(text_buf)
        }
        // Outside years 1 to 9999 a date or timestamp goes as PostgreSQL prints it (`BC`, five
        // digits), which the text path refuses with the same message it always gave.
        Wire::Date => match i32::from_be_bytes(be(4)?.try_into().expect("4")) {
            i32::MAX => Value::Text("infinity"),
            i32::MIN => Value::Text("-infinity"),
            d => {
                let days = d as i64 + PG_EPOCH_DAYS as i64;
                if DAYS.contains(&days) {
                    Value::Days(days as i32)
                } else {
                    *text_buf = pg_date(days, None);
                    Value::Text(text_buf)
                }
            }
        },
        Wire::Timestamp => match i64::from_be_bytes(be(8)?.try_into().expect("8")) {
            i64::MAX => Value::Text("infinity"),
            i64::MIN => Value::Text("-infinity"),
            t => {
                let us = t.saturating_add(PG_EPOCH_MICROS);
                if MICROS.contains(&us) {
                    Value::Micros(us)
                } else {
                    *text_buf = pg_date(
                        us.div_euclid(86_400_000_000),
                        Some(us.rem_euclid(86_400_000_000)),
                    );
                    Value::Text(text_buf)
                }
            }
        },
    })
}

/// A value as text, for watermarks and bad rows: as PostgreSQL would print it.
fn text(v: &Value) -> String {
    match v {
        Value::Text(s) => s.to_string(),
        Value::Json(j) => j.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Days(d) => (chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date")
            + chrono::TimeDelta::days(*d as i64))
        .to_string(),
        Value::Micros(us) => chrono::DateTime::from_timestamp_micros(*us).map_or_else(
            || us.to_string(),
            |t| t.naive_utc().format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
        ),
    }
}

/// A binary `numeric` as `numeric_out` prints it: base-10000 digits, `dscale` decimals.
fn numeric_text(f: &[u8], out: &mut String) -> Result<(), String> {
    use std::fmt::Write;
    if f.len() < 8 {
        return Err(format!("a numeric of {} bytes", f.len()));
    }
    let word = |i: usize| u16::from_be_bytes([f[2 * i], f[2 * i + 1]]);
    let (ndigits, weight, sign, dscale) = (word(0) as usize, word(1) as i16, word(2), word(3));
    if f.len() != 8 + 2 * ndigits {
        return Err(format!(
            "a numeric of {} bytes for {ndigits} digits",
            f.len()
        ));
    }
    out.clear();
    let special = match sign {
        0x0000 => None,
        0x4000 => {
            out.push('-');
            None
        }
        0xC000 => Some("NaN"),
        0xD000 => Some("Infinity"),
        0xF000 => Some("-Infinity"),
        other => return Err(format!("a numeric with sign {other:#x}")),
    };
    if let Some(s) = special {
        out.push_str(s);
        return Ok(());
    }
    let digit = |i: i32| -> u16 {
        if i >= 0 && (i as usize) < ndigits {
            word(4 + i as usize)
        } else {
            0
        }
    };
    if weight < 0 {
        out.push('0');
    } else {
        write!(out, "{}", digit(0)).expect("a String");
        for i in 1..=weight as i32 {
            write!(out, "{:04}", digit(i)).expect("a String");
        }
    }
    if dscale > 0 {
        out.push('.');
        let start = out.len();
        let mut i = weight as i32 + 1;
        while out.len() - start < dscale as usize {
            write!(out, "{:04}", digit(i)).expect("a String");
            i += 1;
        }
        out.truncate(start + dscale as usize);
    }
    Ok(())
}

/// The COPY stream with what was read so far, for errors and the load's byte count.
struct Stream<'s, R: Read> {
    input: std::io::BufReader<R>,
    read: u64,
    source: &'s str,
}

impl<R: Read> Stream<'_, R> {
    fn exact(&mut self, buf: &mut [u8]) -> Result<(), String> {
        self.input.read_exact(buf).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                format!("{}: the COPY stream ended within a row", self.source)
            } else {
                format!("{}: {e}", self.source)
            }
        })?;
        self.read += buf.len() as u64;
        Ok(())
    }

    fn skip(&mut self, n: usize) -> Result<(), String> {
        let mut buf = vec![0u8; n];
        self.exact(&mut buf)
    }

    fn i16(&mut self) -> Result<i16, String> {
        let mut b = [0u8; 2];
        self.exact(&mut b)?;
        Ok(i16::from_be_bytes(b))
    }

    fn i32(&mut self) -> Result<i32, String> {
        let mut b = [0u8; 4];
        self.exact(&mut b)?;
        Ok(i32::from_be_bytes(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(ndigits: u16, weight: i16, sign: u16, dscale: u16, digits: &[u16]) -> String {
        let mut f = vec![];
        for w in [ndigits, weight as u16, sign, dscale].iter().chain(digits) {
            f.extend_from_slice(&w.to_be_bytes());
        }
        let mut s = String::new();
        numeric_text(&f, &mut s).unwrap();
        s
    }

    #[test]
    fn numerics_print_as_postgresql_prints_them() {
        assert_eq!(numeric(2, 0, 0, 2, &[12, 3400]), "12.34");
        assert_eq!(numeric(1, 1, 0x4000, 0, &[1]), "-10000");
        assert_eq!(numeric(1, -1, 0, 4, &[5]), "0.0005");
        assert_eq!(numeric(1, -2, 0, 6, &[7]), "0.000000");
        assert_eq!(numeric(0, 0, 0, 3, &[]), "0.000");
        assert_eq!(numeric(3, 1, 0, 10, &[1, 2345, 6789]), "12345.6789000000");
        assert_eq!(numeric(0, 0, 0xC000, 0, &[]), "NaN");
    }
}
