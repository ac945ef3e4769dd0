//! Rows from a reader (CSV with a header, or JSON lines) to Parquet parts of declared columns, with
//! bounded memory: rows become Arrow batches, batches fill a Parquet writer, and a part is cut and
//! handed on once it reaches `PART_BYTES`. Rows that do not fit go to `bad` with where they were.

use crate::schema::{Column, Kind, Rows, Value};
use arrow_array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{
    ArrowColumnChunk, ArrowColumnWriter, ArrowRowGroupWriterFactory, compute_leaves,
};
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use std::io::Read;

/// A part is cut at this much encoded Parquet: with three parts uploading, one queued and one being
/// encoded, memory stays below the 300 MB a load may use, whatever the input's size.
pub const PART_BYTES: usize = 32 << 20;
/// And at this many rows (`DEKIT_PART_ROWS` overrides), so one object stays a size engines split
/// work by.
pub fn part_rows() -> usize {
    crate::settings::get().part_rows
}
/// Rows per batch handed from a row-wise reader to the encoder.
pub(super) const BATCH_ROWS: usize = 8192;

/// One row that could not be loaded: where it was, why, and the row itself.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Bad {
    pub source: String,
    /// `line N` (CSV, JSON lines) or a sequence number (streams).
    pub at: String,
    pub error: String,
    pub row: serde_json::Value,
}

impl Bad {
    /// A database row that does not fit: named by its number and key (the first declared
    /// column), its values as the source's text under the source's column names.
    pub fn of_row(spec: &Spec, n: u64, texts: Vec<Option<String>>, error: String) -> Bad {
        Bad {
            source: spec.source.clone(),
            at: format!(
                "row {n} ({} = {})",
                spec.cols[0].name,
                texts[0].as_deref().unwrap_or_default()
            ),
            error,
            row: serde_json::Value::Object(
                texts
                    .into_iter()
                    .enumerate()
                    .map(|(i, t)| {
                        let v = t.map_or(serde_json::Value::Null, serde_json::Value::String);
                        (spec.source_name(i).to_string(), v)
                    })
                    .collect(),
            ),
        }
    }
}

pub struct Part {
    pub index: usize,
    pub rows: usize,
    pub bytes: Vec<u8>,
}

/// A watermark value, compared in its column's type (numbers and times as numbers).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mark {
    N(i128),
    S(String),
}

impl Mark {
    pub fn parse(kind: Kind, text: &str) -> Option<Mark> {
        let t = text.trim();
        if t.is_empty() {
            return None;
        }
        Some(match kind {
            Kind::TinyInt | Kind::SmallInt | Kind::Int | Kind::BigInt => {
                Mark::N(t.parse::<i64>().ok()? as i128)
            }
            Kind::Decimal(p, s) => Mark::N(crate::schema::decimal(t, p, s).ok()?),
            Kind::Timestamp => Mark::N(crate::schema::timestamp(t).ok()? as i128),
            Kind::Date => Mark::N(crate::schema::timestamp(t).ok()? as i128),
            _ => Mark::S(t.to_string()),
        })
    }
}

/// What a load reads and keeps.
pub struct Spec {
    /// For messages: `shop_db.customers`, a file path.
    pub source: String,
    pub cols: Vec<Column>,
    /// The watermark column's index, and the mark rows must be above to load.
    pub watermark: Option<(usize, Option<Mark>)>,
    /// The CSV field that means NULL (`\N` from databases, so NULL and an empty string differ);
    /// without one, an empty field is NULL for every type but `string`.
    pub null: Option<&'static str>,
    /// Name bad rows by their key (the first declared column) rather than by line: a database
    /// has rows, not lines.
    pub by_key: bool,
    /// Each declared column's name in the source (`customerNumber`), for bad rows; empty where
    /// the converter finds them itself (a header) or they are the declared names.
    pub names: Vec<String>,
}

impl Spec {
    /// The source's name for the declared column `i`.
    pub fn source_name(&self, i: usize) -> &str {
        self.names.get(i).unwrap_or(&self.cols[i].name)
    }
}

#[derive(Debug, Default)]
pub struct Summary {
    pub rows: u64,
    pub bytes_in: u64,
    pub parts: usize,
    pub bad: Vec<Bad>,
    /// The highest watermark loaded, as the source wrote it.
    pub high: Option<(Mark, String)>,
    /// Once per load: source columns matched to declared ones by case only.
    pub notes: Vec<String>,
}

/// Rows in one row group: small enough to stream, large enough to compress well.
const ROW_GROUP_ROWS: usize = 128 * 1024;

/// Parquet parts from batches of the declared columns: batches gather into row groups, each row
/// group's columns are encoded on the machine's cores at once, and a part is cut after the row
/// group that takes it to `PART_BYTES` or to `part_rows` rows. Where parts are cut depends only on
/// the rows, so the same rows make the same parts.
struct Writer<'a> {
    props: std::sync::Arc<WriterProperties>,
    schema: arrow_schema::SchemaRef,
    current: Option<(
        SerializedFileWriter<Vec<u8>>,
        ArrowRowGroupWriterFactory,
        usize,
    )>,
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    rows_in_part: usize,
    max_rows: usize,
    threads: usize,
    parts: usize,
    emit: &'a mut (dyn FnMut(Part) -> Result<(), String> + Send),
}

impl Writer<'_> {
    fn write(&mut self, batch: RecordBatch) -> Result<(), String> {
        let mut batch = batch;
        while batch.num_rows() > 0 {
            let room = self.group_rows() - self.pending_rows;
            let take = room.min(batch.num_rows());
            self.pending.push(batch.slice(0, take));
            self.pending_rows += take;
            batch = batch.slice(take, batch.num_rows() - take);
            if self.pending_rows == self.group_rows() {
                self.flush()?;
            }
        }
        Ok(())
    }

    /// Rows in the next row group: a full one, or what is left before the part's row limit.
    fn group_rows(&self) -> usize {
        ROW_GROUP_ROWS.min(self.max_rows - self.rows_in_part)
    }

    /// Encode the gathered rows as one row group, its columns spread over the cores.
    fn flush(&mut self) -> Result<(), String> {
        if self.pending_rows == 0 {
            return Ok(());
        }
        let err = |e: parquet::errors::ParquetError| e.to_string();
        if self.current.is_none() {
            let w =
                ArrowWriter::try_new(Vec::new(), self.schema.clone(), Some((*self.props).clone()))
                    .map_err(err)?;
            let (file, factory) = w.into_serialized_writer().map_err(err)?;
            self.current = Some((file, factory, 0));
        }
        let (file, factory, groups) = self.current.as_mut().expect("just made");
        let writers = factory.create_column_writers(*groups).map_err(err)?;
        let batches = std::mem::take(&mut self.pending);
        let chunks = encode_columns(&self.schema, writers, &batches, self.threads)?;
        let mut group = file.next_row_group().map_err(err)?;
        for chunk in chunks {
            chunk.append_to_row_group(&mut group).map_err(err)?;
        }
        group.close().map_err(err)?;
        *groups += 1;
        self.rows_in_part += self.pending_rows;
        self.pending_rows = 0;
        if file.bytes_written() >= PART_BYTES || self.rows_in_part >= self.max_rows {
            self.cut()?;
        }
        Ok(())
    }

    fn cut(&mut self) -> Result<(), String> {
        if let Some((file, _, _)) = self.current.take() {
            let bytes = file.into_inner().map_err(|e| e.to_string())?;
            let part = Part {
                index: self.parts,
                rows: self.rows_in_part,
                bytes,
            };
            self.parts += 1;
            self.rows_in_part = 0;
            (self.emit)(part)?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), String> {
        self.flush()?;
        self.cut()
    }
}

/// Each column of a row group through its own column writer, the columns dealt out to `threads`
/// threads by their size (largest first, each to the least loaded), returned in schema order.
fn encode_columns(
    schema: &arrow_schema::SchemaRef,
    writers: Vec<ArrowColumnWriter>,
    batches: &[RecordBatch],
    threads: usize,
) -> Result<Vec<ArrowColumnChunk>, String> {
    let size = |i: usize| -> usize {
        batches
            .iter()
            .map(|b| b.column(i).get_array_memory_size())
            .sum()
    };
    let mut order: Vec<(usize, usize)> = (0..writers.len()).map(|i| (size(i), i)).collect();
    order.sort_unstable_by(|a, b| b.cmp(a));
    let threads = threads.clamp(1, writers.len().max(1));
    let mut load = vec![0usize; threads];
    let mut shares: Vec<Vec<(usize, ArrowColumnWriter)>> = (0..threads).map(|_| vec![]).collect();
    let mut writers: Vec<Option<ArrowColumnWriter>> = writers.into_iter().map(Some).collect();
    for (s, i) in order {
        let t = (0..threads)
            .min_by_key(|t| load[*t])
            .expect("one thread at least");
        load[t] += s;
        shares[t].push((i, writers[i].take().expect("each column once")));
    }
    let encode =
        |share: Vec<(usize, ArrowColumnWriter)>| -> Result<Vec<(usize, ArrowColumnChunk)>, String> {
            share
                .into_iter()
                .map(|(i, mut w)| {
                    for b in batches {
                        for leaf in compute_leaves(schema.field(i), b.column(i))
                            .map_err(|e| e.to_string())?
                        {
                            w.write(&leaf).map_err(|e| e.to_string())?;
                        }
                    }
                    Ok((i, w.close().map_err(|e| e.to_string())?))
                })
                .collect()
        };
    let mut chunks: Vec<(usize, ArrowColumnChunk)> = std::thread::scope(|sc| {
        let mut shares = shares.into_iter();
        let here = shares.next().expect("one thread at least");
        let others: Vec<_> = shares.map(|s| sc.spawn(move || encode(s))).collect();
        let mut all = encode(here)?;
        for o in others {
            all.extend(
                o.join()
                    .map_err(|_| "a Parquet encoder panicked".to_string())??,
            );
        }
        Ok::<_, String>(all)
    })?;
    chunks.sort_unstable_by_key(|(i, _)| *i);
    Ok(chunks.into_iter().map(|(_, c)| c).collect())
}

fn writer<'a>(
    cols: &[Column],
    emit: &'a mut (dyn FnMut(Part) -> Result<(), String> + Send),
) -> Writer<'a> {
    Writer {
        // Snappy, as Glue and Athena write by default; row groups small enough to stream.
        props: std::sync::Arc::new(
            WriterProperties::builder()
                .set_compression(Compression::SNAPPY)
                .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
                .set_created_by("dekit".into())
                .build(),
        ),
        schema: crate::schema::schema(cols),
        current: None,
        pending: vec![],
        pending_rows: 0,
        rows_in_part: 0,
        max_rows: part_rows(),
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        parts: 0,
        emit,
    }
}

/// Load CSV with a header row. Declared columns are found among the header's names
/// case-insensitively; a declared column the source lacks fails the load before any row.
pub fn csv(
    input: impl Read,
    spec: &Spec,
    emit: &mut (dyn FnMut(Part) -> Result<(), String> + Send),
) -> Result<Summary, String> {
    pipelined(&spec.cols, emit, |sink| csv_rows(input, spec, sink))
}

pub(super) type Sink<'s> = dyn FnMut(RecordBatch) -> Result<(), String> + 's;

/// Parse on this thread while another encodes Parquet: the two halves of a load take about the
/// same time, and a machine has more than one core. Each source's module (`parquet_in`,
/// `postgres_in`, `mysql_in`) loads through it with its own row producer.
pub(super) fn pipelined(
    cols: &[Column],
    emit: &mut (dyn FnMut(Part) -> Result<(), String> + Send),
    produce: impl FnOnce(&mut Sink) -> Result<Summary, String>,
) -> Result<Summary, String> {
    std::thread::scope(|sc| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<RecordBatch>(2);
        let encoder = sc.spawn(move || -> Result<usize, String> {
            let mut w = writer(cols, emit);
            for b in rx {
                w.write(b)?;
            }
            w.finish()?;
            Ok(w.parts)
        });
        let produced = {
            let mut sink = |b: RecordBatch| {
                tx.send(b)
                    .map_err(|_| "the Parquet encoder stopped".to_string())
            };
            produce(&mut sink)
        };
        drop(tx);
        let parts = encoder
            .join()
            .map_err(|_| "the Parquet encoder panicked".to_string())?;
        // The encoder's error (say, an upload that failed) is the cause of a stopped parser's.
        let parts = parts?;
        let mut sum = produced?;
        sum.parts = parts;
        Ok(sum)
    })
}

fn csv_rows(input: impl Read, spec: &Spec, sink: &mut Sink) -> Result<Summary, String> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(input);
    let headers = rdr
        .headers()
        .map_err(|e| format!("{}: cannot read the header row: {e}", spec.source))?
        .clone();
    let names: Vec<&str> = headers.iter().collect();
    let (index, notes) = match_columns(&spec.source, &spec.cols, &names)?;
    let mut sum = Summary {
        notes,
        ..Summary::default()
    };
    let mut rows = Rows::new(&spec.cols);
    let mut record = csv::StringRecord::new();
    loop {
        match rdr.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                // A broken record (say, invalid UTF-8): kept with its position, reading goes on.
                let line = e.position().map_or(0, |p| p.line());
                sum.bad.push(Bad {
                    source: spec.source.clone(),
                    at: format!("line {line}"),
                    error: e.to_string(),
                    row: serde_json::Value::Null,
                });
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    return Err(format!("{}: {e}", spec.source));
                }
                continue;
            }
        }
        let line = record.position().map_or(0, |p| p.line());
        sum.bytes_in = record.position().map_or(0, |p| p.byte());
        let raw = || {
            serde_json::Value::Object(
                names
                    .iter()
                    .zip(record.iter())
                    .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.into())))
                    .collect(),
            )
        };
        if record.len() != names.len() {
            sum.bad.push(Bad {
                source: spec.source.clone(),
                at: format!("line {line}"),
                error: format!("{} fields, the header has {}", record.len(), names.len()),
                row: serde_json::Value::Array(
                    record
                        .iter()
                        .map(|v| serde_json::Value::String(v.into()))
                        .collect(),
                ),
            });
            continue;
        }
        let values: Vec<Option<Value>> = index
            .iter()
            .map(|i| {
                i.map(|i| &record[i])
                    .filter(|v| spec.null != Some(*v))
                    .map(Value::Text)
            })
            .collect();
        if let Some((wi, lo)) = &spec.watermark
            && !above(spec, *wi, lo, index[*wi].map(|i| &record[i]), &mut sum)
        {
            continue;
        }
        match rows.push(&values) {
            Ok(()) => sum.rows += 1,
            Err(e) => sum.bad.push(Bad {
                source: spec.source.clone(),
                at: if spec.by_key {
                    let key = index[0].map_or("", |i| &record[i]);
                    format!("row {} ({} = {key})", line - 1, spec.cols[0].name)
                } else {
                    format!("line {line}")
                },
                error: e,
                row: raw(),
            }),
        }
        if rows.len() >= BATCH_ROWS {
            sink(rows.finish())?;
        }
    }
    if !rows.is_empty() {
        sink(rows.finish())?;
    }
    Ok(sum)
}

/// Load JSON lines: each line one object; fields matched to declared columns case-insensitively,
/// missing fields null. A line that is not an object is a bad row.
pub fn json_lines(
    input: impl Read,
    spec: &Spec,
    emit: &mut (dyn FnMut(Part) -> Result<(), String> + Send),
) -> Result<Summary, String> {
    pipelined(&spec.cols, emit, |sink| json_rows(input, spec, sink))
}

fn json_rows(input: impl Read, spec: &Spec, sink: &mut Sink) -> Result<Summary, String> {
    use std::io::BufRead;
    let mut sum = Summary::default();
    let mut rows = Rows::new(&spec.cols);
    let reader = std::io::BufReader::new(input);
    for (n, line) in reader.split(b'\n').enumerate() {
        let line = line.map_err(|e| format!("{}: {e}", spec.source))?;
        sum.bytes_in += line.len() as u64 + 1;
        let at = format!("line {}", n + 1);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match record(&line) {
            Err((error, row)) => sum.bad.push(Bad {
                source: spec.source.clone(),
                at,
                error,
                row,
            }),
            Ok(obj) => {
                let values: Vec<Option<Value>> = spec
                    .cols
                    .iter()
                    .map(|c| field(&obj, &c.name).map(Value::Json))
                    .collect();
                if let Some((wi, lo)) = &spec.watermark {
                    let text = field(&obj, &spec.cols[*wi].name).map(|v| match v {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    });
                    if !above(spec, *wi, lo, text.as_deref(), &mut sum) {
                        continue;
                    }
                }
                match rows.push(&values) {
                    Ok(()) => sum.rows += 1,
                    Err(error) => sum.bad.push(Bad {
                        source: spec.source.clone(),
                        at,
                        error,
                        row: serde_json::Value::Object(obj),
                    }),
                }
            }
        }
        if rows.len() >= BATCH_ROWS {
            sink(rows.finish())?;
        }
    }
    if !rows.is_empty() {
        sink(rows.finish())?;
    }
    Ok(sum)
}

use crate::schema::{field, record};

/// Whether a row's watermark is above the last load's; tracks the highest seen.
pub(super) fn above(
    spec: &Spec,
    wi: usize,
    lo: &Option<Mark>,
    text: Option<&str>,
    sum: &mut Summary,
) -> bool {
    let Some(text) = text else { return false };
    let Some(m) = Mark::parse(spec.cols[wi].kind, text) else {
        // Unparseable watermarks are bad rows, reported by the push that follows.
        return true;
    };
    if lo.as_ref().is_some_and(|lo| &m <= lo) {
        return false;
    }
    if sum.high.as_ref().is_none_or(|(h, _)| &m > h) {
        sum.high = Some((m, text.trim().to_string()));
    }
    true
}

/// Each declared column's index in the source's columns (case-insensitive). Names that match only
/// by case are said once, as a note: Glue and Athena store column names in lowercase.
pub(super) fn match_columns(
    source: &str,
    cols: &[Column],
    names: &[&str],
) -> Result<(Vec<Option<usize>>, Vec<String>), String> {
    let mut index = vec![];
    let mut by_case = vec![];
    let mut missing = vec![];
    for c in cols {
        match names.iter().position(|n| n.eq_ignore_ascii_case(&c.name)) {
            Some(i) => {
                if names[i] != c.name {
                    by_case.push(format!("{} → {}", names[i], c.name));
                }
                index.push(Some(i));
            }
            None => {
                missing.push(c.name.clone());
                index.push(None);
            }
        }
    }
    if !missing.is_empty() {
        return Err(format!(
            "{source} has no column{} {} (it has: {})",
            if missing.len() > 1 { "s" } else { "" },
            missing
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", "),
            names.join(", ")
        ));
    }
    let notes = if by_case.is_empty() {
        vec![]
    } else {
        vec![format!(
            "{source}: columns matched by name ignoring case (Glue and Athena store them in lowercase): {}",
            by_case.join(", ")
        )]
    };
    Ok((index, notes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    fn spec(watermark: Option<(usize, Option<Mark>)>) -> Spec {
        Spec {
            source: "db.t".into(),
            cols: vec![
                Column {
                    name: "id".into(),
                    kind: Kind::BigInt,
                },
                Column {
                    name: "price".into(),
                    kind: Kind::Decimal(6, 2),
                },
            ],
            watermark,
            null: None,
            by_key: false,
            names: vec![],
        }
    }

    fn rows_of(parts: &[Part]) -> usize {
        parts
            .iter()
            .map(|p| {
                ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(p.bytes.clone()))
                    .unwrap()
                    .build()
                    .unwrap()
                    .map(|b| b.unwrap().num_rows())
                    .sum::<usize>()
            })
            .sum()
    }

    #[test]
    fn csv_rows_load_and_bad_ones_are_kept_with_their_line() {
        let input = "ID,Price\n1,9.99\n2,oops\n3\n4,1.5\n";
        let mut parts = vec![];
        let sum = csv(input.as_bytes(), &spec(None), &mut |p| {
            parts.push(p);
            Ok(())
        })
        .unwrap();
        assert_eq!(sum.rows, 2);
        assert_eq!(rows_of(&parts), 2);
        let at: Vec<&str> = sum.bad.iter().map(|b| b.at.as_str()).collect();
        assert_eq!(at, ["line 3", "line 4"]);
        assert!(sum.bad[0].error.contains("column `price`"));
        assert_eq!(sum.notes.len(), 1, "{:?}", sum.notes);
        assert!(sum.notes[0].contains("ID → id"));
    }

    #[test]
    fn a_missing_column_fails_before_any_row() {
        let err = csv("id,cost\n1,2\n".as_bytes(), &spec(None), &mut |_| Ok(())).unwrap_err();
        assert!(err.contains("no column `price`"), "{err}");
    }

    #[test]
    fn the_watermark_skips_what_was_loaded_and_finds_the_new_high() {
        let input = "id,price\n1,1\n5,1\n3,1\n";
        let mut n = 0;
        let sum = csv(
            input.as_bytes(),
            &spec(Some((0, Some(Mark::N(2))))),
            &mut |p| {
                n += p.rows;
                Ok(())
            },
        )
        .unwrap();
        assert_eq!((sum.rows, n), (2, 2));
        assert_eq!(sum.high.unwrap().1, "5");
    }

    #[test]
    fn the_same_rows_make_the_same_bytes() {
        let input = "id,price\n1,1.10\n2,2.20\n";
        let mut a = vec![];
        let mut b = vec![];
        csv(input.as_bytes(), &spec(None), &mut |p| {
            a.push(p.bytes);
            Ok(())
        })
        .unwrap();
        csv(input.as_bytes(), &spec(None), &mut |p| {
            b.push(p.bytes);
            Ok(())
        })
        .unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn json_lines_that_are_not_objects_or_do_not_fit_are_bad() {
        let input = "{\"id\": 1, \"price\": \"2.5\"}\nnot json\n[1]\n{\"ID\": \"x\"}\n";
        let sum = json_lines(input.as_bytes(), &spec(None), &mut |_| Ok(())).unwrap();
        assert_eq!(sum.rows, 1);
        let at: Vec<&str> = sum.bad.iter().map(|b| b.at.as_str()).collect();
        assert_eq!(at, ["line 2", "line 3", "line 4"]);
    }
}
