//! Reconciliation across hops, which dekit can do because it owns both ends: every record
//! `dekit produce` sent to a stream (counted in `_dekit/produced/<stream>/`) against the rows of
//! the raw table the stream fills, and records that landed twice (identical rows).
//!
//! And every batch-loaded table's last load: the rows its source gave (written + sent to the
//! error prefix) against the rows in the Parquet parts the load left in the lake (their footers'
//! counts), so a part lost or duplicated after the load shows.
//!
//! Example: 300 produced, 299 rows in `clickstream_events` → `clickstream.reconcile` fails with
//! "produced 300, landed 299: 1 lost".

use super::runner::{Outcome, Verdict, to_json};
use crate::run::lake::Lake;
use crate::transform::errors::message;
use crate::transform::session::Catalog;
use datafusion::prelude::SessionContext;
use std::time::Instant;

pub fn produced_prefix(stream: &str) -> String {
    format!("_dekit/produced/{stream}/")
}

/// One outcome per stream that `produce` sent records to and a table is filled from.
pub async fn streams(
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
        let keys = lake
            .list(&produced_prefix(stream))
            .await
            .map_err(|e| e.to_string())?;
        if keys.is_empty() {
            continue; // nothing produced through dekit: nothing to reconcile
        }
        let started = Instant::now();
        let mut produced = 0u64;
        for k in &keys {
            let doc: Option<serde_json::Value> =
                lake.get_json(k).await.map_err(|e| e.to_string())?;
            produced += doc
                .as_ref()
                .and_then(|d| d["records"].as_u64())
                .ok_or_else(|| format!("{}: no `records` count", lake.url(k)))?;
        }
        let cols: Vec<String> = t
            .columns
            .iter()
            .map(|(c, _)| crate::quality::name(&c.value))
            .collect();
        let list = cols.join(", ");
        let rel = crate::quality::name(&table.value);
        let count_sql = format!(
            "SELECT count(*) AS landed, (SELECT count(*) FROM (SELECT {list} FROM {rel} GROUP BY {list} HAVING count(*) > 1) d) AS duplicated FROM {rel}"
        );
        let dup_sql = format!(
            "SELECT {list}, count(*) AS occurrences FROM {rel} GROUP BY {list} HAVING count(*) > 1"
        );
        let mut o = Outcome::new(
            format!("{}.reconcile(produced -> {})", stream.value, table.value),
            &table.value,
            "reconcile",
            count_sql.clone(),
        );
        let counts = async {
            let b = ctx
                .sql(&count_sql)
                .await
                .map_err(|e| message(&e))?
                .collect()
                .await
                .map_err(|e| message(&e))?;
            let v = to_json(&b, 1);
            let get = |k: &str| v.first().and_then(|r| r[k].as_u64()).unwrap_or(0);
            Ok::<_, String>((get("landed"), get("duplicated")))
        };
        match counts.await {
            Ok((landed, duplicated)) => {
                let distinct_landed = landed.saturating_sub(duplicated);
                let lost = produced.saturating_sub(distinct_landed);
                let mut parts = vec![format!("produced {produced}, landed {landed}")];
                if lost > 0 {
                    parts.push(format!("{lost} lost"));
                }
                if duplicated > 0 {
                    parts.push(format!("{duplicated} records landed more than once"));
                    if let Ok(df) = ctx.sql(&dup_sql).await
                        && let Ok(b) = df.collect().await
                    {
                        o.sample = to_json(&b, 5);
                    }
                }
                if landed > produced + duplicated {
                    parts.push(format!(
                        "{} more rows than produced (records sent another way?)",
                        landed - produced - duplicated
                    ));
                }
                o.failures = lost + duplicated;
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

/// One outcome per batch-loaded table with a committed load.
pub async fn loads(
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
            let Some(last) = crate::run::batch::last_load(lake, batch, table).await? else {
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
