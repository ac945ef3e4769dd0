//! Batch loads: each table's last load against the rows in the Parquet parts it left.

use crate::lake::Lake;
use crate::quality::outcome::{Outcome, Verdict};
use crate::transform::session::Catalog;
use std::time::Instant;

/// One outcome per batch-loaded table with a committed load.
pub async fn against_sources(
    cat: Catalog<'_>,
    lake: &Lake,
    relations: &[String],
) -> Result<Vec<Outcome>, String> {
    let s = &cat.checked.loaded.stack;
    let mut out = vec![];
    for (batch, b) in s.ingest.batch.iter() {
        let tables = s
            .tables
            .iter()
            .filter(|(_, t)| t.from.as_ref().is_some_and(|f| f.value == batch.value))
            .map(|(n, _)| n);
        for table in tables {
            if !relations.is_empty() && !relations.contains(&table.value) {
                continue;
            }
            let Some(last) = crate::records::last_load(lake, batch, table).await? else {
                continue;
            };
            let started = Instant::now();
            let mut o = Outcome::new(
                format!(
                    "{table}.reconcile({}.{} -> lake)",
                    b.source.value, table.value
                ),
                &table.value,
                "reconcile",
                String::new(),
            );
            if last.objects.is_empty() {
                // Recorded before dekit kept the parts' prefix: nothing to count them by.
                o.verdict = Verdict::Skipped;
                o.message = format!(
                    "skipped: load {} was recorded without the prefix of its parts; the next load of `{}` records it",
                    last.load_id, batch.value
                );
                out.push(o);
                continue;
            }
            match rows_in_parts(lake, &last.objects).await {
                Ok((in_lake, parts)) => {
                    let read = last.rows + last.bad;
                    let mut msg = format!(
                        "load {}: read {read} from {}, {} written, {} to the error prefix; {in_lake} rows in {parts} parts in the lake",
                        last.load_id, b.source.value, last.rows, last.bad
                    );
                    if in_lake < last.rows {
                        msg.push_str(&format!(": {} lost", last.rows - in_lake));
                    } else if in_lake > last.rows {
                        msg.push_str(&format!(
                            ": {} more than written (duplicated parts?)",
                            in_lake - last.rows
                        ));
                    }
                    o.failures = in_lake.abs_diff(last.rows);
                    o.verdict = if o.failures > 0 {
                        Verdict::Fail
                    } else {
                        Verdict::Pass
                    };
                    o.sample = vec![serde_json::json!({
                        "load_id": last.load_id, "read": read, "written": last.rows,
                        "bad": last.bad, "in_lake": in_lake, "parts": parts,
                        "prefix": lake.url(&last.objects),
                    })];
                    o.message = msg;
                }
                Err(e) => {
                    o.verdict = Verdict::Error;
                    o.message = e;
                }
            }
            o.duration_ms = started.elapsed().as_millis() as u64;
            out.push(o);
        }
    }
    Ok(out)
}

/// Rows in every Parquet part under `prefix`, from their footers, and how many parts.
async fn rows_in_parts(lake: &Lake, prefix: &str) -> Result<(u64, usize), String> {
    let keys = lake.list(prefix).await.map_err(|e| e.to_string())?;
    let mut rows = 0u64;
    for k in &keys {
        let body = lake
            .get(k)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("{} vanished while counting", lake.url(k)))?;
        let meta = datafusion::parquet::file::metadata::ParquetMetaDataReader::new()
            .parse_and_finish(&bytes::Bytes::from(body))
            .map_err(|e| format!("{}: not Parquet: {e}", lake.url(k)))?;
        rows += meta.file_metadata().num_rows().max(0) as u64;
    }
    Ok((rows, keys.len()))
}
