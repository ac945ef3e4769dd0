//! The SQL checks by the local engine (DataFusion over the lake): the failing count; when it is
//! not 0, every failing row, a sample of five shown and all stored as Parquet under
//! `_dekit/failures/` in the lake.

use super::outcome::{At, Found, first_int, to_json};
use crate::checks::Query;
use crate::lake::Lake;
use crate::transform::errors::message;
use datafusion::prelude::SessionContext;

/// One check: failing count, sample, and where every failing row was stored.
pub async fn count_and_store(
    ctx: &SessionContext,
    q: &Query,
    lake: &Lake,
    at: &At<'_>,
) -> Result<Found, String> {
    let batches = ctx
        .sql(&q.count)
        .await
        .map_err(|e| message(&e))?
        .collect()
        .await
        .map_err(|e| message(&e))?;
    let n = first_int(&batches)?;
    if n == 0 {
        return Ok(Found::default());
    }
    let df = ctx.sql(&q.rows).await.map_err(|e| message(&e))?;
    let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
    let rows = df.collect().await.map_err(|e| message(&e))?;
    let sample = to_json(&rows, 5);
    let key = at.key(".parquet");
    let mut body = vec![];
    let mut w = datafusion::parquet::arrow::ArrowWriter::try_new(&mut body, schema, None)
        .map_err(|e| e.to_string())?;
    for b in &rows {
        w.write(b).map_err(|e| e.to_string())?;
    }
    w.close().map_err(|e| e.to_string())?;
    lake.put(&key, body).await.map_err(|e| e.to_string())?;
    Ok(Found {
        failures: n,
        sample,
        stored: Some(lake.url(&key)),
        message: None,
        skipped: false,
    })
}
