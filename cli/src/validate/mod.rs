//! Semantic checks across a decoded stack: names, references, cycles, schedules, SQL, secrets.
//!
//! Each rule lives in `rules/<name>.rs`, opens with what it checks and why, and has fixtures in the
//! bad-input corpus (`tests/corpus/`). All rules run; every finding is reported.

pub mod rules;

use crate::diagnostic::{Diagnostic, Severity};
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
    hint(code).unwrap_or("`dekit rules` lists every check; `dekit rules CODE` explains one")
}

/// The hint of `code`, from the loader's codes or a rule's (without building the explanations:
/// this runs for every diagnostic).
pub fn hint(code: &str) -> Option<&'static str> {
    crate::load::CODES
        .iter()
        .find(|(c, ..)| *c == code)
        .map(|(_, _, _, hint, _)| *hint)
        .or_else(|| {
            rules::ALL.iter().find_map(|r| {
                if r.code == code {
                    return Some(r.hint);
                }
                r.also
                    .iter()
                    .find(|(c, ..)| *c == code)
                    .map(|(_, _, _, h)| *h)
            })
        })
}

/// The components (second-level keys: `sources.shop_app`) that hold a decoding error of the
/// stack file, as (line, column, name) of their key. Found from the source's indentation: the
/// nearest lines above the error that are less indented are its enclosing keys.
///
/// In time linear in the file and the errors: each line knows the nearest line above it that is
/// less indented, so the walk up from an error jumps over whole blocks (a walk line by line made
/// 250,000 errors in one section take minutes).
fn poisoned_components(src: &SourceFile, decoded: &[Diagnostic]) -> Vec<(u32, u32, String)> {
    // The lines that count (not blank, not comments): (line, indent, body).
    let mut lines: Vec<(u32, u32, &str)> = vec![];
    // For each of them, the index of the nearest one above that is less indented.
    let mut less: Vec<Option<usize>> = vec![];
    let mut open: Vec<usize> = vec![];
    for line in 1..=src.line_count() {
        let text = src.line_text(line);
        let body = text.trim_start();
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        let i = (text.len() - body.len()) as u32;
        while open.last().is_some_and(|&j| lines[j].1 >= i) {
            open.pop();
        }
        less.push(open.last().copied());
        open.push(lines.len());
        lines.push((line, i, body));
    }
    let mut out = vec![];
    for d in decoded {
        let Some(s) = d
            .span
            .filter(|_| d.file == src.path && d.severity == Severity::Error)
        else {
            continue;
        };
        // (line, indent, key) of each enclosing key, innermost first.
        let mut chain = vec![];
        let mut indent = s.col.saturating_sub(1);
        // An error inside a list item (one quality check of several) stands in for that item
        // only: the component's other items are still checked.
        let mut in_item = src.line_text(s.line).trim_start().starts_with('-');
        // The last counted line above the error's.
        let mut at = lines.partition_point(|l| l.0 < s.line).checked_sub(1);
        while let Some(j) = at {
            let (line, i, body) = lines[j];
            if i >= indent {
                // Everything between here and the nearest less indented line is as indented.
                at = less[j];
                continue;
            }
            if body.starts_with('-') {
                in_item = true;
            } else if let Some((key, _)) = body.split_once(':') {
                chain.push((line, i, key.trim().trim_matches('"').to_string()));
                indent = i;
                if i == 0 {
                    break;
                }
            }
            at = j.checked_sub(1);
        }
        // chain ends at the top-level section; the component is the one just inside it.
        if chain.len() >= 2 && !in_item {
            let (line, i, name) = chain[chain.len() - 2].clone();
            out.push((line, i + 1, name));
        }
    }
    out
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
    // A component whose value failed to decode was decoded with a stand-in (an unknown `kind`
    // falls back to the first): what rules say about it, at its key or by its name, follows from
    // that error, not from the stack.
    let poisoned = poisoned_components(&loaded.src, &report.diags);
    if !poisoned.is_empty() {
        diags.retain(|d| {
            let at_key = d
                .span
                .is_some_and(|s| poisoned.iter().any(|p| p.0 == s.line && p.1 == s.col));
            let names = poisoned
                .iter()
                .any(|p| d.message.contains(&format!("`{}`", p.2)));
            !(d.file == loaded.src.path && (at_key || names))
        });
    }
    // A bad stack or environment name makes every physical name derived from it bad too: one
    // root cause, one error.
    let mut roots = vec![];
    if diags.iter().any(|d| d.code == "E100") {
        roots.push(loaded.stack.stack.value.clone());
    }
    let env_error = format!("invalid name `{}`", loaded.env_name);
    if report
        .diags
        .iter()
        .chain(&diags)
        .any(|d| d.code == "E015" && d.message == env_error)
    {
        roots.push(loaded.env_name.clone());
    }
    if !roots.is_empty() {
        diags.retain(|d| {
            !(d.code.starts_with("E10")
                && d.code != "E100"
                && roots.iter().any(|r| d.message.contains(r.as_str())))
        });
    }
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
