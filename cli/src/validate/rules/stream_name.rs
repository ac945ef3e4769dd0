//! E102 stream-name: Kinesis (128) and Firehose (64) stream names, and the IAM role names dekit
//! derives for each component (64), fit AWS's rules.
//!
//! Why: derived names grow with the stack and environment names; finding out at apply time leaves
//! a half-created stack.
//!
//! Example: a stream `name: click stream` → `name: click-stream`.

use super::Rule;
use crate::aws_names;
use crate::diagnostic::Diagnostic;
use crate::names::Names;
use crate::validate::Cx;

pub const RULE: Rule = Rule {
    code: "E102",
    name: "stream-name",
    summary: "stream, delivery stream and derived role names fit AWS limits",
    hint: "stream names are `<stack>-<environment>-<name>` unless `name:` is set; use letters, digits, `_`, `-` and `.`",
    source: include_str!("stream_name.rs"),
    also: &[],
    check,
};

fn check(cx: &Cx, out: &mut Vec<Diagnostic>) {
    let names = Names::new(cx.loaded);
    for (key, stream) in cx.loaded.stack.ingest.streams.iter() {
        let span = stream.name.as_ref().map_or(key.span, |n| n.span);
        let physical = names.stream(key);
        if let Err(why) = aws_names::stream(&physical, 128) {
            out.push(
                cx.error(
                    "E102",
                    format!("invalid Kinesis stream name `{physical}`"),
                    span,
                )
                .label(why),
            );
            continue;
        }
        if stream.delivery.is_some() {
            let d = names.delivery(key);
            if let Err(why) = aws_names::stream(&d, 64) {
                out.push(
                    cx.error(
                        "E102",
                        format!("invalid Firehose delivery stream name `{d}`"),
                        span,
                    )
                    .label(why)
                    .hint("set a shorter `name:` for the stream"),
                );
            }
            let role = names.role(key, "delivery");
            if let Err(why) = aws_names::iam_role(&role) {
                out.push(
                    cx.error(
                        "E102",
                        format!("invalid derived IAM role name `{role}`"),
                        key.span,
                    )
                    .hint(role_hint(&why, "stream"))
                    .label(why),
                );
            }
        }
    }
    for (key, _) in cx.loaded.stack.ingest.batch.iter() {
        let role = names.role(key, "job");
        if let Err(why) = aws_names::iam_role(&role) {
            out.push(
                cx.error(
                    "E102",
                    format!("invalid derived IAM role name `{role}`"),
                    key.span,
                )
                .hint(role_hint(&why, "batch"))
                .label(why),
            );
        }
    }
}

/// The fix for a bad derived role name: shorter names, or only the characters IAM takes.
fn role_hint(why: &str, what: &str) -> String {
    if why.contains("cannot contain") {
        format!("use ASCII letters, digits, `_` and `-` in the stack and {what} names")
    } else {
        format!("shorten the stack or {what} name")
    }
}
