//! Benchmark: plan / apply / no-op plan / destroy of `stacks/retail` and of scaled variants (10× and
//! 50× the resources) against the local cloud, beside a baseline measured in the same run: the same
//! resources created by a plain sequential loop of SDK calls (each kind's create, in dependency
//! order, no state, no verification). Prints one JSON object per size.
//!
//! Run with `cargo bench -p dekit --bench engine` (release profile). `DEKIT_BENCH_SCALES=1,10,50`
//! picks sizes. Start from a fresh local cloud (`dekit local restart`): LocalStack's Kinesis slows
//! down after heavy use.

use dekit::cloud::{Target, local};
use dekit::engine::{self, Walk};
use dekit::graph::NodeKind;
use dekit::resources::provider;
use std::path::{Path, PathBuf};
use std::time::Instant;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_name() == ".dekit" {
            continue;
        }
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// The retail stack, renamed, with extra stream → delivery → table → alarm units so it has about
/// `scale` times the resources (each unit is 5 resources: stream, role, delivery, table, alarm).
fn stack(root: &Path, scale: usize, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dekit-bench-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(&root.join("stacks/retail"), &dir);
    let mut text = std::fs::read_to_string(dir.join("stack.yaml"))
        .unwrap()
        .replace("stack: retail\n", &format!("stack: {name}\n"))
        .replace(
            "database: retail_${environment}",
            "database: ${stack}_${environment}",
        )
        .replace("    state: .dekit/local.state.json\n", "");
    let units = (22 * (scale - 1)).div_ceil(5);
    let (mut streams, mut tables, mut alarms) = (String::new(), String::new(), String::new());
    for i in 0..units {
        streams.push_str(&format!("    clicks_{i}:\n      source: shop_app\n      shards: 1\n      delivery:\n        zone: raw\n        prefix: clicks_{i}/\n"));
        tables.push_str(&format!("  events_{i}:\n    zone: raw\n    from: clicks_{i}\n    columns:\n      event_id: string\n"));
        alarms.push_str(&format!("    lag_{i}:\n      stream: clicks_{i}\n      metric: iterator_age_ms\n      threshold: 60000\n"));
    }
    text = text.replace("  batch:\n", &format!("{streams}  batch:\n"));
    text = text.replace("\ntransforms:\n", &format!("{tables}\ntransforms:\n"));
    text = text.replace(
        "observe:\n  alarms:\n",
        &format!("observe:\n  alarms:\n{alarms}"),
    );
    std::fs::write(dir.join("stack.yaml"), text).unwrap();
    dir.join("stack.yaml")
}

fn secs(t: Instant) -> f64 {
    (t.elapsed().as_secs_f64() * 1000.0).round() / 1000.0
}

async fn run(root: &Path, scale: usize) -> serde_json::Value {
    let name = format!("bench{scale}x{}", std::process::id() % 1000);
    let file = stack(root, scale, &name);
    let (loaded, report) = dekit::load::load_file(&file, None).expect("bench stack loads");
    let (checked, report) = dekit::validate::check(loaded, report);
    let checked =
        checked.unwrap_or_else(|| panic!("bench stack invalid:\n{}", report.render(None)));
    local::ensure_up(&Target::local_default(), true)
        .await
        .expect("local cloud");
    let mut d = dekit::deploy::open(checked, false)
        .await
        .expect("deployment");
    let resources = d.graph.resources().count();
    let order: Vec<_> = d
        .graph
        .topo_order()
        .unwrap()
        .into_iter()
        .filter(|n| n.is_resource())
        .cloned()
        .collect();

    // Baseline: a plain sequential loop of SDK calls.
    let t = Instant::now();
    for n in &order {
        let NodeKind::Resource(kind) = n.kind else {
            continue;
        };
        engine::retry(|| provider(kind).create(&d.clients, &n.attrs))
            .await
            .unwrap_or_else(|e| panic!("baseline {}: {e}", n.address));
    }
    let baseline = secs(t);
    for n in order.iter().rev() {
        let NodeKind::Resource(kind) = n.kind else {
            continue;
        };
        engine::retry(|| provider(kind).delete(&d.clients, &n.attrs, true))
            .await
            .unwrap_or_else(|e| panic!("baseline delete {}: {e}", n.address));
    }
    // Deleted streams linger in DELETING for a moment; creating the same names too soon fails.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;

    let walk = Walk::new(10, true);
    let quiet = engine::Silent;
    let t = Instant::now();
    let plan = d.plan(10).await.expect("plan");
    let plan_s = secs(t);
    let t = Instant::now();
    let out = engine::apply(
        &d.clients,
        &d.graph,
        &plan,
        &mut d.state,
        &d.backend,
        walk,
        &quiet,
    )
    .await
    .unwrap();
    let apply_s = secs(t);
    assert!(out.failed.is_empty(), "apply failed: {:?}", out.failed);
    let t = Instant::now();
    let noop = d.plan(10).await.expect("no-op plan");
    let noop_s = secs(t);
    assert!(!noop.has_changes(), "second plan is not empty");
    let t = Instant::now();
    let destroy = d.destroy_plan(10).await.expect("destroy plan");
    let out = engine::apply(
        &d.clients,
        &d.graph,
        &destroy,
        &mut d.state,
        &d.backend,
        walk,
        &quiet,
    )
    .await
    .unwrap();
    let destroy_s = secs(t);
    assert!(out.failed.is_empty(), "destroy failed: {:?}", out.failed);
    let _ = std::fs::remove_dir_all(file.parent().unwrap());
    let speedup = (baseline / apply_s * 100.0).round() / 100.0;
    serde_json::json!({
        "benchmark": "engine",
        "profile": if cfg!(debug_assertions) { "debug" } else { "release" },
        "scale": scale,
        "resources": resources,
        "baseline_sequential_create_s": baseline,
        "plan_s": plan_s,
        "apply_s": apply_s,
        "noop_plan_s": noop_s,
        "destroy_s": destroy_s,
        "apply_speedup_vs_sequential": speedup,
        "targets": {
            "noop_plan_s": if scale >= 50 { 1.0 } else { 0.2 },
            "noop_plan_met": noop_s <= if scale >= 50 { 1.0 } else { 0.2 },
            "apply_speedup_min": if scale >= 50 { Some(4.0) } else { None },
            "apply_speedup_met": if scale >= 50 { Some(speedup >= 4.0) } else { None },
        },
    })
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let scales: Vec<usize> = std::env::var("DEKIT_BENCH_SCALES")
        .unwrap_or_else(|_| "1,10,50".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    for scale in scales {
        println!("{}", rt.block_on(run(&root, scale)));
    }
}
