//! `orchestration:` the pipeline deployed: the run DAG as one Step Functions state machine per
//! stack and environment, each step run by dekit itself on Lambda, started by an EventBridge
//! Scheduler schedule. Per-environment differences (a faster schedule in a test account) go
//! through `${var.NAME}`.

use crate::yaml::Spanned;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Orchestration {
    /// When the pipeline starts: `rate(1 hour)` or `cron(0 6 * * ? *)`, as EventBridge Scheduler
    /// reads them. Absent: deployed, started only by `dekit run` on the environment.
    #[serde(default)]
    pub schedule: Option<Spanned<String>>,
    /// The schedule's time zone (IANA name, default UTC).
    #[serde(default)]
    pub timezone: Option<Spanned<String>>,
    /// Whether the schedule fires (default true): `false` pauses it without removing it.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Attempts after the first, for a step whose invocation failed for a transient cause
    /// (throttling, Lambda service errors); data errors are never retried.
    #[serde(default = "two")]
    pub retries: Spanned<u32>,
    /// Seconds one step invocation may run (at most 900, Lambda's limit). A longer batch load
    /// commits a bounded range per invocation and is invoked again until done.
    #[serde(default = "step_seconds")]
    pub step_timeout_seconds: Spanned<u32>,
    /// Rows a watermark load reads in one invocation before it commits them and is invoked
    /// again for the rest (default 5,000,000), so a long load never outlives Lambda's limit.
    #[serde(default = "rows_per_invocation")]
    pub rows_per_invocation: Spanned<u32>,
    /// Lambda memory for the step runtime, MiB (128–10240).
    #[serde(default = "memory")]
    pub memory_mb: Spanned<u32>,
    /// Topics (`observe.topics`) told when an execution fails.
    #[serde(default)]
    pub notify: Vec<Spanned<String>>,
}

fn yes() -> bool {
    true
}

fn two() -> Spanned<u32> {
    Spanned::new(2)
}

fn step_seconds() -> Spanned<u32> {
    Spanned::new(900)
}

fn rows_per_invocation() -> Spanned<u32> {
    Spanned::new(5_000_000)
}

fn memory() -> Spanned<u32> {
    Spanned::new(2048)
}
