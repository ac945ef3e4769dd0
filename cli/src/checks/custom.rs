//! `sql: "<query>"`: a query that must return no rows, `{this}` standing for the relation — the
//! check for a rule no built-in kind states.
//!
//! Why: business rules ("a shipped order has a ship date", "revenue is never negative") belong
//! beside the other checks, with the same samples, stored failures and severities.
//!
//! Example: `orders: [{sql: "SELECT * FROM {this} WHERE status = 'shipped' AND total <= 0"}]`.

use crate::sql::this;

pub fn sql(relation: &str, query: &str) -> String {
    super::count_of(&rows(relation, query))
}

/// The rows that fail: whatever the query returns.
pub fn rows(relation: &str, query: &str) -> String {
    this(query.trim().trim_end_matches(';'), relation)
}
