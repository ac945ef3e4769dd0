//! `ingest:` streaming (Kinesis, Firehose) and scheduled batch loads into the lake.

use crate::model::DataFormat;
use crate::yaml::{Named, Spanned};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ingest {
    #[serde(default)]
    pub streams: Named<Stream>,
    #[serde(default)]
    pub batch: Named<Batch>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum StreamMode {
    #[default]
    Provisioned,
    OnDemand,
}

/// A Kinesis data stream, optionally delivered to the lake by Firehose.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Stream {
    /// The event source producing into the stream.
    #[serde(default)]
    pub source: Option<Spanned<String>>,
    /// AWS stream name (default `<stack>-<environment>-<name>`).
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    #[serde(default)]
    pub mode: StreamMode,
    /// Shard count for provisioned streams (default 1).
    #[serde(default)]
    pub shards: Option<Spanned<u32>>,
    /// 24 to 8760 hours (default 24).
    #[serde(default)]
    pub retention_hours: Option<Spanned<u32>>,
    #[serde(default)]
    pub delivery: Option<Delivery>,
    /// The record field `dekit produce` uses as the partition key (default: a random key).
    #[serde(default)]
    pub partition_key: Option<Spanned<String>>,
    /// The peak the producers are expected to send; `validate` checks it against the shards'
    /// write quota (S102).
    #[serde(default)]
    pub expected: Option<ExpectedRate>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectedRate {
    #[serde(default)]
    pub records_per_second: Option<Spanned<u32>>,
    #[serde(default)]
    pub kib_per_second: Option<Spanned<u32>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    None,
    #[default]
    Gzip,
    Snappy,
    Zip,
}

/// Firehose delivery from the stream to a lake zone.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Delivery {
    pub zone: Spanned<String>,
    /// Key prefix inside the zone (default `<stream>/`).
    #[serde(default)]
    pub prefix: Option<Spanned<String>>,
    #[serde(default)]
    pub error_prefix: Option<Spanned<String>>,
    #[serde(default)]
    pub buffer: Buffer,
    #[serde(default = "json")]
    pub format: Spanned<DataFormat>,
    #[serde(default)]
    pub compression: Compression,
}

fn json() -> Spanned<DataFormat> {
    Spanned::new(DataFormat::Json)
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Buffer {
    /// 1 to 128 MiB.
    #[serde(default = "five")]
    pub size_mb: Spanned<u32>,
    /// 0 to 900 seconds.
    #[serde(default = "sixty")]
    pub interval_seconds: Spanned<u32>,
}

impl Default for Buffer {
    fn default() -> Self {
        Buffer {
            size_mb: five(),
            interval_seconds: sixty(),
        }
    }
}

fn five() -> Spanned<u32> {
    Spanned::new(5)
}
fn sixty() -> Spanned<u32> {
    Spanned::new(60)
}

/// A scheduled batch load from a source into a lake zone (run as a Glue job on AWS).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    pub source: Spanned<String>,
    /// Subset of the source's tables (default: all of them).
    #[serde(default)]
    pub tables: Vec<Spanned<String>>,
    pub zone: Spanned<String>,
    /// Key prefix inside the zone (default `<source>/`).
    #[serde(default)]
    pub prefix: Option<Spanned<String>>,
    #[serde(default)]
    pub format: DataFormat,
    #[serde(default)]
    pub partition_by: Vec<Spanned<String>>,
    /// `cron(m h dom mon dow year)` or `rate(N unit)`, AWS syntax. Without one, the load runs only
    /// when `dekit run` runs it (and no Glue trigger is made).
    #[serde(default)]
    pub schedule: Option<Spanned<String>>,
}
