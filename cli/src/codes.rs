//! Every diagnostic code dekit can emit, in one registry: the loader's (reading, YAML, decoding)
//! and each `validate` rule's, errors and warnings alike. `dekit rules` lists them and
//! `dekit rules CODE` explains one (what, why, example, fix); the hint shown under a diagnostic
//! that has none of its own comes from here. A test keeps the registry, the source and the corpus
//! in step: every code the source emits is registered, and every registered code has a corpus
//! fixture whose snapshot shows it.

use crate::validate::rules::ALL;

pub struct Code {
    pub code: &'static str,
    pub name: &'static str,
    pub summary: &'static str,
    pub hint: &'static str,
    /// What it checks, why, an example: the rule file's `//!` comment, or the loader's text.
    pub doc: String,
}

/// Codes the loader emits before any rule runs: (code, name, summary, hint, explanation).
const LOADER: &[(&str, &str, &str, &str, &str)] = &[
    (
        "E000",
        "unreadable-file",
        "the stack file can be read as UTF-8 text",
        "check the path and that the file is UTF-8 text",
        "Why: nothing else can be checked. Example: `dekit validate missing.yaml`, or a file saved in Latin-1.",
    ),
    (
        "E001",
        "yaml-syntax",
        "the stack file is valid YAML",
        "fix the YAML at the line and column shown",
        "Why: a YAML error hides everything after it. Example: `stack: [shop` (unclosed flow sequence), a tab used for indentation, or an alias (`*x`) to an anchor never defined.",
    ),
    (
        "E002",
        "one-document",
        "a stack file holds exactly one YAML document",
        "split further documents into their own stack files",
        "Why: a second `---` document would be silently ignored. Example: two stacks pasted into one file.",
    ),
    (
        "E003",
        "yaml-depth",
        "YAML nesting stays within 128 levels",
        "no stack needs this depth; flatten the value",
        "Why: unbounded nesting would exhaust the stack of any recursive reader. Example: `deep: [[[[...]]]]` 200 levels deep.",
    ),
    (
        "E007",
        "alias-expansion",
        "aliases expand to at most 200,000 nodes",
        "a stack never needs this; write the values out or use fewer nested aliases",
        "Why: each alias copies its anchor, so nine nested levels of ten aliases (\"billion laughs\") grow a few lines into billions of nodes and exhaust memory. Example: `a: &a [x, x, x]`, `b: &b [*a, *a, *a]`, ... nested ten deep.",
    ),
    (
        "E008",
        "yaml-tag",
        "no YAML tags",
        "remove the tag; values are plain strings, numbers, booleans, lists and mappings",
        "Why: a tag changes what a value means (`!!binary` decodes base64, `!!python/object` asks some loaders to build objects); dekit would ignore it, so what the author meant and what dekit does would differ. Example: `password: !!binary c2VjcmV0`.",
    ),
    (
        "E005",
        "plain-keys",
        "mapping keys are plain strings",
        "write the key as a plain name",
        "Why: every key of a stack names something. Example: `[local, dev]: {target: local}`.",
    ),
    (
        "E006",
        "duplicate-key",
        "no key appears twice in one mapping",
        "merge the two entries; YAML would otherwise keep only the last",
        "Why: YAML parsers keep the last of two equal keys and drop the first without a word. Example: two `security:` sections.",
    ),
    (
        "E010",
        "unknown-key",
        "every key is one the stack language knows",
        "check the spelling; `dekit schema` prints every key",
        "Why: a misspelt key (`sourcs:`) would otherwise be ignored and its section silently missing. Example: `sourcs:` at the top level (did you mean `sources`?).",
    ),
    (
        "E011",
        "wrong-type",
        "every value has the type its key expects",
        "check the value's type: `dekit schema` prints what every key accepts",
        "Why: `shards: many` cannot become a shard count. Example: `shards: many`, `versioning: maybe`, a list where a mapping belongs.",
    ),
    (
        "E012",
        "unknown-value",
        "enumerated values are ones dekit knows",
        "pick one of the values listed in the message",
        "Why: an unknown kind or format has no meaning to fall back on. Example: `kind: postgress` (did you mean `postgres`?).",
    ),
    (
        "E013",
        "missing-key",
        "required keys are present",
        "add the missing key to this mapping",
        "Why: a stream without a zone, a stack without storage cannot be built. Example: `storage:` without `lake:`.",
    ),
    (
        "E014",
        "number-range",
        "numbers fit their type",
        "use a value inside the range",
        "Why: a port of 70000 or a negative shard count cannot be represented. Example: `port: -1`.",
    ),
    (
        "E015",
        "invalid-name",
        "names of sources, streams, tables, models and the like are ASCII identifiers",
        "names start with an ASCII letter, then ASCII letters, digits, `_` or `-`",
        "Why: a name becomes part of AWS resource names and SQL identifiers, which accept only ASCII; an empty or non-ASCII name fails late, with a confusing error, at apply time. Example: `tables: {\"\": ...}` or `streams: {clïcks: ...}`.",
    ),
    (
        "E020",
        "interpolation",
        "`${...}` interpolations name known variables, builtins and environment variables",
        "use `${stack}`, `${environment}`, `${region}`, `${account_id}`, `${var.NAME}` or `${env.NAME}`",
        "Why: an unresolved interpolation would end up literally in a bucket name or a policy. Example: `${var.missing}`, `${stak}`, `${env.X` (unterminated).",
    ),
];

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
    let mut out: Vec<Code> = LOADER
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

/// The hint of `code`, without building the explanations (this runs for every diagnostic).
pub fn hint(code: &str) -> Option<&'static str> {
    LOADER
        .iter()
        .find(|(c, ..)| *c == code)
        .map(|(_, _, _, hint, _)| *hint)
        .or_else(|| {
            ALL.iter().find_map(|r| {
                if r.code == code {
                    return Some(r.hint);
                }
                r.also
                    .iter()
                    .find(|(c, ..)| *c == code)
                    .map(|(_, _, _, h)| *h)
            })
        })
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
            assert_eq!(super::hint(c.code), Some(c.hint), "{}", c.code);
        }
        // Built, not written as a literal: tests/stack.rs reads code literals as emitted codes.
        assert_eq!(super::hint(&format!("E{}", 999)), None);
    }
}
