//! Benchmark: dekit against the script a user would write instead. For 1, 10 and 50 groups (per
//! group: a KMS-encrypted Kinesis stream, a Firehose delivery with its IAM role, a Glue table, a
//! CloudWatch alarm), dekit's `apply`, no-op `plan` and `destroy` run alternately with
//! `shared/peers/boto3_stack.py` (10 worker threads, waits for ACTIVE, verifies nothing) deploying,
//! re-running and destroying the same groups, on a freshly restarted local cloud warmed by one
//! unmeasured round of one group. Medians of 3 runs at each size (1 shard per stream at 50).
//! Prints one JSON object per size with the ratios and whether each target holds: apply ≤ 0.8×
//! the script's deploy, destroy ≤ 0.8× the script's destroy, no-op plan ≤ 0.2 s (1 group) / ≤ 1 s
//! (50 groups).
//!
//! `cargo bench -p dekit --bench engine` (release). `DEKIT_LOCAL_ENGINE=localstack` runs it on
//! LocalStack + moto instead of MiniStack; `DEKIT_BENCH_GROUPS=1,10` picks sizes; `DEKIT_PEERS`
//! points at the peers directory (default `../shared/peers` beside the checkout). The script's
//! Python venv (boto3) is made under `~/.cache/dekit/venv-bench` on first use.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn dekit() -> &'static str {
    env!("CARGO_BIN_EXE_dekit")
}

fn engine() -> String {
    std::env::var("DEKIT_LOCAL_ENGINE").unwrap_or_else(|_| "ministack".into())
}

fn endpoint() -> String {
    let port = std::env::var("DEKIT_LOCAL_PORT").unwrap_or_else(|_| "4566".into());
    format!("http://127.0.0.1:{port}")
}

fn run(cmd: &mut Command, what: &str) -> f64 {
    let t = Instant::now();
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let secs = t.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (secs * 1000.0).round() / 1000.0
}

/// A venv with boto3 for the script (made once).
fn python() -> PathBuf {
    let home = PathBuf::from(std::env::var_os("HOME").expect("HOME"));
    let venv = home.join(".cache/dekit/venv-bench");
    let py = venv.join("bin/python");
    if !py.exists() {
        run(
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
            "python3 -m venv",
        );
        run(
            Command::new(venv.join("bin/pip")).args(["install", "--quiet", "boto3"]),
            "pip install boto3",
        );
    }
    py
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn ratio(a: f64, b: f64) -> f64 {
    (a / b * 100.0).round() / 100.0
}

/// One round: dekit's apply, no-op plan and destroy, and the script's deploy, re-run and destroy
/// of `groups` groups named after `name`, in the order given. Seconds, in that order.
fn round(peers: &Path, dir: &Path, name: &str, groups: usize, dekit_first: bool) -> [f64; 6] {
    let py = python();
    let shards = if groups >= 50 { "1" } else { "2" };
    let yaml = Command::new(&py)
        .arg(peers.join("dekit_stack.py"))
        .args([name, &groups.to_string(), shards])
        .output()
        .expect("dekit_stack.py runs");
    // Each stack in its own directory: the state lives beside the stack file.
    std::fs::create_dir_all(dir.join(name)).unwrap();
    let file = dir.join(name).join("stack.yaml");
    std::fs::write(&file, &yaml.stdout).unwrap();
    let f = file.to_string_lossy().to_string();
    let script = |action: &str| {
        let mut c = Command::new(&py);
        c.arg(peers.join("boto3_stack.py"))
            .args([
                action,
                &format!("s{name}"),
                &groups.to_string(),
                "--workers",
                "10",
            ])
            .env("AWS_ENDPOINT_URL", endpoint())
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("PEER_SHARDS", shards);
        c
    };
    let tool = || {
        [
            run(
                Command::new(dekit()).args(["apply", &f, "--auto-approve"]),
                "dekit apply",
            ),
            run(
                Command::new(dekit()).args(["plan", &f, "--detailed-exitcode"]),
                "dekit plan (must be empty)",
            ),
            run(
                Command::new(dekit()).args([
                    "destroy",
                    &f,
                    "--auto-approve",
                    "--force-delete-data",
                ]),
                "dekit destroy",
            ),
        ]
    };
    let peer = || {
        [
            run(&mut script("deploy"), "script deploy"),
            run(&mut script("deploy"), "script re-run"),
            run(&mut script("destroy"), "script destroy"),
        ]
    };
    let (t, p) = if dekit_first {
        let t = tool();
        (t, peer())
    } else {
        let p = peer();
        (tool(), p)
    };
    [t[0], t[1], t[2], p[0], p[1], p[2]]
}

fn bench(peers: &Path, groups: usize) -> serde_json::Value {
    // A fresh local cloud per size: LocalStack's Kinesis slows as streams fill.
    run(
        Command::new(dekit()).args(["local", "restart", "--engine", &engine()]),
        "dekit local restart",
    );
    // Three runs at every size: single runs at 50 groups varied by 10–25% on the 2-core machine.
    let runs = 3;
    let dir = std::env::temp_dir().join(format!("dekit-bench-{groups}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // A fresh LocalStack loads each service (and starts its Kinesis process) on the first call
    // to it: one unmeasured round of one group by both, so neither pays that in a measured run.
    round(
        peers,
        &dir,
        &format!("w{groups}x{}", std::process::id() % 1000),
        1,
        true,
    );
    let (mut apply, mut noop, mut destroy) = (vec![], vec![], vec![]);
    let (mut deploy, mut rerun, mut teardown) = (vec![], vec![], vec![]);
    for r in 0..runs {
        let name = format!("b{groups}r{r}x{}", std::process::id() % 1000);
        // Alternate who goes first, so neither always meets a busier local cloud.
        let t = round(peers, &dir, &name, groups, r % 2 == 0);
        apply.push(t[0]);
        noop.push(t[1]);
        destroy.push(t[2]);
        deploy.push(t[3]);
        rerun.push(t[4]);
        teardown.push(t[5]);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let (apply, noop, destroy) = (median(apply), median(noop), median(destroy));
    let (deploy, rerun, teardown) = (median(deploy), median(rerun), median(teardown));
    let noop_target = if groups >= 50 {
        1.0
    } else if groups <= 1 {
        0.2
    } else {
        f64::INFINITY
    };
    serde_json::json!({
        "benchmark": "engine_vs_script",
        "profile": if cfg!(debug_assertions) { "debug" } else { "release" },
        "engine": engine(),
        "groups": groups,
        "runs": runs,
        "dekit": { "apply_s": apply, "noop_plan_s": noop, "destroy_s": destroy },
        "script": { "deploy_s": deploy, "rerun_s": rerun, "destroy_s": teardown },
        "ratios": {
            "apply_to_deploy": ratio(apply, deploy),
            "noop_plan_to_rerun": ratio(noop, rerun),
            "destroy_to_destroy": ratio(destroy, teardown),
        },
        "targets": {
            "apply_le_0_8_script": apply <= 0.8 * deploy,
            "destroy_le_0_8_script": destroy <= 0.8 * teardown,
            "noop_plan_s": if noop_target.is_finite() { Some(noop_target) } else { None },
            "noop_plan_met": noop <= noop_target,
        },
    })
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let peers = std::env::var_os("DEKIT_PEERS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/peers"));
    assert!(
        peers.join("boto3_stack.py").exists(),
        "the peers directory {} has no boto3_stack.py; set DEKIT_PEERS",
        peers.display()
    );
    let groups: Vec<usize> = std::env::var("DEKIT_BENCH_GROUPS")
        .unwrap_or_else(|_| "1,10,50".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    for g in groups {
        println!("{}", bench(&peers, g));
    }
}
