//! E130 sql-file / E131 sql-syntax: each model's and view's SQL file exists and is one query.
//!
//! Why: lineage comes from the SQL itself (the tables it reads), so a broken file breaks the graph;
//! syntax errors are shown in the SQL file at their line and column.
//!
//! Example: `sql: models/dim_customer.sql` when the file is `dim_customers.sql`.

use super::Rule;
use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::source::SourceFile;
use crate::validate::{Cx, Relation, SqlModel};

pub const RULE: Rule = Rule {
    code: "E130",
    name: "sql-file",
    summary: "model SQL files exist and parse as one SELECT",
    hint: "the path is relative to the stack file; the file holds one SELECT (or WITH ... SELECT)",
    source: include_str!("sql_model.rs"),
    also: &[(
        "E131",
        "sql-syntax",
        "model SQL parses",
        "fix the SQL at the line and column shown",
    )],
    check,
};

/// Read and parse every model's SQL (runs before the other rules, which use the result).
pub fn load(cx: &mut Cx, out: &mut Vec<Diagnostic>) {
    let s = &cx.loaded.stack;
    for (k, _) in s.tables.iter() {
        cx.relations
            .entry(k.value.clone())
            .or_insert(Relation::Table);
    }
    let dir = cx.loaded.src.dir();
    let models = s
        .transforms
        .iter()
        .map(|(k, t)| (k, &t.sql, Relation::Transform))
        .chain(
            s.serving
                .views
                .iter()
                .map(|(k, v)| (k, &v.sql, Relation::View)),
        );
    for (name, sql, kind) in models {
        cx.relations.entry(name.value.clone()).or_insert(kind);
        let path = dir.join(&sql.value);
        let (path, text) = match crate::stack_files::read(&dir, &sql.value) {
            Ok((_, t)) => (path, t),
            Err(e) => {
                let mut d = cx.error(
                    "E130",
                    format!("cannot read SQL file `{}`: {e}", sql.value),
                    sql.span,
                );
                // Suggestions come only from inside the stack's directory.
                let siblings = path
                    .parent()
                    .filter(|_| e == crate::stack_files::Refused::Missing)
                    .and_then(|p| std::fs::read_dir(p).ok())
                    .map(|rd| {
                        rd.filter_map(|e| e.ok()?.file_name().into_string().ok())
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default();
                let file = path
                    .file_name()
                    .and_then(|f| f.to_str())
                    .unwrap_or_default();
                d = match did_you_mean(file, siblings.iter().map(String::as_str)) {
                    Some(s) => d.hint(format!(
                        "did you mean `{s}`? paths are relative to the stack file"
                    )),
                    None => d.hint("paths are relative to the stack file's directory"),
                };
                out.push(d);
                continue;
            }
        };
        let file = SourceFile::new(path.clone(), text.clone());
        let reads = match crate::sql::relations(&text) {
            Ok(r) => r,
            Err(e) => {
                let at = file.offset_of(e.line, e.col);
                out.push(
                    Diagnostic::error(
                        "E131",
                        format!("SQL of `{}` does not parse: {}", name.value, e.message),
                    )
                    .at(&file, file.span_at(at, 1))
                    .hint("dekit parses models as ANSI SQL with common Athena/Trino extensions"),
                );
                Default::default()
            }
        };
        cx.files.push(file);
        cx.models.insert(
            name.value.clone(),
            SqlModel {
                path,
                sql: text,
                reads,
            },
        );
    }
}

fn check(_: &Cx, _: &mut Vec<Diagnostic>) {
    // All findings of this rule are made while loading, before the other rules run.
}
