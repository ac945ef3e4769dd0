//! `range: {column, min, max}`: numeric values lie within bounds.
//!
//! Why: negative prices or quantities in the millions are data bugs, not sales.
//!
//! Example: `order_items: [{range: {column: quantity, min: 1, max: 1000}}]`.

use super::name;

pub fn sql(relation: &str, column: &str, min: Option<f64>, max: Option<f64>) -> String {
    super::count_of(&rows(relation, column, min, max))
}

/// The rows that fail.
pub fn rows(relation: &str, column: &str, min: Option<f64>, max: Option<f64>) -> String {
    let c = name(column);
    let mut conds = vec![];
    if let Some(m) = min {
        conds.push(format!("{c} < {m}"));
    }
    if let Some(m) = max {
        conds.push(format!("{c} > {m}"));
    }
    let cond = if conds.is_empty() {
        "false".to_string()
    } else {
        conds.join(" OR ")
    };
    format!("SELECT * FROM {} WHERE {cond}", name(relation))
}
