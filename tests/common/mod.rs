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

/// Run async work with clients for the local cloud that runs (benchmarks' raw-SDK baselines).
pub fn block_on_local<F, Fut, T>(f: F) -> T
where
    F: FnOnce(dekit::cloud::Clients) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let clients = dekit::cloud::Clients::connect(&dekit::cloud::Target::local_default()).await;
        f(clients).await
    })
}

/// The python of the test tools' venv (PySpark, sqlglot, DuckDB), installed on first use by
/// `tests/tools/install.sh` (CI installs it before the tests run).
pub fn tools_python() -> PathBuf {
    let script = repo_root().join("tests/tools/install.sh");
    let o = std::process::Command::new(&script)
        .output()
        .expect("tests/tools/install.sh runs");
    assert!(
        o.status.success(),
        "installing the test tools failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = String::from_utf8(o.stdout).unwrap();
    PathBuf::from(
        out.lines()
            .last()
            .expect("install.sh prints the python")
            .trim(),
    )
}

/// A copy of a directory tree (a stack with its SQL and fixture files).
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}
