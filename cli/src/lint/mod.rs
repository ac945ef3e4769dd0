//! `dekit lint`: the security and quota findings about a stack, each with its rule id, severity,
//! the stack file's line and column, and a fix: from `validate`'s rules that are about security
//! and AWS quotas (their errors fail `validate` too), and from the resource graph — the IAM
//! policies, bucket, stream and workgroup settings dekit generates (`iam`, `generated`).
//! Text, JSON or SARIF 2.1.0 (`sarif`); exit 1 on any error-level finding.

pub mod generated;
pub mod glue;
pub mod iam;
pub mod pipeline;
pub mod sarif;

use crate::diagnostic::{Diagnostic, Severity};
use crate::load::Report;
use crate::source::Span;
use crate::validate::Checked;
use serde::Serialize;

/// `validate` codes that are lint findings: security (public access, KMS, secrets, the alarm
/// topic, raw retention) and AWS quotas (value ranges, stream throughput, Athena's partitions).
pub const FROM_VALIDATE: &[&str] = &[
    "E140", "E160", "E190", "W191", "W192", "W136", "S101", "S102",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error,
    Warning,
    /// A case that is allowed and listed with its reason (a `*` resource AWS requires).
    Note,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub code: &'static str,
    pub level: Level,
    pub message: String,
    pub file: String,
    pub line: u32,
    pub col: u32,
    pub hint: String,
}

/// The lint rules of the graph, for `dekit rules` and SARIF: (code, name, summary, hint).
pub const GRAPH_RULES: &[(&str, &str, &str, &str)] = &[
    iam::WILDCARD_ACTION,
    iam::WILDCARD_RESOURCE,
    generated::BUCKET,
    generated::STREAM,
    generated::WORKGROUP,
    generated::DELIVERY,
    glue::JOBS,
    glue::CATALOG,
    pipeline::CONFINED,
];

/// `dekit rules CODE` for a graph rule: what, why (its module's doc comment) and the fix.
pub fn explain(code: &str) -> Option<String> {
    let (c, name, summary, hint) = GRAPH_RULES.iter().find(|r| r.0 == code)?;
    let source = match &c[..3] {
        "S11" => include_str!("iam.rs"),
        _ if ["S124", "S125"].contains(c) => include_str!("glue.rs"),
        "S126" => include_str!("pipeline.rs"),
        _ => include_str!("generated.rs"),
    };
    let doc: String = source
        .lines()
        .take_while(|l| l.starts_with("//!"))
        .map(|l| l.trim_start_matches("//!").trim_start())
        .collect::<Vec<_>>()
        .join("\n");
    Some(format!(
        "{c} {name}: {summary} (dekit lint).\n\n{doc}\n\nFix: {hint}\n"
    ))
}

/// Every finding about the stack: from validate's report (also when it had errors) and, when
/// it checked, from its graph.
pub fn findings(report: &Report, checked: Option<&Checked>) -> Result<Vec<Finding>, String> {
    let mut out: Vec<Finding> = report
        .diags
        .iter()
        .filter(|d| FROM_VALIDATE.contains(&d.code))
        .map(from_diagnostic)
        .collect();
    if let Some(c) = checked {
        let graph = crate::graph::compile::compile(c).map_err(|e| e.to_string())?;
        let at = |name: &str| locate(c, name);
        let file = c.loaded.src.path.display().to_string();
        for (code, level, message, hint, span) in iam::check(&graph, &at)
            .into_iter()
            .chain(generated::check(&graph, &at))
            .chain(pipeline::check(&graph, &at))
            .chain(glue::check(
                &graph,
                c.loaded.stack.security.catalog_encryption.as_ref(),
                c.loaded.stack.stack.span,
                &at,
            ))
        {
            out.push(Finding {
                code,
                level,
                message,
                file: file.clone(),
                line: span.line,
                col: span.col,
                hint,
            });
        }
    }
    out.sort_by(|a, b| (&a.file, a.line, a.col, a.code).cmp(&(&b.file, b.line, b.col, b.code)));
    Ok(out)
}

fn from_diagnostic(d: &Diagnostic) -> Finding {
    let hint = d.hint.clone().unwrap_or_else(|| {
        crate::validate::rules::ALL
            .iter()
            .find(|r| r.code == d.code)
            .map(|r| r.hint.to_string())
            .or_else(|| {
                crate::validate::rules::ALL
                    .iter()
                    .flat_map(|r| r.also.iter())
                    .find(|a| a.0 == d.code)
                    .map(|a| a.3.to_string())
            })
            .unwrap_or_default()
    });
    Finding {
        code: d.code,
        level: match d.severity {
            Severity::Error => Level::Error,
            Severity::Warning => Level::Warning,
        },
        message: d.message.clone(),
        file: d.file.display().to_string(),
        line: d.span.map_or(1, |s| s.line),
        col: d.span.map_or(1, |s| s.col),
        hint,
    }
}

/// Where in the stack file a generated resource comes from: the component whose name its own
/// starts with (the longest), else the `stack:` line.
fn locate(c: &Checked, name: &str) -> Span {
    let s = &c.loaded.stack;
    let keys = s
        .sources
        .iter()
        .map(|(k, _)| k)
        .chain(s.ingest.streams.iter().map(|(k, _)| k))
        .chain(s.ingest.batch.iter().map(|(k, _)| k))
        .chain(s.tables.iter().map(|(k, _)| k))
        .chain(s.transforms.iter().map(|(k, _)| k))
        .chain(s.serving.views.iter().map(|(k, _)| k))
        .chain(s.serving.exports.iter().map(|(k, _)| k))
        .chain(s.storage.lake.zones.iter().map(|(k, _)| k));
    keys.filter(|k| name == k.value || name.starts_with(&format!("{}_", k.value)))
        .max_by_key(|k| k.value.len())
        .map(|k| k.span)
        .unwrap_or(s.stack.span)
}
