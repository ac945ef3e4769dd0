//! `dekit schema`: the JSON Schema of stack files.

use std::process::ExitCode;

pub fn schema() -> serde_json::Value {
    let mut s = schemars::schema_for!(crate::model::Stack);
    s.insert("$id".into(), "https://dekit.dev/schema/stack.json".into());
    s.insert("title".into(), "dekit stack file".into());
    s.to_value()
}

pub fn run() -> ExitCode {
    println!(
        "{}",
        serde_json::to_string_pretty(&schema()).expect("schema serializes")
    );
    ExitCode::SUCCESS
}
