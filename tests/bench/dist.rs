//! Benchmark: the size of what users install. Builds the distribution wheel as a release does
//! (`ci/dist.sh`: the `dist` profile, manylinux_2_28 with zig) and reports the binary in it, the
//! wheel, and the binary's highest glibc, beside a baseline measured in the same run: this
//! benchmark's own `release` binary, stripped (what the plain release profile makes of the same
//! code). Prints one JSON object; fails when the budget of issue 27 is broken (binary ≤ 80 MB,
//! wheel ≤ 30 MB, glibc ≤ 2.28).
//!
//! Run with `cargo bench -p dekit --bench dist` (20-45 minutes on 2 cores, most of it the fat
//! LTO link). `DEKIT_BENCH_DIST_WHEEL=path/to.whl` measures a wheel already built instead.

#[path = "../common/mod.rs"]
mod common;

#[path = "../common/dist.rs"]
mod dist;

use dist::{BINARY_BUDGET, GLIBC_BUDGET, Measured, WHEEL_BUDGET, mb};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The size of `binary` once stripped, as the dist profile ships it.
fn stripped_size(binary: &Path, work: &Path) -> u64 {
    let copy = work.join("stripped");
    let o = Command::new("strip")
        .arg("-o")
        .arg(&copy)
        .arg(binary)
        .output()
        .expect("strip (binutils) runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::metadata(&copy).unwrap().len()
}

fn main() {
    let root = common::repo_root();
    let work = std::env::temp_dir().join(format!("dekit-bench-dist-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let release = stripped_size(Path::new(env!("CARGO_BIN_EXE_dekit")), &work);
    let (wheel, build_seconds) = match std::env::var_os("DEKIT_BENCH_DIST_WHEEL") {
        Some(w) => (PathBuf::from(w), 0.0),
        None => dist::build(&root),
    };
    let m = Measured::of(&wheel);
    let within = m.within_budget();
    println!(
        "{}",
        serde_json::json!({
            "benchmark": "dist_size",
            "wheel": wheel.file_name().unwrap().to_string_lossy(),
            "binary_mb": mb(m.binary),
            "wheel_mb": mb(m.wheel_size),
            "glibc": format!("{}.{}", m.glibc.0, m.glibc.1),
            "baseline_release_stripped_mb": mb(release),
            "binary_over_release": (m.binary as f64 / release as f64 * 100.0).round() / 100.0,
            "budget_mb": {
                "binary": mb(BINARY_BUDGET),
                "wheel": mb(WHEEL_BUDGET),
                "glibc": format!("{}.{}", GLIBC_BUDGET.0, GLIBC_BUDGET.1),
            },
            "within_budget": within,
            "build_seconds": build_seconds.round(),
        })
    );
    let _ = std::fs::remove_dir_all(&work);
    assert!(within, "over the budget: {}", m.against_budget());
}
