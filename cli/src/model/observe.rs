//! `observe:` CloudWatch alarms on the pipeline's streams and deliveries.

use crate::yaml::{Named, Spanned};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Observe {
    #[serde(default)]
    pub alarms: Named<Alarm>,
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
}

impl Metric {
    /// (namespace, metric name, dimension name)
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
    /// The stream (of `ingest.streams`) the metric is about.
    pub stream: Spanned<String>,
    pub metric: Metric,
    pub threshold: f64,
    #[serde(default)]
    pub comparison: Comparison,
    /// 10, 30 or a multiple of 60 seconds (default 300).
    #[serde(default = "five_minutes")]
    pub period_seconds: Spanned<u32>,
    #[serde(default = "one")]
    pub evaluation_periods: Spanned<u32>,
    /// SNS topic ARNs to notify.
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
