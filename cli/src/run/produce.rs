//! `dekit produce`: JSON lines into a stream's Kinesis stream, with PutRecords batches as large as
//! Kinesis allows (500 records, 5 MiB a call, 1 MiB a record), only the failed entries of a
//! partially failed call retried, with backoff.

use crate::cloud::{Clients, error::from_sdk};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use std::io::BufRead;
use std::time::{Duration, Instant};

pub const MAX_RECORDS: usize = 500;
pub const MAX_CALL_BYTES: usize = 5 << 20;
pub const MAX_RECORD_BYTES: usize = 1 << 20;
const ATTEMPTS: u32 = 8;

#[derive(Debug, Default, serde::Serialize)]
pub struct Sent {
    pub records: u64,
    pub bytes: u64,
    pub failed: u64,
    /// Lines refused before sending (too big), with why.
    pub refused: Vec<String>,
    pub seconds: f64,
    /// Every record Kinesis accepted, as JSON lines, gzipped: what `dekit test` reconciles the
    /// landed rows with, record by record (a record sent twice must land twice).
    #[serde(skip)]
    pub copy: Vec<u8>,
}

pub struct Producer<'a> {
    pub clients: &'a Clients,
    pub stream: String,
    /// The record field whose value is the partition key; else a random key per record.
    pub partition_key: Option<String>,
    /// Records per second at most.
    pub rate: Option<u64>,
}

impl Producer<'_> {
    pub async fn send(&self, input: impl BufRead) -> Result<Sent, String> {
        let start = Instant::now();
        let mut sent = Sent::default();
        let mut copy = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut batch: Vec<PutRecordsRequestEntry> = vec![];
        let mut batch_bytes = 0usize;
        for (i, line) in input.split(b'\n').enumerate() {
            let line = line.map_err(|e| format!("reading line {}: {e}", i + 1))?;
            let line = line.strip_suffix(b"\r").unwrap_or(&line).to_vec();
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let key = self.key(&line);
            let size = line.len() + key.len();
            if size > MAX_RECORD_BYTES {
                sent.refused.push(format!(
                    "line {}: {size} bytes with its partition key, over Kinesis's 1 MiB record limit; not sent",
                    i + 1
                ));
                continue;
            }
            if batch.len() == MAX_RECORDS || batch_bytes + size > MAX_CALL_BYTES {
                self.put(std::mem::take(&mut batch), &mut sent, &mut copy)
                    .await?;
                batch_bytes = 0;
                self.pace(&sent, start).await;
            }
            batch_bytes += size;
            batch.push(
                PutRecordsRequestEntry::builder()
                    .data(Blob::new(line))
                    .partition_key(key)
                    .build()
                    .expect("data and key are set"),
            );
        }
        if !batch.is_empty() {
            self.put(batch, &mut sent, &mut copy).await?;
        }
        sent.copy = copy
            .finish()
            .map_err(|e| format!("compressing the copy of the records: {e}"))?;
        sent.seconds = start.elapsed().as_secs_f64();
        Ok(sent)
    }

    fn key(&self, line: &[u8]) -> String {
        if let Some(field) = &self.partition_key
            && let Ok(serde_json::Value::Object(o)) = serde_json::from_slice(line)
        {
            match crate::schema::field(&o, field) {
                Some(serde_json::Value::String(s)) if !s.is_empty() => {
                    return s.chars().take(256).collect();
                }
                Some(v @ serde_json::Value::Number(_)) => return v.to_string(),
                _ => {}
            }
        }
        format!("{:032x}", rand::random::<u128>())
    }

    /// Hold back so the records sent so far stay within `rate` per second.
    async fn pace(&self, sent: &Sent, start: Instant) {
        if let Some(rate) = self.rate.filter(|r| *r > 0) {
            let due = Duration::from_secs_f64(sent.records as f64 / rate as f64);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                tokio::time::sleep(wait).await;
            }
        }
    }

    /// One PutRecords call, then again with only the entries that failed, until none fail or the
    /// attempts run out (those count as failed).
    async fn put(
        &self,
        mut entries: Vec<PutRecordsRequestEntry>,
        sent: &mut Sent,
        copy: &mut impl std::io::Write,
    ) -> Result<(), String> {
        let mut delay = Duration::from_millis(100);
        for attempt in 1..=ATTEMPTS {
            let out = self
                .clients
                .kinesis
                .put_records()
                .stream_name(&self.stream)
                .set_records(Some(entries.clone()))
                .send()
                .await;
            let out = match out {
                Ok(o) => o,
                Err(e) => {
                    let err = from_sdk("PutRecords", &self.stream, e);
                    if err.is_retryable() && attempt < ATTEMPTS {
                        tokio::time::sleep(delay).await;
                        delay *= 2;
                        continue;
                    }
                    return Err(err.to_string());
                }
            };
            let mut retry = vec![];
            for (entry, result) in entries.into_iter().zip(out.records()) {
                if result.error_code().is_some() {
                    retry.push(entry);
                } else {
                    sent.records += 1;
                    sent.bytes += entry.data().as_ref().len() as u64;
                    copy.write_all(entry.data().as_ref())
                        .and_then(|()| copy.write_all(b"\n"))
                        .map_err(|e| format!("keeping a copy of the records: {e}"))?;
                }
            }
            if retry.is_empty() {
                return Ok(());
            }
            entries = retry;
            if attempt < ATTEMPTS {
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
        sent.failed += entries.len() as u64;
        Ok(())
    }
}
