//! `unique: [col, ...]`: the listed columns together identify at most one row.
//!
//! Why: duplicated keys double-count facts after a join (the classic fan-out bug).
//!
//! Example: `customers: [{unique: [customer_id]}]`.

use super::ident;

pub fn sql(relation: &str, cols: &[&str]) -> String {
    let list = cols.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ");
    format!(
        "SELECT count(*) AS failures FROM (SELECT {list} FROM {} GROUP BY {list} HAVING count(*) > 1) d",
        ident(relation)
    )
}
