//! Semantic checks across a decoded stack: names, references, cycles, schedules, SQL, secrets.
//!
//! Each rule lives in `rules/<name>.rs`, opens with what it checks and why, and has fixtures in the
//! bad-input corpus (`tests/corpus/`). All rules run; every finding is reported.

pub mod rules;

use crate::diagnostic::Diagnostic;
use crate::load::{Loaded, Report};
use crate::source::{SourceFile, Span};
use crate::yaml::Spanned;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// A SQL model (transform or serving view) with the relations its SQL reads.
#[derive(Debug, Clone)]
pub struct SqlModel {
    pub path: PathBuf,
    pub sql: String,
    /// Names the SQL reads (CTEs excluded), empty when the file is missing or broken.
    pub reads: BTreeSet<String>,
}

/// What kind of thing a name used in SQL and `from:` refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    Table,
    Transform,
    View,
}

/// A stack that passed the checks, with what the checks computed.
#[derive(Debug, Clone)]
pub struct Checked {
    pub loaded: Loaded,
    pub models: BTreeMap<String, SqlModel>,
}

pub struct Cx<'a> {
    pub loaded: &'a Loaded,
    pub models: BTreeMap<String, SqlModel>,
    pub relations: BTreeMap<String, Relation>,
    pub files: Vec<SourceFile>,
}

impl<'a> Cx<'a> {
    pub fn src(&self) -> &SourceFile {
        &self.loaded.src
    }

    pub fn error(&self, code: &'static str, msg: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic::error(code, msg).at(&self.loaded.src, span)
    }

    pub fn warning(&self, code: &'static str, msg: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic::warning(code, msg).at(&self.loaded.src, span)
    }

    /// Error pointing at a spanned string, or inside it at `offset`.
    pub fn error_in(
        &self,
        code: &'static str,
        msg: impl Into<String>,
        s: &Spanned<String>,
        offset: usize,
        len: usize,
    ) -> Diagnostic {
        // Positions inside the scalar are exact only when the text was not rewritten by `${...}`.
        let raw = self
            .src()
            .text
            .get(s.span.start..s.span.start + s.span.len)
            .unwrap_or_default();
        let shift = usize::from(raw.starts_with('"') || raw.starts_with('\''));
        let span = if raw.trim_matches(['"', '\'']) == s.value.as_str() {
            s.span.sub(self.src(), shift + offset, len.max(1))
        } else {
            s.span
        };
        self.error(code, msg, span)
    }
}

/// A hint for findings whose rule had nothing more specific to say: every error carries one.
fn default_hint(code: &str) -> &'static str {
    crate::codes::hint(code)
        .unwrap_or("`dekit rules` lists every check; `dekit rules CODE` explains one")
}

/// Run every rule. Returns the checked stack when there is no error.
pub fn check(loaded: Loaded, mut report: Report) -> (Option<Checked>, Report) {
    let mut cx = Cx {
        loaded: &loaded,
        models: BTreeMap::new(),
        relations: BTreeMap::new(),
        files: vec![],
    };
    let mut diags = vec![];
    rules::sql_model::load(&mut cx, &mut diags);
    for rule in rules::ALL {
        (rule.check)(&cx, &mut diags);
    }
    // A value already reported while decoding is not reported again by a rule.
    let decoded: Vec<(PathBuf, std::ops::Range<usize>)> = report
        .diags
        .iter()
        .filter_map(|d| {
            d.span
                .map(|s| (d.file.clone(), s.start..s.start + s.len.max(1)))
        })
        .chain(
            loaded
                .suppressed
                .iter()
                .map(|s| (loaded.src.path.clone(), s.start..s.start + s.len.max(1))),
        )
        .collect();
    diags.retain(|d| {
        d.span.is_none_or(|s| {
            let r = s.start..s.start + s.len.max(1);
            !decoded
                .iter()
                .any(|(f, x)| *f == d.file && x.start < r.end && r.start < x.end)
        })
    });
    report.diags.extend(diags);
    report.files.append(&mut cx.files);
    report.diags.sort_by(|a, b| {
        (a.file != loaded.src.path, &a.file, a.span.map(|s| s.start)).cmp(&(
            b.file != loaded.src.path,
            &b.file,
            b.span.map(|s| s.start),
        ))
    });
    for d in report.diags.iter_mut().filter(|d| d.hint.is_none()) {
        d.hint = Some(default_hint(d.code).to_string());
    }
    let models = std::mem::take(&mut cx.models);
    if report.has_errors() {
        (None, report)
    } else {
        (Some(Checked { loaded, models }), report)
    }
}
