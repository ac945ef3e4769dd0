//! Benchmark: dekit's data plane against what a user would otherwise run, each beside its baseline
//! in the same run, on a freshly restarted local cloud. One JSON object per benchmark:
//! - `produce`: records/s of `dekit produce` (10,000 JSON lines) against a minimal raw-SDK
//!   PutRecords(500) loop, each into its own fresh, identical stream (target ≥ 0.9×);
//! - `batch_csv`: MB/s of `dekit run` loading a ≥ 1 GB CSV file to Parquet in the lake against
//!   `aws s3 cp` of the same file (target ≥ 1.0×), and dekit's peak RSS (target ≤ 200 MB);
//! - `batch_postgres`: rows/s of `dekit run` loading a 5,000,000-row PostgreSQL table to Parquet
//!   against `psql -c "COPY (...) TO STDOUT"` into a file (target ≥ 0.5×);
//! - `export_postgres`: rows/s of `dekit run` exporting a 1,000,000-row table from the lake into a
//!   new PostgreSQL table (`serving.exports` with `to:`, upsert by key, in one transaction)
//!   against `psql \copy ... FROM` of the same rows as CSV into an empty table (a ratio; no target
//!   yet), and the time of a second, unchanged export (nothing written).
//!
//! `cargo bench -p dekit --bench run` (release). `DEKIT_LOCAL_ENGINE=localstack` for LocalStack;
//! `DEKIT_BENCH_CSV_MB`, `DEKIT_BENCH_PG_ROWS` and `DEKIT_BENCH_EXPORT_ROWS` change the sizes; `DEKIT_BENCH_ONLY=produce`
//! runs one. The AWS CLI is installed into `~/.cache/dekit/venv-bench` on first use.

#[path = "../common/mod.rs"]
mod common;

use std::io::Write;
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

fn ok(cmd: &mut Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Run to the end; wall seconds and the child's peak RSS in MB (from wait4).
fn timed(cmd: &mut Command, what: &str) -> (f64, f64) {
    use std::os::unix::process::ExitStatusExt;
    let t = Instant::now();
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let pid = child.id() as libc::pid_t;
    // Read the pipes on threads so the child never blocks on a full pipe.
    let mut child = child;
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let a = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut so, &mut s).ok();
        s
    });
    let b = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut se, &mut s).ok();
        s
    });
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(r, pid, "wait4 {what}");
    let (out, err) = (a.join().unwrap(), b.join().unwrap());
    let st = std::process::ExitStatus::from_raw(status);
    assert!(st.success(), "{what} failed:\n{out}\n{err}");
    (secs, usage.ru_maxrss as f64 / 1024.0)
}

fn round(x: f64, d: i32) -> f64 {
    let p = 10f64.powi(d);
    (x * p).round() / p
}

/// A venv with the AWS CLI (and boto3) for baselines (made once).
fn venv_bin(tool: &str) -> PathBuf {
    let home = PathBuf::from(std::env::var_os("HOME").expect("HOME"));
    let venv = home.join(".cache/dekit/venv-bench");
    if !venv.join("bin/python").exists() {
        ok(
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
            "python3 -m venv",
        );
    }
    if !venv.join("bin/aws").exists() {
        ok(
            Command::new(venv.join("bin/pip")).args(["install", "--quiet", "awscli", "boto3"]),
            "pip install awscli",
        );
    }
    venv.join("bin").join(tool)
}

struct Bench {
    dir: PathBuf,
}

impl Bench {
    fn new(extra: &str) -> Bench {
        let dir = std::env::temp_dir().join(format!("dekit-bench-run-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("files")).unwrap();
        let stack = format!(
            "stack: benchrun
environments:
  local:
    target: local
storage:
  lake:
    bucket: benchrun-local-lake
    zones:
      raw: {{ prefix: raw/ }}
  catalog:
    database: benchrun_local
{extra}
security:
  encryption: aws
  public_access: false
"
        );
        std::fs::write(dir.join("stack.yaml"), stack).unwrap();
        Bench { dir }
    }

    fn file(&self) -> String {
        self.dir.join("stack.yaml").to_string_lossy().into_owned()
    }

    fn dekit(&self, args: &[&str]) -> Command {
        let mut c = Command::new(dekit());
        c.arg(args[0]).arg(self.file()).args(&args[1..]);
        c
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        let _ = self
            .dekit(&["destroy", "--auto-approve", "--force-delete-data"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn produce() -> serde_json::Value {
    let b = Bench::new(
        "sources:
  app:
    kind: events
ingest:
  streams:
    a:
      source: app
      shards: 2
    b:
      source: app
      shards: 2",
    );
    ok(&mut b.dekit(&["apply", "--auto-approve"]), "apply");
    let n = 10_000;
    let input = b.dir.join("records.jsonl");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
    let mut lines = vec![];
    for i in 0..n {
        let l = format!(
            "{{\"event_id\": \"e{i:07}\", \"event_type\": \"view\", \"customer_id\": {}, \"product_id\": {}, \"event_ts\": \"2026-11-01 00:00:00\"}}",
            i % 997,
            i % 89
        );
        writeln!(f, "{l}").unwrap();
        lines.push(l);
    }
    drop(f);
    let (dekit_secs, _) = timed(
        &mut b.dekit(&["produce", "a", "--from", input.to_str().unwrap()]),
        "dekit produce",
    );
    // The baseline: the loop a user writes with the SDK, 500 records a call, no retries.
    let raw_secs = common::block_on_local(|clients| async move {
        use aws_sdk_kinesis::primitives::Blob;
        use aws_sdk_kinesis::types::PutRecordsRequestEntry;
        let t = Instant::now();
        for chunk in lines.chunks(500) {
            let entries: Vec<PutRecordsRequestEntry> = chunk
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    PutRecordsRequestEntry::builder()
                        .data(Blob::new(l.as_bytes()))
                        .partition_key(format!("{i}"))
                        .build()
                        .unwrap()
                })
                .collect();
            let out = clients
                .kinesis
                .put_records()
                .stream_name("benchrun-local-b")
                .set_records(Some(entries))
                .send()
                .await
                .expect("PutRecords");
            assert_eq!(out.failed_record_count(), Some(0));
        }
        t.elapsed().as_secs_f64()
    });
    let (d, r) = (n as f64 / dekit_secs, n as f64 / raw_secs);
    serde_json::json!({
        "benchmark": "produce", "engine": engine(), "records": n,
        "dekit_seconds": round(dekit_secs, 3), "dekit_records_per_s": round(d, 0),
        "raw_sdk_seconds": round(raw_secs, 3), "raw_sdk_records_per_s": round(r, 0),
        "ratio": round(d / r, 2), "target": 0.9, "meets_target": d / r >= 0.9,
        "note": "dekit's time includes process start, stack check and local-cloud detection"
    })
}

fn batch_csv() -> serde_json::Value {
    let mb: u64 = std::env::var("DEKIT_BENCH_CSV_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let b = Bench::new(
        "sources:
  files:
    kind: files
    path: files
    tables: [sales]
ingest:
  batch:
    load:
      source: files
      zone: raw
      prefix: files/
tables:
  sales:
    zone: raw
    from: load
    columns:
      sale_id: bigint
      customer: string
      amount: decimal(12,2)
      sold_at: timestamp
      country: string",
    );
    let path = b.dir.join("files/sales.csv");
    let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path).unwrap());
    writeln!(f, "sale_id,customer,amount,sold_at,country").unwrap();
    let mut i = 0u64;
    let mut written = 0u64;
    while written < mb << 20 {
        let line = format!(
            "{i},customer-{:06}@example.com,{}.{:02},2026-{:02}-{:02} {:02}:{:02}:{:02},{}\n",
            i % 250_000,
            i % 100_000,
            i % 100,
            1 + i % 12,
            1 + i % 28,
            i % 24,
            i % 60,
            (i * 7) % 60,
            ["DE", "FR", "US", "JP", "BR"][(i % 5) as usize]
        );
        f.write_all(line.as_bytes()).unwrap();
        written += line.len() as u64;
        i += 1;
    }
    drop(f);
    let size = std::fs::metadata(&path).unwrap().len() as f64 / 1e6;
    ok(&mut b.dekit(&["apply", "--auto-approve"]), "apply");
    let (dekit_secs, rss) = timed(&mut b.dekit(&["run", "--select", "load"]), "dekit run");
    let aws = venv_bin("aws");
    let (cp_secs, _) = timed(
        Command::new(aws)
            .args([
                "s3",
                "cp",
                "--only-show-errors",
                "--endpoint-url",
                &endpoint(),
            ])
            .arg(&path)
            .arg("s3://benchrun-local-lake/baseline/sales.csv")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_DEFAULT_REGION", "us-east-1"),
        "aws s3 cp",
    );
    let (d, c) = (size / dekit_secs, size / cp_secs);
    serde_json::json!({
        "benchmark": "batch_csv", "engine": engine(), "mb": round(size, 0), "rows": i,
        "dekit_seconds": round(dekit_secs, 2), "dekit_mb_per_s": round(d, 1),
        "aws_s3_cp_seconds": round(cp_secs, 2), "aws_s3_cp_mb_per_s": round(c, 1),
        "ratio": round(d / c, 2), "target": 1.0, "meets_target": d / c >= 1.0,
        "dekit_peak_rss_mb": round(rss, 0), "rss_target_mb": 200, "meets_rss_target": rss <= 200.0
    })
}

fn batch_postgres() -> serde_json::Value {
    let rows: u64 = std::env::var("DEKIT_BENCH_PG_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000_000);
    let (port, password) = dekit::run::sources::local_postgres().expect("local PostgreSQL");
    let db = format!("benchrun_{}", std::process::id());
    let psql = |database: &str, sql: &str| -> Command {
        let mut c = Command::new(pg_bin().join("psql"));
        c.args([
            "-X",
            "-q",
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "dekit",
        ])
        .args(["-d", database, "-v", "ON_ERROR_STOP=1", "-c", sql])
        .env("PGPASSWORD", &password);
        c
    };
    ok(
        &mut psql("postgres", &format!("CREATE DATABASE {db}")),
        "create db",
    );
    ok(
        &mut psql(
            &db,
            &format!(
                "CREATE TABLE orders AS SELECT g::bigint AS order_id, (g % 50000)::bigint AS customer_id, \
                 (ARRAY['placed','shipped','delivered'])[1 + g % 3] AS status, \
                 timestamp '2026-01-01' + g * interval '1 second' AS order_ts, \
                 ((g % 100000) / 100.0)::numeric(10,2) AS total FROM generate_series(1, {rows}) g"
            ),
        ),
        "fill table",
    );
    ok(&mut psql(&db, "VACUUM ANALYZE orders"), "vacuum");
    let b = Bench::new(&format!(
        "sources:
  db:
    kind: postgres
    host: 127.0.0.1
    port: {port}
    database: {db}
    user: dekit
    password: ${{env.BENCH_PG_PASSWORD}}
    tables: [orders]
ingest:
  batch:
    load:
      source: db
      zone: raw
      prefix: db/
tables:
  orders:
    zone: raw
    from: load
    columns:
      order_id: bigint
      customer_id: bigint
      status: string
      order_ts: timestamp
      total: decimal(10,2)"
    ));
    // Apply writes the load job's connection secret from the environment.
    ok(
        b.dekit(&["apply", "--auto-approve"])
            .env("BENCH_PG_PASSWORD", &password),
        "apply",
    );
    let (dekit_secs, rss) = timed(
        b.dekit(&["run", "--select", "load"])
            .env("BENCH_PG_PASSWORD", &password),
        "dekit run",
    );
    let out = b.dir.join("copy.csv");
    let (copy_secs, _) = timed(
        psql(
            &db,
            &format!(
                "\\copy (SELECT order_id, customer_id, status, order_ts, total FROM orders) TO '{}' WITH (FORMAT csv, HEADER true)",
                out.display()
            ),
        )
        .arg("--no-psqlrc"),
        "psql COPY",
    );
    let _ = psql("postgres", &format!("DROP DATABASE {db} WITH (FORCE)")).output();
    let (d, c) = (rows as f64 / dekit_secs, rows as f64 / copy_secs);
    serde_json::json!({
        "benchmark": "batch_postgres", "engine": engine(), "rows": rows,
        "dekit_seconds": round(dekit_secs, 2), "dekit_rows_per_s": round(d, 0),
        "copy_to_file_seconds": round(copy_secs, 2), "copy_rows_per_s": round(c, 0),
        "ratio": round(d / c, 2), "target": 0.5, "meets_target": d / c >= 0.5,
        "dekit_peak_rss_mb": round(rss, 0)
    })
}

// Long: set-up (a table in PostgreSQL, loaded into the lake), then the two timed writes.
fn export_postgres() -> serde_json::Value {
    let rows: u64 = std::env::var("DEKIT_BENCH_EXPORT_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let (port, password) = dekit::run::sources::local_postgres().expect("local PostgreSQL");
    let db = format!("benchexport_{}", std::process::id());
    let psql = |sql: &str| -> Command {
        let mut c = Command::new(pg_bin().join("psql"));
        c.args([
            "-X",
            "-q",
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "dekit",
        ])
        .args(["-d", &db, "-v", "ON_ERROR_STOP=1", "-c", sql])
        .env("PGPASSWORD", &password);
        c
    };
    ok(
        Command::new(pg_bin().join("psql"))
            .args([
                "-X",
                "-q",
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                "dekit",
            ])
            .args(["-d", "postgres", "-c", &format!("CREATE DATABASE {db}")])
            .env("PGPASSWORD", &password),
        "create db",
    );
    ok(
        &mut psql(&format!(
            "CREATE TABLE features AS SELECT g::bigint AS product_key, (g % 97)::bigint AS views, \
             ((g % 100000) / 100.0)::numeric(10,2) AS price, 'segment-' || (g % 13) AS segment, \
             timestamp '2026-01-01' + g * interval '1 second' AS updated_at \
             FROM generate_series(1, {rows}) g"
        )),
        "fill table",
    );
    let b = Bench::new(&format!(
        "sources:
  db:
    kind: postgres
    host: 127.0.0.1
    port: {port}
    database: {db}
    user: dekit
    password: ${{env.BENCH_PG_PASSWORD}}
    tables: [features]
ingest:
  batch:
    load:
      source: db
      zone: raw
      prefix: db/
tables:
  features:
    zone: raw
    from: load
    columns:
      product_key: bigint
      views: bigint
      price: decimal(10,2)
      segment: string
      updated_at: timestamp
serving:
  exports:
    to_app:
      from: features
      to: db
      table: features_out
      key: [product_key]
      mode: upsert"
    ));
    let env = ("BENCH_PG_PASSWORD", password.clone());
    ok(
        b.dekit(&["apply", "--auto-approve"]).env(env.0, &env.1),
        "apply",
    );
    ok(
        b.dekit(&["run", "--select", "load"]).env(env.0, &env.1),
        "load into the lake",
    );
    let (first, rss) = timed(
        b.dekit(&["run", "--select", "to_app"]).env(env.0, &env.1),
        "dekit export",
    );
    let (again, _) = timed(
        b.dekit(&["run", "--select", "to_app"]).env(env.0, &env.1),
        "dekit export, unchanged",
    );
    let csv = b.dir.join("features.csv");
    ok(
        &mut psql(&format!(
            "\\copy features TO '{}' WITH (FORMAT csv)",
            csv.display()
        )),
        "copy out",
    );
    ok(
        &mut psql("CREATE TABLE features_copy (LIKE features)"),
        "empty table",
    );
    let (copy, _) = timed(
        &mut psql(&format!(
            "\\copy features_copy FROM '{}' WITH (FORMAT csv)",
            csv.display()
        )),
        "psql COPY FROM",
    );
    let count = ok(psql("SELECT count(*) FROM features_out").arg("-t"), "count");
    let _ = Command::new(pg_bin().join("psql"))
        .args([
            "-X",
            "-q",
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "dekit",
        ])
        .args([
            "-d",
            "postgres",
            "-c",
            &format!("DROP DATABASE {db} WITH (FORCE)"),
        ])
        .env("PGPASSWORD", &password)
        .output();
    let (d, c) = (rows as f64 / first, rows as f64 / copy);
    serde_json::json!({
        "benchmark": "export_postgres", "rows": rows,
        "rows_in_target": count.trim().parse::<u64>().unwrap_or(0),
        "dekit_seconds": round(first, 2), "dekit_rows_per_s": round(d, 0),
        "copy_from_file_seconds": round(copy, 2), "copy_rows_per_s": round(c, 0),
        "ratio": round(d / c, 2),
        "unchanged_rerun_seconds": round(again, 2),
        "dekit_peak_rss_mb": round(rss, 0)
    })
}

fn pg_bin() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|r| {
            r.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs.pop()
        .unwrap_or_else(|| Path::new("/usr/bin").to_path_buf())
}

fn main() {
    ok(
        Command::new(dekit()).args(["local", "restart", "--engine", &engine()]),
        "dekit local restart",
    );
    let only = std::env::var("DEKIT_BENCH_ONLY").ok();
    let want = |n: &str| only.as_deref().is_none_or(|o| o == n);
    if want("produce") {
        println!("{}", produce());
    }
    if want("batch_csv") {
        println!("{}", batch_csv());
    }
    if want("batch_postgres") {
        println!("{}", batch_postgres());
    }
    if want("export_postgres") {
        println!("{}", export_postgres());
    }
}
