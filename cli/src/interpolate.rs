//! `${...}` interpolation in stack files.
//!
//! - `${stack}`, `${environment}`, `${region}`, `${account_id}`: built-ins of the chosen environment;
//! - `${var.NAME}`: a variable from `variables:` (environment values override stack values);
//! - `${env.NAME}`: an environment variable, resolved only when a command needs the value (for example
//!   when connecting to a source), never during validate/plan, so secrets stay out of plans and state;
//! - `$${` writes a literal `${`.

use crate::diagnostic::did_you_mean;
use std::collections::BTreeMap;

/// What a stack file may refer to with `${...}`.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    pub builtins: BTreeMap<String, String>,
    pub vars: BTreeMap<String, String>,
    /// Variables whose own value failed to interpolate (reported where they are defined).
    pub broken: std::collections::BTreeSet<String>,
}

/// An interpolation problem at byte `offset` (length `len`) inside the scalar.
#[derive(Debug, Clone, PartialEq)]
pub struct InterpError {
    pub offset: usize,
    pub len: usize,
    pub message: String,
    pub hint: Option<String>,
    /// The cause was already reported elsewhere (a broken variable): one root cause, one error.
    pub reported: bool,
    /// The variable `${var.NAME}` named that is not (yet) defined.
    pub unknown_variable: Option<String>,
}

pub const BUILTINS: &[&str] = &["stack", "environment", "region", "account_id"];

/// Longest value interpolation may produce: variables that each use the previous one twice would
/// otherwise double the text at every step (40 steps: a terabyte from a 2 KB file).
pub const MAX_VALUE: usize = 64 * 1024;

impl Vars {
    /// Resolve every `${...}` in `raw`; `${env.X}` is kept as written.
    pub fn interpolate(&self, raw: &str) -> Result<String, InterpError> {
        let mut out = String::with_capacity(raw.len());
        let mut rest = raw;
        let mut pos = 0;
        while let Some(i) = rest.find("${") {
            if i > 0 && rest.as_bytes()[i - 1] == b'$' {
                out.push_str(&rest[..i - 1]);
                out.push_str("${");
                rest = &rest[i + 2..];
                pos += i + 2;
                continue;
            }
            out.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            let Some(end) = after.find('}') else {
                return Err(InterpError {
                    offset: pos + i,
                    len: rest.len() - i,
                    message: "unterminated `${`".into(),
                    hint: Some("close it with `}`, or write `$${` for a literal `${`".into()),
                    reported: false,
                    unknown_variable: None,
                });
            };
            let expr = after[..end].trim();
            let err = |message: String, hint: Option<String>| InterpError {
                offset: pos + i,
                len: end + 3,
                message,
                hint,
                reported: false,
                unknown_variable: None,
            };
            if let Some(name) = expr.strip_prefix("env.") {
                if !is_env_name(name) {
                    return Err(err(
                        format!("`{name}` is not a valid environment variable name"),
                        None,
                    ));
                }
                out.push_str(&rest[i..i + 3 + end]);
            } else if let Some(name) = expr.strip_prefix("var.") {
                if self.broken.contains(name) {
                    return Err(InterpError {
                        reported: true,
                        ..err(format!("variable `{name}` cannot be resolved"), None)
                    });
                }
                match self.vars.get(name) {
                    Some(v) => out.push_str(v),
                    None => {
                        let hint = match did_you_mean(name, self.vars.keys().map(String::as_str)) {
                            Some(s) => format!("did you mean `var.{s}`?"),
                            None if self.vars.is_empty() => "declare it under `variables:`".into(),
                            None => format!(
                                "declared variables: {}",
                                self.vars.keys().cloned().collect::<Vec<_>>().join(", ")
                            ),
                        };
                        return Err(InterpError {
                            unknown_variable: Some(name.to_string()),
                            ..err(format!("unknown variable `{name}`"), Some(hint))
                        });
                    }
                }
            } else if let Some(v) = self.builtins.get(expr) {
                out.push_str(v);
            } else {
                let hint = match did_you_mean(expr, BUILTINS.iter().copied()) {
                    Some(s) => format!("did you mean `${{{s}}}`?"),
                    None => "use `${var.NAME}` for variables, `${env.NAME}` for environment variables, or one of `${stack}`, `${environment}`, `${region}`, `${account_id}`".into(),
                };
                return Err(err(format!("unknown reference `${{{expr}}}`"), Some(hint)));
            }
            if out.len() > MAX_VALUE {
                return Err(err(
                    format!(
                        "interpolation makes this value longer than {} KiB",
                        MAX_VALUE / 1024
                    ),
                    Some(
                        "variables that repeat other variables grow with every level; shorten them"
                            .into(),
                    ),
                ));
            }
            rest = &after[end + 1..];
            pos += i + 3 + end;
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// The first `${var.NAME}` or built-in reference left in a value that should have been
/// resolved (`${env.NAME}` is kept on purpose until the value is used).
pub fn unresolved(s: &str) -> Option<&str> {
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        let after = &rest[i + 2..];
        let end = after.find('}').unwrap_or(after.len());
        let expr = after[..end].trim();
        if expr.starts_with("var.") || BUILTINS.contains(&expr) {
            return Some(&rest[i..(i + 3 + end).min(rest.len())]);
        }
        rest = after;
    }
    None
}

fn is_env_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// True when the text is only a reference to an environment variable (how secrets must be given).
pub fn is_env_reference(s: &str) -> bool {
    s.trim()
        .strip_prefix("${env.")
        .and_then(|r| r.strip_suffix('}'))
        .is_some_and(is_env_name)
}

/// Resolve `${env.NAME}` references from the process environment, at the moment a value is used.
pub fn resolve_env(s: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("${env.") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 6..];
        let end = after
            .find('}')
            .ok_or_else(|| "unterminated `${env.`".to_string())?;
        let name = &after[..end];
        let v =
            std::env::var(name).map_err(|_| format!("environment variable `{name}` is not set"))?;
        out.push_str(&v);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_was_never_resolved() {
        assert_eq!(
            unresolved("dekit-${var.lake_bucket}-x"),
            Some("${var.lake_bucket}")
        );
        assert_eq!(unresolved("arn:aws:s3:::${stack}-lake"), Some("${stack}"));
        assert_eq!(unresolved("${env.DB_HOST}"), None);
        assert_eq!(unresolved("plain"), None);
    }

    fn vars() -> Vars {
        let mut v = Vars::default();
        v.builtins.insert("stack".into(), "retail".into());
        v.vars.insert("owner".into(), "data".into());
        v
    }

    #[test]
    fn resolves_builtins_and_vars_keeps_env() {
        let v = vars();
        assert_eq!(
            v.interpolate("${stack}-${var.owner}-${env.PASS}").unwrap(),
            "retail-data-${env.PASS}"
        );
        assert_eq!(v.interpolate("a $${x} b").unwrap(), "a ${x} b");
    }

    #[test]
    fn reports_position_of_bad_reference() {
        let e = vars().interpolate("ab-${var.ownr}").unwrap_err();
        assert_eq!((e.offset, e.len), (3, 11));
        assert_eq!(e.hint.as_deref(), Some("did you mean `var.owner`?"));
        let e = vars().interpolate("x${stack").unwrap_err();
        assert_eq!(e.offset, 1);
    }

    #[test]
    fn env_reference_detection() {
        assert!(is_env_reference("${env.DB_PASSWORD}"));
        assert!(!is_env_reference("hunter2"));
        assert!(!is_env_reference("pre${env.X}"));
    }
}
