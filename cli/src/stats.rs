//! What a pipeline step moved (rows, bytes, objects, rows sent to the error prefix), as the run
//! manifest records it, and the live counts progress lines show. Below every step kind (loads,
//! landing, models, exports) and the executor that sums them.

use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};

/// Rows and bytes a running step has moved so far, for progress lines.
#[derive(Default)]
pub struct Progress {
    rows: AtomicU64,
    bytes: AtomicU64,
}

impl Progress {
    pub fn add(&self, rows: u64, bytes: u64) {
        self.rows.fetch_add(rows, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// (rows, bytes) so far.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.rows.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
        )
    }
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct StepStats {
    pub rows: u64,
    /// Bytes read from the source.
    pub bytes: u64,
    /// Objects written to the lake.
    pub objects: u64,
    /// Rows or records sent to the error prefix.
    pub bad: u64,
    pub notes: Vec<String>,
    /// Rows per table, for steps that write several (a batch load).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub by_table: std::collections::BTreeMap<String, u64>,
    /// A bounded range was committed and more rows wait (the deployed step runtime invokes the
    /// step again).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub more: bool,
}

impl StepStats {
    pub fn add(&mut self, o: &StepStats) {
        self.rows += o.rows;
        self.bytes += o.bytes;
        self.objects += o.objects;
        self.bad += o.bad;
        self.notes.extend(o.notes.iter().cloned());
        for (t, n) in &o.by_table {
            *self.by_table.entry(t.clone()).or_default() += n;
        }
        self.more |= o.more;
    }
}
