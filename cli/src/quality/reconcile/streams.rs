//! Streams: every record `dekit produce` sent against the rows of the raw table it fills.

use crate::lake::Lake;
use crate::quality::outcome::{Outcome, Verdict, to_json};
use crate::transform::errors::message;
use crate::transform::session::Catalog;
use datafusion::prelude::SessionContext;
use std::time::Instant;

pub fn produced_prefix(stream: &str) -> String {
    format!("_dekit/produced/{stream}/")
}

/// What `produce` recorded for a stream: (key, document) of each call, oldest first. Each
/// document counts the records Kinesis accepted and names the gzipped copy of them (`copy`).
pub async fn produced(
    lake: &Lake,
    stream: &str,
) -> Result<Vec<(String, serde_json::Value)>, String> {
    let mut keys = lake
        .list(&produced_prefix(stream))
        .await
        .map_err(|e| e.to_string())?;
    keys.retain(|k| k.ends_with(".json"));
    keys.sort();
    let mut out = vec![];
    for k in keys {
        let doc: Option<serde_json::Value> = lake.get_json(&k).await.map_err(|e| e.to_string())?;
        if let Some(d) = doc {
            out.push((k, d));
        }
    }
    Ok(out)
}

/// A multiset of rows: each distinct row (Arrow's row format of the declared columns, so equal
/// values are equal bytes) with how often it occurs and where to find one of them.
#[derive(Default)]
struct Counted {
    rows: std::collections::HashMap<Vec<u8>, (u64, usize, usize)>,
    batches: Vec<datafusion::arrow::array::RecordBatch>,
}

impl Counted {
    fn add(&mut self, batch: datafusion::arrow::array::RecordBatch) -> Result<(), String> {
        use datafusion::arrow::row::{RowConverter, SortField};
        let fields = batch
            .schema()
            .fields()
            .iter()
            .map(|f| SortField::new(f.data_type().clone()))
            .collect();
        let conv = RowConverter::new(fields).map_err(|e| e.to_string())?;
        let rows = conv
            .convert_columns(batch.columns())
            .map_err(|e| e.to_string())?;
        let b = self.batches.len();
        for (i, r) in rows.iter().enumerate() {
            self.rows.entry(r.as_ref().to_vec()).or_insert((0, b, i)).0 += 1;
        }
        self.batches.push(batch);
        Ok(())
    }

    fn total(&self) -> u64 {
        self.rows.values().map(|(n, _, _)| n).sum()
    }

    /// One row as JSON, with how often it was produced and landed.
    fn show(&self, at: (usize, usize), produced: u64, landed: u64) -> serde_json::Value {
        let mut row = to_json(&[self.batches[at.0].slice(at.1, 1)], 1)
            .pop()
            .unwrap_or_default();
        if let serde_json::Value::Object(o) = &mut row {
            o.insert("produced".into(), produced.into());
            o.insert("occurrences".into(), landed.into());
        }
        row
    }
}

/// Produced against landed, row by row.
struct Compared {
    /// Copies produced that did not land.
    lost: u64,
    /// Copies landed beyond those produced.
    again: u64,
    /// Rows landed that nobody produced through dekit.
    foreign: u64,
    /// Rows landed too often (most often first), then rows lost: up to five.
    sample: Vec<serde_json::Value>,
}

fn compare(p: &Counted, l: &Counted) -> Compared {
    let (mut lost, mut again, mut foreign) = (0u64, 0u64, 0u64);
    let (mut extra_rows, mut lost_rows) = (vec![], vec![]);
    for (key, &(pn, pb, pi)) in &p.rows {
        let ln = l.rows.get(key).map_or(0, |r| r.0);
        if ln < pn {
            lost += pn - ln;
            lost_rows.push(p.show((pb, pi), pn, ln));
        }
    }
    for (key, &(ln, lb, li)) in &l.rows {
        match p.rows.get(key).map(|r| r.0) {
            Some(pn) if ln > pn => {
                again += ln - pn;
                extra_rows.push(l.show((lb, li), pn, ln));
            }
            Some(_) => {}
            None => foreign += ln,
        }
    }
    // Most frequent first, then by value: the same sample whatever the hash order.
    extra_rows.sort_by_key(|v| (std::cmp::Reverse(v["occurrences"].as_u64()), v.to_string()));
    lost_rows.sort_by_key(|v| v.to_string());
    Compared {
        lost,
        again,
        foreign,
        sample: extra_rows.into_iter().chain(lost_rows).take(5).collect(),
    }
}

/// One outcome per stream that `produce` sent records to and a table is filled from: what was
/// produced and what landed compared as multisets of rows of the table's declared columns, so a
/// record produced twice and landed twice is exact, and one lost or landed once too often is
/// named with its row.
// Long: one stream's reconciliation: produced documents, landed objects, multiset compare, outcome.
pub async fn against_produced(
    cat: Catalog<'_>,
    ctx: &SessionContext,
    lake: &Lake,
    relations: &[String],
) -> Result<Vec<Outcome>, String> {
    let s = &cat.checked.loaded.stack;
    let mut out = vec![];
    for (stream, _) in s.ingest.streams.iter() {
        let Some((table, t)) = s
            .tables
            .iter()
            .find(|(_, t)| t.from.as_ref().is_some_and(|f| f.value == stream.value))
        else {
            continue;
        };
        if !relations.is_empty() && !relations.contains(&table.value) {
            continue;
        }
        let docs = produced(lake, stream).await?;
        if docs.is_empty() {
            continue; // nothing produced through dekit: nothing to reconcile
        }
        let started = Instant::now();
        let name = format!("{}.reconcile(produced -> {})", stream.value, table.value);
        let cols = match crate::schema::of_table(table, t) {
            Ok(c) => c,
            Err(e) => {
                // A column type the loader cannot write: this reconciliation cannot run, the
                // rest of the report can.
                let mut o = Outcome::new(name, &table.value, "reconcile", String::new());
                o.verdict = Verdict::Error;
                o.message = e;
                out.push(o);
                continue;
            }
        };
        let list = cols
            .iter()
            .map(|c| crate::sql::name(&c.name))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!("SELECT {list} FROM {}", crate::sql::name(&table.value));
        let mut o = Outcome::new(name, &table.value, "reconcile", sql.clone());
        let judged = async {
            let mut produced_rows = Counted::default();
            let mut sent = 0u64;
            let mut unreadable = 0u64;
            for (k, d) in &docs {
                let n = d["records"]
                    .as_u64()
                    .ok_or_else(|| format!("{}: no `records` count", lake.url(k)))?;
                let copy = d["copy"].as_str().ok_or_else(|| {
                    format!(
                        "{}: recorded by a dekit that kept no copy of the records; produce again to reconcile",
                        lake.url(k)
                    )
                })?;
                let (batch, bad) = typed(lake, copy, &cols).await?;
                if batch.num_rows() as u64 + bad != n {
                    return Err(format!(
                        "{}: counts {n} records, its copy holds {}",
                        lake.url(k),
                        batch.num_rows() as u64 + bad
                    ));
                }
                sent += n;
                unreadable += bad;
                produced_rows.add(batch)?;
            }
            let mut landed_rows = Counted::default();
            let schema = crate::schema::schema(&cols);
            for b in ctx
                .sql(&sql)
                .await
                .map_err(|e| message(&e))?
                .collect()
                .await
                .map_err(|e| message(&e))?
            {
                let columns = b
                    .columns()
                    .iter()
                    .zip(schema.fields())
                    .map(|(c, f)| datafusion::arrow::compute::cast(c, f.data_type()))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| e.to_string())?;
                landed_rows.add(
                    datafusion::arrow::array::RecordBatch::try_new(schema.clone(), columns)
                        .map_err(|e| e.to_string())?,
                )?;
            }
            Ok::<_, String>((sent, unreadable, produced_rows, landed_rows))
        };
        match judged.await {
            Ok((sent, unreadable, p, l)) => {
                let d = compare(&p, &l);
                let mut parts = vec![format!("produced {sent}, landed {}", l.total())];
                if d.lost > 0 {
                    parts.push(format!("{} lost", d.lost));
                }
                if d.again > 0 {
                    parts.push(format!("{} records landed more than once", d.again));
                }
                if d.foreign > 0 {
                    parts.push(format!(
                        "{} more rows than produced (records sent another way?)",
                        d.foreign
                    ));
                }
                if unreadable > 0 {
                    parts.push(format!(
                        "{unreadable} produced records do not fit the table's columns"
                    ));
                }
                o.sample = d.sample;
                o.failures = d.lost + d.again;
                o.verdict = if o.failures > 0 {
                    Verdict::Fail
                } else {
                    Verdict::Pass
                };
                o.message = parts.join(": ");
            }
            Err(e) => {
                o.verdict = Verdict::Error;
                o.message = e;
            }
        }
        o.duration_ms = started.elapsed().as_millis() as u64;
        out.push(o);
    }
    Ok(out)
}

/// The produced records of a copy as rows of the declared columns, converted as the loader
/// converts them, and how many did not convert.
async fn typed(
    lake: &Lake,
    key: &str,
    cols: &[crate::schema::Column],
) -> Result<(datafusion::arrow::array::RecordBatch, u64), String> {
    use crate::schema::{Rows, Value};
    use crate::schema::{field, record};
    use std::io::BufRead;
    let body = lake
        .get(key)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| {
            format!(
                "{}: the copy of the produced records is missing",
                lake.url(key)
            )
        })?;
    let mut rows = Rows::new(cols);
    let mut bad = 0;
    for line in std::io::BufReader::new(flate2::read::MultiGzDecoder::new(&body[..])).split(b'\n') {
        let line = line.map_err(|e| format!("{}: {e}", lake.url(key)))?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let converted = record(&line).map_err(|_| ()).and_then(|obj| {
            let values: Vec<Option<Value>> = cols
                .iter()
                .map(|c| field(&obj, &c.name).map(Value::Json))
                .collect();
            rows.push(&values).map_err(|_| ())
        });
        if converted.is_err() {
            bad += 1;
        }
    }
    Ok((rows.finish(), bad))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, RecordBatch, StringArray};
    use std::sync::Arc;

    fn rows(ids: &[&str]) -> Counted {
        let mut c = Counted::default();
        let batch = RecordBatch::try_from_iter([
            ("id", Arc::new(StringArray::from(ids.to_vec())) as _),
            ("n", Arc::new(Int64Array::from(vec![1; ids.len()])) as _),
        ])
        .unwrap();
        c.add(batch).unwrap();
        c
    }

    #[test]
    fn produced_and_landed_compare_as_multisets() {
        // Each record produced twice and landed twice: exact.
        let d = compare(&rows(&["a", "b", "a", "b"]), &rows(&["b", "a", "b", "a"]));
        assert_eq!((d.lost, d.again, d.foreign), (0, 0, 0));
        assert!(d.sample.is_empty());
        // Produced once, landed twice; produced once, never landed; landed, never produced.
        let d = compare(&rows(&["a", "b", "c"]), &rows(&["a", "a", "b", "z"]));
        assert_eq!((d.lost, d.again, d.foreign), (1, 1, 1));
        assert_eq!(d.sample[0]["id"], "a");
        assert_eq!(d.sample[0]["occurrences"], 2);
        assert_eq!(d.sample[0]["produced"], 1);
        assert_eq!(d.sample[1]["id"], "c");
        assert_eq!(d.sample[1]["occurrences"], 0);
        // Produced twice, landed once: one copy lost, named.
        let d = compare(&rows(&["a", "a"]), &rows(&["a"]));
        assert_eq!((d.lost, d.again), (1, 0));
        assert_eq!(d.sample[0]["produced"], 2);
    }
}
