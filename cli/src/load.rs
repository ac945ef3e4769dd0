//! Stack file → model: parse YAML, pick the environment, resolve `${...}`, decode.

use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::interpolate::Vars;
use crate::model::{Environment, Stack, Target};
use crate::source::SourceFile;
use crate::yaml::de::Ctx;
use crate::yaml::{self, Node, NodeKind, from_node};
use std::path::Path;

/// A decoded stack and the environment it was decoded for.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub src: SourceFile,
    pub stack: Stack,
    pub env_name: String,
    pub env: Environment,
    pub vars: Vars,
    /// Names whose own error was already reported while decoding (see `yaml::Ctx::broken`).
    pub broken: std::collections::BTreeSet<String>,
    /// The local cloud's engine the graph is compiled for: the environment's pin, else MiniStack;
    /// commands that reach the local cloud set it to the engine that runs.
    pub engine: crate::model::LocalEngine,
    /// Values whose cause was reported elsewhere (they use a broken variable).
    pub suppressed: Vec<crate::source::Span>,
}

impl Loaded {
    pub fn region(&self) -> &str {
        self.env
            .region
            .as_deref()
            .map_or("us-east-1", String::as_str)
    }

    /// The account id ARNs use: the declared one, or LocalStack's fixed test account.
    pub fn account(&self) -> &str {
        match &self.env.account {
            Some(a) => a,
            None => default_account(self.env.target.value == Target::Local),
        }
    }
}

/// The account id when none is declared: LocalStack's fixed one, or a placeholder for AWS (which
/// validation requires to be declared).
fn default_account(local: bool) -> &'static str {
    if local { "000000000000" } else { "<account>" }
}

/// Every diagnostic of a load, whatever stage found it.
#[derive(Debug, Default)]
pub struct Report {
    pub diags: Vec<Diagnostic>,
    /// Files diagnostics point into besides the stack (SQL files).
    pub files: Vec<SourceFile>,
}

impl Report {
    pub fn has_errors(&self) -> bool {
        self.diags.iter().any(Diagnostic::is_error)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diags.iter().filter(|d| d.is_error())
    }

    /// The diagnostics in full, at most `SHOWN` of them (a generated file can hold hundreds of
    /// thousands: the first are the ones to fix), then the count of all.
    pub fn render(&self, stack: Option<&SourceFile>) -> String {
        const SHOWN: usize = 200;
        let mut out = String::new();
        for d in self.diags.iter().take(SHOWN) {
            let src = stack
                .filter(|s| s.path == d.file)
                .or_else(|| self.files.iter().find(|f| f.path == d.file));
            out.push_str(&d.render(src));
            out.push('\n');
        }
        let errors = self.diags.iter().filter(|d| d.is_error()).count();
        let warnings = self.diags.len() - errors;
        if self.diags.len() > SHOWN {
            out.push_str(&format!(
                "... and {} more not shown (`--json` lists them all); fix the first ones, which often cause the rest\n",
                self.diags.len() - SHOWN
            ));
        }
        if errors > 0 || warnings > 0 {
            out.push_str(&format!(
                "{errors} error{}, {warnings} warning{}\n",
                if errors == 1 { "" } else { "s" },
                if warnings == 1 { "" } else { "s" }
            ));
        }
        out
    }
}

/// Read and decode a stack file. `Err` carries the diagnostics when nothing usable was decoded.
pub fn load_file(
    path: &Path,
    env: Option<&str>,
) -> Result<(Loaded, Report), (Option<SourceFile>, Report)> {
    match SourceFile::read(path) {
        Ok(src) => load(src, env),
        Err(e) => Err((None, unreadable(path, &e))),
    }
}

/// The report of a stack file that cannot be read.
pub fn unreadable(path: &Path, e: &std::io::Error) -> Report {
    Report {
        diags: vec![
            Diagnostic::error("E000", format!("cannot read {}: {e}", path.display())).in_file(path),
        ],
        files: vec![],
    }
}

pub fn load(
    src: SourceFile,
    env: Option<&str>,
) -> Result<(Loaded, Report), (Option<SourceFile>, Report)> {
    let mut report = Report::default();
    // YAML parsers stop at a NUL byte: the rest of the file would silently vanish.
    if let Some(at) = src.text.find('\0') {
        report.diags.push(
            Diagnostic::error("E001", "invalid YAML: a NUL byte")
                .at(&src, src.span_at(at, 1))
                .hint("stack files are text; remove the NUL byte (and whatever binary data came with it)"),
        );
        return Err((Some(src), report));
    }
    let root = match yaml::parse(&src) {
        Ok(n) => n,
        Err(d) => {
            report.diags.push(d);
            return Err((Some(src), report));
        }
    };
    if !matches!(root.kind, NodeKind::Map(_)) {
        report.diags.push(
            Diagnostic::error(
                "E011",
                format!("a stack file is a mapping, found {}", root.type_name()),
            )
            .at(&src, root.span)
            .hint("start with `stack: <name>`"),
        );
        return Err((Some(src), report));
    }
    let vars = match build_vars(&src, &root, env, &mut report) {
        Some(v) => v,
        None => return Err((Some(src), report)),
    };
    let ctx = Ctx::new(&src, Some(&vars.1));
    let stack: Option<Stack> = from_node(&root, &ctx);
    report.diags.extend(ctx.diags.into_inner());
    let broken = ctx.broken.into_inner();
    let suppressed = ctx.suppressed.into_inner();
    let Some(stack) = stack else {
        return Err((Some(src), report));
    };
    let env_name = vars.0;
    let env_engine = stack
        .environments
        .get(&env_name)
        .and_then(|e| e.engine.as_ref())
        .map(|e| e.value)
        .unwrap_or_default();
    let env = match stack.environments.get(&env_name) {
        Some(e) => e.clone(),
        None => {
            // No environments declared: a local one, so validate and plan work on a bare stack.
            let node = yaml::parse(&SourceFile::new("", "target: local")).expect("static yaml");
            from_node(&node, &Ctx::new(&src, None)).expect("static environment")
        }
    };
    Ok((
        Loaded {
            src,
            stack,
            env_name,
            env,
            vars: vars.1,
            broken,
            suppressed,
            engine: env_engine,
        },
        report,
    ))
}

/// First pass over the raw tree: the stack name, the chosen environment and its variables.
// Long: one pass over the raw tree; each variable source (stack, environment, file) adds diagnostics to the same report.
fn build_vars(
    src: &SourceFile,
    root: &Node,
    env: Option<&str>,
    report: &mut Report,
) -> Option<(String, Vars)> {
    let scalar = |n: Option<&Node>| n.and_then(Node::as_str).unwrap_or_default().to_string();
    let stack = scalar(root.get("stack"));
    let envs: Vec<&Node> = match root.get("environments").map(|n| &n.kind) {
        Some(NodeKind::Map(entries)) => entries.iter().map(|(k, _)| k).collect(),
        _ => vec![],
    };
    let env_names: Vec<&str> = envs.iter().filter_map(|k| k.as_str()).collect();
    let chosen = match env {
        Some(e) => {
            if !env_names.contains(&e) && !env_names.is_empty() {
                let mut d = Diagnostic::error("E180", format!("unknown environment `{e}`"))
                    .in_file(&src.path)
                    .label(format!(
                        "environments in this stack: {}",
                        env_names.join(", ")
                    ));
                d = match did_you_mean(e, env_names.iter().copied()) {
                    Some(s) => d.hint(format!("did you mean `{s}`?")),
                    None => {
                        d.hint("pass one of them with `--env`, or declare it under `environments:`")
                    }
                };
                report.diags.push(d);
                return None;
            }
            e.to_string()
        }
        None => match root.get("default_environment").and_then(Node::as_str) {
            Some(d) => d.to_string(),
            None => env_names.first().copied().unwrap_or("local").to_string(),
        },
    };
    let env_node = root.get("environments").and_then(|e| e.get(&chosen));
    let mut vars = Vars::default();
    vars.builtins.insert("stack".into(), stack);
    vars.builtins.insert("environment".into(), chosen.clone());
    let region = env_node
        .and_then(|e| e.get("region"))
        .and_then(Node::as_str)
        .unwrap_or("us-east-1");
    vars.builtins.insert("region".into(), region.to_string());
    let target_local = env_node
        .and_then(|e| e.get("target"))
        .and_then(Node::as_str)
        .is_none_or(|t| t == "local");
    let account = env_node
        .and_then(|e| e.get("account"))
        .and_then(Node::as_str)
        .unwrap_or(default_account(target_local))
        .to_string();
    vars.builtins.insert("account_id".into(), account);
    // Stack variables first, then the environment's overrides; a variable may use earlier ones.
    let scopes = [Some(root), env_node];
    let declared: std::collections::BTreeSet<&str> = scopes
        .iter()
        .filter_map(|s| s.and_then(|s| s.get("variables")))
        .flat_map(|n| match &n.kind {
            NodeKind::Map(entries) => entries.as_slice(),
            _ => &[],
        })
        .filter_map(|(k, _)| k.as_str())
        .collect();
    for scope in scopes {
        if let Some(NodeKind::Map(entries)) =
            scope.and_then(|s| s.get("variables")).map(|n| &n.kind)
        {
            for (k, v) in entries {
                let (Some(name), Some(raw)) = (k.as_str(), v.as_str()) else {
                    continue;
                };
                // Errors inside a variable's value are reported when the value itself is decoded;
                // uses of a broken variable are not reported again.
                match vars.interpolate(raw) {
                    Ok(value) => {
                        vars.broken.remove(name);
                        vars.vars.insert(name.to_string(), value);
                    }
                    Err(e) => {
                        // A variable that is declared but not defined yet: this one itself, or
                        // one declared after it (a cycle, or an order that cannot resolve). The
                        // decoder takes uses of a broken variable as reported, so the root cause
                        // is reported here, once, where the variable is defined.
                        if let Some(used) = e.unknown_variable.as_deref()
                            && declared.contains(used)
                        {
                            let message = if used == name {
                                format!("variable `{name}` refers to itself")
                            } else {
                                format!(
                                    "variable `{name}` uses `{used}`, which is not defined before it"
                                )
                            };
                            let single_line = !raw.contains('\n');
                            let quoted = usize::from(matches!(
                                v.kind,
                                NodeKind::Scalar(_, yaml::node::ScalarStyle::Quoted)
                            ));
                            let at = if single_line {
                                v.span.sub(src, quoted + e.offset, e.len)
                            } else {
                                v.span
                            };
                            report.diags.push(
                                Diagnostic::error("E020", message).at(src, at).hint(
                                    "a variable may use only variables defined before it (an environment's may use the stack's); give it a plain value",
                                ),
                            );
                        }
                        vars.vars.remove(name);
                        vars.broken.insert(name.to_string());
                    }
                }
            }
        }
    }
    Some((chosen, vars))
}

/// Codes the loader emits before any rule runs: (code, name, summary, hint, explanation).
pub const CODES: &[(&str, &str, &str, &str, &str)] = &[
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
