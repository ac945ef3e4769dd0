//! E200 quality-columns: quality checks name columns the table has, with complete arguments.
//!
//! Why: a check on a misspelled column would fail every run (or, worse, be skipped).
//!
//! Example: `not_null: [custmer_id]` → did you mean `customer_id`?

use super::Rule;
use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::model::Check;
use crate::validate::Cx;
use crate::yaml::Spanned;

pub const RULE: Rule = Rule {
    code: "E200",
    name: "quality-columns",
    summary: "quality checks name existing columns and complete arguments",
    hint: "check the column against the table's `columns:`",
    source: include_str!("quality_columns.rs"),
    also: &[],
    check,
};

fn check(cx: &Cx, out: &mut Vec<Diagnostic>) {
    let s = &cx.loaded.stack;
    for (key, checks) in s.quality.iter() {
        // Columns are known for declared tables; models' columns come from their SQL at run time.
        let table = s.tables.get(key);
        let col = |c: &Spanned<String>, out: &mut Vec<Diagnostic>| {
            let Some(t) = table else { return };
            let known = t.columns.keys().chain(t.partitions.keys());
            if !known.clone().any(|k| k == c.value) {
                let mut d = cx.error(
                    "E200",
                    format!("table `{}` has no column `{}`", key.value, c.value),
                    c.span,
                );
                if let Some(s) = did_you_mean(c, known) {
                    d = d.hint(format!("did you mean `{s}`?"));
                }
                out.push(d);
            }
        };
        for c in checks {
            match c {
                Check::NotNull(cols) | Check::Unique(cols) => {
                    if cols.is_empty() {
                        out.push(cx.error("E200", "the check names no column", key.span));
                    }
                    cols.iter().for_each(|c| col(c, out));
                }
                Check::AcceptedValues(a) => {
                    col(&a.column, out);
                    if a.values.is_empty() {
                        out.push(cx.error(
                            "E200",
                            "accepted_values needs at least one value",
                            a.column.span,
                        ));
                    }
                }
                Check::Freshness(f) => col(&f.column, out),
                Check::Relationships(r) => {
                    col(&r.column, out);
                    if let Some((t, c)) = r.to.split_once('.')
                        && let Some(target) = s.tables.get(t)
                        && target.columns.get(c).is_none()
                    {
                        out.push(cx.error_in(
                            "E200",
                            format!("table `{t}` has no column `{c}`"),
                            &r.to,
                            t.len() + 1,
                            c.len(),
                        ));
                    }
                }
                Check::Range(r) => {
                    col(&r.column, out);
                    if r.min.is_none() && r.max.is_none() {
                        out.push(cx.error(
                            "E200",
                            "range needs `min`, `max` or both",
                            r.column.span,
                        ));
                    }
                }
                Check::RowCount(r) => {
                    if r.min.is_none() && r.max.is_none() {
                        out.push(cx.error(
                            "E200",
                            "row_count needs `min`, `max` or both",
                            key.span,
                        ));
                    }
                }
            }
        }
    }
}
