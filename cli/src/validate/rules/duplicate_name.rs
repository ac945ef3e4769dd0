//! E112 duplicate-name: a name is a table, a model or a view, never two of them.
//!
//! Why: SQL refers to all three by bare name; a name declared twice makes lineage ambiguous and
//! one would overwrite the other in the catalog.
//!
//! Example: `tables: {orders: ...}` and `transforms: {orders: ...}` → rename the model `stg_orders`.

use super::Rule;
use crate::diagnostic::Diagnostic;
use crate::validate::Cx;
use std::collections::BTreeMap;

pub const RULE: Rule = Rule {
    code: "E112",
    name: "duplicate-name",
    summary: "tables, models and views have distinct names",
    hint: "give each table, model and view its own name: they share the Glue catalog",
    source: include_str!("duplicate_name.rs"),
    also: &[],
    check,
};

fn check(cx: &Cx, out: &mut Vec<Diagnostic>) {
    let s = &cx.loaded.stack;
    let mut seen = BTreeMap::new();
    let all = s
        .tables
        .iter()
        .map(|(k, _)| (k, "table"))
        .chain(s.transforms.iter().map(|(k, _)| (k, "model")))
        .chain(s.serving.views.iter().map(|(k, _)| (k, "view")));
    for (key, what) in all {
        if let Some((line, first)) = seen.insert(key.value.clone(), (key.span.line, what)) {
            out.push(
                cx.error(
                    "E112",
                    format!("`{}` is declared as a {first} and as a {what}", key.value),
                    key.span,
                )
                .hint(format!(
                    "the {first} is at line {line}; give one of them another name"
                )),
            );
        }
    }
}
