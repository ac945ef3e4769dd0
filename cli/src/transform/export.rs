//! `serving.exports`: a model, view or table written as files for consumers outside the catalog
//! (an ML training job, a partner), with keys that depend only on the export and the part number
//! (`part-00000.parquet`, ...), and `_manifest.json` written last: row count, schema, source, run
//! id and the files. A consumer that reads the manifest reads a complete export.

use super::errors::message;
use super::session::{self, Catalog};
use super::types;
use crate::lake::Lake;
use crate::model::DataFormat;
use crate::stats::{Progress, StepStats};
use datafusion::arrow::array::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::WriterProperties;
use futures_util::StreamExt;
use serde_json::json;

/// Rows per file: parts stay a few tens of MiB for typical feature tables.
const PART_ROWS: usize = 1_000_000;

// Long: one export: query, encode parts, write, manifest, in the order a reader relies on.
pub async fn run(
    cat: Catalog<'_>,
    lake: &Lake,
    name: &str,
    run_id: &str,
    progress: &Progress,
) -> Result<StepStats, String> {
    let s = &cat.checked.loaded.stack;
    let e = s
        .serving
        .exports
        .get(name)
        .ok_or_else(|| format!("no export `{name}`"))?;
    let names = crate::names::Names::new(&cat.checked.loaded);
    let prefix = names.export_prefix(name, e);
    let ctx = session::new(cat)?;
    session::register_all(&ctx, cat, [e.from.value.as_str()]).await?;
    // Sorted by every column: the same data gives the same files, byte for byte.
    let df = ctx
        .table(e.from.value.to_ascii_lowercase().as_str())
        .await
        .map_err(|e| message(&e))?;
    let cols: Vec<_> = df
        .schema()
        .columns()
        .into_iter()
        .map(|c| datafusion::prelude::col(c).sort(true, true))
        .collect();
    let df = df.sort(cols).map_err(|e| message(&e))?;
    let schema = df.schema().as_arrow().clone();
    let columns = types::columns(&schema)?;
    let mut stream = df.execute_stream().await.map_err(|e| message(&e))?;

    let ext = match e.format {
        DataFormat::Parquet => "parquet",
        DataFormat::Csv => "csv",
        DataFormat::Json => "jsonl",
    };
    let mut files = vec![];
    let mut rows = 0u64;
    let mut part: Vec<RecordBatch> = vec![];
    let mut part_rows = 0;
    loop {
        let next = stream.next().await.transpose().map_err(|e| message(&e))?;
        let done = next.is_none();
        if let Some(b) = next {
            part_rows += b.num_rows();
            part.push(b);
        }
        if (done && (!part.is_empty() || files.is_empty())) || part_rows >= PART_ROWS {
            let key = format!("{prefix}part-{:05}.{ext}", files.len());
            let body = encode(&schema, &part, e.format)?;
            let n: usize = part.iter().map(RecordBatch::num_rows).sum();
            progress.add(n as u64, body.len() as u64);
            lake.put(&key, body).await.map_err(|e| e.to_string())?;
            files.push(json!({ "key": key, "rows": n }));
            rows += n as u64;
            part.clear();
            part_rows = 0;
        }
        if done {
            break;
        }
    }
    // Parts of a larger earlier export that this one did not write again.
    let written: Vec<&str> = files.iter().filter_map(|f| f["key"].as_str()).collect();
    let mut removed = 0;
    for key in lake.list(&prefix).await.map_err(|e| e.to_string())? {
        let name_part = &key[prefix.len()..];
        if name_part.starts_with("part-") && !written.contains(&key.as_str()) {
            lake.delete(&key).await.map_err(|e| e.to_string())?;
            removed += 1;
        }
    }
    let manifest = json!({
        "export": name,
        "source": e.from.value,
        "run_id": run_id,
        "format": e.format.as_str(),
        "consumer": e.consumer,
        "row_count": rows,
        "schema": columns.iter().map(|(n, t)| json!({ "name": n, "type": t })).collect::<Vec<_>>(),
        "files": files,
        "written_at": crate::clock::now().to_rfc3339(),
    });
    let mkey = format!("{prefix}_manifest.json");
    lake.put_json(&mkey, &manifest)
        .await
        .map_err(|e| e.to_string())?;
    let mut notes = vec![format!(
        "{name}: {rows} rows of {} to {}",
        e.from.value,
        lake.url(&prefix)
    )];
    if removed > 0 {
        notes.push(format!(
            "{name}: removed {removed} parts of an earlier, larger export"
        ));
    }
    Ok(StepStats {
        rows,
        objects: files.len() as u64 + 1,
        notes,
        ..Default::default()
    })
}

fn encode(
    schema: &datafusion::arrow::datatypes::Schema,
    batches: &[RecordBatch],
    format: DataFormat,
) -> Result<Vec<u8>, String> {
    let schema = std::sync::Arc::new(schema.clone());
    let mut out = vec![];
    match format {
        DataFormat::Parquet => {
            let props = WriterProperties::builder()
                .set_compression(Compression::SNAPPY)
                .build();
            let mut w =
                ArrowWriter::try_new(&mut out, schema, Some(props)).map_err(|e| e.to_string())?;
            for b in batches {
                w.write(b).map_err(|e| e.to_string())?;
            }
            w.close().map_err(|e| e.to_string())?;
        }
        DataFormat::Csv => {
            let mut w = datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut out);
            for b in batches {
                w.write(b).map_err(|e| e.to_string())?;
            }
        }
        DataFormat::Json => {
            let mut w = datafusion::arrow::json::LineDelimitedWriter::new(&mut out);
            for b in batches {
                w.write(b).map_err(|e| e.to_string())?;
            }
            w.finish().map_err(|e| e.to_string())?;
        }
    }
    Ok(out)
}
