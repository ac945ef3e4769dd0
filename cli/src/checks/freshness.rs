//! `freshness: {column, max_age_hours}`: the newest row is recent enough.
//!
//! Why: a stalled ingest leaves dashboards showing yesterday's numbers without any error.
//!
//! Example: `orders: [{freshness: {column: order_ts, max_age_hours: 24}}]`.

use super::name;

pub fn sql(relation: &str, column: &str, max_age_hours: u32) -> String {
    format!(
        "SELECT CASE WHEN max(CAST({} AS TIMESTAMP)) IS NULL OR max(CAST({} AS TIMESTAMP)) < current_timestamp - INTERVAL '{max_age_hours}' HOUR THEN 1 ELSE 0 END AS failures FROM {}",
        name(column),
        name(column),
        name(relation)
    )
}

/// The newest value, the one fact a failure has.
pub fn rows(relation: &str, column: &str) -> String {
    format!(
        "SELECT max(CAST({} AS TIMESTAMP)) AS newest FROM {}",
        name(column),
        name(relation)
    )
}
