//! MySQL and MariaDB tables read with a streaming text-protocol query, each row's values handed
//! straight to the declared columns' builders as the text the server sent (`schema::Rows` checks
//! them exactly, as it checks CSV values), in chunks of rows so the reading task and the
//! converting thread meet once per chunk, not once per row.

use super::convert::{Bad, Sink, Spec, Summary, above};
use crate::schema::{Rows, Value};
use mysql_async::prelude::Queryable;

/// Rows per chunk handed from the reading task to the converter.
const CHUNK_ROWS: usize = 4096;
/// Rows per batch handed to the encoder.
const BATCH_ROWS: usize = 8192;

pub type Chunks = tokio::sync::mpsc::Receiver<Result<Vec<mysql_async::Row>, String>>;

/// Run `sql` and send its rows in chunks; an error is sent as the last chunk.
pub async fn send(
    mut conn: mysql_async::Conn,
    sql: String,
    tx: tokio::sync::mpsc::Sender<Result<Vec<mysql_async::Row>, String>>,
) -> Result<(), String> {
    let mut result = conn
        .query_iter(sql)
        .await
        .map_err(|e| super::sources::mysql_error(&e))?;
    let mut chunk = Vec::with_capacity(CHUNK_ROWS);
    loop {
        match result.next().await {
            Ok(Some(row)) => {
                chunk.push(row);
                if chunk.len() == CHUNK_ROWS
                    && tx
                        .send(Ok(std::mem::replace(
                            &mut chunk,
                            Vec::with_capacity(CHUNK_ROWS),
                        )))
                        .await
                        .is_err()
                {
                    return Ok(());
                }
            }
            Ok(None) => break,
            Err(e) => {
                let _ = tx.send(Err(super::sources::mysql_error(&e))).await;
                return Ok(());
            }
        }
    }
    if !chunk.is_empty() {
        let _ = tx.send(Ok(chunk)).await;
    }
    drop(result);
    let _ = conn.disconnect().await;
    Ok(())
}

/// Convert the rows of `chunks` (the declared columns, in order) on this blocking thread.
pub fn rows(mut chunks: Chunks, spec: &Spec, sink: &mut Sink) -> Result<Summary, String> {
    let mut sum = Summary::default();
    let mut rows = Rows::new(&spec.cols);
    let mut n = 0u64;
    while let Some(chunk) = chunks.blocking_recv() {
        for row in chunk.map_err(|e| format!("{}: {e}", spec.source))? {
            n += 1;
            let mut values: Vec<Option<Value>> = Vec::with_capacity(spec.cols.len());
            let mut error = None;
            for (i, c) in spec.cols.iter().enumerate() {
                values.push(match row.as_ref(i) {
                    Some(mysql_async::Value::Bytes(b)) => {
                        sum.bytes_in += b.len() as u64;
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
                    _ => None,
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
                Err(error) => sum.bad.push(Bad {
                    source: spec.source.clone(),
                    at: format!(
                        "row {n} ({} = {})",
                        spec.cols[0].name,
                        text(&values[0]).unwrap_or_default()
                    ),
                    error,
                    row: serde_json::Value::Object(
                        values
                            .iter()
                            .enumerate()
                            .map(|(i, v)| {
                                let v = text(v).map_or(serde_json::Value::Null, |t| t.into());
                                (spec.source_name(i).to_string(), v)
                            })
                            .collect(),
                    ),
                }),
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
