//! HTTP API exports (`to:` an `http_api` source): the rows as JSON (decimals as exact strings),
//! `{"rows": [...]}` in requests
//! of `batch_size` rows, `POST` (or `PUT`) to the source's `url` plus the export's `path`, with the
//! source's token as a bearer token. Each request carries an `Idempotency-Key` derived from the
//! export and the batch's rows, so a retried or re-sent batch is one the API can recognise. 429
//! and 5xx answers and network errors are retried with backoff, honouring `Retry-After`; requests
//! are paced to `rate_per_second`. What the API refuses goes to the error prefix with the row's
//! key: a 2xx answer may name rows (`{"errors": [{"index": i, "error": "..."}]}`), and another
//! 4xx refuses the batch's rows. The sync state's fingerprint skips an unchanged export.

use super::super::Ctx;
use crate::model::{HttpMethod, Source};
use crate::records::{SyncState, export_state_key};
use crate::stats::{Progress, StepStats};
use datafusion::arrow::array::RecordBatch;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Attempts per request before the export fails.
const ATTEMPTS: u32 = 8;

pub struct Export<'a> {
    pub name: &'a str,
    pub e: &'a crate::model::Export,
    pub source: &'a str,
    pub src: &'a Source,
    pub keys: &'a [String],
    pub run_id: &'a str,
}

/// A batch with its decimals as strings (`"10.50"`): a JSON number would go through a float on
/// the way, and money must arrive exactly.
fn decimals_as_text(b: &RecordBatch) -> Result<RecordBatch, String> {
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    let mut fields = vec![];
    let mut columns = vec![];
    for (f, c) in b.schema().fields().iter().zip(b.columns()) {
        if matches!(
            f.data_type(),
            DataType::Decimal128(..) | DataType::Decimal256(..)
        ) {
            fields.push(Field::new(f.name(), DataType::Utf8, true));
            columns.push(
                datafusion::arrow::compute::cast(c, &DataType::Utf8).map_err(|e| e.to_string())?,
            );
        } else {
            fields.push(f.as_ref().clone());
            columns.push(c.clone());
        }
    }
    RecordBatch::try_new(std::sync::Arc::new(Schema::new(fields)), columns)
        .map_err(|e| e.to_string())
}

/// The rows as JSON objects (NULLs kept as `null`, decimals as exact strings).
fn objects(batches: &[RecordBatch]) -> Result<Vec<serde_json::Map<String, Value>>, String> {
    use datafusion::arrow::json::{ArrayWriter, WriterBuilder};
    let mut buf = vec![];
    {
        let mut w: ArrayWriter<_> = WriterBuilder::new()
            .with_explicit_nulls(true)
            .build(&mut buf);
        for b in batches {
            w.write(&decimals_as_text(b)?).map_err(|e| e.to_string())?;
        }
        w.finish().map_err(|e| e.to_string())?;
    }
    if buf.is_empty() {
        return Ok(vec![]);
    }
    match serde_json::from_slice(&buf).map_err(|e| e.to_string())? {
        Value::Array(rows) => Ok(rows
            .into_iter()
            .filter_map(|r| match r {
                Value::Object(o) => Some(o),
                _ => None,
            })
            .collect()),
        _ => Err("the rows did not encode as a JSON array".into()),
    }
}

fn key_of(keys: &[String], row: &serde_json::Map<String, Value>) -> String {
    keys.iter()
        .map(|k| format!("{k} = {}", row.get(k).unwrap_or(&Value::Null)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Seconds a 429 or 503 asks to wait (`Retry-After: <seconds>`), at most a minute.
fn retry_after(h: &reqwest::header::HeaderMap) -> Option<Duration> {
    let secs: f64 = h.get("retry-after")?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs_f64(secs.clamp(0.0, 60.0)))
}

/// How one batch ended: refused rows (index in the batch, error).
enum Sent {
    Delivered(Vec<(usize, String)>),
    Refused(String),
}

#[derive(Default)]
struct Counts {
    requests: u64,
    retried: u64,
    throttled: u64,
}

// Long: one export: rows, fingerprint, then each batch sent, paced and retried, and the state.
pub async fn run(
    ctx: &Ctx,
    x: &Export<'_>,
    batches: &[RecordBatch],
    progress: &Progress,
) -> Result<StepStats, String> {
    let name = x.name;
    let api = crate::run::http::Api::of_source(x.source, x.src)?;
    let token = api.token;
    let path =
        x.e.path
            .as_ref()
            .map_or_else(|| format!("/{name}"), |p| p.value.clone());
    let url = format!(
        "{}/{}",
        api.base.trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    let method = x.e.method.as_ref().map(|m| m.value).unwrap_or_default();
    let size = x.e.batch_size.as_ref().map_or(100, |b| b.value.max(1)) as usize;
    let gap =
        x.e.rate_per_second
            .as_ref()
            .filter(|r| r.value > 0)
            .map(|r| Duration::from_secs_f64(1.0 / f64::from(r.value)));
    let target = x.e.target(name).unwrap_or_default();

    let rows = objects(batches)?;
    let fingerprint = {
        let mut text = format!("{target}\n{method:?}\n{size}\n");
        for r in &rows {
            text.push_str(&Value::Object(r.clone()).to_string());
            text.push('\n');
        }
        crate::hash::sha256(&text)
    };
    let state_key = export_state_key(name);
    let last: Option<SyncState> = ctx
        .lake
        .get_json(&state_key)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(last) = last.filter(|l| l.fingerprint == fingerprint) {
        return Ok(StepStats {
            notes: vec![format!(
                "{name}: {} rows unchanged since run {}: nothing sent to {target}",
                rows.len(),
                last.run_id
            )],
            ..Default::default()
        });
    }

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;
    let mut counts = Counts::default();
    let mut rejected: Vec<(String, String)> = vec![];
    let mut next_at = Instant::now();
    for (n, chunk) in rows.chunks(size).enumerate() {
        let body = json!({ "rows": chunk });
        let idempotency = crate::hash::sha256(&format!("{name}\n{body}"))[..32].to_string();
        let mut attempt = 0;
        let sent = loop {
            attempt += 1;
            if let Some(g) = gap {
                tokio::time::sleep_until(next_at.into()).await;
                next_at = Instant::now() + g;
            }
            counts.requests += 1;
            let mut req = match method {
                HttpMethod::Post => client.post(&url),
                HttpMethod::Put => client.put(&url),
            }
            .header("Idempotency-Key", &idempotency)
            .header("content-type", "application/json")
            .body(body.to_string());
            if let Some(t) = &token {
                req = req.bearer_auth(t);
            }
            let (wait, why) = match req.send().await {
                Ok(r) if r.status().is_success() => {
                    let text = r.text().await.unwrap_or_default();
                    let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    let refused = answer["errors"]
                        .as_array()
                        .map(|errs| {
                            errs.iter()
                                .filter_map(|e| {
                                    let i = e["index"].as_u64()? as usize;
                                    let msg = e["error"]
                                        .as_str()
                                        .or(e["message"].as_str())
                                        .unwrap_or("refused")
                                        .to_string();
                                    (i < chunk.len()).then_some((i, msg))
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    break Sent::Delivered(refused);
                }
                Ok(r) if r.status().as_u16() == 429 || r.status().is_server_error() => {
                    if r.status().as_u16() == 429 {
                        counts.throttled += 1;
                    }
                    (retry_after(r.headers()), format!("HTTP {}", r.status()))
                }
                Ok(r) => {
                    let status = r.status();
                    let text = r.text().await.unwrap_or_default();
                    let text: String = text.chars().take(200).collect();
                    break Sent::Refused(format!("HTTP {status}: {text}"));
                }
                Err(e) => (
                    None,
                    if e.is_timeout() {
                        "timed out".to_string()
                    } else {
                        "cannot connect".to_string()
                    },
                ),
            };
            if attempt >= ATTEMPTS {
                return Err(format!(
                    "export `{name}`: request {} (rows {}..{}) to {target} failed {ATTEMPTS} times, last: {why}; rows sent before it were delivered, a rerun sends every batch again with the same idempotency keys",
                    n + 1,
                    n * size + 1,
                    n * size + chunk.len()
                ));
            }
            counts.retried += 1;
            // Backoff: 0.25 s doubling to 8 s, unless the API said how long to wait.
            let backoff =
                Duration::from_millis(250 << (attempt - 1).min(5)).min(Duration::from_secs(8));
            tokio::time::sleep(wait.unwrap_or(backoff)).await;
        };
        match sent {
            Sent::Delivered(refused) => {
                rejected.extend(
                    refused
                        .into_iter()
                        .map(|(i, e)| (key_of(x.keys, &chunk[i]), e)),
                );
            }
            Sent::Refused(e) => {
                rejected.extend(chunk.iter().map(|r| (key_of(x.keys, r), e.clone())));
            }
        }
        progress.add(chunk.len() as u64, 0);
    }
    let delivered = rows.len() as u64 - rejected.len() as u64;
    let mut notes = vec![format!(
        "{name}: {} rows of {} to {target} in {} requests ({} retried, {} throttled): {delivered} delivered, {} refused",
        rows.len(),
        x.e.from.value,
        counts.requests,
        counts.retried,
        counts.throttled,
        rejected.len()
    )];
    if !rejected.is_empty() {
        let errors = super::reject(ctx, name, x.e, x.run_id, &target, &rejected).await?;
        notes.push(format!(
            "{name}: {} rows refused by {target}: {errors}",
            rejected.len()
        ));
    }
    let state = SyncState {
        fingerprint,
        target: target.clone(),
        mode: format!("{method:?}").to_uppercase(),
        run_id: x.run_id.into(),
        at: crate::clock::now().to_rfc3339(),
        rows: rows.len() as u64,
        inserted: delivered,
        updated: 0,
        deleted: 0,
        rejected: rejected.len() as u64,
        // What the API acknowledged: the rows delivered.
        read_back: delivered,
    };
    // Sent rows cannot be taken back: the state records them even when the step then fails on
    // refusals, so an unchanged rerun does not send them again.
    ctx.lake
        .put_json(&state_key, &state)
        .await
        .map_err(|e| e.to_string())?;
    if rejected.len() as u64 > ctx.max_bad_rows {
        return Err(format!(
            "export `{name}`: {} rows refused by {target} (more than --max-bad-rows {}): {}",
            rejected.len(),
            ctx.max_bad_rows,
            notes.last().cloned().unwrap_or_default()
        ));
    }
    Ok(StepStats {
        rows: delivered,
        bad: rejected.len() as u64,
        notes,
        ..Default::default()
    })
}
