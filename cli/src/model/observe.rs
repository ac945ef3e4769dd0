//! `observe:` CloudWatch alarms on the pipeline's streams and deliveries, and on what `dekit run`
//! and `dekit test` publish (failed steps, failed checks, stale tables); SNS topics they notify.

use crate::yaml::{Named, Spanned};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Observe {
    #[serde(default)]
    pub alarms: Named<Alarm>,
    /// SNS topics alarms notify (`notify: [name]`); `apply` creates them, encrypted, publishable
    /// by this stack's alarms only.
    #[serde(default)]
    pub topics: Named<Topic>,
    /// OpenLineage events from `dekit run` and `dekit test`: where they go (an HTTP endpoint
    /// such as Marquez, or a JSON-lines file). Without it, `OPENLINEAGE_URL` is used when set.
    #[serde(default)]
    pub lineage: Option<Lineage>,
}

/// Where OpenLineage events go: `url` (POSTed to `<url>/api/v1/lineage`) or `file` (JSON lines
/// appended), or both. A transport that fails is a warning; it never fails a run.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Lineage {
    /// The endpoint's base URL (may be `${env.NAME}`).
    #[serde(default)]
    pub url: Option<Spanned<String>>,
    /// A file the events are appended to as JSON lines, relative to the stack file.
    #[serde(default)]
    pub file: Option<Spanned<String>>,
    /// The jobs' namespace (default `<stack>.<environment>`).
    #[serde(default)]
    pub namespace: Option<Spanned<String>>,
    /// A bearer token for the endpoint; must be `${env.NAME}`.
    #[serde(default)]
    pub api_key: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Topic {
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Kinesis GetRecords.IteratorAgeMilliseconds: how far consumers lag.
    IteratorAgeMs,
    /// Kinesis IncomingRecords.
    IncomingRecords,
    /// Kinesis WriteProvisionedThroughputExceeded.
    WriteThrottled,
    /// Firehose DeliveryToS3.DataFreshness: age of the oldest record not yet in S3.
    DeliveryFreshnessSeconds,
    /// Steps of a `dekit run` that failed (published after each run).
    FailedSteps,
    /// Checks of a `dekit test` that failed at severity error, or could not run.
    FailedChecks,
    /// Tables whose freshness check failed in the last `dekit test`.
    StaleTables,
}

impl Metric {
    /// A metric dekit itself publishes, about the whole stack and environment (no stream).
    pub fn is_dekit(self) -> bool {
        matches!(
            self,
            Metric::FailedSteps | Metric::FailedChecks | Metric::StaleTables
        )
    }

    /// (namespace, metric name, dimension name); dekit's metrics have `Stack` and `Environment`.
    pub fn cloudwatch(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Metric::IteratorAgeMs => (
                "AWS/Kinesis",
                "GetRecords.IteratorAgeMilliseconds",
                "StreamName",
            ),
            Metric::IncomingRecords => ("AWS/Kinesis", "IncomingRecords", "StreamName"),
            Metric::WriteThrottled => (
                "AWS/Kinesis",
                "WriteProvisionedThroughputExceeded",
                "StreamName",
            ),
            Metric::DeliveryFreshnessSeconds => (
                "AWS/Firehose",
                "DeliveryToS3.DataFreshness",
                "DeliveryStreamName",
            ),
            Metric::FailedSteps => ("dekit", "FailedSteps", "Stack"),
            Metric::FailedChecks => ("dekit", "FailedChecks", "Stack"),
            Metric::StaleTables => ("dekit", "StaleTables", "Stack"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema, Default)]
pub enum Comparison {
    #[serde(rename = ">")]
    Greater,
    #[default]
    #[serde(rename = ">=")]
    GreaterOrEqual,
    #[serde(rename = "<")]
    Less,
    #[serde(rename = "<=")]
    LessOrEqual,
}

impl Comparison {
    pub fn cloudwatch(self) -> &'static str {
        match self {
            Comparison::Greater => "GreaterThanThreshold",
            Comparison::GreaterOrEqual => "GreaterThanOrEqualToThreshold",
            Comparison::Less => "LessThanThreshold",
            Comparison::LessOrEqual => "LessThanOrEqualToThreshold",
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Alarm {
    /// The stream (of `ingest.streams`) a stream or delivery metric is about; none for dekit's
    /// own metrics (failed_steps, failed_checks, stale_tables).
    #[serde(default)]
    pub stream: Option<Spanned<String>>,
    pub metric: Metric,
    pub threshold: f64,
    #[serde(default)]
    pub comparison: Comparison,
    /// 10, 30 or a multiple of 60 seconds (default 300).
    #[serde(default = "five_minutes")]
    pub period_seconds: Spanned<u32>,
    #[serde(default = "one")]
    pub evaluation_periods: Spanned<u32>,
    /// Topics to notify: a name of `observe.topics`, or an SNS topic ARN.
    #[serde(default)]
    pub notify: Vec<Spanned<String>>,
    #[serde(default)]
    pub description: Option<String>,
}

fn five_minutes() -> Spanned<u32> {
    Spanned::new(300)
}
fn one() -> Spanned<u32> {
    Spanned::new(1)
}
