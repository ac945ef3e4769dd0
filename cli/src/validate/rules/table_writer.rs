//! E114 table-writer: every table is written by an ingest of the stack (`from:`), or says that
//! something outside the stack writes it (`external: true`) — never both, never neither.
//!
//! Why: a table nothing writes stays empty, and every model, check and export over it reads
//! nothing without an error; usually `from:` was forgotten or names the wrong ingest.
//!
//! Example: `tables: {orders: {zone: raw, columns: ...}}` → add `from: shop_tables`, or
//! `external: true` when another system lands the files.

use super::Rule;
use crate::diagnostic::Diagnostic;
use crate::validate::Cx;

pub const RULE: Rule = Rule {
    code: "E114",
    name: "table-writer",
    summary: "every table is written by an ingest (`from:`) or declared `external: true`",
    hint: "add `from: <ingest>` naming the stream or batch load that writes it, or `external: true` if something outside the stack does",
    source: include_str!("table_writer.rs"),
    also: &[],
    check,
};

fn check(cx: &Cx, out: &mut Vec<Diagnostic>) {
    for (key, t) in cx.loaded.stack.tables.iter() {
        let external = t.external.as_ref().filter(|e| e.value);
        match (&t.from, external) {
            (None, None) => out.push(
                cx.error(
                    "E114",
                    format!("nothing writes table `{}`", key.value),
                    key.span,
                )
                .label("no `from:` and not `external: true`"),
            ),
            (Some(from), Some(e)) => out.push(
                cx.error(
                    "E114",
                    format!(
                        "table `{}` is written by `{}` and declared external",
                        key.value, from.value
                    ),
                    e.span,
                )
                .hint("keep `from:` if the stack writes it, `external: true` if it does not"),
            ),
            _ => {}
        }
    }
}
