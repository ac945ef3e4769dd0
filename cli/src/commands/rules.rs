//! `dekit rules`: the checks `validate` runs.

use crate::validate::rules::ALL;
use std::process::ExitCode;

pub fn run() -> ExitCode {
    for r in ALL {
        println!("{}  {:22} {}", r.code, r.name, r.summary);
    }
    ExitCode::SUCCESS
}
