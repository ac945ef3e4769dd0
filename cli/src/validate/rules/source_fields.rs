//! E170 source-fields: each source kind has the fields it needs and no fields of other kinds.
//!
//! Why: a `postgres` source without `host` or a `files` source with `url` is a copy-paste mistake
//! that would only fail when the ingest runs.
//!
//! Example: `kind: files` with `host: db.internal` → remove `host` or change the kind.

use super::Rule;
use crate::diagnostic::Diagnostic;
use crate::model::{Source, SourceKind};
use crate::validate::Cx;

pub const RULE: Rule = Rule {
    code: "E170",
    name: "source-fields",
    summary: "sources have the fields their kind needs",
    hint: "see `dekit schema` for the fields each source kind needs",
    source: include_str!("source_fields.rs"),
    also: &[(
        "W171",
        "database-without-tables",
        "a database source lists the tables to load",
        "list the tables to load under `tables:`",
    )],
    check,
};

fn fields(s: &Source) -> [(&'static str, Option<crate::source::Span>); 8] {
    [
        ("host", s.host.as_ref().map(|v| v.span)),
        ("port", s.port.as_ref().map(|v| v.span)),
        ("database", s.database.as_ref().map(|v| v.span)),
        ("user", s.user.as_ref().map(|v| v.span)),
        ("password", s.password.as_ref().map(|v| v.span)),
        ("path", s.path.as_ref().map(|v| v.span)),
        ("url", s.url.as_ref().map(|v| v.span)),
        ("token", s.token.as_ref().map(|v| v.span)),
    ]
}

fn check(cx: &Cx, out: &mut Vec<Diagnostic>) {
    for (name, src) in cx.loaded.stack.sources.iter() {
        let kind = src.kind.value;
        let (required, allowed): (&[&str], &[&str]) = match kind {
            SourceKind::Postgres | SourceKind::Mysql => (
                &["host", "database", "user", "password"],
                &["host", "port", "database", "user", "password"],
            ),
            SourceKind::Files => (&["path"], &["path"]),
            SourceKind::HttpApi => (&["url"], &["url", "token"]),
            SourceKind::Events => (&[], &[]),
        };
        let kind_name = kind.as_str();
        for (field, span) in fields(src) {
            match span {
                None if required.contains(&field) => out.push(
                    cx.error(
                        "E170",
                        format!("`{kind_name}` source `{}` needs `{field}`", name.value),
                        name.span,
                    )
                    .hint(format!("add `{field}:` to the source")),
                ),
                Some(sp) if !allowed.contains(&field) => out.push(
                    cx.error(
                        "E170",
                        format!("`{field}` does not apply to a `{kind_name}` source"),
                        sp,
                    )
                    .hint(format!(
                        "`{kind_name}` sources take: {}",
                        if allowed.is_empty() {
                            "no connection fields".to_string()
                        } else {
                            allowed.join(", ")
                        }
                    )),
                ),
                _ => {}
            }
        }
        // A URL from the environment (`${env.API_URL}`) is checked when the run reads it.
        if let Some(u) = &src.url
            && !(u.starts_with("https://") || u.starts_with("http://"))
            && !crate::interpolate::is_env_reference(u)
        {
            out.push(cx.error(
                "E170",
                format!("`{}` is not an http(s) URL", u.value),
                u.span,
            ));
        }
        // A source that only receives rows (an export's `to:`) has nothing to ingest.
        let written_to = cx
            .loaded
            .stack
            .serving
            .exports
            .iter()
            .any(|(_, e)| e.to.as_ref().is_some_and(|t| t.value == name.value));
        if kind.is_database() && src.tables.is_empty() && !written_to {
            out.push(
                cx.warning(
                    "W171",
                    format!("database source `{}` lists no `tables`", name.value),
                    name.span,
                )
                .hint("list the tables to ingest so batch loads and lineage know them"),
            );
        }
    }
}
