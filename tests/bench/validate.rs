//! Benchmark: `dekit validate stacks/retail/stack.yaml` wall time, against a baseline measured in
//! the same run: `dekit --version` (process start-up, no stack work). Prints one JSON object.
//!
//! Run with `cargo bench -p dekit --bench validate` (release profile). Target: median < 50 ms.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time(args: &[&str], root: &PathBuf, runs: usize) -> Duration {
    let bin = env!("CARGO_BIN_EXE_dekit");
    let mut samples = vec![];
    for _ in 0..runs {
        let t = Instant::now();
        let o = Command::new(bin)
            .args(args)
            .current_dir(root)
            .output()
            .expect("dekit runs");
        samples.push(t.elapsed());
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    median(samples)
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let runs = 30;
    // Warm the page cache for both.
    time(&["--version"], &root, 3);
    time(&["validate", "stacks/retail/stack.yaml"], &root, 3);
    let baseline = time(&["--version"], &root, runs);
    let validate = time(&["validate", "stacks/retail/stack.yaml"], &root, runs);
    // In-process: the library work alone, without process start-up.
    let t = Instant::now();
    let n = 200;
    for _ in 0..n {
        let (loaded, report) =
            dekit::load::load_file(&root.join("stacks/retail/stack.yaml"), None).expect("loads");
        let (checked, _) = dekit::validate::check(loaded, report);
        assert!(checked.is_some());
    }
    let in_process = t.elapsed() / n;
    let ms = |d: Duration| (d.as_secs_f64() * 1e6).round() / 1e3;
    println!(
        "{}",
        serde_json::json!({
            "benchmark": "validate_retail",
            "profile": if cfg!(debug_assertions) { "debug" } else { "release" },
            "runs": runs,
            "baseline_version_ms": ms(baseline),
            "validate_ms": ms(validate),
            "validate_in_process_ms": ms(in_process),
            "ratio_to_baseline": (validate.as_secs_f64() / baseline.as_secs_f64() * 100.0).round() / 100.0,
            "target_ms": 50,
            "meets_target": validate < Duration::from_millis(50),
        })
    );
}
