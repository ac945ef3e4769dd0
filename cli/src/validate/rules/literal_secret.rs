//! E140 literal-secret: secrets are given as `${env.NAME}`, never written into the stack file.
//!
//! Why: stack files live in git; a password there is leaked to everyone with read access and to
//! every plan and state file. dekit resolves `${env.NAME}` only when a value is used.
//!
//! Example: `password: hunter2` → `password: ${env.SHOP_DB_PASSWORD}`.

use super::Rule;
use crate::diagnostic::Diagnostic;
use crate::interpolate::is_env_reference;
use crate::validate::Cx;
use crate::yaml::Spanned;

pub const RULE: Rule = Rule {
    code: "E140",
    name: "literal-secret",
    summary: "secrets come from `${env.NAME}`, never literals",
    hint: "write the secret as `${env.NAME}` and set NAME in the environment where dekit runs",
    source: include_str!("literal_secret.rs"),
    also: &[],
    check,
};

const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "access_key",
    "private_key",
];

fn env_name(key: &str) -> String {
    key.to_ascii_uppercase().replace(['-', '.'], "_")
}

fn check(cx: &Cx, out: &mut Vec<Diagnostic>) {
    let s = &cx.loaded.stack;
    let literal = |what: &str,
                   suggestion: String,
                   v: &Spanned<String>,
                   out: &mut Vec<Diagnostic>| {
        if !is_env_reference(v) {
            out.push(
                cx.error("E140", format!("literal secret in `{what}`"), v.span)
                    .label("secrets must not be written in the stack file")
                    .hint(format!("use `${{env.{suggestion}}}` and set it in the environment or CI secret store")),
            );
        }
    };
    for (name, src) in s.sources.iter() {
        if let Some(p) = &src.password {
            literal("password", format!("{}_PASSWORD", env_name(name)), p, out);
        }
        if let Some(t) = &src.token {
            literal("token", format!("{}_TOKEN", env_name(name)), t, out);
        }
        for url in [&src.url, &src.host].into_iter().flatten() {
            if let Some(at) = url
                .find("://")
                .and_then(|i| url[i + 3..].find('@').map(|a| (i + 3, a)))
                && url[at.0..at.0 + at.1].contains(':')
            {
                out.push(
                    cx.error("E140", "credentials embedded in a URL", url.span)
                        .hint("give the user and password as separate fields, the password as `${env.NAME}`"),
                );
            }
        }
    }
    let vars = s
        .variables
        .iter()
        .chain(s.environments.iter().flat_map(|(_, e)| e.variables.iter()));
    for (k, v) in vars {
        let lower = k.to_lowercase();
        if SECRET_WORDS.iter().any(|w| lower.contains(w)) && !v.is_empty() && !v.contains("${env.")
        {
            literal(&format!("variables.{}", k.value), env_name(k), v, out);
        }
    }
    // AWS access key ids anywhere in the file.
    let text = &cx.loaded.src.text;
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(i) = text[from..].find("AKIA").map(|i| i + from) {
        let key = &bytes[i..bytes.len().min(i + 20)];
        if key.len() == 20
            && key
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            out.push(
                cx.error(
                    "E140",
                    "AWS access key id in the stack file",
                    cx.loaded.src.span_at(i, 20),
                )
                .hint("remove it and rotate the key; dekit uses the standard AWS credential chain"),
            );
        }
        from = i + 4;
    }
}
