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
        "runtime",
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

/// `text` without its unit tests and comments: the code an import check reads.
fn product_code(text: &str) -> String {
    let product = text.split("#[cfg(test)]").next().unwrap_or_default();
    product
        .lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The modules `text` names as `crate::x`, outside comments and unit tests.
fn imports(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for code in product_code(text).lines() {
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

/// A file's module path: `run/convert.rs` → `run::convert`, `run/mod.rs` → `run`.
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|l| l == "mod") {
        parts.pop();
    }
    parts
}

/// `use a::{b, c::{d, e}};` → `a::b`, `a::c::d`, `a::c::e`.
fn expand_use(tree: &str) -> Vec<String> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = tree.find('{') else {
        return vec![tree];
    };
    let prefix = &tree[..open];
    let close = tree.rfind('}').filter(|c| *c > open).unwrap_or(tree.len());
    let inner = &tree[open + 1..close];
    let (mut depth, mut start, mut out) = (0, 0, vec![]);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.extend(expand_use(&format!("{prefix}{}", &inner[start..i])));
                start = i + 1;
            }
            _ => {}
        }
    }
    out.extend(expand_use(&format!("{prefix}{}", &inner[start..])));
    out
}

/// The module paths `text` (a file of module `at`, whose child modules are `children`) refers to
/// through `crate::`, `super::`, `self::` or a child's name, outside comments and unit tests;
/// each resolved to the longest prefix that is a module of `modules`.
fn file_imports(
    text: &str,
    at: &[String],
    children: &BTreeSet<String>,
    modules: &BTreeSet<Vec<String>>,
) -> BTreeSet<Vec<String>> {
    let code = product_code(text);
    let mut paths = vec![];
    let mut rest = code.as_str();
    while let Some(i) = rest.find("use ") {
        let line_start = rest[..i].rfind('\n').map_or(0, |n| n + 1);
        let head = rest[line_start..i].trim();
        let tail = &rest[i + 4..];
        let end = tail.find(';').unwrap_or(tail.len());
        if head.is_empty() || head.starts_with("pub") {
            paths.extend(expand_use(&tail[..end]));
        }
        rest = &tail[end..];
    }
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    for word in code.split(|c: char| !ident(c)) {
        if word.contains("::") {
            paths.push(word.to_string());
        }
    }
    // Where `super` and `self` point: a `mod.rs` is its folder's module, a file its own.
    let own = at.to_vec();
    let parent = at[..at.len().saturating_sub(1)].to_vec();
    let mut out = BTreeSet::new();
    for p in paths {
        let segs: Vec<&str> = p.split("::").filter(|s| !s.is_empty()).collect();
        let (mut base, rest) = match segs.first() {
            Some(&"crate") => (vec![], &segs[1..]),
            Some(&"super") => (parent.clone(), &segs[1..]),
            Some(&"self") => (own.clone(), &segs[1..]),
            Some(s) if children.contains(*s) => (own.clone(), &segs[..]),
            _ => continue,
        };
        let mut best = (!base.is_empty()).then(|| base.clone());
        for s in rest {
            base.push(s.to_string());
            if modules.contains(&base) {
                best = Some(base.clone());
            }
        }
        // A folder's `mod.rs` and the files in it are one room: the face names what the folder
        // holds and the files take its shared declarations, as one file per rule or kind does.
        if let Some(m) = best.filter(|m| !m.starts_with(&own) && !own.starts_with(m)) {
            out.insert(m);
        }
    }
    out
}

/// Tarjan's strongly connected components of more than one module.
fn circles(edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<Vec<String>> {
    struct Walk<'a> {
        edges: &'a BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        index: BTreeMap<&'a [String], (usize, usize)>,
        stack: Vec<&'a [String]>,
        on: BTreeSet<&'a [String]>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(w: &mut Walk<'a>, v: &'a [String]) {
        let n = w.index.len();
        w.index.insert(v, (n, n));
        w.stack.push(v);
        w.on.insert(v);
        for u in w.edges.get(v).into_iter().flatten() {
            if !w.index.contains_key(u.as_slice()) {
                visit(w, u);
                let low = w.index[u.as_slice()].1.min(w.index[v].1);
                w.index.get_mut(v).unwrap().1 = low;
            } else if w.on.contains(u.as_slice()) {
                let low = w.index[u.as_slice()].0.min(w.index[v].1);
                w.index.get_mut(v).unwrap().1 = low;
            }
        }
        if w.index[v].0 == w.index[v].1 {
            let mut scc = vec![];
            while let Some(x) = w.stack.pop() {
                w.on.remove(x);
                scc.push(x.join("::"));
                if x == v {
                    break;
                }
            }
            if scc.len() > 1 {
                scc.sort();
                w.out.push(scc);
            }
        }
    }
    let mut w = Walk {
        edges,
        index: BTreeMap::new(),
        stack: vec![],
        on: BTreeSet::new(),
        out: vec![],
    };
    for v in edges.keys() {
        if !w.index.contains_key(v.as_slice()) {
            visit(&mut w, v);
        }
    }
    w.out
}

/// Inside the layers too, no two files lean on each other: the file-level import graph of
/// `cli/src` (`crate::`, `super::`, `self::` and child-module paths) has no circle. A folder's
/// `mod.rs` and its own files are not pairs of it (see `file_imports`).
#[test]
fn no_files_import_each_other_in_a_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = vec![];
    files(&src, &mut all);
    all.retain(|f| !f.ends_with("lib.rs") && !f.ends_with("main.rs"));
    let modules: BTreeSet<Vec<String>> = all
        .iter()
        .map(|f| module_of(f.strip_prefix(&src).unwrap()))
        .collect();
    let mut edges = BTreeMap::new();
    for f in &all {
        let at = module_of(f.strip_prefix(&src).unwrap());
        let children: BTreeSet<String> = modules
            .iter()
            .filter(|m| m.len() == at.len() + 1 && m.starts_with(&at))
            .map(|m| m[at.len()].clone())
            .collect();
        let text = std::fs::read_to_string(f).unwrap();
        edges.insert(at.clone(), file_imports(&text, &at, &children, &modules));
    }
    let found = circles(&edges);
    assert!(
        found.is_empty(),
        "files that import each other in a circle (move what both need below them):\n{}",
        found
            .iter()
            .map(|c| c.join(" ↔ "))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_circle_check_reads_paths_and_finds_a_circle() {
    let modules: BTreeSet<Vec<String>> = [
        vec!["run".to_string()],
        vec!["run".into(), "convert".into()],
        vec!["run".into(), "parquet_in".into()],
        vec!["quality".into()],
    ]
    .into();
    let at = vec!["run".to_string(), "convert".to_string()];
    let text = "use super::{parquet_in::rows, Thing};\nuse crate::quality;\n// super::x\nfn f() { self::g(); }\n#[cfg(test)]\nmod t { use crate::run; }\n";
    let found = file_imports(text, &at, &BTreeSet::new(), &modules);
    // `super::Thing` is the folder's face: not a pair (see above).
    let want: BTreeSet<Vec<String>> = [
        vec!["run".to_string(), "parquet_in".into()],
        vec!["quality".into()],
    ]
    .into();
    assert_eq!(found, want);
    let mut edges = BTreeMap::new();
    edges.insert(at.clone(), found);
    edges.insert(vec!["run".into(), "parquet_in".into()], [at.clone()].into());
    assert_eq!(
        circles(&edges),
        vec![vec!["run::convert".to_string(), "run::parquet_in".into()]]
    );
}
