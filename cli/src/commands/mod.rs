//! One module per CLI command, each thin over the library.

pub mod apply;
pub mod ci;
pub mod destroy;
pub mod diff;
pub mod force_unlock;
pub mod graph;
pub mod init;
pub mod lambda;
pub mod lint;
pub mod local;
pub mod observe;
pub mod plan;
pub mod produce;
pub mod query;
pub mod reporters;
pub mod rules;
pub mod run;
pub mod schema;
pub mod state;
pub mod step;
pub mod test;
pub mod validate;

use crate::load::{self, Report};
use crate::validate::{self as checks, Checked};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "dekit",
    version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("DEKIT_COMMIT"), ")"),
    about = "From one stack file to a running, tested, observed AWS data platform"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Start a new stack from a template (warehouse, clickstream, files) with sample data.
    Init(init::Args),
    /// Check a stack file: syntax, types, names, references, cycles, schedules, SQL, secrets.
    Validate(validate::Args),
    /// Print the resource graph and lineage (dot, mermaid or json).
    Graph(graph::Args),
    /// Security and quota findings: IAM least privilege, encryption, public access, secrets,
    /// retention, stream and Firehose limits (text, JSON or SARIF; exit 1 on errors).
    Lint(lint::Args),
    /// The stack's components added, removed and changed between git revisions.
    Diff(diff::Args),
    /// Show what apply would change.
    Plan(plan::Args),
    /// Create and update the stack's resources (refresh, plan, walk the graph in parallel).
    Apply(apply::Args),
    /// Delete every resource the state records, dependents first.
    Destroy(destroy::Args),
    /// Run the pipeline: sources, loads and streams into the lake, models, views and exports.
    Run(run::Args),
    /// Send JSON lines to a stream of the stack (PutRecords batches, failed entries retried).
    Produce(produce::Args),
    /// Run a SELECT over the stack's tables, models and views with the local engine.
    Query(query::Args),
    /// Run the stack's quality checks, unit tests and reconciliations (streams, loads, exports);
    /// JUnit XML for CI.
    Test(test::Args),
    /// The platform on one screen: resources, streams, zones, tables, runs, tests, alarms, causes.
    Observe(observe::Args),
    /// Inspect or edit the recorded state.
    State(state::Args),
    /// Release a state lock left by a run that is gone.
    ForceUnlock(force_unlock::Args),
    /// Print the JSON Schema of stack files (for editor completion and validation).
    Schema,
    /// List every diagnostic code, or explain one (`dekit rules E101`).
    Rules(rules::Args),
    /// Run the local cloud (MiniStack by default, or LocalStack + moto) that `local` environments
    /// target.
    Local(local::Args),
    /// CI/CD: `dekit ci init --provider github|gitlab` writes the stack's pipeline.
    Ci(ci::Args),
    /// One invocation of the deployed pipeline's step runtime, as its Lambda makes it.
    Step(step::Args),
}

/// Arguments every command that reads a stack takes.
#[derive(clap::Args, Debug)]
pub struct StackArgs {
    /// The stack file.
    pub file: PathBuf,
    /// Environment to use (default: the stack's `default_environment`, else the first declared).
    #[arg(long, short)]
    pub env: Option<String>,
}

pub fn run(cli: Cli) -> ExitCode {
    // The environment, read once; the library's clock may start at another instant (tests
    // that must hold on any day).
    crate::settings::init(crate::settings::Settings::from_env());
    if let Some(at) = &crate::settings::get().now
        && let Err(e) = crate::clock::parse(at).and_then(crate::clock::start_at)
    {
        return fail(&format!("DEKIT_NOW: {e}"));
    }
    match cli.command {
        Command::Init(a) => init::run(a),
        Command::Validate(a) => validate::run(a),
        Command::Graph(a) => graph::run(a),
        Command::Diff(a) => diff::run(a),
        Command::Lint(a) => lint::run(a),
        Command::Ci(a) => ci::run(a),
        Command::Plan(a) => plan::run(a),
        Command::Schema => schema::run(),
        Command::Rules(a) => rules::run(a),
        Command::Local(a) => local::run(a),
        Command::Apply(a) => apply::run(a),
        Command::Destroy(a) => destroy::run(a),
        Command::State(a) => state::run(a),
        Command::Run(a) => run::run(a),
        Command::Produce(a) => produce::run(a),
        Command::Query(a) => query::run(a),
        Command::Test(a) => test::run(a),
        Command::Observe(a) => observe::run(a),
        Command::ForceUnlock(a) => force_unlock::run(a),
        Command::Step(a) => step::run(a),
    }
}

/// Whether a change may go ahead, like Terraform: `--auto-approve`, or `yes` typed on a terminal.
/// Without a terminal to ask on (CI, a pipe), refuse: nothing is changed without consent.
pub fn approved(auto_approve: bool, what: &str) -> bool {
    use std::io::{BufRead, IsTerminal, Write};
    if auto_approve {
        return true;
    }
    if !std::io::stdin().is_terminal() {
        eprintln!(
            "error: no terminal to ask whether to {what}; nothing was changed. Pass --auto-approve to proceed without asking (as in CI)."
        );
        return false;
    }
    print!("\nDo you want to {what}? Only 'yes' will be accepted: ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    if answer.trim() == "yes" {
        return true;
    }
    println!("Cancelled; nothing was changed.");
    false
}

/// The errors of a walk that did not finish, one line each.
/// The JSON document `apply --json` and `destroy --json` print: counts per action of what was
/// done, and every failure with its AWS error code.
pub fn outcome_json(
    command: &str,
    plan: &crate::plan::Plan,
    outcome: Option<&crate::engine::Outcome>,
) -> serde_json::Value {
    use crate::plan::Action;
    let done: Vec<&String> = outcome.map(|o| o.done.iter().collect()).unwrap_or_default();
    let count = |act: Action| {
        plan.changes
            .iter()
            .filter(|c| c.action == act && done.contains(&&c.address))
            .count()
    };
    let ok = outcome.is_none_or(|o| o.failed.is_empty() && !o.interrupted);
    serde_json::json!({
        "command": command,
        "stack": plan.stack,
        "environment": plan.environment,
        "ok": ok,
        "added": count(Action::Create),
        "changed": count(Action::Update),
        "replaced": count(Action::Replace),
        "destroyed": count(Action::Delete),
        "done": done,
        "failed": outcome.map(|o| o.failed.iter().map(|(a, e)| serde_json::json!({
            "address": a, "code": e.code, "message": e.message, "operation": e.operation
        })).collect::<Vec<_>>()).unwrap_or_default(),
        "skipped": outcome.map(|o| o.skipped.clone()).unwrap_or_default(),
        "interrupted": outcome.is_some_and(|o| o.interrupted),
    })
}

pub fn print_failures(outcome: &crate::engine::Outcome) {
    for (addr, e) in &outcome.failed {
        eprintln!("error: {addr}: {}: {} ({})", e.code, e.message, e.operation);
    }
}

/// Run a command, recording a Chrome trace of its API calls and waits to `path` when given.
pub fn traced(path: Option<PathBuf>, work: impl FnOnce() -> ExitCode) -> ExitCode {
    if path.is_some() {
        crate::timings::enable();
    }
    let code = work();
    if let Some(p) = path {
        if let Err(e) = crate::timings::write(&p) {
            return fail(&e);
        }
        eprintln!(
            "timings: {} (open in https://ui.perfetto.dev or chrome://tracing)",
            p.display()
        );
    }
    code
}

/// Print an error and return exit code 1.
pub fn fail(msg: &str) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::FAILURE
}

/// Like `checked`, but for commands asked for JSON: the diagnostics of an invalid stack go to
/// stdout as the JSON document `validate --json` prints, so tools always get JSON.
pub fn checked_or_json(file: &Path, env: Option<&str>, json: bool) -> Option<Checked> {
    let (result, report, src) = checked_with_report(file, env);
    if !json {
        print_report(&report, src.as_ref());
    } else if result.is_none() {
        println!(
            "{}",
            serde_json::to_string_pretty(&report.diags).expect("diagnostics serialize")
        );
    }
    result
}

/// Load and check a stack, printing diagnostics to stderr. `None` means it had errors.
pub fn checked(file: &Path, env: Option<&str>) -> Option<Checked> {
    checked_or_json(file, env, false)
}

/// The stack file read here, at the command's edge, then loaded and checked: the checked stack
/// (`None` when it has errors), every diagnostic, and the source they point into.
fn checked_with_report(
    file: &Path,
    env: Option<&str>,
) -> (Option<Checked>, Report, Option<crate::source::SourceFile>) {
    match crate::source::SourceFile::read(file) {
        Ok(src) => match load::load(src, env) {
            Ok((loaded, report)) => {
                let src = loaded.src.clone();
                let (c, r) = checks::check(loaded, report);
                (c, r, Some(src))
            }
            Err((src, report)) => (None, report, src),
        },
        Err(e) => (None, load::unreadable(file, &e), None),
    }
}

pub fn print_report(report: &Report, src: Option<&crate::source::SourceFile>) {
    if !report.diags.is_empty() {
        eprint!("{}", report.render(src));
    }
}
