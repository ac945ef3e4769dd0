//! E114 table-writer: every table is written by an ingest of the stack (`from:`), or says that
//! something outside the stack writes it (`external: true`) — never both, never neither.
//!
//! Why: a table nothing writes stays empty, and every model, check and export over it reads
//! nothing without an error; usually `from:` was forgotten or names the wrong ingest.
//!
//! Example: `tables: {orders: {zone: raw, columns: ...}}` → add `from: shop_tables`, or
//! `external: true` when another system lands the files.
//!
//! The writer must also be able to fill it: the table is in the zone its ingest writes to, and a
//! `source_table` is one of the tables its source lists (when the source lists them): otherwise
//! the catalog points at one place and the data lands in another.

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
        let Some(from) = &t.from else { continue };
        let s = &cx.loaded.stack;
        let (zone, source) = if let Some(st) = s.ingest.streams.get(&from.value) {
            (st.delivery.as_ref().map(|d| &d.zone), None)
        } else if let Some(b) = s.ingest.batch.get(&from.value) {
            (Some(&b.zone), Some(&b.source))
        } else {
            continue; // an unknown writer is E110's
        };
        if let Some(z) = zone
            && z.value != t.zone.value
        {
            out.push(
                cx.error(
                    "E114",
                    format!(
                        "table `{}` is in zone `{}`, but `{}` writes to zone `{}`",
                        key.value, t.zone.value, from.value, z.value
                    ),
                    t.zone.span,
                )
                .hint(format!("set `zone: {}`", z.value)),
            );
        }
        if let (Some(st), Some(src)) = (&t.source_table, source)
            && let Some(source) = s.sources.get(&src.value)
            && !source.tables.is_empty()
            && !source.tables.iter().any(|n| n.value == st.value)
        {
            let listed: Vec<&str> = source.tables.iter().map(|n| n.value.as_str()).collect();
            let mut d = cx.error(
                "E114",
                format!(
                    "source `{}` does not list a table `{}`",
                    src.value, st.value
                ),
                st.span,
            );
            d = match crate::diagnostic::did_you_mean(st, listed.iter().copied()) {
                Some(m) => d.hint(format!("did you mean `{m}`?")),
                None => d.hint(format!(
                    "its tables: {}; or add `{}` to them",
                    listed.join(", "),
                    st.value
                )),
            };
            out.push(d);
        }
    }
}
