//! Helpers shared by the integration tests: run the real `dekit` binary from the repository root.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repo root")
        .to_path_buf()
}

pub fn dekit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dekit"))
        .args(args)
        .current_dir(repo_root())
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("dekit runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("utf-8 stdout")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("utf-8 stderr")
}
