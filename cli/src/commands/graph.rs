//! `dekit graph FILE --format dot|mermaid|json`: the resource graph with lineage.

use super::StackArgs;
use crate::graph::{compile, render};
use std::process::ExitCode;

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Format {
    Dot,
    Mermaid,
    Json,
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
    };
    println!("{}", out.trim_end());
    ExitCode::SUCCESS
}
