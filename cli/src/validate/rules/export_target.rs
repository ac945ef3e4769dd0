//! E195 export-target: an export writes files to a lake zone (`zone:`) or rows into a table of a
//! database source (`to:`, with `table:` and `key:`), not both and not neither; the fields of one
//! kind are not given to the other.
//!
//! Why: a database export upserts by key into an operational system, so the key and the table
//! must be known before anything runs; a field that belongs to the other kind would be silently
//! ignored, which hides a typo or a misunderstanding.
//!
//! Example: `exports: features: { from: ml_product_features, to: shop_db }` → add
//! `table: product_features` and `key: [product_key]`.

use super::Rule;
use crate::diagnostic::Diagnostic;
use crate::model::SourceKind;
use crate::validate::Cx;

pub const RULE: Rule = Rule {
    code: "E195",
    name: "export-target",
    summary: "an export writes files to a zone, or rows by key into a database source's table",
    hint: "give `zone:` (files in the lake), or `to:` a postgres/mysql source with `table:` and `key:`",
    source: include_str!("export_target.rs"),
    also: &[],
    check,
};

fn check(cx: &Cx, out: &mut Vec<Diagnostic>) {
    let s = &cx.loaded.stack;
    for (name, e) in s.serving.exports.iter() {
        let at = |what: String, span| cx.error("E195", what, span);
        match (&e.zone, &e.to) {
            (None, None) => out.push(at(
                format!(
                    "export `{}` has neither `zone:` (files in the lake) nor `to:` (rows into a database source)",
                    name.value
                ),
                name.span,
            )),
            (Some(_), Some(to)) => out.push(at(
                format!(
                    "export `{}` has both `zone:` and `to:`: one export writes files or rows, not both",
                    name.value
                ),
                to.span,
            )),
            (Some(_), None) => {
                let stray = e
                    .table
                    .as_ref()
                    .map(|t| ("table", t.span))
                    .or_else(|| e.key.first().map(|k| ("key", k.span)))
                    .or_else(|| e.mode.as_ref().map(|m| ("mode", m.span)));
                if let Some((field, span)) = stray {
                    out.push(at(
                        format!(
                            "export `{}` writes files (`zone:`): `{field}:` applies to a database export (`to:`)",
                            name.value
                        ),
                        span,
                    ));
                }
            }
            (None, Some(to)) => {
                match s.sources.get(&to.value).map(|src| src.kind.value) {
                    Some(SourceKind::Postgres | SourceKind::Mysql) => {}
                    Some(other) => out.push(at(
                        format!(
                            "export `{}` writes rows into source `{}`, a `{}` source: only postgres and mysql sources take rows",
                            name.value,
                            to.value,
                            other.as_str()
                        ),
                        to.span,
                    )),
                    // An unknown source is E110's (unresolved reference).
                    None => {}
                }
                if e.table.is_none() {
                    out.push(at(
                        format!("export `{}` writes rows but names no `table:`", name.value),
                        to.span,
                    ));
                }
                if e.key.is_empty() {
                    out.push(at(
                        format!(
                            "export `{}` writes rows but has no `key:` (the columns that identify a row)",
                            name.value
                        ),
                        to.span,
                    ));
                }
                if let Some(p) = &e.prefix {
                    out.push(at(
                        format!(
                            "export `{}` writes rows into a database: `prefix:` applies to files (`zone:`)",
                            name.value
                        ),
                        p.span,
                    ));
                }
            }
        }
    }
}
