//! E200 quality-columns: quality checks name columns the table or model has, with complete
//! arguments; a model's `partition_by` names columns its query outputs.
//!
//! Why: a check on a misspelled column would fail every run (or, worse, be skipped), and a
//! partition column the query does not output fails the CTAS only when it runs. A table's columns
//! are its `columns:`; a model's are read from its SQL's select list (when every output is named;
//! `select *` is not checked).
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
    summary: "quality checks and partition_by name existing columns, with complete arguments",
    hint: "check the column against the table's `columns:`",
    source: include_str!("quality_columns.rs"),
    also: &[],
    check,
};

/// The columns of a table (declared) or model (its SQL's outputs, when all are named).
fn columns_of(cx: &Cx, name: &str) -> Option<(&'static str, Vec<String>)> {
    let s = &cx.loaded.stack;
    if let Some(t) = s.tables.get(name) {
        let cols = t.columns.keys().chain(t.partitions.keys());
        return Some(("table", cols.map(str::to_string).collect()));
    }
    let model = cx.models.get(name)?;
    crate::sql::output_columns(&model.sql).map(|c| ("model", c))
}

// Long: one arm per check kind naming columns, each with its own diagnostic.
fn check(cx: &Cx, out: &mut Vec<Diagnostic>) {
    let s = &cx.loaded.stack;
    for (name, t) in s.transforms.iter() {
        let Some(cols) = cx
            .models
            .get(&name.value)
            .and_then(|m| crate::sql::output_columns(&m.sql))
        else {
            continue;
        };
        let inc = t.incremental.as_ref();
        let named = t
            .partition_by
            .iter()
            .chain(inc.into_iter().flat_map(|i| i.partition_by.iter()))
            .map(|p| (p, "to partition by"))
            .chain(
                inc.into_iter()
                    .flat_map(|i| i.unique_key.iter())
                    .map(|p| (p, "for its unique key")),
            );
        for (p, role) in named {
            if !cols.iter().any(|c| c.eq_ignore_ascii_case(&p.value)) {
                let mut d = cx.error(
                    "E200",
                    format!(
                        "model `{}` does not output a column `{}` {role}",
                        name.value, p.value
                    ),
                    p.span,
                );
                d = match did_you_mean(p, cols.iter().map(String::as_str)) {
                    Some(s) => d.hint(format!("did you mean `{s}`?")),
                    None => d.hint(format!("its query outputs: {}", cols.join(", "))),
                };
                out.push(d);
            }
        }
    }
    // A batch load partitions what it writes by columns its tables have.
    for (name, b) in s.ingest.batch.iter() {
        let tables: Vec<_> = s
            .tables
            .iter()
            .filter(|(_, t)| t.from.as_ref().is_some_and(|f| f.value == name.value))
            .collect();
        if tables.is_empty() {
            continue;
        }
        for p in &b.partition_by {
            let has = |t: &crate::model::Table| {
                t.columns
                    .keys()
                    .chain(t.partitions.keys())
                    .any(|c| c.eq_ignore_ascii_case(&p.value))
            };
            if !tables.iter().any(|(_, t)| has(t)) {
                let names: Vec<&str> = tables.iter().map(|(n, _)| n.value.as_str()).collect();
                out.push(
                    cx.error(
                        "E200",
                        format!(
                            "no table of batch load `{}` has a column `{}` to partition by",
                            name.value, p.value
                        ),
                        p.span,
                    )
                    .hint(format!(
                        "declare it as a partition of its tables ({}), e.g. `partitions: {{{}: string}}`, or remove it",
                        names.join(", "),
                        p.value
                    )),
                );
            }
        }
    }
    for (key, checks) in s.quality.iter() {
        let known_cols = columns_of(cx, key);
        let col = |c: &Spanned<String>, out: &mut Vec<Diagnostic>| {
            let Some((what, cols)) = &known_cols else {
                return;
            };
            let known = cols.iter().map(String::as_str);
            if !known.clone().any(|k| k.eq_ignore_ascii_case(&c.value)) {
                let mut d = cx.error(
                    "E200",
                    format!("{what} `{}` has no column `{}`", key.value, c.value),
                    c.span,
                );
                if let Some(s) = did_you_mean(c, known) {
                    d = d.hint(format!("did you mean `{s}`?"));
                }
                out.push(d);
            }
        };
        for c in checks {
            match &c.check {
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
                    // The target may be a table or a model: its columns as the catalog has them.
                    if let Some((t, c)) = r.to.split_once('.')
                        && let Some((what, cols)) = columns_of(cx, t)
                        && !cols.iter().any(|k| k.eq_ignore_ascii_case(c))
                    {
                        let mut d = cx.error_in(
                            "E200",
                            format!("{what} `{t}` has no column `{c}`"),
                            &r.to,
                            t.len() + 1,
                            c.len(),
                        );
                        d = match did_you_mean(c, cols.iter().map(String::as_str)) {
                            Some(s) => d.hint(format!("did you mean `{s}`?")),
                            None => d.hint(format!("its columns: {}", cols.join(", "))),
                        };
                        out.push(d);
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
                Check::Schema(_) => {
                    let declared = match cx.relations.get(&key.value) {
                        Some(crate::validate::Relation::Table) => true,
                        Some(crate::validate::Relation::Transform) => s
                            .transforms
                            .get(&key.value)
                            .is_some_and(|t| !t.columns.is_empty()),
                        _ => false,
                    };
                    if !declared {
                        out.push(
                            cx.error(
                                "E200",
                                format!(
                                    "`{}` declares no columns to check its schema against",
                                    key.value
                                ),
                                key.span,
                            )
                            .hint("a model declares them in `columns:`; a view has none"),
                        );
                    }
                }
                Check::Sql(q) => {
                    let sql = crate::sql::this(&q.value, &key.value);
                    if let Err(e) = crate::sql::relations(&sql) {
                        out.push(
                            cx.error("E200", format!("the check's SQL does not parse: {}", e.message), q.span)
                                .hint("one SELECT returning the failing rows; `{this}` stands for the relation"),
                        );
                    }
                }
                Check::VolumeAnomaly(a) | Check::FreshnessAnomaly(a) => {
                    if matches!(
                        cx.relations.get(&key.value),
                        Some(crate::validate::Relation::View)
                    ) {
                        out.push(cx.error(
                            "E200",
                            format!(
                                "view `{}` is not written by a run: it has no history",
                                key.value
                            ),
                            key.span,
                        ));
                    }
                    if a.min_runs < 2 || a.runs < a.min_runs || a.tolerance <= 0.0 {
                        out.push(
                            cx.error(
                                "E200",
                                "an anomaly check needs min_runs ≥ 2, runs ≥ min_runs and a positive tolerance",
                                key.span,
                            )
                            .hint("the defaults are `{runs: 10, min_runs: 5, tolerance: 3}`"),
                        );
                    }
                }
                Check::RowCountMatches(_) => {}
            }
        }
    }
}
