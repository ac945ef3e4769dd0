//! The house's one rule: data flows one way. Every top-level module of `cli/src` sits on a layer
//! (docs/layout.md) and imports only from its own layer or the ones below; a new module must be
//! placed, and an import running back up fails here, naming the file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Low to high. A module may import any module on its own layer or a lower one.
const LAYERS: &[&[&str]] = &[
    // text, diagnostics and process-wide facts
    &[
        "source",
        "diagnostic",
        "hash",
        "settings",
        "clock",
        "timings",
        "failpoint",
        "elf",
        "templates",
        "aws_names",
        "interpolate",
    ],
    // the stack file → the model
    &["yaml"],
    &[
        "model",
        "stack_files",
        "load",
        "names",
        "sql",
        "schedule",
        "dialect",
        "policy",
        "schema",
    ],
    // its checks, and what data-quality checks are
    &["validate", "checks"],
    &["codes"],
    // AWS and the lake, below everything that deploys or runs
    &["cloud", "resources", "lake", "stats", "metrics", "records"],
    // the resource and step graph, and where its state is kept
    &["graph", "state", "lineage"],
    &["lint", "plan", "engine", "deploy"],
    // the pipeline: the step kinds (ingestion is `run`'s own), then the executor over them
    &["transform"],
    &["quality"],
    &["run"],
    &["observe", "ci", "init", "revision", "summary"],
    &["commands"],
];

fn layer_of() -> BTreeMap<&'static str, usize> {
    LAYERS
        .iter()
        .enumerate()
        .flat_map(|(i, l)| l.iter().map(move |m| (*m, i)))
        .collect()
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The modules `text` names as `crate::x`, outside comments and unit tests.
fn imports(text: &str) -> BTreeSet<String> {
    let product = text.split("#[cfg(test)]").next().unwrap_or_default();
    let mut out = BTreeSet::new();
    for line in product.lines() {
        let code = line.split("//").next().unwrap_or_default();
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

#[test]
fn every_import_runs_down_the_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let layer = layer_of();
    let mut all = vec![];
    files(&src, &mut all);
    all.sort();
    let mut unplaced = BTreeSet::new();
    let mut upward = vec![];
    for f in &all {
        let rel = f.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if top == "lib" || top == "main" {
            continue;
        }
        let Some(&from) = layer.get(top.as_str()) else {
            unplaced.insert(top);
            continue;
        };
        for m in imports(&std::fs::read_to_string(f).unwrap()) {
            if m == top {
                continue;
            }
            match layer.get(m.as_str()) {
                None => {
                    unplaced.insert(m);
                }
                Some(&to) if to > from => {
                    upward.push(format!("{}: {top} → {m}", rel.display()));
                }
                Some(_) => {}
            }
        }
    }
    assert!(
        unplaced.is_empty(),
        "modules on no layer (add them to LAYERS and docs/layout.md): {unplaced:?}"
    );
    assert!(
        upward.is_empty(),
        "imports running back up the layers:\n{}",
        upward.join("\n")
    );
}

#[test]
fn the_check_sees_imports_and_ignores_comments_and_tests() {
    let text = "use crate::graph::Graph;\n// crate::commands in a comment\nfn f() { crate::sql::name(\"x\"); }\n#[cfg(test)]\nmod tests { use crate::observe; }\n";
    let found: Vec<String> = imports(text).into_iter().collect();
    assert_eq!(found, ["graph", "sql"]);
}

/// Functions of `text` (outside unit tests) longer than `limit` lines with no `// Long: why`
/// among the comments and attributes just above them: (name, first line, lines).
fn long_functions(text: &str, limit: usize) -> Vec<(String, usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let end = lines
        .iter()
        .position(|l| l.starts_with("#[cfg(test)]"))
        .unwrap_or(lines.len());
    let mut out = vec![];
    for i in 0..end {
        let line = lines[i];
        let indent = line.len() - line.trim_start().len();
        let t = line.trim_start();
        let head = [
            "pub(crate) ",
            "pub(super) ",
            "pub ",
            "async ",
            "const ",
            "unsafe ",
        ]
        .iter()
        .fold(t, |t, p| t.strip_prefix(p).unwrap_or(t));
        let head = head.strip_prefix("async ").unwrap_or(head);
        let Some(rest) = head.strip_prefix("fn ") else {
            continue;
        };
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        // The body ends at the first line that is only `}` at the function's indentation.
        let close = format!("{}}}", " ".repeat(indent));
        let Some(last) = (i + 1..end).find(|&k| lines[k] == close) else {
            continue;
        };
        // A declaration without a body (a trait method) ends with `;` before any `{`.
        if lines[i..=last]
            .iter()
            .position(|l| l.trim_end().ends_with(';'))
            < lines[i..=last]
                .iter()
                .position(|l| l.trim_end().ends_with('{'))
        {
            continue;
        }
        let n = last - i + 1;
        let reason = lines[..i]
            .iter()
            .rev()
            .take_while(|l| {
                let l = l.trim_start();
                l.starts_with("//") || l.starts_with("#[")
            })
            .any(|l| l.trim_start().starts_with("// Long: "));
        if n > limit && !reason {
            out.push((name, i + 1, n));
        }
    }
    out
}

/// No product function over ~100 lines, or a one-line reason beside it (`// Long: why`).
#[test]
fn no_long_function_without_a_reason() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = vec![];
    files(&src, &mut all);
    all.sort();
    let mut long = vec![];
    for f in &all {
        for (name, at, n) in long_functions(&std::fs::read_to_string(f).unwrap(), 100) {
            let rel = f.strip_prefix(&src).unwrap().display().to_string();
            long.push(format!("{rel}:{at}: `{name}` is {n} lines"));
        }
    }
    assert!(
        long.is_empty(),
        "split these, or say why beside them (`// Long: ...`):\n{}",
        long.join("\n")
    );
}

#[test]
fn the_length_check_counts_bodies_and_honours_reasons() {
    let body = "    let x = 1;\n".repeat(120);
    let text = format!(
        "pub async fn big() {{\n{body}}}\n\n// Long: one arm per kind\nfn excused() {{\n{body}}}\n\nfn small() {{\n}}\n"
    );
    let found = long_functions(&text, 100);
    assert_eq!(found, vec![("big".to_string(), 1, 122)]);
}
