//! E190 public-access: lake data is never public, encryption settings are complete, and readers are
//! IAM principals.
//!
//! Why: security by default: every bucket blocks public access and is encrypted; `security:` may
//! add named readers, never `*`.
//!
//! Example: `public_access: true` → remove it, grant a role under `readers:` instead.

use super::Rule;
use crate::diagnostic::Diagnostic;
use crate::model::Encryption;
use crate::validate::Cx;

pub const RULE: Rule = Rule {
    code: "E190",
    name: "public-access",
    summary: "no public data; KMS settings complete; readers are IAM roles or users",
    hint: "keep lake data private: grant IAM roles read access with `security.readers`",
    source: include_str!("public_access.rs"),
    also: &[
        (
            "W191",
            "kms-key-ignored",
            "`kms_key` only applies with `encryption: kms`",
            "set `encryption: kms`, or remove `kms_key`",
        ),
        (
            "W192",
            "topic-unencrypted",
            "an alarm topic without a customer managed KMS key is not encrypted",
            "set `security.encryption: kms` and `kms_key` (its key policy must let cloudwatch.amazonaws.com use it)",
        ),
    ],
    check,
};

fn check(cx: &Cx, out: &mut Vec<Diagnostic>) {
    let sec = &cx.loaded.stack.security;
    // CloudWatch cannot publish to a topic under the AWS managed key (alias/aws/sns): its key
    // policy does not admit the service. Without a key of the stack's own, topics stay clear.
    if !(sec.encryption.value == Encryption::Kms && sec.kms_key.is_some()) {
        for (name, _) in cx.loaded.stack.observe.topics.iter() {
            out.push(
                cx.warning(
                    "W192",
                    format!("topic `{}` will not be encrypted: alarms cannot publish to a topic under the AWS managed key", name.value),
                    name.span,
                )
                .hint("set `security.encryption: kms` and a `kms_key` whose policy lets cloudwatch.amazonaws.com use it"),
            );
        }
    }
    if let Some(p) = &sec.public_access
        && p.value
    {
        out.push(
            cx.error("E190", "public access to lake data is not allowed", p.span)
                .hint("grant read access to a specific role under `security.readers`"),
        );
    }
    match (&sec.encryption.value, &sec.kms_key) {
        (Encryption::Kms, None) => out.push(
            cx.error(
                "E190",
                "`encryption: kms` needs `kms_key`",
                sec.encryption.span,
            )
            .hint("add `kms_key: alias/<name>` or a key ARN under `security:`"),
        ),
        (Encryption::Aws, Some(k)) => out.push(cx.warning(
            "W191",
            "`kms_key` is ignored unless `encryption: kms`",
            k.span,
        )),
        _ => {}
    }
    for r in &sec.readers {
        let p = &r.principal;
        let ok = p.starts_with("arn:aws:iam::")
            && p.split(':')
                .nth(4)
                .is_some_and(|a| a.len() == 12 && a.chars().all(|c| c.is_ascii_digit()))
            && p.split(':')
                .nth(5)
                .is_some_and(|rest| rest.starts_with("role/") || rest.starts_with("user/"));
        if !ok {
            out.push(
                cx.error(
                    "E190",
                    format!("reader `{}` is not an IAM role or user ARN", p.value),
                    p.span,
                )
                .hint(
                    "e.g. `arn:aws:iam::123456789012:role/bi-reader`; `*` would make data public",
                ),
            );
        }
    }
}
