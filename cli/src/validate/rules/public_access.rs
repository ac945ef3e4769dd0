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
        (Encryption::Kms, Some(k)) if !is_kms_key(k) => out.push(
            cx.error(
                "E190",
                format!("`{}` is not a KMS key", k.value),
                k.span,
            )
            .hint("give a key ARN (arn:aws:kms:<region>:<account>:key/<id>), a key id, `alias/<name>` or an alias ARN"),
        ),
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

/// A KMS key as S3, Glue, Firehose and CloudWatch Logs take it: a key id (a UUID, or `mrk-` and
/// 32 hex digits for a multi-Region key), `alias/<name>`, or the ARN of either.
pub fn is_kms_key(k: &str) -> bool {
    fn key_id(id: &str) -> bool {
        let hex = |s: &str, n: usize| s.len() == n && s.chars().all(|c| c.is_ascii_hexdigit());
        if let Some(m) = id.strip_prefix("mrk-") {
            return hex(m, 32);
        }
        let parts: Vec<&str> = id.split('-').collect();
        parts.len() == 5 && parts.iter().zip([8, 4, 4, 4, 12]).all(|(p, n)| hex(p, n))
    }
    fn alias(a: &str) -> bool {
        a.strip_prefix("alias/").is_some_and(|n| {
            !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/_-".contains(c))
        })
    }
    if let Some(rest) = k.strip_prefix("arn:") {
        // arn:<partition>:kms:<region>:<account>:key/<id> or alias/<name>
        let p: Vec<&str> = rest.splitn(5, ':').collect();
        return p.len() == 5
            && p[1] == "kms"
            && !p[2].is_empty()
            && p[3].len() == 12
            && p[3].chars().all(|c| c.is_ascii_digit())
            && (p[4].strip_prefix("key/").is_some_and(key_id) || alias(p[4]));
    }
    key_id(k) || alias(k)
}

#[cfg(test)]
mod tests {
    use super::is_kms_key;

    #[test]
    fn kms_keys_in_every_form_aws_takes_and_nothing_else() {
        for ok in [
            "alias/lake",
            "alias/aws/s3",
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "mrk-1234abcd12ab34cd56ef1234567890ab",
            "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:eu-west-1:123456789012:alias/lake",
        ] {
            assert!(is_kms_key(ok), "{ok}");
        }
        for bad in [
            "my-key",
            "alias/",
            "arn:aws:s3:::bucket",
            "arn:aws:kms:eu-west-1:123:key/x",
            "1234abcd-12ab-34cd-56ef",
        ] {
            assert!(!is_kms_key(bad), "{bad}");
        }
    }
}
