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

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const BINARY_BUDGET: u64 = 80_000_000;
const WHEEL_BUDGET: u64 = 30_000_000;

fn mb(bytes: u64) -> f64 {
    (bytes as f64 / 1e5).round() / 10.0
}

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

/// Build with `ci/dist.sh`; the wheel it reports.
fn build(root: &Path) -> (PathBuf, f64) {
    let t = Instant::now();
    let o = Command::new(root.join("ci/dist.sh"))
        .current_dir(root)
        .output()
        .expect("ci/dist.sh runs");
    assert!(
        o.status.success(),
        "ci/dist.sh failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = String::from_utf8_lossy(&o.stdout);
    let wheel = out
        .lines()
        .find_map(|l| l.strip_prefix("wheel: "))
        .expect("ci/dist.sh names its wheel");
    (root.join(wheel), t.elapsed().as_secs_f64())
}

/// The `dekit` binary inside a wheel (`<name>.data/scripts/dekit`), read with the `zip` crate
/// that packages Lambda bundles.
fn binary_in(wheel: &Path) -> Vec<u8> {
    use std::io::Read;
    let mut z = zip::ZipArchive::new(std::fs::File::open(wheel).unwrap()).unwrap();
    let name = z
        .file_names()
        .map(|n| n.unwrap().to_string())
        .find(|n| n.ends_with("/scripts/dekit"))
        .expect("the wheel carries scripts/dekit");
    let mut bytes = vec![];
    z.by_name(&name).unwrap().read_to_end(&mut bytes).unwrap();
    bytes
}

fn main() {
    let root = common::repo_root();
    let work = std::env::temp_dir().join(format!("dekit-bench-dist-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let release = stripped_size(Path::new(env!("CARGO_BIN_EXE_dekit")), &work);
    let (wheel, build_seconds) = match std::env::var_os("DEKIT_BENCH_DIST_WHEEL") {
        Some(w) => (PathBuf::from(w), 0.0),
        None => build(&root),
    };
    let bytes = binary_in(&wheel);
    let needs = dekit::elf::needs(&bytes).unwrap();
    let binary_size = bytes.len() as u64;
    let wheel_size = std::fs::metadata(&wheel).unwrap().len();
    let glibc = needs.glibc.expect("a dynamically linked binary");
    let within = binary_size <= BINARY_BUDGET && wheel_size <= WHEEL_BUDGET && glibc <= (2, 28);
    println!(
        "{}",
        serde_json::json!({
            "benchmark": "dist_size",
            "wheel": wheel.file_name().unwrap().to_string_lossy(),
            "binary_mb": mb(binary_size),
            "wheel_mb": mb(wheel_size),
            "glibc": format!("{}.{}", glibc.0, glibc.1),
            "baseline_release_stripped_mb": mb(release),
            "binary_over_release": (binary_size as f64 / release as f64 * 100.0).round() / 100.0,
            "budget_mb": {"binary": mb(BINARY_BUDGET), "wheel": mb(WHEEL_BUDGET), "glibc": "2.28"},
            "within_budget": within,
            "build_seconds": build_seconds.round(),
        })
    );
    let _ = std::fs::remove_dir_all(&work);
    assert!(
        within,
        "over the budget: binary {} MB (≤ 80), wheel {} MB (≤ 30), glibc {}.{} (≤ 2.28)",
        mb(binary_size),
        mb(wheel_size),
        glibc.0,
        glibc.1
    );
}
