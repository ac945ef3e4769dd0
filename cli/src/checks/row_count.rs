//! `row_count: {min, max}`: the relation holds a plausible number of rows.
//!
//! Why: an empty load (or one that suddenly doubled) is the most common silent failure.
//!
//! Example: `orders: [{row_count: {min: 1}}]`.

use super::name;

pub fn sql(relation: &str, min: Option<u64>, max: Option<u64>) -> String {
    let mut conds = vec![];
    if let Some(m) = min {
        conds.push(format!("count(*) < {m}"));
    }
    if let Some(m) = max {
        conds.push(format!("count(*) > {m}"));
    }
    let cond = if conds.is_empty() {
        "false".to_string()
    } else {
        conds.join(" OR ")
    };
    format!(
        "SELECT CASE WHEN {cond} THEN 1 ELSE 0 END AS failures FROM {}",
        name(relation)
    )
}

/// The count itself, the one fact a failure has.
pub fn rows(relation: &str) -> String {
    format!("SELECT count(*) AS row_count FROM {}", name(relation))
}
