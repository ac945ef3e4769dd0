//! MySQL and MariaDB tables read with a streaming text-protocol query, each row's values handed
//! to the declared columns' builders as the text the server sent (`schema::Rows` checks them
//! exactly, as it checks CSV values). The reading task packs the values of 4,096 rows into one
//! buffer (and frees the rows), the converting thread reads them from it: the two halves run on
//! two cores and meet once per chunk.

use super::convert::{BATCH_ROWS, Bad, Part, Sink, Spec, Summary, above, pipelined};
use crate::schema::{Rows, Value};
use mysql_async::prelude::Queryable;

/// Rows per chunk handed from the reading task to the converter.
const CHUNK_ROWS: usize = 4096;

/// The values of some rows, one after another: each a range of `data`, or NULL.
pub struct Chunk {
    data: Vec<u8>,
    cells: Vec<Option<(u32, u32)>>,
}

pub type Chunks = tokio::sync::mpsc::Receiver<Result<Chunk, String>>;

/// Run `sql` and send its rows in chunks; an error is sent as the last chunk.
pub async fn send(
    mut conn: mysql_async::Conn,
    sql: String,
    tx: tokio::sync::mpsc::Sender<Result<Chunk, String>>,
) -> Result<(), String> {
    let mut result = conn
        .query_iter(sql)
        .await
        .map_err(|e| super::sources::mysql_error(&e))?;
    let fresh = || Chunk {
        data: Vec::with_capacity(256 << 10),
        cells: vec![],
    };
    let mut chunk = fresh();
    let mut rows = 0;
    loop {
        match result.next().await {
            Ok(Some(row)) => {
                for i in 0..row.len() {
                    chunk.cells.push(match row.as_ref(i) {
                        Some(mysql_async::Value::Bytes(b)) => {
                            let start = chunk.data.len() as u32;
                            chunk.data.extend_from_slice(b);
                            Some((start, chunk.data.len() as u32))
                        }
                        _ => None,
                    });
                }
                rows += 1;
                if rows == CHUNK_ROWS {
                    rows = 0;
                    if tx
                        .send(Ok(std::mem::replace(&mut chunk, fresh())))
                        .await
                        .is_err()
                    {
                        return Ok(());
                    }
                }
            }
            Ok(None) => break,
            Err(e) => {
                let _ = tx.send(Err(super::sources::mysql_error(&e))).await;
                return Ok(());
            }
        }
    }
    if rows > 0 {
        let _ = tx.send(Ok(chunk)).await;
    }
    drop(result);
    let _ = conn.disconnect().await;
    Ok(())
}

/// Load MySQL's rows, as `send` hands them on, into parts.
pub fn load(
    chunks: Chunks,
    spec: &Spec,
    emit: &mut (dyn FnMut(Part) -> Result<(), String> + Send),
) -> Result<Summary, String> {
    pipelined(&spec.cols, emit, |sink| rows(chunks, spec, sink))
}

/// Convert the rows of `chunks` (the declared columns, in order) on this blocking thread.
fn rows(mut chunks: Chunks, spec: &Spec, sink: &mut Sink) -> Result<Summary, String> {
    let mut sum = Summary::default();
    let mut rows = Rows::new(&spec.cols);
    let mut n = 0u64;
    let width = spec.cols.len();
    while let Some(chunk) = chunks.blocking_recv() {
        let chunk = chunk.map_err(|e| format!("{}: {e}", spec.source))?;
        sum.bytes_in += chunk.data.len() as u64;
        for row in chunk.cells.chunks(width) {
            n += 1;
            let mut values: Vec<Option<Value>> = Vec::with_capacity(width);
            let mut error = None;
            for (c, cell) in spec.cols.iter().zip(row) {
                values.push(match cell {
                    Some((start, end)) => {
                        let b = &chunk.data[*start as usize..*end as usize];
                        match std::str::from_utf8(b) {
                            Ok(t) => Some(Value::Text(t)),
                            Err(e) => {
                                error.get_or_insert(format!(
                                    "column `{}`: not UTF-8 text ({e})",
                                    c.name
                                ));
                                None
                            }
                        }
                    }
                    None => None,
                });
            }
            // A row without a mark is kept, as every loader keeps it.
            if let Some((wi, lo)) = &spec.watermark
                && !above(
                    spec,
                    *wi,
                    lo,
                    Some(text(&values[*wi]).unwrap_or("")),
                    &mut sum,
                )
            {
                continue;
            }
            let pushed = match error {
                Some(e) => Err(e),
                None => rows.push(&values),
            };
            match pushed {
                Ok(()) => sum.rows += 1,
                Err(error) => {
                    let texts = values.iter().map(|v| text(v).map(str::to_string)).collect();
                    sum.bad.push(Bad::of_row(spec, n, texts, error));
                }
            }
            if rows.len() >= BATCH_ROWS {
                sink(rows.finish())?;
            }
        }
    }
    if !rows.is_empty() {
        sink(rows.finish())?;
    }
    Ok(sum)
}

fn text<'a>(v: &'a Option<Value<'a>>) -> Option<&'a str> {
    match v {
        Some(Value::Text(t)) => Some(t),
        _ => None,
    }
}
