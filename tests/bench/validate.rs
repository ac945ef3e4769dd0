//! Benchmark: `dekit validate stacks/retail/stack.yaml` wall time, against a baseline measured in
//! the same run: `dekit --version` (process start-up, no stack work). Prints one JSON object.
//!
//! Run with `cargo bench -p dekit --bench validate` (release profile). Target: median < 50 ms.
//!
//! Then the same in process for generated stacks of about 5, 10 and 20 MB (many tables with
//! columns, variables and quality checks): the time per MB must stay flat (linear decoding), so
//! the 20 MB stack takes at most 5× the 5 MB one (4× is linear).
//!
//! And two hostile stacks, through the binary as a user meets them: a model whose SQL is one
//! boolean expression of 200,000 `OR` terms (1.4 MB; refused, located, target < 1 s), and a
//! 3 MB `tables:` of 250,000 entries that are each an error (target < 2 s; the first ones shown,
//! the rest counted).

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

/// A valid stack of about `mb` megabytes: `n` tables with ten columns and a check each.
fn generated(dir: &std::path::Path, mb: usize) -> PathBuf {
    let mut t = String::from(
        "stack: big\nenvironments:\n  local:\n    target: local\nvariables:\n  owner: me\nstorage:\n  lake:\n    bucket: big-lake-test\n    zones:\n      raw: {}\n  catalog:\n    database: big\ntables:\n",
    );
    let mut quality = String::from("quality:\n");
    let mut i = 0;
    while t.len() + quality.len() < mb * 1024 * 1024 {
        t.push_str(&format!(
            "  t{i}:\n    zone: raw\n    external: true\n    description: table ${{var.owner}} {i}\n    columns:\n"
        ));
        for c in 0..10 {
            t.push_str(&format!(
                "      c{c}: {}\n",
                if c % 2 == 0 { "bigint" } else { "string" }
            ));
        }
        quality.push_str(&format!("  t{i}:\n    - not_null: [c0]\n"));
        i += 1;
    }
    let path = dir.join(format!("big-{mb}.yaml"));
    std::fs::write(&path, t + &quality).unwrap();
    path
}

fn scaling() -> serde_json::Value {
    let dir = std::env::temp_dir().join(format!("dekit-bench-validate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut rows = vec![];
    for mb in [5, 10, 20] {
        let path = generated(&dir, mb);
        let bytes = std::fs::metadata(&path).unwrap().len() as f64 / 1024.0 / 1024.0;
        let mut samples = vec![];
        for _ in 0..3 {
            let t = Instant::now();
            let (loaded, report) = dekit::load::load_file(&path, None).expect("loads");
            let (checked, report) = dekit::validate::check(loaded, report);
            assert!(checked.is_some(), "{}", report.render(None));
            samples.push(t.elapsed());
        }
        let secs = median(samples).as_secs_f64();
        rows.push((mb, bytes, secs));
    }
    std::fs::remove_dir_all(&dir).unwrap();
    let ratio = rows[2].2 / rows[0].2;
    serde_json::json!({
        "benchmark": "validate_scaling",
        "profile": if cfg!(debug_assertions) { "debug" } else { "release" },
        "sizes": rows.iter().map(|(mb, bytes, s)| serde_json::json!({
            "target_mb": mb, "mb": (bytes * 100.0).round() / 100.0, "seconds": (s * 1000.0).round() / 1000.0,
            "ms_per_mb": (s * 1000.0 / bytes * 10.0).round() / 10.0,
        })).collect::<Vec<_>>(),
        "time_20mb_over_5mb": (ratio * 100.0).round() / 100.0,
        "linear": ratio <= 5.0,
    })
}

/// Wall time of one `dekit validate` of a hostile stack, which must fail with a located error.
fn hostile_one(dir: &std::path::Path, name: &str, text: &str, model: Option<&str>) -> f64 {
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, text).unwrap();
    if let Some(sql) = model {
        std::fs::create_dir_all(dir.join("models")).unwrap();
        std::fs::write(dir.join("models/deep.sql"), sql).unwrap();
    }
    let mut samples = vec![];
    for _ in 0..3 {
        let t = Instant::now();
        let o = Command::new(env!("CARGO_BIN_EXE_dekit"))
            .args(["validate", path.to_str().unwrap()])
            .output()
            .expect("dekit runs");
        samples.push(t.elapsed());
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{name}: {err}");
        assert!(
            err.contains("error[") && err.contains("  --> "),
            "{name}: {err}"
        );
    }
    median(samples).as_secs_f64()
}

fn hostile() -> serde_json::Value {
    let dir = std::env::temp_dir().join(format!("dekit-bench-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let head = "stack: shop\nenvironments:\n  local:\n    target: local\nstorage:\n  lake:\n    bucket: shop-lake-test\n    zones:\n      raw: {}\n      curated: {}\n  catalog:\n    database: shop\n";
    let terms: Vec<String> = (0..200_000).map(|i| format!("x = {i}")).collect();
    let sql = format!("select x\nfrom t\nwhere {}\n", terms.join(" or "));
    let deep = hostile_one(
        &dir,
        "deep",
        &format!("{head}transforms:\n  deep:\n    sql: models/deep.sql\n    zone: curated\n"),
        Some(&sql),
    );
    let mut many = format!("{head}tables:\n");
    for i in 0..250_000 {
        many.push_str(&format!("  x{i}: 1\n"));
    }
    let errors = hostile_one(&dir, "many", &many, None);
    std::fs::remove_dir_all(&dir).unwrap();
    serde_json::json!({
        "benchmark": "validate_hostile",
        "profile": if cfg!(debug_assertions) { "debug" } else { "release" },
        "or_terms_200000_seconds": (deep * 1000.0).round() / 1000.0,
        "errors_250000_seconds": (errors * 1000.0).round() / 1000.0,
        "sql_bytes": sql.len(),
        "stack_bytes": many.len(),
        "meets_target": deep < 1.0 && errors < 2.0,
    })
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
    println!("{}", scaling());
    println!("{}", hostile());
}
