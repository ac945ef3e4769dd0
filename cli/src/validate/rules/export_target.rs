//! E195 export-target: an export writes files to a lake zone (`zone:`), rows into a table of a
//! database source (`to:` a postgres/mysql source, with `table:` and `key:`), or rows to an HTTP
//! API (`to:` an http_api source, with `key:`); not two of them and not none; the fields of one
//! kind are not given to another.
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
    summary: "an export writes files to a zone, or rows by key into a database table or an HTTP API",
    hint: "give `zone:` (files in the lake), or `to:` a postgres/mysql source with `table:` and `key:`, or `to:` an http_api source with `key:`",
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
            (None, Some(to)) => rows(cx, &name.value, e, to, out),
        }
    }
}

/// An export of rows (`to:`): into a database's table, or to an HTTP API.
fn rows(
    cx: &Cx,
    export: &str,
    e: &crate::model::Export,
    to: &crate::yaml::Spanned<String>,
    out: &mut Vec<Diagnostic>,
) {
    let s = &cx.loaded.stack;
    let at = |what: String, span| cx.error("E195", what, span);
    let kind = s.sources.get(&to.value).map(|src| src.kind.value);
    match kind {
            Some(SourceKind::Postgres | SourceKind::Mysql | SourceKind::HttpApi) => {}
            Some(other) => out.push(at(
                format!(
                    "export `{}` writes rows into source `{}`, a `{}` source: only postgres, mysql and http_api sources take rows",
                    export,
                    to.value,
                    other.as_str()
                ),
                to.span,
            )),
            // An unknown source is E110's (unresolved reference).
            None => {}
        }
    let http = kind == Some(SourceKind::HttpApi);
    let for_http = e
        .path
        .as_ref()
        .map(|p| ("path", p.span))
        .or_else(|| e.method.as_ref().map(|m| ("method", m.span)))
        .or_else(|| e.batch_size.as_ref().map(|b| ("batch_size", b.span)))
        .or_else(|| {
            e.rate_per_second
                .as_ref()
                .map(|r| ("rate_per_second", r.span))
        });
    match (http, for_http, &e.table, &e.mode) {
            (false, Some((field, span)), _, _) => out.push(at(
                format!(
                    "export `{}` writes into a database: `{field}:` applies to an HTTP API export",
                    export
                ),
                span,
            )),
            (true, _, Some(t), _) => out.push(at(
                format!(
                    "export `{}` sends rows to an HTTP API: `table:` applies to a database export (the API's `path:` says where)",
                    export
                ),
                t.span,
            )),
            (true, _, _, Some(m)) => out.push(at(
                format!(
                    "export `{}` sends rows to an HTTP API: `mode:` applies to a database export",
                    export
                ),
                m.span,
            )),
            _ => {}
        }
    if let Some(b) = e
        .batch_size
        .as_ref()
        .filter(|b| b.value == 0 || b.value > 10_000)
    {
        out.push(at(
            format!(
                "`batch_size: {}` is out of range: 1 to 10000 rows per request",
                b.value
            ),
            b.span,
        ));
    }
    if e.table.is_none() && !http {
        out.push(at(
            format!("export `{}` writes rows but names no `table:`", export),
            to.span,
        ));
    }
    if e.key.is_empty() {
        out.push(at(
            format!(
                "export `{}` writes rows but has no `key:` (the columns that identify a row)",
                export
            ),
            to.span,
        ));
    }
    if let Some(p) = &e.prefix {
        out.push(at(
            format!(
                "export `{}` writes rows into a database: `prefix:` applies to files (`zone:`)",
                export
            ),
            p.span,
        ));
    }
}
