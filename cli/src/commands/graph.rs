//! `dekit graph FILE --format dot|mermaid|json|asl`: the resource graph with lineage, or the
//! deployed pipeline's state machine (Amazon States Language).

use super::StackArgs;
use crate::graph::{compile, render};
use std::process::ExitCode;

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Format {
    Dot,
    Mermaid,
    Json,
    /// The state machine of the deployed pipeline (`orchestration:`).
    Asl,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub stack: StackArgs,
    #[arg(long, short, value_enum, default_value = "mermaid")]
    pub format: Format,
}

pub fn run(a: Args) -> ExitCode {
    let json = matches!(a.format, Format::Json);
    let Some(checked) = super::checked_or_json(&a.stack.file, a.stack.env.as_deref(), json) else {
        return ExitCode::FAILURE;
    };
    let g = match compile::compile(&checked) {
        Ok(g) => g,
        Err(e) => return super::fail(&e.to_string()),
    };
    let out = match a.format {
        Format::Dot => render::dot(&g),
        Format::Mermaid => render::mermaid(&g),
        Format::Json => render::json(&g),
        Format::Asl => match crate::graph::state_machine::of(&g, &checked.loaded) {
            Some(d) => serde_json::to_string_pretty(&d).unwrap_or_default(),
            None => {
                return super::fail(
                    "the stack has no `orchestration:` section: nothing is deployed to run it",
                );
            }
        },
    };
    println!("{}", out.trim_end());
    ExitCode::SUCCESS
}
