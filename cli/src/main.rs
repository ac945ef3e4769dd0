use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    dekit::commands::run(dekit::commands::Cli::parse())
}
