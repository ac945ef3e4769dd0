//! `dekit rules [CODE]`: every diagnostic code dekit can emit, or one explained (like `ruff rule`).

use crate::codes;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A code to explain (e.g. E101): what it checks, why, an example and the fix.
    pub code: Option<String>,
}

pub fn run(a: Args) -> ExitCode {
    match a.code {
        None => {
            for c in codes::all() {
                println!("{}  {:24} {}", c.code, c.name, c.summary);
            }
            // `dekit lint`'s checks of the generated resources (no stack input triggers them).
            for (code, name, summary, _) in crate::lint::GRAPH_RULES {
                println!("{code}  {name:24} {summary} (lint)");
            }
            ExitCode::SUCCESS
        }
        Some(code) => match codes::find(&code) {
            Some(c) => {
                print!("{}", codes::explain(&c));
                ExitCode::SUCCESS
            }
            None => match crate::lint::explain(&code) {
                Some(text) => {
                    print!("{text}");
                    ExitCode::SUCCESS
                }
                None => super::fail(&format!("no code `{code}`; `dekit rules` lists them all")),
            },
        },
    }
}
