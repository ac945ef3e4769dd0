//! `accepted_values: {column, values}`: a column only holds values from a fixed list.
//!
//! Why: a new status code upstream should stop the pipeline, not vanish from a CASE in a report.
//!
//! Example: `orders: [{accepted_values: {column: status, values: [placed, shipped]}}]`.

use super::name;
use crate::sql::literal;

pub fn sql(relation: &str, column: &str, values: &[String]) -> String {
    super::count_of(&rows(relation, column, values))
}

/// The rows that fail.
pub fn rows(relation: &str, column: &str, values: &[String]) -> String {
    let list = values
        .iter()
        .map(|v| literal(v))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT * FROM {} WHERE {} IS NOT NULL AND CAST({} AS VARCHAR) NOT IN ({list})",
        name(relation),
        name(column),
        name(column)
    )
}
