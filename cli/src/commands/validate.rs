//! `dekit validate FILE [--env E]`: every problem of a stack file, each with file:line:column.

use super::StackArgs;
use crate::load;
use crate::validate;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Print diagnostics as JSON on stdout instead of text on stderr.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: Args) -> ExitCode {
    let file = &a.stack.file;
    if a.json {
        let report = match load::load_file(file, a.stack.env.as_deref()) {
            Ok((loaded, report)) => validate::check(loaded, report).1,
            Err((_, report)) => report,
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&report.diags).expect("diagnostics serialize")
        );
        return if report.has_errors() {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        };
    }
    match super::checked(file, a.stack.env.as_deref()) {
        Some(c) => {
            let s = &c.loaded.stack;
            println!(
                "{} is valid: stack `{}`, environment `{}`: {} sources, {} ingests, {} tables, {} models, {} views, {} exports, {} quality checks, {} alarms",
                file.display(),
                s.stack.value,
                c.loaded.env_name,
                s.sources.len(),
                s.ingest.streams.len() + s.ingest.batch.len(),
                s.tables.len(),
                s.transforms.len(),
                s.serving.views.len(),
                s.serving.exports.len(),
                s.quality.iter().map(|(_, v)| v.len()).sum::<usize>(),
                s.observe.alarms.len(),
            );
            ExitCode::SUCCESS
        }
        None => ExitCode::FAILURE,
    }
}
