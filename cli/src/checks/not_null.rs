//! `not_null: [col, ...]`: every listed column has a value in every row.
//!
//! Why: keys and required attributes that are null break joins and counts downstream silently.
//!
//! Example: `orders: [{not_null: [order_id, customer_id]}]`.

use super::name;

pub fn sql(relation: &str, cols: &[&str]) -> String {
    super::count_of(&rows(relation, cols))
}

/// The rows that fail.
pub fn rows(relation: &str, cols: &[&str]) -> String {
    let cond = cols
        .iter()
        .map(|c| format!("{} IS NULL", name(c)))
        .collect::<Vec<_>>()
        .join(" OR ");
    format!("SELECT * FROM {} WHERE {cond}", name(relation))
}
