//! `unique: [col, ...]`: the listed columns together identify at most one row.
//!
//! Why: duplicated keys double-count facts after a join (the classic fan-out bug).
//!
//! Example: `customers: [{unique: [customer_id]}]`.

use super::name;

pub fn sql(relation: &str, cols: &[&str]) -> String {
    super::count_of(&rows(relation, cols))
}

/// The duplicated keys, with how often each occurs.
pub fn rows(relation: &str, cols: &[&str]) -> String {
    let list = cols.iter().map(|c| name(c)).collect::<Vec<_>>().join(", ");
    format!(
        "SELECT {list}, count(*) AS occurrences FROM {} GROUP BY {list} HAVING count(*) > 1",
        name(relation)
    )
}
