//! E101 bucket-name: lake and artifacts bucket names follow S3's naming rules.
//!
//! Why: S3 refuses bad names only at create time, after other resources were already made.
//! dekit also refuses dots, which break TLS for virtual-hosted requests.
//!
//! Example: `bucket: Retail_Lake` → `bucket: retail-lake`.

use super::Rule;
use crate::aws_names;
use crate::diagnostic::Diagnostic;
use crate::validate::Cx;

pub const RULE: Rule = Rule {
    code: "E101",
    name: "bucket-name",
    summary: "S3 bucket names are valid",
    hint: "bucket names are 3-63 lowercase letters, digits and `-`, globally unique, e.g. `acme-retail-prod-lake`",
    source: include_str!("bucket_name.rs"),
    also: &[],
    check,
};

fn check(cx: &Cx, out: &mut Vec<Diagnostic>) {
    let storage = &cx.loaded.stack.storage;
    let lake = &storage.lake.bucket;
    if let Err(why) = aws_names::bucket(lake) {
        out.push(
            cx.error(
                "E101",
                format!("invalid bucket name `{}`", lake.value),
                lake.span,
            )
            .label(why),
        );
    }
    match &storage.artifacts_bucket {
        Some(b) => {
            if let Err(why) = aws_names::bucket(b) {
                out.push(
                    cx.error("E101", format!("invalid bucket name `{}`", b.value), b.span)
                        .label(why),
                );
            }
        }
        None => {
            let derived = format!("{}-artifacts", lake.value);
            if aws_names::bucket(lake).is_ok()
                && let Err(why) = aws_names::bucket(&derived)
            {
                out.push(
                    cx.error(
                        "E101",
                        format!("derived artifacts bucket name `{derived}` is invalid"),
                        lake.span,
                    )
                    .label(why)
                    .hint("shorten the lake bucket name or set `storage.artifacts_bucket`"),
                );
            }
        }
    }
}
