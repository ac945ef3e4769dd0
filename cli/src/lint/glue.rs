//! S124-S125: Glue encrypts what it writes and keeps. Every Glue job and crawler names the stack's
//! security configuration, which encrypts S3 writes (and, with a stack key, logs and bookmarks),
//! and no job keeps bookmarks in clear (S124). The Data Catalog's encryption at rest is one
//! setting per account and region: a stack either manages it (`security: {catalog_encryption:
//! managed}`, then it must be SSE-KMS), says an account baseline does (`external`, listed as a
//! note), or is warned that nobody is known to (S125).
//!
//! Why: a job without a security configuration writes with the bucket's defaults and whatever its
//! script asks for; an unencrypted catalog exposes every table's columns and locations.
//!
//! Example: `security: {catalog_encryption: managed}` adds `glue_catalog_encryption.catalog`.

use super::Level;
use crate::graph::{Graph, NodeKind, ResourceKind};
use crate::model::CatalogEncryption;
use crate::source::Span;
use crate::yaml::Spanned;
use serde_json::Value;

pub const JOBS: (&str, &str, &str, &str) = (
    "S124",
    "glue-security-configuration",
    "Glue jobs and crawlers run under a security configuration that encrypts what they write",
    "a dekit bug if generated: report it",
);
pub const CATALOG: (&str, &str, &str, &str) = (
    "S125",
    "glue-catalog-encrypted",
    "the Glue Data Catalog is encrypted at rest, by this stack or by the account's baseline",
    "add `catalog_encryption: managed` under `security:` (one stack per account and region), or \
     `catalog_encryption: external` if the account's baseline sets it",
);

type Found = (&'static str, Level, String, String, Span);

fn str_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or_default()
}

/// `declared`: the stack's `security.catalog_encryption`; `stack_line`: where to point when absent.
pub fn check(
    graph: &Graph,
    declared: Option<&Spanned<CatalogEncryption>>,
    stack_line: Span,
    at: &dyn Fn(&str) -> Span,
) -> Vec<Found> {
    let mut out = vec![];
    let configs: Vec<&serde_json::Map<String, Value>> = graph
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Resource(ResourceKind::GlueSecurityConfiguration))
        .map(|n| &n.attrs)
        .collect();
    for n in &graph.nodes {
        let kind = match n.kind {
            NodeKind::Resource(ResourceKind::GlueJob) => "job",
            NodeKind::Resource(ResourceKind::GlueCrawler) => "crawler",
            _ => continue,
        };
        let a = Value::Object(n.attrs.clone());
        let named = str_of(&a, "security_configuration");
        let config = configs
            .iter()
            .find(|c| c.get("name").and_then(Value::as_str) == Some(named));
        let problem = match config {
            None if named.is_empty() => Some("names no security configuration".to_string()),
            None => Some(format!(
                "names security configuration `{named}`, which the stack does not have"
            )),
            Some(c) => {
                let c = Value::Object((*c).clone());
                let bookmarks = str_of(&a["default_arguments"], "--job-bookmark-option");
                if matches!(str_of(&c, "s3_encryption"), "" | "DISABLED") {
                    Some(format!(
                        "runs under `{named}`, which does not encrypt S3 writes"
                    ))
                } else if kind == "job"
                    && !matches!(bookmarks, "" | "job-bookmark-disable")
                    && matches!(str_of(&c, "job_bookmarks_encryption"), "" | "DISABLED")
                {
                    Some(format!(
                        "keeps bookmarks (`{bookmarks}`) that `{named}` does not encrypt"
                    ))
                } else {
                    None
                }
            }
        };
        if let Some(p) = problem {
            out.push((
                JOBS.0,
                Level::Error,
                format!("Glue {kind} {} {p}", n.address),
                JOBS.3.to_string(),
                at(&n.name),
            ));
        }
    }
    let span = declared.map_or(stack_line, |d| d.span);
    match declared.map(|d| d.value) {
        None => out.push((
            CATALOG.0,
            Level::Warning,
            "nothing is known to encrypt the Glue Data Catalog this stack's tables live in"
                .to_string(),
            CATALOG.3.to_string(),
            span,
        )),
        Some(CatalogEncryption::External) => out.push((
            CATALOG.0,
            Level::Note,
            "the Glue Data Catalog's encryption is left to the account's baseline \
             (`catalog_encryption: external`); dekit does not check it"
                .to_string(),
            "nothing, if the baseline sets it; `managed` would let this stack set it".to_string(),
            span,
        )),
        Some(CatalogEncryption::Managed) => {
            let node = graph
                .nodes
                .iter()
                .find(|n| n.kind == NodeKind::Resource(ResourceKind::GlueCatalogEncryption));
            let mode = node.and_then(|n| n.attrs.get("catalog_encryption"));
            if mode != Some(&Value::from("SSE-KMS")) {
                out.push((
                    CATALOG.0,
                    Level::Error,
                    "`catalog_encryption: managed`, but no SSE-KMS catalog setting is generated"
                        .to_string(),
                    JOBS.3.to_string(),
                    span,
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Node;
    use serde_json::json;

    fn node(kind: ResourceKind, name: &str, attrs: Value) -> Node {
        Node {
            address: format!("{}.{name}", kind.as_str()),
            kind: NodeKind::Resource(kind),
            name: name.into(),
            attrs: serde_json::from_value(attrs).unwrap(),
            depends_on: Default::default(),
        }
    }

    #[test]
    fn jobs_and_crawlers_need_an_encrypting_configuration() {
        use ResourceKind::*;
        let config = |name: &str, s3: &str| {
            node(
                GlueSecurityConfiguration,
                name,
                json!({"name": name, "s3_encryption": s3, "job_bookmarks_encryption": "DISABLED"}),
            )
        };
        let job = |name: &str, sc: &str, bookmarks: &str| {
            node(
                GlueJob,
                name,
                json!({"security_configuration": sc,
                       "default_arguments": {"--job-bookmark-option": bookmarks}}),
            )
        };
        let graph = Graph {
            stack: "s".into(),
            environment: "e".into(),
            nodes: vec![
                config("good", "SSE-S3"),
                config("clear", "DISABLED"),
                job("fine", "good", "job-bookmark-disable"),
                job("none", "", "job-bookmark-disable"),
                job("unknown", "other", "job-bookmark-disable"),
                job("clear_writes", "clear", "job-bookmark-disable"),
                job("bookmarks", "good", "job-bookmark-enable"),
                node(
                    GlueCrawler,
                    "crawls",
                    json!({"security_configuration": "good"}),
                ),
            ],
        };
        let external = Spanned::new(CatalogEncryption::External);
        let found = check(&graph, Some(&external), Span::default(), &|_| {
            Span::default()
        });
        let msgs: Vec<(&str, Level, &str)> =
            found.iter().map(|f| (f.0, f.1, f.2.as_str())).collect();
        assert_eq!(
            msgs,
            [
                (
                    "S124",
                    Level::Error,
                    "Glue job glue_job.none names no security configuration"
                ),
                (
                    "S124",
                    Level::Error,
                    "Glue job glue_job.unknown names security configuration `other`, which the stack does not have"
                ),
                (
                    "S124",
                    Level::Error,
                    "Glue job glue_job.clear_writes runs under `clear`, which does not encrypt S3 writes"
                ),
                (
                    "S124",
                    Level::Error,
                    "Glue job glue_job.bookmarks keeps bookmarks (`job-bookmark-enable`) that `good` does not encrypt"
                ),
                (
                    "S125",
                    Level::Note,
                    "the Glue Data Catalog's encryption is left to the account's baseline (`catalog_encryption: external`); dekit does not check it"
                ),
            ]
        );
    }
}
