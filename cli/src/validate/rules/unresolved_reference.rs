//! E110 unresolved-reference: every name a section refers to exists, in the right section.
//!
//! Why: a typo in a `source:`, `zone:` or a SQL table name would otherwise surface as a runtime
//! failure deep inside a pipeline run.
//!
//! Example: `zone: curatd` → did you mean `curated`?

use super::Rule;
use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::model::SourceKind;
use crate::validate::Cx;
use crate::yaml::Spanned;

pub const RULE: Rule = Rule {
    code: "E110",
    name: "unresolved-reference",
    summary: "references to sources, zones, ingests, tables, models, views and streams resolve",
    hint: "check the spelling against the names this stack declares",
    source: include_str!("unresolved_reference.rs"),
    also: &[],
    check,
};

/// The stack section each kind of reference points into.
const SECTIONS: &[(&str, &str)] = &[
    ("source", "sources"),
    ("zone", "zones"),
    ("ingest", "ingest"),
    ("stream", "streams"),
    ("batch", "batch"),
    ("table", "tables"),
];

/// A reference to something whose own error was already reported (it failed to decode, or its
/// section's key is misspelt): one root cause, one diagnostic.
fn already_reported(cx: &Cx, what: &str, name: &str) -> bool {
    let broken = &cx.loaded.broken;
    broken.contains(name)
        || SECTIONS
            .iter()
            .any(|(w, section)| what.ends_with(w) && broken.contains(*section))
}

fn missing<'a>(
    cx: &Cx,
    r: &Spanned<String>,
    what: &str,
    candidates: impl Iterator<Item = &'a str> + Clone,
) -> Option<Diagnostic> {
    if already_reported(cx, what, &r.value) {
        return None;
    }
    let mut d = cx.error("E110", format!("unknown {what} `{}`", r.value), r.span);
    d = match did_you_mean(r, candidates.clone()) {
        Some(s) => d.hint(format!("did you mean `{s}`?")),
        None => {
            let all: Vec<&str> = candidates.collect();
            if all.is_empty() {
                d.hint(format!("this stack declares no {what}; check that its section is there and spelled right"))
            } else {
                d.hint(format!("declared: {}", all.join(", ")))
            }
        }
    };
    Some(d)
}

// Long: one arm per place a stack names another component, each with its own diagnostic.
fn check(cx: &Cx, out: &mut Vec<Diagnostic>) {
    let s = &cx.loaded.stack;
    let zones = || s.storage.lake.zones.keys();
    let zone = |r: &Spanned<String>, out: &mut Vec<Diagnostic>| {
        if s.storage.lake.zones.get(r).is_none() {
            out.extend(missing(cx, r, "zone", zones()));
        }
    };
    for (_, stream) in s.ingest.streams.iter() {
        if let Some(src) = &stream.source
            && s.sources.get(src).is_none()
        {
            out.extend(missing(cx, src, "source", s.sources.keys()));
        }
        if let Some(d) = &stream.delivery {
            zone(&d.zone, out);
        }
    }
    for (_, batch) in s.ingest.batch.iter() {
        match s.sources.get(&batch.source) {
            None => out.extend(missing(cx, &batch.source, "source", s.sources.keys())),
            Some(src) if src.kind.value.is_database() && !src.tables.is_empty() => {
                for t in &batch.tables {
                    if !src.tables.iter().any(|x| x.value == t.value) {
                        out.extend(missing(
                            cx,
                            t,
                            "source table",
                            src.tables.iter().map(|x| x.value.as_str()),
                        ));
                    }
                }
            }
            Some(_) => {}
        }
        zone(&batch.zone, out);
    }
    let ingests = || s.ingest.streams.keys().chain(s.ingest.batch.keys());
    for (_, t) in s.tables.iter() {
        zone(&t.zone, out);
        if let Some(from) = &t.from
            && !ingests().any(|i| i == from.value)
        {
            out.extend(missing(cx, from, "ingest", ingests()));
        }
    }
    let relations = || cx.relations.keys().map(String::as_str);
    for (name, t) in s.transforms.iter() {
        zone(&t.zone, out);
        for dep in &t.depends_on {
            if !cx.relations.contains_key(&dep.value) && !ingests().any(|i| i == dep.value) {
                out.extend(missing(
                    cx,
                    dep,
                    "table, model or ingest",
                    relations().chain(ingests()),
                ));
            }
        }
        sql_reads(cx, name, out);
    }
    for (name, _) in s.serving.views.iter() {
        sql_reads(cx, name, out);
    }
    for (_, e) in s.serving.exports.iter() {
        if let Some(z) = &e.zone {
            zone(z, out);
        }
        if let Some(to) = &e.to
            && s.sources.get(&to.value).is_none()
        {
            out.extend(missing(cx, to, "source", s.sources.keys()));
        }
        if !cx.relations.contains_key(&e.from.value) {
            out.extend(missing(cx, &e.from, "table, model or view", relations()));
        }
    }
    for (_, t) in s.unit_tests.iter() {
        let is_model = matches!(
            cx.relations.get(&t.model.value),
            Some(crate::validate::Relation::Transform | crate::validate::Relation::View)
        );
        if !is_model {
            out.extend(missing(cx, &t.model, "model or view", relations()));
        }
        for (given, _) in t.given.iter() {
            if !cx.relations.contains_key(&given.value) {
                out.extend(missing(cx, given, "table, model or view", relations()));
            }
        }
        // Fixture files: readable, inside the stack's directory (E130, as for SQL files).
        let dir = cx.loaded.src.dir();
        let files = t
            .given
            .iter()
            .map(|(g, f)| (g.span, f))
            .chain(std::iter::once((t.model.span, &t.expect)));
        for (span, f) in files {
            if let crate::model::unit_tests::Fixture::File { file } = f
                && let Err(e) = crate::stack_files::read(&dir, file)
            {
                out.push(cx.error(
                    "E130",
                    format!("cannot read fixture file `{file}`: {e}"),
                    span,
                ));
            }
        }
    }
    for (key, checks) in s.quality.iter() {
        if !cx.relations.contains_key(&key.value) {
            out.extend(missing(cx, key, "table, model or view", relations()));
        }
        for c in checks {
            if let crate::model::Check::Sql(q) = &c.check
                && let Ok(read) = crate::sql::relations(&crate::sql::this(&q.value, &key.value))
            {
                for r in read.iter().filter(|r| {
                    !cx.relations.contains_key(*r) && **r != key.value.to_ascii_lowercase()
                }) {
                    out.push(
                        cx.error("E110", format!("the check's SQL reads `{r}`, not a table, model or view of the stack"), q.span)
                            .hint("`{this}` stands for the relation the check is on"),
                    );
                }
            }
            if let crate::model::Check::RowCountMatches(r) = &c.check
                && !cx.relations.contains_key(&r.to.value)
            {
                out.extend(missing(cx, &r.to, "table, model or view", relations()));
            }
            if let crate::model::Check::Relationships(r) = &c.check {
                let table = r.to.split('.').next().unwrap_or_default();
                if r.to.split('.').count() != 2 {
                    out.push(cx.error(
                        "E110",
                        format!("`{}` is not `table.column`", r.to.value),
                        r.to.span,
                    ));
                } else if !cx.relations.contains_key(table) {
                    out.push(cx.error_in(
                        "E110",
                        format!("unknown table, model or view `{table}`"),
                        &r.to,
                        0,
                        table.len(),
                    ));
                }
            }
        }
    }
    for (name, a) in s.observe.alarms.iter() {
        match (&a.stream, a.metric.is_dekit()) {
            (Some(st), false) if s.ingest.streams.get(st).is_none() => {
                out.extend(missing(cx, st, "stream", s.ingest.streams.keys()));
            }
            (None, false) => out.push(
                cx.error(
                    "E110",
                    "the alarm's metric is a stream's: name the stream",
                    name.span,
                )
                .hint("add `stream: <name of ingest.streams>`"),
            ),
            (Some(st), true) => out.push(
                cx.error(
                    "E110",
                    "dekit's metrics are about the whole stack, not a stream",
                    st.span,
                )
                .hint("remove `stream:`"),
            ),
            _ => {}
        }
        for n in &a.notify {
            if !n.value.starts_with("arn:") && s.observe.topics.get(&n.value).is_none() {
                out.extend(missing(
                    cx,
                    n,
                    "topic of observe.topics",
                    s.observe.topics.keys(),
                ));
            }
        }
    }
    for n in s.orchestration.iter().flat_map(|o| &o.notify) {
        if s.observe.topics.get(&n.value).is_none() {
            out.extend(missing(
                cx,
                n,
                "topic of observe.topics",
                s.observe.topics.keys(),
            ));
        }
    }
    for r in &s.security.readers {
        zone(&r.zone, out);
    }
    if let Some(d) = &s.default_environment
        && s.environments.get(d).is_none()
    {
        out.extend(missing(cx, d, "environment", s.environments.keys()));
    }
    // Sources used by the wrong kind of ingest.
    for (_, stream) in s.ingest.streams.iter() {
        if let Some(src) = stream
            .source
            .as_ref()
            .and_then(|r| s.sources.get(r).map(|x| (r, x)))
            && src.1.kind.value != SourceKind::Events
        {
            out.push(
                cx.error(
                    "E110",
                    format!("stream source `{}` is not an `events` source", src.0.value),
                    src.0.span,
                )
                .hint("streams carry events; load databases, files and APIs with `ingest.batch`"),
            );
        }
    }
    for (_, batch) in s.ingest.batch.iter() {
        if let Some(src) = s.sources.get(&batch.source)
            && src.kind.value == SourceKind::Events
        {
            out.push(
                cx.error(
                    "E110",
                    format!(
                        "batch source `{}` is an `events` source",
                        batch.source.value
                    ),
                    batch.source.span,
                )
                .hint("events arrive through `ingest.streams`"),
            );
        }
    }
}

/// A model's SQL reads names that are not tables, models or views: report them in the SQL file.
fn sql_reads(cx: &Cx, name: &str, out: &mut Vec<Diagnostic>) {
    let Some(model) = cx.models.get(name) else {
        return;
    };
    let file = cx.files.iter().find(|f| f.path == model.path);
    for r in &model.reads {
        if cx.relations.contains_key(r) || already_reported(cx, "table", r) {
            continue;
        }
        let mut d = Diagnostic::error(
            "E110",
            format!(
                "model `{name}` reads `{r}`, which is not a table, model or view of this stack"
            ),
        );
        d = match file.and_then(|f| find_word(&f.text, r).map(|at| (f, at))) {
            Some((f, at)) => d.at(f, f.span_at(at, r.len())),
            None => d.in_file(&model.path),
        };
        d = match did_you_mean(r, cx.relations.keys().map(String::as_str)) {
            Some(s) => d.hint(format!("did you mean `{s}`?")),
            None => d.hint("declare it under `tables:`, `transforms:` or `serving.views:`"),
        };
        out.push(d);
    }
}

/// Byte offset of `word` in `text` as a whole identifier, ignoring case.
pub fn find_word(text: &str, word: &str) -> Option<usize> {
    let lower = text.to_lowercase();
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut from = 0;
    while let Some(i) = lower[from..].find(word) {
        let at = from + i;
        let before = lower[..at].chars().next_back();
        let after = lower[at + word.len()..].chars().next();
        if !before.is_some_and(ident) && !after.is_some_and(ident) {
            return Some(at);
        }
        from = at + word.len();
    }
    None
}
