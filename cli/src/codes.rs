//! Every diagnostic code dekit can emit, in one registry: the loader's (reading, YAML, decoding)
//! and each `validate` rule's, errors and warnings alike. `dekit rules` lists them and
//! `dekit rules CODE` explains one (what, why, example, fix). The tables are the loader's
//! (`load::CODES`) and the rules' own; `validate::hint` reads the same ones for a diagnostic that
//! has no hint of its own, so this registry sits above both and nothing below calls up into it.
//! A test keeps the registry, the source and the corpus in step: every code the source emits is
//! registered, and every registered code has a corpus fixture whose snapshot shows it.

use crate::validate::rules::ALL;

pub struct Code {
    pub code: &'static str,
    pub name: &'static str,
    pub summary: &'static str,
    pub hint: &'static str,
    /// What it checks, why, an example: the rule file's `//!` comment, or the loader's text.
    pub doc: String,
}

/// The opening `//!` block of a rule's source file, without the markers.
fn doc_comment(source: &str) -> String {
    source
        .lines()
        .take_while(|l| l.starts_with("//!"))
        .map(|l| l.trim_start_matches("//!").trim_start())
        .collect::<Vec<_>>()
        .join("\n")
}

/// All codes, loader first, then the rules in `dekit rules` order.
pub fn all() -> Vec<Code> {
    let mut out: Vec<Code> = crate::load::CODES
        .iter()
        .map(|(code, name, summary, hint, doc)| Code {
            code,
            name,
            summary,
            hint,
            doc: format!("{code} {name}: {summary}.\n\n{doc}"),
        })
        .collect();
    for r in ALL {
        let doc = doc_comment(r.source);
        out.push(Code {
            code: r.code,
            name: r.name,
            summary: r.summary,
            hint: r.hint,
            doc: doc.clone(),
        });
        for (code, name, summary, hint) in r.also {
            out.push(Code {
                code,
                name,
                summary,
                hint,
                doc: format!(
                    "{code} {name}: {summary}. Checked by rule {}.\n\n{doc}",
                    r.code
                ),
            });
        }
    }
    out
}

pub fn find(code: &str) -> Option<Code> {
    all()
        .into_iter()
        .find(|c| c.code.eq_ignore_ascii_case(code))
}

/// What `dekit rules CODE` prints.
pub fn explain(code: &Code) -> String {
    format!("{}\n\nFix: {}\n", code.doc.trim_end(), code.hint)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_quick_hint_lookup_agrees_with_the_registry() {
        for c in super::all() {
            assert_eq!(crate::validate::hint(c.code), Some(c.hint), "{}", c.code);
        }
        // Built, not written as a literal: tests/stack.rs reads code literals as emitted codes.
        assert_eq!(crate::validate::hint(&format!("E{}", 999)), None);
    }
}
