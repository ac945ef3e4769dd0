//! E180 environment: environments say where they deploy, completely and unambiguously.
//!
//! Why: an `aws` environment without an account id could apply to whatever account the current
//! credentials reach; dekit requires it and refuses any other account. `local` endpoints must be
//! URLs, and per-service overrides name real services.
//!
//! Example: `target: aws` without `account:` → add `account: "123456789012"`.

use super::Rule;
use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::model::{SERVICES, Target};
use crate::validate::Cx;

pub const RULE: Rule = Rule {
    code: "E180",
    name: "environment",
    summary: "environments name their account, region and endpoints correctly",
    hint: "see docs/local-cloud.md for how environments are written",
    source: include_str!("environment.rs"),
    also: &[(
        "W181",
        "profile-on-local",
        "`profile` has no effect on a local environment",
        "remove `profile`, or make the environment `target: aws`",
    )],
    check,
};

fn is_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts
            .iter()
            .take(parts.len() - 1)
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts
            .last()
            .is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

fn check(cx: &Cx, out: &mut Vec<Diagnostic>) {
    for (name, env) in cx.loaded.stack.environments.iter() {
        if let Some(r) = &env.region
            && !is_region(r)
        {
            out.push(
                cx.error(
                    "E180",
                    format!("`{}` is not an AWS region", r.value),
                    r.span,
                )
                .hint("e.g. `us-east-1`, `eu-west-1`"),
            );
        }
        match env.target.value {
            Target::Aws => {
                match &env.account {
                    None => out.push(
                        cx.error("E180", format!("environment `{}` targets AWS but names no account", name.value), name.span)
                            .hint("add `account: \"123456789012\"`; dekit refuses to run against any other account"),
                    ),
                    Some(a) if a.len() != 12 || !a.chars().all(|c| c.is_ascii_digit()) => {
                        out.push(cx.error("E180", format!("`{}` is not a 12-digit account id", a.value), a.span).hint("quote it so leading zeros survive: `account: \"012345678901\"`"));
                    }
                    Some(_) => {}
                }
                if let Some(e) = &env.endpoint {
                    out.push(
                        cx.error("E180", "`endpoint` is for `local` environments", e.span)
                            .hint("use `endpoints:` per service for VPC endpoints"),
                    );
                }
            }
            Target::Local => {
                if let Some(p) = &env.profile {
                    out.push(cx.warning(
                        "W181",
                        "`profile` is ignored for `local` environments",
                        p.span,
                    ));
                }
            }
        }
        let urls = env
            .endpoint
            .iter()
            .chain(env.endpoints.iter().map(|(_, v)| v));
        for u in urls {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                out.push(cx.error(
                    "E180",
                    format!("`{}` is not an http(s) URL", u.value),
                    u.span,
                ));
            }
        }
        for (svc, _) in env.endpoints.iter() {
            if !SERVICES.contains(&svc.as_str()) {
                let mut d = cx.error("E180", format!("unknown service `{}`", svc.value), svc.span);
                d = match did_you_mean(svc, SERVICES.iter().copied()) {
                    Some(s) => d.hint(format!("did you mean `{s}`?")),
                    None => d.hint(format!("services: {}", SERVICES.join(", "))),
                };
                out.push(d);
            }
        }
        if let Some(st) = &env.state
            && let Some(rest) = st.strip_prefix("s3://")
            && rest
                .split_once('/')
                .is_none_or(|(b, k)| b.is_empty() || k.is_empty())
        {
            out.push(cx.error(
                "E180",
                format!("`{}` is not `s3://bucket/key`", st.value),
                st.span,
            ));
        }
    }
}
