//! `dekit lint FILE [--format text|json|sarif]`: the stack's security and quota findings (see
//! `crate::lint`); exit 1 when any is an error.

use crate::lint::{self, Level};
use crate::load;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Sarif,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The stack file.
    pub file: PathBuf,
    /// Environment to lint (default: the stack's default).
    #[arg(long, short)]
    pub env: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

pub fn run(a: Args) -> ExitCode {
    let (report, checked) = match load::load_file(&a.file, a.env.as_deref()) {
        Ok((loaded, report)) => {
            let (c, r) = crate::validate::check(loaded, report);
            (r, c)
        }
        Err((_, report)) => (report, None),
    };
    let findings = match lint::findings(&report, checked.as_ref()) {
        Ok(f) => f,
        Err(e) => return super::fail(&e),
    };
    match a.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&findings).expect("findings serialize")
        ),
        Format::Sarif => println!(
            "{}",
            serde_json::to_string_pretty(&lint::sarif::render(&findings)).expect("sarif")
        ),
        Format::Text => {
            for f in &findings {
                let level = match f.level {
                    Level::Error => "error",
                    Level::Warning => "warning",
                    Level::Note => "note",
                };
                println!(
                    "{}:{}:{}: {level}[{}] {}\n    fix: {}",
                    f.file, f.line, f.col, f.code, f.message, f.hint
                );
            }
            let n = |l: Level| findings.iter().filter(|f| f.level == l).count();
            println!(
                "{} findings: {} errors, {} warnings, {} notes",
                findings.len(),
                n(Level::Error),
                n(Level::Warning),
                n(Level::Note)
            );
        }
    }
    let other_errors = report
        .diags
        .iter()
        .any(|d| d.is_error() && !lint::FROM_VALIDATE.contains(&d.code));
    if other_errors && !matches!(a.format, Format::Text) {
        // The stack does not validate for other reasons: its graph was not linted.
        eprintln!("the stack has errors besides these findings: `dekit validate` shows them");
    }
    if findings.iter().any(|f| f.level == Level::Error) || checked.is_none() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
