//! Reconciliation across hops, which dekit can do because it owns both ends: every record
//! `dekit produce` sent to a stream (counted in `_dekit/produced/<stream>/`) against the rows of
//! the raw table the stream fills, and records that landed twice (identical rows).
//!
//! And every batch-loaded table's last load: the rows its source gave (written + sent to the
//! error prefix) against the rows in the Parquet parts the load left in the lake (their footers'
//! counts), so a part lost or duplicated after the load shows.
//!
//! And every database export's last sync (`run::write_back`): the rows it had against the keys
//! the target held after its commit plus the rows refused, and against the model's rows now.
//!
//! Example: 300 produced, 299 rows in `clickstream_events` → `clickstream.reconcile` fails with
//! "produced 300, landed 299: 1 lost".

mod exports;
mod loads;
mod streams;

pub use streams::{produced, produced_prefix};

use super::outcome::Outcome;
use crate::lake::Lake;
use crate::transform::session::Catalog;
use datafusion::prelude::SessionContext;

/// Every reconciliation of `relations` (all when empty): streams, loads, exports, in that order.
pub async fn all(
    cat: Catalog<'_>,
    ctx: &SessionContext,
    lake: &Lake,
    relations: &[String],
) -> Result<Vec<Outcome>, String> {
    let mut out = streams::against_produced(cat, ctx, lake, relations).await?;
    out.extend(loads::against_sources(cat, lake, relations).await?);
    out.extend(exports::against_targets(cat, ctx, lake, relations).await?);
    Ok(out)
}
