//! S110 iam-wildcard-action and S111 iam-wildcard-resource: the IAM policies dekit generates for
//! each component's role are least privilege — no `*` action (nor `service:*`), and a `*`
//! resource only for actions that have no resource-level permissions, each such case listed as a
//! note with the reason.
//!
//! Why: a role is what an attacker gets when a job or a delivery is compromised; `s3:*` on `*`
//! turns one leaked job into the whole account's data.

use super::Level;
use crate::graph::{Graph, NodeKind, ResourceKind};
use crate::policy::as_list;
use crate::source::Span;

pub const WILDCARD_ACTION: (&str, &str, &str, &str) = (
    "S110",
    "iam-wildcard-action",
    "generated IAM policies name each action, no `*`",
    "a dekit bug if generated: report it; name the actions the component needs",
);
pub const WILDCARD_RESOURCE: (&str, &str, &str, &str) = (
    "S111",
    "iam-wildcard-resource",
    "generated IAM policies name their resources; `*` only where AWS requires it",
    "scope the statement to the component's ARNs",
);

/// Actions without resource-level permissions: AWS accepts only `*` for them.
pub const NEEDS_STAR: &[(&str, &str)] = &[
    (
        "cloudwatch:PutMetricData",
        "CloudWatch metrics have no ARN; scope by the `cloudwatch:namespace` condition instead",
    ),
    (
        "kinesis:ListStreams",
        "listing is account-wide: there is no stream ARN to name",
    ),
    (
        "glue:GetJobs",
        "listing is account-wide: there is no job ARN to name",
    ),
];

type Found = (&'static str, Level, String, String, Span);

pub fn check(graph: &Graph, at: &dyn Fn(&str) -> Span) -> Vec<Found> {
    let mut out = vec![];
    for n in &graph.nodes {
        if n.kind != NodeKind::Resource(ResourceKind::IamRole) {
            continue;
        }
        let statements = n.attrs["inline_policy"]["Statement"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for st in statements {
            if st["Effect"] != "Allow" {
                continue;
            }
            let sid = st["Sid"].as_str().unwrap_or("?").to_string();
            let actions = as_list(&st["Action"]);
            for a in actions.iter().filter(|a| *a == "*" || a.ends_with(":*")) {
                out.push((
                    WILDCARD_ACTION.0,
                    Level::Error,
                    format!("{} statement {sid} allows `{a}`", n.address),
                    WILDCARD_ACTION.3.to_string(),
                    at(&n.name),
                ));
            }
            if as_list(&st["Resource"]).iter().any(|r| r == "*") {
                for a in &actions {
                    match NEEDS_STAR.iter().find(|(x, _)| x == a) {
                        Some((_, why)) => out.push((
                            WILDCARD_RESOURCE.0,
                            Level::Note,
                            format!("{} statement {sid}: `{a}` on `*`: {why}", n.address),
                            "allowed: AWS offers no narrower resource".into(),
                            at(&n.name),
                        )),
                        None => out.push((
                            WILDCARD_RESOURCE.0,
                            Level::Error,
                            format!(
                                "{} statement {sid}: `{a}` on every resource (`*`)",
                                n.address
                            ),
                            WILDCARD_RESOURCE.3.to_string(),
                            at(&n.name),
                        )),
                    }
                }
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

    #[test]
    fn wildcards_are_found_and_required_stars_are_notes() {
        let mut g = Graph {
            stack: "s".into(),
            environment: "e".into(),
            nodes: vec![],
        };
        g.nodes.push(Node {
            address: "iam_role.load_job".into(),
            kind: NodeKind::Resource(ResourceKind::IamRole),
            name: "load_job".into(),
            attrs: serde_json::from_value(json!({"inline_policy": {"Statement": [
                {"Sid": "A", "Effect": "Allow", "Action": ["s3:*"], "Resource": ["arn:aws:s3:::b/*"]},
                {"Sid": "B", "Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*"},
                {"Sid": "C", "Effect": "Allow", "Action": ["glue:GetTable"], "Resource": "*"},
                {"Sid": "D", "Effect": "Deny", "Action": "*", "Resource": "*"}
            ]}}))
            .unwrap(),
            depends_on: Default::default(),
        });
        let found: Vec<(&str, Level)> = check(&g, &|_| Span::default())
            .into_iter()
            .map(|f| (f.0, f.1))
            .collect();
        assert_eq!(
            found,
            [
                ("S110", Level::Error),
                ("S111", Level::Note),
                ("S111", Level::Error)
            ]
        );
    }
}
