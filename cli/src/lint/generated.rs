//! S120-S123: what dekit generates is encrypted and private. Lake and artifact buckets: default
//! encryption, all four public-access blocks, a policy denying requests without TLS (S120);
//! Kinesis streams encrypted with KMS (S121); the Athena workgroup encrypting its results and
//! enforcing its settings on every query (S122); Firehose deliveries landing only in such buckets
//! (S123).
//!
//! Why: the stack language has no switch to turn these off, so a finding here is a dekit bug or a
//! graph edited by hand — the check keeps it that way as resource kinds are added.

use super::Level;
use crate::graph::{Graph, NodeKind, ResourceKind};
use crate::source::Span;
use serde_json::Value;

pub const BUCKET: (&str, &str, &str, &str) = (
    "S120",
    "bucket-private-encrypted-tls",
    "buckets are encrypted, block every kind of public access, and refuse requests without TLS",
    "a dekit bug if generated: report it",
);
pub const STREAM: (&str, &str, &str, &str) = (
    "S121",
    "stream-encrypted",
    "Kinesis streams are encrypted with KMS",
    "a dekit bug if generated: report it",
);
pub const WORKGROUP: (&str, &str, &str, &str) = (
    "S122",
    "athena-results-encrypted",
    "the Athena workgroup encrypts query results and enforces its settings",
    "a dekit bug if generated: report it",
);
pub const DELIVERY: (&str, &str, &str, &str) = (
    "S123",
    "delivery-to-encrypted-bucket",
    "Firehose delivers only into the stack's encrypted buckets",
    "a dekit bug if generated: report it",
);

type Found = (&'static str, Level, String, String, Span);

fn tls_only(policy: &Value) -> bool {
    policy["Statement"].as_array().is_some_and(|s| {
        s.iter().any(|st| {
            st["Effect"] == "Deny" && st["Condition"]["Bool"]["aws:SecureTransport"] == "false"
        })
    })
}

pub fn check(graph: &Graph, at: &dyn Fn(&str) -> Span) -> Vec<Found> {
    let mut out = vec![];
    let mut push = |rule: (&'static str, &str, &str, &str), msg: String, name: &str| {
        out.push((rule.0, Level::Error, msg, rule.3.to_string(), at(name)))
    };
    let mut encrypted_buckets = vec![];
    for n in &graph.nodes {
        let a = &n.attrs;
        match n.kind {
            NodeKind::Resource(ResourceKind::S3Bucket) => {
                let mut missing = vec![];
                if a.get("encryption")
                    .and_then(|e| e.get("algorithm"))
                    .is_none()
                {
                    missing.push("default encryption");
                }
                let pab = &a.get("public_access_block").cloned().unwrap_or_default();
                if ![
                    "block_public_acls",
                    "ignore_public_acls",
                    "block_public_policy",
                    "restrict_public_buckets",
                ]
                .iter()
                .all(|k| pab[*k] == true)
                {
                    missing.push("all four public-access blocks");
                }
                if !a.get("policy").is_some_and(tls_only) {
                    missing.push("a policy denying requests without TLS");
                }
                if missing.is_empty() {
                    encrypted_buckets.push(format!(
                        "arn:aws:s3:::{}",
                        a.get("name").and_then(Value::as_str).unwrap_or_default()
                    ));
                } else {
                    push(
                        BUCKET,
                        format!("{} lacks {}", n.address, missing.join(", ")),
                        &n.name,
                    );
                }
            }
            NodeKind::Resource(ResourceKind::KinesisStream)
                if a.get("encryption").and_then(|e| e.get("type")) != Some(&Value::from("KMS")) =>
            {
                push(
                    STREAM,
                    format!("{} is not encrypted with KMS", n.address),
                    &n.name,
                );
            }
            NodeKind::Resource(ResourceKind::AthenaWorkgroup)
                if a.get("result_encryption").is_none()
                    || a.get("enforce_workgroup_configuration") != Some(&Value::Bool(true)) =>
            {
                push(
                    WORKGROUP,
                    format!(
                        "{} does not encrypt and enforce its query results",
                        n.address
                    ),
                    &n.name,
                );
            }
            _ => {}
        }
    }
    for n in &graph.nodes {
        if n.kind != NodeKind::Resource(ResourceKind::FirehoseDeliveryStream) {
            continue;
        }
        let dest = n.attrs["destination"]["bucket_arn"]
            .as_str()
            .unwrap_or_default();
        if !encrypted_buckets.iter().any(|b| b == dest) {
            out.push((
                DELIVERY.0,
                Level::Error,
                format!(
                    "{} delivers to `{dest}`, not an encrypted bucket of the stack",
                    n.address
                ),
                DELIVERY.3.to_string(),
                at(&n.name),
            ));
        }
    }
    out
}
