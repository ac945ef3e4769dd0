//! `row_count_matches: {to, filter}`: the relation has as many rows as another (filtered) one —
//! reconciliation of a model against what its inputs imply.
//!
//! Why: a join that drops or fans out rows passes every column check; only the count against
//! the source of the grain shows it.
//!
//! Example: `fact_orders: [{row_count_matches: {to: order_items, filter: "order_id IN (SELECT
//! order_id FROM orders WHERE status <> 'cancelled')"}}]`.

use super::name;

pub fn sql(relation: &str, to: &str, filter: Option<&str>) -> String {
    super::count_of(&rows(relation, to, filter))
}

/// Both counts, when they differ.
pub fn rows(relation: &str, to: &str, filter: Option<&str>) -> String {
    let filter = filter.map(|f| format!(" WHERE {f}")).unwrap_or_default();
    format!(
        "SELECT a.n AS row_count, b.n AS expected FROM (SELECT count(*) AS n FROM {}) a \
         CROSS JOIN (SELECT count(*) AS n FROM {}{filter}) b WHERE a.n <> b.n",
        name(relation),
        name(to)
    )
}
