//! `relationships: {column, to: table.column}`: every value exists in the referenced table
//! (referential integrity, which the lake does not enforce).
//!
//! Why: orphaned foreign keys drop rows from inner joins in every report built on them.
//!
//! Example: `fact_orders: [{relationships: {column: customer_key, to: dim_customers.customer_key}}]`.

use super::name;

pub fn sql(relation: &str, column: &str, to_table: &str, to_column: &str) -> String {
    super::count_of(&rows(relation, column, to_table, to_column))
}

/// The rows whose value has no match.
pub fn rows(relation: &str, column: &str, to_table: &str, to_column: &str) -> String {
    format!(
        "SELECT c.* FROM {} c LEFT JOIN {} p ON c.{} = p.{} WHERE c.{} IS NOT NULL AND p.{} IS NULL",
        name(relation),
        name(to_table),
        name(column),
        name(to_column),
        name(column),
        name(to_column)
    )
}
