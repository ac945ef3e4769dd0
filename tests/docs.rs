//! The README and `docs/` say only what is true of this checkout: every relative link points at a
//! file that exists, and every `dekit` command line they show (in code blocks and inline code)
//! names a command the binary has, with flags that command takes (its `--help` lists them).

mod common;

use common::repo_root;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn pages() -> Vec<PathBuf> {
    let root = repo_root();
    let mut out = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    out.extend(docs);
    out
}

/// `[text](target)` targets, without `#anchor`s, that are not web addresses.
fn relative_links(text: &str) -> Vec<String> {
    let mut out = vec![];
    let mut rest = text;
    while let Some(i) = rest.find("](") {
        let after = &rest[i + 2..];
        let Some(end) = after.find(')') else { break };
        let target = after[..end].trim();
        if !target.is_empty()
            && !target.starts_with("http://")
            && !target.starts_with("https://")
            && !target.starts_with('#')
            && !target.starts_with("mailto:")
        {
            out.push(target.split('#').next().unwrap().to_string());
        }
        rest = &after[end..];
    }
    out
}

/// Every `dekit ...` command line of a page: lines of code blocks and inline code spans.
fn command_lines(text: &str) -> Vec<String> {
    let mut out = vec![];
    let mut in_block = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if in_block {
            let code = line.split(" #").next().unwrap_or_default().trim();
            if code.starts_with("dekit ") {
                out.push(code.to_string());
            }
            continue;
        }
        for (i, span) in line.split('`').enumerate() {
            if i % 2 == 1 && span.starts_with("dekit ") {
                out.push(span.to_string());
            }
        }
    }
    out
}

/// The commands that take a subcommand.
const NESTED: &[&str] = &["local", "state", "ci"];

#[test]
fn every_link_and_every_documented_command_exists() {
    let root = repo_root();
    let bin = env!("CARGO_BIN_EXE_dekit");
    let top = help(bin, &[]);
    let mut helps: BTreeMap<Vec<String>, String> = BTreeMap::new();
    let (mut links, mut commands) = (0, 0);
    let mut problems = vec![];
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        let dir = page.parent().unwrap();
        let name = page.strip_prefix(&root).unwrap().display().to_string();
        for target in relative_links(&text) {
            links += 1;
            if !dir.join(&target).exists() {
                problems.push(format!("{name}: link to `{target}`, which does not exist"));
            }
        }
        for line in command_lines(&text) {
            commands += 1;
            let words: Vec<&str> = line.split_whitespace().collect();
            let Some(cmd) = words.get(1) else { continue };
            if cmd.starts_with('-') {
                if !top.contains(cmd) {
                    problems.push(format!("{name}: `{line}`: dekit has no {cmd}"));
                }
                continue;
            }
            if !top.contains(&format!("  {cmd} ")) {
                problems.push(format!("{name}: `{line}`: no command `{cmd}`"));
                continue;
            }
            let mut path = vec![cmd.to_string()];
            if NESTED.contains(cmd)
                && let Some(sub) = words.get(2).filter(|s| !s.starts_with('-'))
            {
                path.push(sub.to_string());
            }
            let h = helps
                .entry(path.clone())
                .or_insert_with(|| help(bin, &path.iter().map(String::as_str).collect::<Vec<_>>()));
            if h.is_empty() {
                problems.push(format!(
                    "{name}: `{line}`: `dekit {}` has no help",
                    path.join(" ")
                ));
                continue;
            }
            for w in &words[path.len() + 1..] {
                let flag = w
                    .split('=')
                    .next()
                    .unwrap()
                    .trim_matches(|c| c == ',' || c == ';');
                if flag.starts_with("--") && flag.len() > 2 && !h.contains(flag) {
                    problems.push(format!(
                        "{name}: `{line}`: `dekit {}` takes no {flag}",
                        path.join(" ")
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The checks above looked at something: the pages hold links and commands.
    assert!(
        links >= 10 && commands >= 40,
        "{links} links, {commands} commands"
    );
    // And they can fail: a made-up flag and a made-up link are caught.
    let fake = "```sh\ndekit plan stack.yaml --no-such-flag\n```\n[x](docs/no-such-page.md)\n";
    assert_eq!(
        command_lines(fake),
        ["dekit plan stack.yaml --no-such-flag"]
    );
    assert!(!help(bin, &["plan"]).contains("--no-such-flag"));
    assert!(!Path::new(&root).join(&relative_links(fake)[0]).exists());
}

fn help(bin: &str, path: &[&str]) -> String {
    let o = Command::new(bin)
        .args(path)
        .arg("--help")
        .output()
        .expect("dekit runs");
    if !o.status.success() {
        return String::new();
    }
    String::from_utf8_lossy(&o.stdout).into_owned()
}
