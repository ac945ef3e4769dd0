//! E100 stack-name: the stack name is lowercase letters, digits and `-`, at most 24 characters.
//!
//! Why: it prefixes every physical name (streams, roles, jobs, alarms); longer or mixed-case
//! names push derived names over AWS limits (IAM roles: 64 characters).
//!
//! Example: `stack: Retail_Shop` → use `stack: retail-shop`.

use super::Rule;
use crate::diagnostic::Diagnostic;
use crate::validate::Cx;

pub const RULE: Rule = Rule {
    code: "E100",
    name: "stack-name",
    summary: "stack names are lowercase letters, digits and `-`, at most 24 characters",
    hint: "stack names are lowercase letters, digits and `-`, starting with a letter, at most 24 characters",
    source: include_str!("stack_name.rs"),
    also: &[],
    check,
};

fn valid(name: &str) -> bool {
    (1..=24).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn check(cx: &Cx, out: &mut Vec<Diagnostic>) {
    let name = &cx.loaded.stack.stack;
    if !valid(name) {
        let suggestion: String = name
            .to_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .take(24)
            .collect();
        out.push(
            cx.error(
                "E100",
                format!("invalid stack name `{}`", name.value),
                name.span,
            )
            .label(
                "lowercase letters, digits and `-`, starting with a letter, at most 24 characters",
            )
            // Suggest only a name that is itself valid (never the bad value again).
            .hint(if valid(&suggestion) && suggestion != name.value {
                format!("try `{suggestion}`")
            } else {
                "start with a lowercase letter, e.g. `shop-2`".to_string()
            }),
        );
    }
}
