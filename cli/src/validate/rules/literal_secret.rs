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
    // AWS access key ids anywhere in the file (escaped forms too) and in the model SQL.
    for (at, len) in key_ids(&cx.loaded.src.text) {
        out.push(
            cx.error(
                "E140",
                "AWS access key id in the stack file",
                cx.loaded.src.span_at(at, len),
            )
            .hint("remove it and rotate the key; dekit uses the standard AWS credential chain"),
        );
    }
    for f in &cx.files {
        for (at, len) in key_ids(&f.text) {
            out.push(
                Diagnostic::error("E140", "AWS access key id in a SQL file")
                    .at(f, f.span_at(at, len))
                    .hint("remove it and rotate the key; SQL files live in git like the stack"),
            );
        }
    }
}

/// Prefixes of AWS access key ids: long-term (AKIA), temporary (ASIA) and the other unique-id
/// kinds that appear in credentials.
const KEY_PREFIXES: &[&str] = &[
    "AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AIPA", "ANPA", "ANVA", "AROA", "APKA", "ASCA",
];

/// Byte ranges of access key ids in `text`: a prefix and 16 more of `A-Z`/`2-7`/`0-9`, whether
/// written plainly or with YAML escapes (`\x41KIA...`, `\u0041KIA...`).
pub fn key_ids(text: &str) -> Vec<(usize, usize)> {
    // The text with escapes decoded, each character keeping the offset where it starts.
    let mut chars: Vec<(char, usize)> = Vec::with_capacity(text.len());
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let hex = |from: usize, n: usize| {
            text.get(from..from + n)
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .and_then(char::from_u32)
        };
        let escaped = if b[i] == b'\\' && i + 1 < b.len() {
            match b[i + 1] {
                b'x' => hex(i + 2, 2).map(|c| (c, 4)),
                b'u' => hex(i + 2, 4).map(|c| (c, 6)),
                b'U' => hex(i + 2, 8).map(|c| (c, 10)),
                _ => None,
            }
        } else {
            None
        };
        match escaped {
            Some((c, n)) => {
                chars.push((c, i));
                i += n;
            }
            None => {
                let c = text[i..].chars().next().unwrap_or('\0');
                chars.push((c, i));
                i += c.len_utf8().max(1);
            }
        }
    }
    let mut found = vec![];
    let mut k = 0;
    while k + 20 <= chars.len() {
        let head: String = chars[k..k + 4].iter().map(|(c, _)| *c).collect();
        let body_ok = chars[k + 4..k + 20]
            .iter()
            .all(|(c, _)| c.is_ascii_uppercase() || c.is_ascii_digit());
        let boundary = k == 0 || !chars[k - 1].0.is_ascii_alphanumeric();
        let after_ok = chars
            .get(k + 20)
            .is_none_or(|(c, _)| !c.is_ascii_alphanumeric());
        if KEY_PREFIXES.contains(&head.as_str()) && body_ok && boundary && after_ok {
            let start = chars[k].1;
            let end = chars.get(k + 20).map_or(text.len(), |(_, o)| *o);
            found.push((start, end - start));
            k += 20;
        } else {
            k += 1;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_key_ids_plain_escaped_and_temporary() {
        let plain = "key: AKIAIOSFODNN7EXAMPLE";
        assert_eq!(super::key_ids(plain), [(5, 20)]);
        assert_eq!(super::key_ids("k: ASIAIOSFODNN7EXAMPLE\n").len(), 1);
        let escaped = "k: \"\\x41KIAIOSFODNN7EXAMPLE\"";
        assert_eq!(super::key_ids(escaped), [(4, 23)]);
        assert_eq!(super::key_ids("k: \"\\u0041SIAIOSFODNN7EXAMPLE\"").len(), 1);
        assert!(super::key_ids("not a key: AKIAIOSFODNN7EXAMPLEX").is_empty());
        assert!(super::key_ids("bucket: akiaiosfodnn7example").is_empty());
    }
}
