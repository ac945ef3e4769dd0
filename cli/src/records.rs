//! What the pipeline records about itself in the lake, under `_dekit/`: each run's manifest
//! (`_dekit/runs/<run id>.json`: steps, statuses, counts) and each batch table's load state
//! (`_dekit/state/ingest/<batch>/<table>.json`: watermark, the load in flight, the last one).
//! Written by `dekit run`; read by `dekit test` (anomalies, reconciliation), `observe` and the
//! CI summary, so it sits below all of them.

use crate::lake::Lake;
use crate::stats::StepStats;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Succeeded,
    Failed,
    /// Not run because a step it depends on failed.
    Skipped,
    /// Selected, but this version of `dekit run` does not execute its kind.
    NotRun,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepRecord {
    pub step: String,
    pub kind: String,
    pub status: Status,
    #[serde(flatten)]
    pub stats: StepStats,
    pub duration_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The run manifest, written to `_dekit/runs/<run id>.json` in the lake.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub run_id: String,
    pub stack: String,
    pub environment: String,
    pub git_commit: Option<String>,
    pub git_dirty: Option<bool>,
    pub started_at: String,
    pub finished_at: String,
    pub selectors: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resumed_from: Option<String>,
    pub steps: Vec<StepRecord>,
}

impl Manifest {
    pub fn ok(&self) -> bool {
        self.steps
            .iter()
            .all(|s| matches!(s.status, Status::Succeeded | Status::NotRun))
    }
}

pub fn manifest_key(run_id: &str) -> String {
    format!("_dekit/runs/{run_id}.json")
}

/// The steps that succeeded in run `run`, which a resumed run does not run again
/// (`dekit run --resume`, locally and deployed); a run the lake does not hold is an error.
pub async fn succeeded_in(
    lake: &Lake,
    run: &str,
) -> Result<std::collections::BTreeSet<String>, String> {
    let m: Manifest = lake
        .get_json(&manifest_key(run))
        .await
        .map_err(|e| format!("reading run {run} to resume: {e}"))?
        .ok_or_else(|| format!("no run `{run}` to resume in {}", lake.url("_dekit/runs/")))?;
    Ok(m.steps
        .into_iter()
        .filter(|s| s.status == Status::Succeeded)
        .map(|s| s.step)
        .collect())
}

/// The last `n` run manifests, oldest first (run ids sort by time: `clock::run_id`).
pub async fn last_manifests(lake: &Lake, n: usize) -> Result<Vec<Manifest>, String> {
    let mut keys = lake.list("_dekit/runs/").await.map_err(|e| e.to_string())?;
    keys.sort();
    let mut out = vec![];
    for k in &keys[keys.len().saturating_sub(n)..] {
        if let Some(m) = lake
            .get_json::<Manifest>(k)
            .await
            .map_err(|e| e.to_string())?
        {
            out.push(m);
        }
    }
    Ok(out)
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct LoadState {
    /// The highest watermark loaded, as the source wrote it.
    pub watermark: Option<String>,
    /// For file sources: the content hash of the file last loaded.
    pub fingerprint: Option<String>,
    pub pending: Option<Pending>,
    pub last: Option<Last>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Pending {
    pub load_id: String,
    /// Every object of the load starts with this.
    pub objects: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Last {
    pub load_id: String,
    pub ingest_date: Option<String>,
    pub rows: u64,
    pub parts: usize,
    /// Where its parts are (a key prefix), for `dekit test` to count what is in the lake.
    #[serde(default)]
    pub objects: String,
    /// Rows the source gave that went to the error prefix instead.
    #[serde(default)]
    pub bad: u64,
    /// Each part's content hash: a full reload that finds the same bytes writes nothing.
    #[serde(default)]
    pub hashes: Vec<String>,
}

/// Where a batch table's load state is kept.
pub fn load_state_key(batch: &str, table: &str) -> String {
    format!("_dekit/state/ingest/{batch}/{table}.json")
}

/// A table's last committed load, as `dekit test` reconciles it: rows written, rows sent to the
/// error prefix, and the key prefix of its parts.
pub struct LoadRecord {
    pub load_id: String,
    pub rows: u64,
    pub bad: u64,
    pub objects: String,
}

pub async fn last_load(
    lake: &Lake,
    batch: &str,
    table: &str,
) -> Result<Option<LoadRecord>, String> {
    let state: Option<LoadState> = lake
        .get_json(&load_state_key(batch, table))
        .await
        .map_err(|e| e.to_string())?;
    Ok(state.and_then(|s| s.last).map(|l| LoadRecord {
        load_id: l.load_id,
        rows: l.rows,
        bad: l.bad,
        objects: l.objects,
    }))
}

/// What a database export last wrote (`run::write_back`), as `dekit test` reconciles it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncState {
    pub fingerprint: String,
    pub target: String,
    pub mode: String,
    pub run_id: String,
    pub at: String,
    /// Rows of the model.
    pub rows: u64,
    pub inserted: u64,
    pub updated: u64,
    pub deleted: u64,
    pub rejected: u64,
    /// The model's keys found in the target after the commit, counted in the same transaction.
    pub read_back: u64,
}

/// Where a database export's sync state is kept.
pub fn export_state_key(name: &str) -> String {
    format!("_dekit/state/exports/{name}.json")
}
