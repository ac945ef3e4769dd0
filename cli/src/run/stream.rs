//! A stream step (`ingest.streams`): the stream's records land in the lake exactly once.
//!
//! Where Firehose reads the stream (AWS; MiniStack locally), Firehose delivers and the step reports
//! what it delivered. Otherwise (a stream without `delivery:`, or LocalStack, whose Firehose cannot
//! read Kinesis) the landing reads every shard itself:
//! - one reader per shard; a shard starts only once its parents are finished (after a reshard);
//! - batches are cut by data only: a record count, a byte size, or the record's arrival-time
//!   bucket changing, never the wall clock, so a re-read cuts the same batches;
//! - each batch is one object keyed `<shard>/<first seq>-<last seq>`, written with
//!   `If-None-Match: *` (a 412 means it is already there), and only then is the checkpoint (shard →
//!   last sequence number) saved in the lake;
//! - a run that died between object and checkpoint finds the objects past its checkpoint and
//!   resumes after the last of them, so no record is written twice and none is lost.

use super::Ctx;
use super::convert::Bad;
use crate::cloud::error::from_sdk;
use crate::schema::{Column, Rows, Value};
use crate::stats::{Progress, StepStats};
use aws_sdk_kinesis::types::ShardIteratorType;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::io::Write;

const MAX_RECORDS: usize = 10_000;
const MAX_BYTES: usize = 5 << 20;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Checkpoint {
    /// The last sequence number landed.
    sequence: Option<String>,
    /// The shard is closed and every record of it landed.
    finished: bool,
}

struct Landing {
    stream: String,
    name: String,
    /// Key prefix of landed objects, ending in `/`.
    prefix: String,
    errors: String,
    gzip: bool,
    cols: Option<Vec<Column>>,
    bucket_secs: i64,
}

pub async fn run(ctx: &Ctx, name: &str, progress: &Progress) -> Result<StepStats, String> {
    let s = &ctx.checked.loaded.stack;
    let st = s
        .ingest
        .streams
        .get(name)
        .ok_or_else(|| format!("no stream `{name}`"))?;
    let node = ctx
        .graph
        .get(&format!("ingest.{name}"))
        .ok_or_else(|| format!("no step `ingest.{name}`"))?;
    let physical = node.attrs["stream"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let delivers_to = node.attrs.get("delivers_to").and_then(|v| v.as_str());
    let firehose_reads = !ctx.local || ctx.engine.firehose_reads_kinesis();
    if let (Some(url), true) = (delivers_to, firehose_reads) {
        // Firehose delivers: say what is there.
        let prefix = url
            .strip_prefix(&format!("s3://{}/", ctx.lake.bucket))
            .unwrap_or_default();
        let objects = ctx.lake.list(prefix).await.map_err(|e| e.to_string())?;
        return Ok(StepStats {
            objects: objects.len() as u64,
            notes: vec![format!(
                "{name}: delivered by Firehose; {} objects under {url}",
                objects.len()
            )],
            ..StepStats::default()
        });
    }
    let table = s
        .tables
        .iter()
        .find(|(_, t)| t.from.as_ref().is_some_and(|f| f.value == name));
    let (prefix, zone) = match (&st.delivery, table) {
        (Some(d), _) => {
            let url = delivers_to.unwrap_or_default();
            (
                url.strip_prefix(&format!("s3://{}/", ctx.lake.bucket))
                    .unwrap_or_default()
                    .to_string(),
                d.zone.value.clone(),
            )
        }
        (None, Some((t, tb))) => {
            let table = ctx
                .graph
                .catalog_table(&t.value)
                .ok_or_else(|| format!("table `{}` is not in the graph", t.value))?;
            (
                table
                    .prefix_in(&ctx.lake.bucket)
                    .unwrap_or_default()
                    .to_string(),
                tb.zone.value.clone(),
            )
        }
        (None, None) => {
            let zone = s
                .storage
                .lake
                .zones
                .iter()
                .next()
                .map(|(z, _)| z.value.clone())
                .unwrap_or_else(|| "raw".into());
            (format!("{}{name}/", ctx.names().zone_prefix(&zone)), zone)
        }
    };
    let cols = match table {
        Some((t, tb)) => Some(crate::schema::of_table(t, tb)?),
        None => None,
    };
    let gzip = match st.delivery.as_ref().map(|d| d.compression) {
        None | Some(crate::model::Compression::Gzip) => true,
        Some(crate::model::Compression::None) => false,
        Some(other) => {
            return Err(format!(
                "stream `{name}`: the landing writes gzip or uncompressed JSON lines, not {other:?}"
            ));
        }
    };
    let landing = Landing {
        stream: physical,
        name: name.to_string(),
        errors: format!("{}errors/{name}/", ctx.names().zone_prefix(&zone)),
        prefix,
        gzip,
        cols,
        bucket_secs: st
            .delivery
            .as_ref()
            .map_or(60, |d| d.buffer.interval_seconds.value.max(1) as i64),
    };
    land(ctx, &landing, progress).await
}

fn checkpoint_key(l: &Landing, shard: &str) -> String {
    format!("_dekit/state/streams/{}/{shard}.json", l.name)
}

async fn land(ctx: &Ctx, l: &Landing, progress: &Progress) -> Result<StepStats, String> {
    let k = &ctx.clients.kinesis;
    let mut shards = vec![];
    let mut token: Option<String> = None;
    loop {
        let mut req = k.list_shards();
        req = match &token {
            Some(t) => req.next_token(t),
            None => req.stream_name(&l.stream),
        };
        let page = req
            .send()
            .await
            .map_err(|e| from_sdk("ListShards", &l.stream, e).to_string())?;
        shards.extend(page.shards().iter().cloned());
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let ids: BTreeSet<String> = shards.iter().map(|s| s.shard_id().to_string()).collect();
    let mut finished: BTreeSet<String> = BTreeSet::new();
    let mut stats = StepStats::default();
    let mut pending: Vec<_> = shards.iter().collect();
    // Parents first: a child shard starts once every parent still listed is finished.
    while !pending.is_empty() {
        let before = pending.len();
        let mut next = vec![];
        for sh in pending {
            let parents: Vec<&str> = [sh.parent_shard_id(), sh.adjacent_parent_shard_id()]
                .into_iter()
                .flatten()
                .filter(|p| ids.contains(*p))
                .collect();
            if parents.iter().all(|p| finished.contains(*p)) {
                let (s, done) = land_shard(ctx, l, sh.shard_id(), progress).await?;
                stats.add(&s);
                if done {
                    finished.insert(sh.shard_id().to_string());
                }
            } else {
                next.push(sh);
            }
        }
        if next.len() == before {
            // Parents still open (they take new records): their children wait for a later run.
            break;
        }
        pending = next;
    }
    Ok(stats)
}

/// Land one shard from its checkpoint to its end (or to the latest record). Returns whether the
/// shard is closed and fully landed.
// Long: one shard's loop: read, convert, land, checkpoint, in the order that keeps it exactly once.
async fn land_shard(
    ctx: &Ctx,
    l: &Landing,
    shard: &str,
    progress: &Progress,
) -> Result<(StepStats, bool), String> {
    let lake = &ctx.lake;
    let k = &ctx.clients.kinesis;
    let mut cp: Checkpoint = lake
        .get_json(&checkpoint_key(l, shard))
        .await
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
    if cp.finished {
        return Ok((StepStats::default(), true));
    }
    // Objects written after the checkpoint (a run died before saving it) count as landed.
    let shard_prefix = format!("{}{shard}/", l.prefix);
    let past = cp
        .sequence
        .as_ref()
        .map(|seq| format!("{shard_prefix}{seq}"));
    let mut after = cp.sequence.clone();
    for key in lake
        .list_after(&shard_prefix, past.as_deref())
        .await
        .map_err(|e| e.to_string())?
    {
        if let Some(last) = key
            .strip_prefix(&shard_prefix)
            .and_then(|n| n.split_once('.'))
            .and_then(|(range, _)| range.split_once('-'))
            .map(|(_, last)| last.to_string())
            && after.as_ref().is_none_or(|a| seq_gt(&last, a))
        {
            after = Some(last);
        }
    }
    if after != cp.sequence {
        cp.sequence = after.clone();
        lake.put_json(&checkpoint_key(l, shard), &cp)
            .await
            .map_err(|e| e.to_string())?;
    }
    let it = match &after {
        Some(seq) => k
            .get_shard_iterator()
            .stream_name(&l.stream)
            .shard_id(shard)
            .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
            .starting_sequence_number(seq),
        None => k
            .get_shard_iterator()
            .stream_name(&l.stream)
            .shard_id(shard)
            .shard_iterator_type(ShardIteratorType::TrimHorizon),
    }
    .send()
    .await
    .map_err(|e| from_sdk("GetShardIterator", &format!("{}/{shard}", l.stream), e).to_string())?;
    let mut iterator = it.shard_iterator().map(str::to_string);
    let mut stats = StepStats::default();
    let mut batch: Vec<(String, i64, Vec<u8>)> = vec![];
    let mut batch_bytes = 0usize;
    let mut closed = false;
    while let Some(it) = iterator.take() {
        let r = get_records(ctx, l, shard, &it).await?;
        let empty = r.records().is_empty();
        for rec in r.records() {
            let seq = rec.sequence_number().to_string();
            let arrival = rec
                .approximate_arrival_timestamp()
                .map_or(0, |t| t.secs())
                .div_euclid(l.bucket_secs);
            let data = rec.data().as_ref().to_vec();
            let cut = batch.len() >= MAX_RECORDS
                || batch_bytes + data.len() > MAX_BYTES
                || batch.last().is_some_and(|(_, b, _)| *b != arrival);
            if cut {
                stats.add(&write_batch(ctx, l, shard, &batch).await?);
                progress.add(batch.len() as u64, batch_bytes as u64);
                crate::failpoint::failpoint("landing.after_object");
                save(ctx, l, shard, &mut cp, &batch, false).await?;
                batch.clear();
                batch_bytes = 0;
            }
            batch_bytes += data.len();
            batch.push((seq, arrival, data));
        }
        iterator = r.next_shard_iterator().map(str::to_string);
        if iterator.is_none() {
            closed = true;
        }
        if empty && r.millis_behind_latest().unwrap_or(0) == 0 {
            break;
        }
    }
    if !batch.is_empty() {
        stats.add(&write_batch(ctx, l, shard, &batch).await?);
        progress.add(batch.len() as u64, batch_bytes as u64);
        crate::failpoint::failpoint("landing.after_object");
    }
    if !batch.is_empty() || closed {
        save(ctx, l, shard, &mut cp, &batch, closed).await?;
    }
    Ok((stats, closed))
}

async fn get_records(
    ctx: &Ctx,
    l: &Landing,
    shard: &str,
    it: &str,
) -> Result<aws_sdk_kinesis::operation::get_records::GetRecordsOutput, String> {
    let mut delay = std::time::Duration::from_millis(200);
    for attempt in 0.. {
        match ctx
            .clients
            .kinesis
            .get_records()
            .shard_iterator(it)
            .limit(10_000)
            .send()
            .await
        {
            Ok(r) => return Ok(r),
            Err(e) => {
                let err = from_sdk("GetRecords", &format!("{}/{shard}", l.stream), e);
                if !err.is_retryable() || attempt >= 8 {
                    return Err(err.to_string());
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(std::time::Duration::from_secs(5));
            }
        }
    }
    unreachable!("the loop returns")
}

/// Advance the shard's checkpoint (kept in memory; this run is its only writer) and save it.
async fn save(
    ctx: &Ctx,
    l: &Landing,
    shard: &str,
    cp: &mut Checkpoint,
    batch: &[(String, i64, Vec<u8>)],
    finished: bool,
) -> Result<(), String> {
    if let Some((seq, _, _)) = batch.last() {
        cp.sequence = Some(seq.clone());
    }
    cp.finished = finished;
    ctx.lake
        .put_json(&checkpoint_key(l, shard), cp)
        .await
        .map_err(|e| e.to_string())
}

/// Kinesis sequence numbers are decimal strings of up to 128 bits: compare as numbers.
fn seq_gt(a: &str, b: &str) -> bool {
    (a.len(), a) > (b.len(), b)
}

/// One batch as one object (and its bad records as one error object), keyed by its sequence range.
async fn write_batch(
    ctx: &Ctx,
    l: &Landing,
    shard: &str,
    batch: &[(String, i64, Vec<u8>)],
) -> Result<StepStats, String> {
    let (Some(first), Some(last)) = (batch.first(), batch.last()) else {
        return Ok(StepStats::default());
    };
    let range = format!("{}-{}", first.0, last.0);
    let mut good = Vec::with_capacity(batch.iter().map(|b| b.2.len() + 1).sum());
    let mut bad: Vec<Bad> = vec![];
    let mut rows = l.cols.as_ref().map(|c| Rows::new(c));
    let mut n = 0u64;
    for (seq, _, data) in batch {
        let line = data.strip_suffix(b"\n").unwrap_or(data);
        if let Some(err) = check(l, rows.as_mut(), line) {
            bad.push(Bad {
                source: format!("{}/{shard}", l.stream),
                at: format!("sequence {seq}"),
                error: err.0,
                row: err.1,
            });
            continue;
        }
        if line.contains(&b'\n') {
            bad.push(Bad {
                source: format!("{}/{shard}", l.stream),
                at: format!("sequence {seq}"),
                error: "a record holds more than one line".into(),
                row: serde_json::Value::String(String::from_utf8_lossy(line).into_owned()),
            });
            continue;
        }
        good.extend_from_slice(line);
        good.push(b'\n');
        n += 1;
    }
    let mut stats = StepStats {
        rows: n,
        bytes: batch.iter().map(|b| b.2.len() as u64).sum(),
        bad: bad.len() as u64,
        ..StepStats::default()
    };
    if !bad.is_empty() {
        let mut body = vec![];
        for b in &bad {
            serde_json::to_writer(&mut body, b).expect("bad records serialize");
            body.push(b'\n');
        }
        let key = format!("{}{shard}/{range}.jsonl", l.errors);
        ctx.lake
            .put_new(&key, body)
            .await
            .map_err(|e| e.to_string())?;
        stats.notes.push(format!(
            "{}: {} bad records (first: {}: {}) in {}",
            l.name,
            bad.len(),
            bad[0].at,
            bad[0].error,
            ctx.lake.url(&key)
        ));
    }
    if n > 0 {
        let (body, ext) = if l.gzip {
            // mtime 0 (the default): the same records make the same bytes.
            let mut gz = flate2::write::GzEncoder::new(vec![], flate2::Compression::default());
            gz.write_all(&good).expect("writing to memory");
            (gz.finish().expect("writing to memory"), "jsonl.gz")
        } else {
            (good, "jsonl")
        };
        let key = format!("{}{shard}/{range}.{ext}", l.prefix);
        if ctx
            .lake
            .put_new(&key, body)
            .await
            .map_err(|e| e.to_string())?
            == crate::lake::Put::Written
        {
            stats.objects += 1;
        }
    }
    Ok(stats)
}

/// Why a record cannot land (not JSON, not an object, a field not of its declared type).
fn check(l: &Landing, rows: Option<&mut Rows>, line: &[u8]) -> Option<(String, serde_json::Value)> {
    let cols = l.cols.as_ref()?;
    let rows = rows?;
    let obj = match crate::schema::record(line) {
        Ok(o) => o,
        Err(e) => return Some(e),
    };
    let values: Vec<Option<Value>> = cols
        .iter()
        .map(|c| crate::schema::field(&obj, &c.name).map(Value::Json))
        .collect();
    // Only a check: the typed rows are dropped, the record lands as it came.
    let r = rows.push(&values);
    if rows.len() >= 4096 {
        rows.finish();
    }
    r.err().map(|e| (e, serde_json::Value::Object(obj)))
}
