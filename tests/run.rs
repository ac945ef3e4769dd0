//! `dekit run` and `dekit produce` against the local cloud and the local PostgreSQL: data moves
//! from real sources into the lake, exactly once, and bad data is kept, never dropped. Every count
//! is checked by reading the lake back (Parquet through the parquet crate, JSON lines by line).

mod common;
mod harness;

use harness::stack::Stack;
use harness::{Scope, cloud, out, outcome, receive, sqs, step};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::process::{Command, Output};

fn bucket(s: &Stack) -> String {
    format!("{}-local-lake", s.name)
}

/// Every object under `prefix`, with its bytes; a failed call fails the test.
fn objects(bucket: &str, prefix: &str) -> BTreeMap<String, Vec<u8>> {
    let c = cloud();
    c.rt.block_on(async {
        let mut out = BTreeMap::new();
        let mut token = None;
        loop {
            let page = c
                .clients
                .s3
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .set_continuation_token(token)
                .send()
                .await
                .expect("list objects");
            for o in page.contents() {
                let key = o.key().unwrap().to_string();
                let body = c
                    .clients
                    .s3
                    .get_object()
                    .bucket(bucket)
                    .key(&key)
                    .send()
                    .await
                    .expect("get object")
                    .body
                    .collect()
                    .await
                    .unwrap()
                    .into_bytes()
                    .to_vec();
                out.insert(key, body);
            }
            token = page.next_continuation_token().map(str::to_string);
            if token.is_none() {
                return out;
            }
        }
    })
}

/// Rows of every Parquet object under `prefix`, as JSON objects (decimals as their unscaled
/// integers, timestamps as microseconds).
fn parquet_rows(bucket: &str, prefix: &str) -> Vec<arrow_array::RecordBatch> {
    let mut out = vec![];
    for (key, body) in objects(bucket, prefix) {
        assert!(key.ends_with(".parquet"), "not Parquet: {key}");
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            bytes::Bytes::from(body),
        )
        .unwrap_or_else(|e| panic!("{key} is not Parquet: {e}"))
        .build()
        .unwrap();
        for b in reader {
            out.push(b.unwrap());
        }
    }
    out
}

fn count(batches: &[arrow_array::RecordBatch]) -> usize {
    batches.iter().map(|b| b.num_rows()).sum()
}

/// JSON lines of every object under `prefix` (gzip or not).
fn json_lines(bucket: &str, prefix: &str) -> Vec<Value> {
    let mut out = vec![];
    for (key, body) in objects(bucket, prefix) {
        let text = if body.starts_with(&[0x1f, 0x8b]) {
            let mut s = String::new();
            flate2::read::MultiGzDecoder::new(&body[..])
                .read_to_string(&mut s)
                .unwrap_or_else(|e| panic!("{key}: {e}"));
            s
        } else {
            String::from_utf8(body).unwrap()
        };
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            out.push(serde_json::from_str(line).unwrap_or_else(|e| panic!("{key}: {e}: {line}")));
        }
    }
    out
}

fn sample_rows(table: &str) -> usize {
    let text = std::fs::read_to_string(
        common::repo_root().join(format!("stacks/retail/data/shop/{table}.csv")),
    )
    .unwrap();
    text.lines().count() - 1
}

/// Small Parquet parts, so a load of a few thousand rows has several and a crash can fall between.
const SMALL_PARTS: (&str, &str) = ("DEKIT_PART_ROWS", "20000");

/// `dekit run --json` on the stack: the manifest, and whether it exited 0.
fn run(s: &Stack, extra: &[&str]) -> (Value, bool) {
    let mut args = vec!["run", "--json"];
    args.extend_from_slice(extra);
    let o = s.raw_env(&args, &[SMALL_PARTS]);
    let m: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("run printed no manifest ({e}):\n{}", out(&o)));
    (m, o.status.success())
}

fn sample_events() -> Vec<String> {
    let text =
        std::fs::read_to_string(common::repo_root().join("stacks/retail/data/clickstream.jsonl"))
            .unwrap();
    let mut ids: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["event_id"]
                .as_str()
                .unwrap()
                .into()
        })
        .collect();
    ids.sort();
    ids
}

fn event_ids(lines: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> = lines
        .iter()
        .map(|l| l["event_id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

const RAW_TABLES: [&str; 4] = ["customers", "products", "orders", "order_items"];

#[test]
fn retail_end_to_end_loads_exactly_the_sample_and_reruns_write_nothing() {
    let _c = cloud();
    let scope = Scope::new("runretail");
    let s = Stack::new(&scope);
    s.ok(&["apply"]);
    let produced = s.ok(&["produce", "clickstream"]);
    assert!(produced.contains("Sent 300 records"), "{produced}");
    let (m, ok) = run(&s, &[]);
    assert!(ok, "run failed: {m}");
    let lake = bucket(&s);

    for t in RAW_TABLES {
        let rows = parquet_rows(&lake, &format!("raw/shop/{t}/"));
        assert_eq!(count(&rows), sample_rows(t), "rows of {t}");
    }
    // Declared types, not strings: decimal(10,2) and timestamp columns.
    let products = parquet_rows(&lake, "raw/shop/products/");
    let price = products[0].column_by_name("price").unwrap();
    assert_eq!(
        price.data_type(),
        &arrow_schema::DataType::Decimal128(10, 2)
    );
    let customers = parquet_rows(&lake, "raw/shop/customers/");
    assert!(matches!(
        customers[0]
            .column_by_name("created_at")
            .unwrap()
            .data_type(),
        arrow_schema::DataType::Timestamp(_, None)
    ));
    // Hive-style partition, registered in the catalog.
    let keys = objects(&lake, "raw/shop/orders/");
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert!(
        keys.keys()
            .all(|k| k.starts_with(&format!("raw/shop/orders/ingest_date={today}/"))),
        "{:?}",
        keys.keys()
    );
    let parts = cloud()
        .rt
        .block_on(
            cloud()
                .clients
                .glue
                .get_partitions()
                .database_name(format!("{}_local", s.name))
                .table_name("orders")
                .send(),
        )
        .expect("get partitions");
    let values: Vec<Vec<String>> = parts
        .partitions()
        .iter()
        .map(|p| p.values().to_vec())
        .collect();
    assert_eq!(values, vec![vec![today.clone()]]);

    // The clickstream landed exactly: every produced event once (Firehose or the landing).
    let landed = json_lines(&lake, "raw/clickstream/");
    assert_eq!(event_ids(&landed), sample_events());

    // The manifest is in the lake and names every step.
    let id = m["run_id"].as_str().unwrap();
    let manifest = objects(&lake, &format!("_dekit/runs/{id}.json"));
    assert_eq!(manifest.len(), 1);
    assert_eq!(step(&m, "ingest.shop_tables")["status"], "succeeded");
    assert_eq!(
        step(&m, "ingest.shop_tables")["rows"].as_u64().unwrap() as usize,
        RAW_TABLES.iter().map(|t| sample_rows(t)).sum::<usize>()
    );

    // Again, with nothing new: no object is written.
    let before = objects(&lake, "raw/");
    let (m2, ok) = run(&s, &["--select", "shop_tables"]);
    assert!(ok, "{m2}");
    assert_eq!(step(&m2, "ingest.shop_tables")["objects"], 0, "{m2}");
    assert_eq!(step(&m2, "ingest.shop_tables")["rows"], 0, "{m2}");
    assert_eq!(objects(&lake, "raw/"), before);

    // New rows: only they load.
    s.sql(
        "INSERT INTO customers VALUES (1001, 'new1@example.com', 'New', 'One', 'DE', '2026-11-01 10:00:00'), \
         (1002, 'new2@example.com', 'New', 'Two', 'FR', '2026-11-02 10:00:00')",
    );
    let (m3, ok) = run(&s, &["--select", "shop_tables"]);
    assert!(ok, "{m3}");
    assert_eq!(step(&m3, "ingest.shop_tables")["rows"], 2, "{m3}");
    assert_eq!(
        count(&parquet_rows(&lake, "raw/shop/customers/")),
        sample_rows("customers") + 2
    );
    s.ok(&["destroy", "--force-delete-data"]);
}

/// Retail plus a files source whose CSV has a bad row, and a stream without delivery (always
/// landed by `run`) with a table declaring its records' columns.
fn with_files_and_audit(s: &Stack, csv: &str) {
    std::fs::create_dir_all(s.dir.join("partners")).unwrap();
    std::fs::write(s.dir.join("partners/partners.csv"), csv).unwrap();
    s.edit(|t| {
        t.replacen(
            "sources:\n",
            "sources:\n  partner_files:\n    kind: files\n    path: partners\n    format: csv\n    tables: [partners]\n  audit_app:\n    kind: events\n",
            1,
        )
        .replacen(
            "  batch:\n",
            "  batch:\n    partner_load:\n      source: partner_files\n      zone: raw\n      prefix: partners/\n      format: parquet\n",
            1,
        )
        .replacen(
            "  streams:\n",
            "  streams:\n    audit:\n      source: audit_app\n      shards: 1\n",
            1,
        )
        .replacen(
            "\ntables:\n",
            "\ntables:\n  partners:\n    zone: raw\n    from: partner_load\n    columns:\n      partner_id: bigint\n      share: decimal(5,2)\n      since: date\n  audit_events:\n    zone: raw\n    from: audit\n    columns:\n      id: bigint\n      action: string\n",
            1,
        )
    });
}

#[test]
fn bad_rows_and_records_go_to_the_error_prefix_and_fail_the_step() {
    let _c = cloud();
    let scope = Scope::new("runbad");
    let s = Stack::new(&scope);
    with_files_and_audit(
        &s,
        "Partner_ID,Share,Since\n1,10.50,2025-01-01\n2,abc,2025-01-02\n3,7.25,2025-01-03\n",
    );
    s.ok(&["apply"]);
    let lake = bucket(&s);

    // Default --max-bad-rows 0: the step fails, naming file, line and column; nothing committed.
    let o = s.dekit(&["run", "--select", "partner_load"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let text = out(&o);
    assert!(
        text.contains("partner_files.partners")
            && text.contains("line 3")
            && text.contains("column `share`"),
        "{text}"
    );
    let errors = json_lines(&lake, "raw/errors/partner_load/partners/");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["at"], "line 3");
    assert_eq!(errors[0]["row"]["Share"], "abc");
    assert!(
        objects(&lake, "_dekit/state/ingest/partner_load/partners.json")
            .values()
            .all(|b| String::from_utf8_lossy(b).contains("\"pending\""))
    );

    // Allowed: the good rows load, the bad one stays in the error prefix; the leftover parts of
    // the failed attempt are gone (one copy of each row).
    let (m, ok) = run(&s, &["--select", "partner_load", "--max-bad-rows", "1"]);
    assert!(ok, "{m}");
    assert_eq!(step(&m, "ingest.partner_load")["bad"], 1);
    assert_eq!(count(&parquet_rows(&lake, "raw/partners/partners/")), 2);
    assert_eq!(
        json_lines(&lake, "raw/errors/partner_load/partners/").len(),
        1
    );
    // The case-only column match is said once, as a note.
    let notes = step(&m, "ingest.partner_load")["notes"].to_string();
    assert!(notes.contains("Partner_ID → partner_id"), "{notes}");

    // The file corrected the same day: its load replaces the day's earlier one (three rows, not
    // five), and the bad row of the load it replaced is gone with it.
    std::fs::write(
        s.dir.join("partners/partners.csv"),
        "Partner_ID,Share,Since\n1,10.50,2025-01-01\n2,11.00,2025-01-02\n3,7.25,2025-01-03\n",
    )
    .unwrap();
    let (m, ok) = run(&s, &["--select", "partner_load"]);
    assert!(ok, "{m}");
    assert_eq!(count(&parquet_rows(&lake, "raw/partners/partners/")), 3);
    assert!(json_lines(&lake, "raw/errors/partner_load/partners/").is_empty());
    let (m, ok) = run(&s, &["--select", "partner_load"]);
    assert!(ok, "{m}");
    assert_eq!(step(&m, "ingest.partner_load")["objects"], 0, "{m}");

    // A stream record that does not match the declared columns, and one that is not JSON.
    let input = s.dir.join("audit.jsonl");
    std::fs::write(
        &input,
        "{\"id\": 1, \"action\": \"login\"}\n{\"id\": \"x\", \"action\": \"logout\"}\nnot json\n{\"id\": 4, \"action\": \"view\"}\n",
    )
    .unwrap();
    s.ok(&["produce", "audit", "--from", input.to_str().unwrap()]);
    let (m, ok) = run(&s, &["--select", "audit", "--max-bad-rows", "5"]);
    assert!(ok, "{m}");
    let landed = json_lines(&lake, "raw/audit/");
    let mut ids: Vec<i64> = landed.iter().map(|l| l["id"].as_i64().unwrap()).collect();
    ids.sort();
    assert_eq!(ids, [1, 4]);
    let bad = json_lines(&lake, "raw/errors/audit/");
    assert_eq!(bad.len(), 2, "{bad:?}");
    assert!(
        bad.iter()
            .all(|b| b["at"].as_str().unwrap().starts_with("sequence "))
    );
    assert!(
        bad.iter()
            .any(|b| b["error"].as_str().unwrap().contains("column `id`"))
    );
    s.ok(&["destroy", "--force-delete-data"]);
}

#[test]
fn unreachable_database_and_wrong_password_fail_clearly() {
    let _c = cloud();
    let scope = Scope::new("runconn");
    let s = Stack::new(&scope);
    s.edit(|t| t.replace("    local_sources: true\n", ""));
    let secret = "not-the-password-4711";
    // Apply writes the load job's connection secret from the environment.
    let o = s.raw_env(
        &["apply", "--auto-approve"],
        &[("SHOP_DB_HOST", "127.0.0.1"), ("SHOP_DB_PASSWORD", secret)],
    );
    assert!(o.status.success(), "{}", out(&o));
    let (port, _) = dekit::run::sources::local_postgres().unwrap();
    let run_with = |host: &str| -> Output {
        Command::new(env!("CARGO_BIN_EXE_dekit"))
            .args(["run", &s.file(), "--select", "shop_db"])
            .env("SHOP_DB_HOST", host)
            .env("SHOP_DB_PASSWORD", secret)
            .output()
            .unwrap()
    };
    s.edit(|t| t.replace("    port: 5432\n", &format!("    port: {port}\n")));
    let o = run_with("127.0.0.1");
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let text = out(&o);
    assert!(
        text.contains("source `shop_db`") && text.contains("password authentication failed"),
        "{text}"
    );
    assert!(!text.contains(secret), "the password was printed:\n{text}");

    s.edit(|t| t.replace(&format!("    port: {port}\n"), "    port: 1\n"));
    let o = run_with("127.0.0.1");
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let text = out(&o);
    assert!(
        text.contains("source `shop_db` (postgres at 127.0.0.1:1/")
            && text.contains("cannot connect"),
        "{text}"
    );
    // The batch that reads it is skipped, not run against a source that is not there.
    let o = Command::new(env!("CARGO_BIN_EXE_dekit"))
        .args(["run", &s.file(), "--json", "--select", "+shop_tables"])
        .env("SHOP_DB_HOST", "127.0.0.1")
        .env("SHOP_DB_PASSWORD", secret)
        .output()
        .unwrap();
    let m: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(step(&m, "source.shop_db")["status"], "failed");
    assert_eq!(step(&m, "ingest.shop_tables")["status"], "skipped");
    assert!(!out(&o).contains(secret));
    let o = s.raw_env(
        &["destroy", "--auto-approve", "--force-delete-data"],
        &[("SHOP_DB_HOST", "127.0.0.1"), ("SHOP_DB_PASSWORD", secret)],
    );
    assert!(o.status.success(), "{}", out(&o));
}

#[test]
fn produce_refuses_an_oversized_record_by_its_line_and_sends_the_rest() {
    let _c = cloud();
    let scope = Scope::new("produce");
    let s = Stack::new(&scope);
    s.ok(&["apply"]);
    let input = s.dir.join("big.jsonl");
    let big = format!(
        "{{\"event_id\": \"big\", \"pad\": \"{}\"}}",
        "x".repeat(1 << 20)
    );
    std::fs::write(
        &input,
        format!("{{\"event_id\": \"a\"}}\n{big}\n{{\"event_id\": \"b\"}}\n"),
    )
    .unwrap();
    let o = s.dekit(&["produce", "clickstream", "--from", input.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let text = out(&o);
    assert!(text.contains("line 2") && text.contains("1 MiB"), "{text}");
    assert!(text.contains("Sent 2 records"), "{text}");
    s.ok(&["destroy", "--force-delete-data"]);
}

/// The orders in the lake's raw zone, each once (a second copy of an order fails).
fn distinct_orders(lake: &str) -> usize {
    let mut seen = std::collections::BTreeSet::new();
    for b in &parquet_rows(lake, "raw/shop/orders/") {
        let col = b
            .column_by_name("order_id")
            .unwrap()
            .as_any()
            .downcast_ref::<arrow_array::Int64Array>()
            .unwrap();
        for v in col.iter() {
            assert!(seen.insert(v.unwrap()), "order {v:?} loaded twice");
        }
    }
    seen.len()
}

/// `dekit run --resume RUN` runs only the steps that did not succeed in run RUN; an unknown
/// run is refused.
#[test]
fn resume_reruns_only_what_did_not_succeed() {
    let _c = cloud();
    let scope = Scope::new("resume");
    let s = Stack::new(&scope);
    s.ok(&["apply"]);
    let model = s.dir.join("models/dim_products.sql");
    let good = std::fs::read_to_string(&model).unwrap();
    std::fs::write(
        &model,
        format!(
            "SELECT * FROM ({}) p WHERE 1 / 0 = 1",
            good.trim().trim_end_matches(';')
        ),
    )
    .unwrap();
    let (failed, ok) = run(&s, &[]);
    assert!(!ok, "{failed}");
    assert_eq!(step(&failed, "transform.dim_products")["status"], "failed");
    std::fs::write(&model, &good).unwrap();
    let o = s.raw(&["run", "--resume", "no-such-run"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(
        out(&o).contains("no run `no-such-run` to resume"),
        "{}",
        out(&o)
    );
    let (m, ok) = run(&s, &["--resume", failed["run_id"].as_str().unwrap()]);
    assert!(ok, "{m}");
    assert_eq!(m["resumed_from"], failed["run_id"]);
    let ran: Vec<&str> = m["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["step"].as_str().unwrap())
        .collect();
    let not_succeeded: Vec<&str> = failed["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] != "succeeded")
        .map(|r| r["step"].as_str().unwrap())
        .collect();
    assert_eq!(ran, not_succeeded, "{m}");
    s.ok(&["destroy", "--force-delete-data"]);
}

/// `dekit run` stopped dead at a failpoint, as a SIGKILL would.
fn run_until(s: &Stack, failpoint: &str, args: &[&str]) {
    let o = Command::new(env!("CARGO_BIN_EXE_dekit"))
        .arg("run")
        .arg(s.file())
        .args(args)
        .env("DEKIT_FAILPOINT", failpoint)
        .env(SMALL_PARTS.0, SMALL_PARTS.1)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(137),
        "the failpoint was not reached:\n{}",
        out(&o)
    );
}

#[test]
#[cfg_attr(
    not(feature = "failpoints"),
    ignore = "crash tests need `--features failpoints` (ci/test.sh passes it)"
)]
fn crashes_mid_load_and_mid_landing_neither_lose_nor_duplicate() {
    let _c = cloud();
    let scope = Scope::new("runcrash");
    let s = Stack::new(&scope);
    with_files_and_audit(&s, "partner_id,share,since\n1,1.00,2025-01-01\n");
    s.ok(&["apply"]);
    let lake = bucket(&s);
    // Enough orders for several Parquet parts (of 20,000 rows here), so a crash falls between.
    s.ok(&["run", "--select", "shop_db"]);
    s.sql(
        "INSERT INTO orders SELECT 1000 + g, 1 + g % 50, 'placed', timestamp '2026-01-01' + g * interval '1 second' \
         FROM generate_series(1, 70000) g",
    );
    let expected_orders = sample_rows("orders") + 70_000;

    // Killed after the first part of a load: the re-run removes the partial load and loads once.
    run_until(&s, "batch.after_part@orders", &["--select", "shop_tables"]);
    let (m, ok) = run(&s, &["--select", "shop_tables"]);
    assert!(ok, "{m}");
    assert_eq!(
        count(&parquet_rows(&lake, "raw/shop/orders/")),
        expected_orders
    );
    assert_eq!(distinct_orders(&lake), expected_orders);

    // SIGKILLed inside multi-part loads (parts encoded on every core, several uploading at once),
    // each time with new orders to load: the run after loads every row once. A kill that came
    // after the run finished shortens the next wait, one that came before the orders' load began
    // lengthens it; at least one must fall inside it (the load is pending in the lake).
    let pending = || -> bool {
        let state = objects(&lake, "_dekit/state/ingest/shop_tables/orders.json");
        let v: Value =
            serde_json::from_slice(state.values().next().expect("the orders' state")).unwrap();
        !v["pending"].is_null()
    };
    let mut expected_orders = expected_orders;
    let (mut wait, mut inside) = (300u64, 0);
    for k in 0..8 {
        s.sql(&format!(
            "INSERT INTO orders SELECT {} + g, 1 + g % 50, 'placed', timestamp '2026-02-01' + g * interval '1 second' \
             FROM generate_series(1, 40000) g",
            200_000 + k * 40_000
        ));
        expected_orders += 40_000;
        let mut child = Command::new(env!("CARGO_BIN_EXE_dekit"))
            .args(["run", &s.file(), "--select", "shop_tables"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(wait));
        let finished = child.try_wait().unwrap().is_some();
        let _ = child.kill();
        let _ = child.wait();
        if finished {
            wait = wait * 2 / 3;
        } else if pending() {
            inside += 1;
        } else {
            wait = wait * 3 / 2;
        }
    }
    assert!(
        inside >= 1,
        "no kill fell inside the orders' load (last wait {wait} ms)"
    );
    let (m, ok) = run(&s, &["--select", "shop_tables"]);
    assert!(ok, "{m}");
    assert_eq!(
        count(&parquet_rows(&lake, "raw/shop/orders/")),
        expected_orders
    );
    assert_eq!(distinct_orders(&lake), expected_orders);

    // Killed between a landed object and its checkpoint, then SIGKILLed at random moments:
    // every record lands exactly once.
    let input = s.dir.join("audit.jsonl");
    let n = 3000;
    let lines: String = (0..n)
        .map(|i| format!("{{\"id\": {i}, \"action\": \"a{i}\"}}\n"))
        .collect();
    std::fs::write(&input, lines).unwrap();
    let sent = s.ok(&["produce", "audit", "--from", input.to_str().unwrap()]);
    assert!(sent.contains(&format!("Sent {n} records")), "{sent}");
    run_until(&s, "landing.after_object", &["--select", "audit"]);
    // The object is there, its checkpoint is not: the next run finds it and lands only the
    // records after it (all of them, when the first batch held everything).
    let landed_before = json_lines(&lake, "raw/audit/").len() as i64;
    assert!(landed_before > 0, "the crashed run wrote its object");
    let (m, ok) = run(&s, &["--select", "audit"]);
    assert!(ok, "{m}");
    assert_eq!(step(&m, "ingest.audit")["rows"], n - landed_before, "{m}");
    assert_eq!(json_lines(&lake, "raw/audit/").len() as i64, n);
    let s2 = s.dir.join("audit2.jsonl");
    let more: String = (n..2 * n)
        .map(|i| format!("{{\"id\": {i}, \"action\": \"a{i}\"}}\n"))
        .collect();
    std::fs::write(&s2, more).unwrap();
    s.ok(&["produce", "audit", "--from", s2.to_str().unwrap()]);
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..4 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut child = Command::new(env!("CARGO_BIN_EXE_dekit"))
            .args(["run", &s.file(), "--select", "audit"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50 + seed % 600));
        let _ = child.kill();
        let _ = child.wait();
    }
    let (m, ok) = run(&s, &["--select", "audit"]);
    assert!(ok, "{m}");
    let landed = json_lines(&lake, "raw/audit/");
    let mut ids: Vec<i64> = landed.iter().map(|l| l["id"].as_i64().unwrap()).collect();
    ids.sort();
    assert_eq!(ids, (0..2 * n).collect::<Vec<i64>>());
    // And a further run lands nothing new.
    let (m, ok) = run(&s, &["--select", "audit"]);
    assert!(ok, "{m}");
    assert_eq!(step(&m, "ingest.audit")["objects"], 0);
    s.ok(&["destroy", "--force-delete-data"]);
}

/// A MariaDB database of its own for a test, dropped at the end (also when the test fails).
struct MariaDb {
    conn: dekit::run::sources::Conn,
}

impl MariaDb {
    fn new(name: &str) -> MariaDb {
        use dekit::run::sources::{Db, local_conn_to};
        let admin = local_conn_to(Db::Mysql, "test", "mysql").unwrap();
        let db = format!("{}_crm", name.replace('-', "_"));
        cloud().rt.block_on(async {
            use mysql_async::prelude::Queryable;
            let mut c = admin.mysql().await.unwrap();
            c.query_drop(format!("CREATE DATABASE `{db}`"))
                .await
                .unwrap();
        });
        MariaDb {
            conn: local_conn_to(Db::Mysql, "test", &db).unwrap(),
        }
    }

    fn sql(&self, sql: &str) {
        cloud().rt.block_on(async {
            use mysql_async::prelude::Queryable;
            let mut c = self.conn.mysql().await.unwrap();
            c.query_drop(sql).await.unwrap();
        });
    }
}

impl MariaDb {
    /// Add this database to the stack as the source `crm` (tables customers and payments), its
    /// batch load `crm_load` into `raw/crm/`, and `tables` (YAML under `tables:`); returns the
    /// environment its commands need (the host and the generated password).
    fn add_to(&self, s: &Stack, tables: &str) -> [(&'static str, String); 3] {
        let (port, password) =
            dekit::run::sources::local_server_info(dekit::run::sources::Db::Mysql).unwrap();
        let db = &self.conn.database;
        s.edit(|t| {
            t.replacen(
                "sources:\n",
                &format!(
                    "sources:\n  crm:\n    kind: mysql\n    host: ${{env.CRM_HOST}}\n    port: {port}\n    database: {db}\n    user: dekit\n    password: ${{env.CRM_PASSWORD}}\n    tables: [customers, payments]\n"
                ),
                1,
            )
            .replacen(
                "  batch:\n",
                "  batch:\n    crm_load:\n      source: crm\n      zone: raw\n      prefix: crm/\n      format: parquet\n",
                1,
            )
            .replacen("\ntables:\n", &format!("\ntables:\n{tables}"), 1)
        });
        [
            ("CRM_HOST", "127.0.0.1".to_string()),
            ("CRM_PASSWORD", password),
            (SMALL_PARTS.0, SMALL_PARTS.1.to_string()),
        ]
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        let db = self.conn.database.clone();
        let dropped = cloud().rt.block_on(async {
            use mysql_async::prelude::Queryable;
            let mut c = self.conn.mysql().await?;
            c.query_drop(format!("DROP DATABASE `{db}`"))
                .await
                .map_err(|e| e.to_string())
        });
        if let Err(e) = dropped
            && !std::thread::panicking()
        {
            panic!("dropping {db}: {e}");
        }
    }
}

#[test]
fn a_mysql_source_with_its_own_schema_loads_declared_types() {
    let _c = cloud();
    let scope = Scope::new("runmysql");
    let s = Stack::new(&scope);
    let my = MariaDb::new(&s.name);
    // classicmodels-style: camelCase columns, DECIMAL money, DATE, a NULL, quotes and UTF-8.
    my.sql(
        "CREATE TABLE customers (customerNumber INT PRIMARY KEY, customerName VARCHAR(50), \
         creditLimit DECIMAL(10,2) NULL, country VARCHAR(50)); \
         INSERT INTO customers VALUES (103, 'Atelier graphique', 21000.00, 'France'), \
         (112, 'Signal Gift Stores', NULL, 'USA'), (114, 'Australian Collectors, Co.', 117300.00, 'Australia'), \
         (119, 'La Rochelle Gifts ''n'' Co', 118200.00, 'Frânce'); \
         CREATE TABLE payments (customerNumber INT, checkNumber VARCHAR(50), paymentDate DATE, amount DECIMAL(12,2)); \
         INSERT INTO payments VALUES (103, 'HQ336336', '2004-10-19', 6066.78), (103, 'JM555205', '2003-06-05', 14571.44), \
         (112, 'BO864823', '2004-12-17', 14191.12), (114, 'GG31455', '2003-05-20', 123456789.00)",
    );
    let vars = my.add_to(
        &s,
        "  crm_customers:\n    zone: raw\n    from: crm_load\n    source_table: customers\n    watermark: customerNumber\n    columns:\n      customerNumber: int\n      customerName: string\n      creditLimit: decimal(10,2)\n      country: string\n  crm_payments:\n    zone: raw\n    from: crm_load\n    source_table: payments\n    columns:\n      checknumber: string\n      customernumber: int\n      paymentdate: date\n      amount: decimal(10,2)\n",
    );
    let env: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let password = vars[1].1.clone();
    // Apply writes the load job's connection secret from the same environment.
    let o = s.raw_env(&["apply", "--auto-approve"], &env);
    assert!(o.status.success(), "{}", out(&o));
    // A payment of 123,456,789.00 does not fit decimal(10,2): the step fails naming table, row
    // key and column.
    let o = s.raw_env(&["run", "--select", "crm_load"], &env);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let text = out(&o);
    assert!(
        text.contains("crm.payments")
            && text.contains("checknumber = GG31455")
            && text.contains("column `amount`"),
        "{text}"
    );
    assert!(!text.contains(&password), "the password was printed");

    let o = s.raw_env(
        &[
            "run",
            "--json",
            "--select",
            "crm_load",
            "--max-bad-rows",
            "1",
        ],
        &env,
    );
    let m: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", out(&o)));
    assert!(o.status.success(), "{m}");
    let notes = step(&m, "ingest.crm_load")["notes"].to_string();
    assert!(notes.contains("customerNumber → customernumber"), "{notes}");
    let lake = bucket(&s);

    let customers = parquet_rows(&lake, "raw/crm/customers/");
    assert_eq!(count(&customers), 4);
    let b = &customers[0];
    let ids = b
        .column_by_name("customernumber")
        .unwrap()
        .as_any()
        .downcast_ref::<arrow_array::Int32Array>()
        .expect("int is Int32");
    assert_eq!(ids.values().to_vec(), [103, 112, 114, 119]);
    let credit = b
        .column_by_name("creditlimit")
        .unwrap()
        .as_any()
        .downcast_ref::<arrow_array::Decimal128Array>()
        .expect("decimal(10,2) is Decimal128");
    assert_eq!(credit.value(0), 2_100_000);
    assert!(arrow_array::Array::is_null(credit, 1), "NULL stays NULL");
    let names = b
        .column_by_name("customername")
        .unwrap()
        .as_any()
        .downcast_ref::<arrow_array::StringArray>()
        .unwrap();
    assert_eq!(names.value(3), "La Rochelle Gifts 'n' Co");
    let country = b
        .column_by_name("country")
        .unwrap()
        .as_any()
        .downcast_ref::<arrow_array::StringArray>()
        .unwrap();
    assert_eq!(country.value(3), "Frânce");

    let payments = parquet_rows(&lake, "raw/crm/payments/");
    assert_eq!(count(&payments), 3);
    let dates = payments[0]
        .column_by_name("paymentdate")
        .unwrap()
        .as_any()
        .downcast_ref::<arrow_array::Date32Array>()
        .expect("date is Date32");
    assert_eq!(dates.value_as_date(0).unwrap().to_string(), "2004-10-19");
    let bad = json_lines(&lake, "raw/errors/crm_load/crm_payments/");
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0]["row"]["checkNumber"], "GG31455");

    // Incremental: a new customer loads alone.
    my.sql("INSERT INTO customers VALUES (121, 'Baane Mini Imports', 81700.00, 'Norway')");
    let o = s.raw_env(
        &[
            "run",
            "--json",
            "--select",
            "crm_load",
            "--max-bad-rows",
            "1",
        ],
        &env,
    );
    let m: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(o.status.success(), "{m}");
    assert_eq!(count(&parquet_rows(&lake, "raw/crm/customers/")), 5);
    let o = s.raw_env(&["destroy", "--auto-approve", "--force-delete-data"], &env);
    assert!(o.status.success(), "{}", out(&o));
}

/// classicmodels-style camelCase columns: every check kind that names a column passes on good
/// data and fails with the right rows on bad data, on the local engine. The loader stores
/// `customerNumber` as the catalog's `customernumber`; the checks must name it the same way.
#[test]
fn checks_over_camel_case_columns_pass_and_fail_on_their_rows() {
    let _c = cloud();
    let scope = Scope::new("runcamel");
    // Freshness is judged by dekit's clock: on this day the data is a day old.
    let mut s = Stack::at(&scope, "2026-06-01T00:00:00Z");
    let my = MariaDb::new(&s.name);
    my.sql(
        "CREATE TABLE customers (customerNumber INT PRIMARY KEY, customerName VARCHAR(50), \
         countryCode CHAR(2), creditLimit DECIMAL(10,2) NULL, createdAt DATETIME); \
         INSERT INTO customers VALUES (103, 'Atelier graphique', 'FR', 21000.00, '2026-05-31 00:00:00'), \
         (112, 'Signal Gift Stores', 'US', NULL, '2026-05-30 12:00:00'), \
         (114, 'Australian Collectors, Co.', 'AU', 117300.00, '2026-05-29 08:00:00'); \
         CREATE TABLE payments (customerNumber INT, checkNumber VARCHAR(50) PRIMARY KEY, amount DECIMAL(10,2)); \
         INSERT INTO payments VALUES (103, 'HQ336336', 6066.78), (112, 'BO864823', 14191.12), (114, 'GG31455', 4567.00)",
    );
    let vars = my.add_to(
        &s,
        "  crm_customers:\n    zone: raw\n    from: crm_load\n    source_table: customers\n    columns:\n      customerNumber: int\n      customerName: string\n      countryCode: string\n      creditLimit: decimal(10,2)\n      createdAt: timestamp\n  crm_payments:\n    zone: raw\n    from: crm_load\n    source_table: payments\n    columns:\n      customerNumber: int\n      checkNumber: string\n      amount: decimal(10,2)\n",
    );
    let env: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // A model over the camelCase table, and a unit test whose rows name the columns as declared.
    std::fs::write(
        s.dir.join("models/crm_credit.sql"),
        "SELECT customerNumber, creditLimit FROM crm_customers WHERE creditLimit > 0\n",
    )
    .unwrap();
    s.edit(|t| {
        t.replacen(
            "\ntransforms:\n",
            "\ntransforms:\n  crm_credit:\n    sql: models/crm_credit.sql\n    zone: curated\n",
            1,
        )
        .replacen(
            "\nunit_tests:\n",
            "\nunit_tests:\n  credit_keeps_positive_limits:\n    model: crm_credit\n    given:\n      crm_customers:\n        - { customerNumber: 1, creditLimit: 5.00 }\n        - { customerNumber: 2, creditLimit: 0 }\n    expect:\n      - { customerNumber: 1, creditLimit: 5.00 }\n",
            1,
        )
        .replacen(
            "\nquality:\n",
            "\nquality:\n  crm_customers:\n    - not_null: [customerNumber, customerName]\n    - unique: [customerNumber]\n    - accepted_values: { column: countryCode, values: [FR, US, AU] }\n    - range: { column: creditLimit, min: 0, max: 200000 }\n    - freshness: { column: createdAt, max_age_hours: 72 }\n    - sql: \"SELECT * FROM {this} WHERE customerName = ''\"\n    - schema: {}\n  crm_payments:\n    - relationships: { column: customerNumber, to: crm_customers.customerNumber }\n    - row_count_matches: { to: crm_customers, filter: \"customerName <> ''\" }\n",
            1,
        )
    });
    let o = s.raw_env(&["apply", "--auto-approve"], &env);
    assert!(o.status.success(), "{}", out(&o));
    let o = s.raw_env(&["run", "--select", "crm_load"], &env);
    assert!(o.status.success(), "{}", out(&o));
    let test = |s: &Stack| -> (Value, bool) {
        let o = s.raw_env(
            &[
                "test",
                "--json",
                "--select",
                "crm_customers",
                "--select",
                "crm_payments",
            ],
            &env,
        );
        let r: Value =
            serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", out(&o)));
        (r, o.status.success())
    };
    let names = [
        "crm_customers.not_null(customerNumber, customerName)",
        "crm_customers.unique(customerNumber)",
        "crm_customers.accepted_values(countryCode)",
        "crm_customers.range(creditLimit)",
        "crm_customers.freshness(createdAt, 72h)",
        "crm_customers.sql",
        "crm_customers.schema",
        "crm_payments.relationships(customerNumber -> crm_customers.customerNumber)",
        "crm_payments.row_count_matches(crm_customers)",
    ];
    let (r, ok) = test(&s);
    for n in names {
        assert_eq!(outcome(&r, n)["verdict"], "pass", "{:#}", outcome(&r, n));
    }
    assert!(ok, "{r:#}");
    let o = s.raw_env(
        &["test", "--json", "--select", "credit_keeps_positive_limits"],
        &env,
    );
    let u: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", out(&o)));
    let u = outcome(&u, "unit.credit_keeps_positive_limits");
    assert_eq!(u["verdict"], "pass", "{u:#}");
    assert_eq!(u["message"], "1 rows as expected", "{u:#}");

    // Bad rows of every kind: a customer without a name and one with an empty name, a country
    // outside the list, a negative credit limit, a payment of a customer that does not exist
    // (so one payment more than named customers); and a week later, nothing new: stale.
    my.sql(
        "INSERT INTO customers VALUES (121, NULL, 'NO', -5.00, '2026-05-31 06:00:00'), \
         (131, '', 'US', 10.00, '2026-05-31 07:00:00'); \
         INSERT INTO payments VALUES (999, 'ZZ000001', 1.00)",
    );
    let o = s.raw_env(&["run", "--select", "crm_load"], &env);
    assert!(o.status.success(), "{}", out(&o));
    s.set_now("2026-06-08T00:00:00Z");
    let (r, ok) = test(&s);
    assert!(!ok, "bad rows passed: {r:#}");
    let failed = |n: &str| {
        let o = outcome(&r, n);
        assert_eq!(o["verdict"], "fail", "{o:#}");
        o.clone()
    };
    let o = failed("crm_customers.not_null(customerNumber, customerName)");
    assert_eq!(o["sample"][0]["customernumber"], 121, "{o:#}");
    let o = failed("crm_customers.accepted_values(countryCode)");
    assert_eq!(o["sample"][0]["countrycode"], "NO", "{o:#}");
    let o = failed("crm_customers.range(creditLimit)");
    assert_eq!(o["sample"][0]["customernumber"], 121, "{o:#}");
    let o = failed("crm_customers.sql");
    assert_eq!(o["sample"][0]["customernumber"], 131, "{o:#}");
    let o = failed("crm_customers.freshness(createdAt, 72h)");
    assert!(
        o["sample"][0]["newest"]
            .as_str()
            .unwrap()
            .starts_with("2026-05-31T07:00:00"),
        "{o:#}"
    );
    let o = failed("crm_payments.relationships(customerNumber -> crm_customers.customerNumber)");
    assert_eq!(o["sample"][0]["customernumber"], 999, "{o:#}");
    assert_eq!(o["failures"], 1, "{o:#}");
    let o = failed("crm_payments.row_count_matches(crm_customers)");
    assert_eq!(o["sample"][0]["row_count"], 4, "{o:#}");
    // Nothing was loaded twice, and the files hold the declared columns.
    assert_eq!(
        outcome(&r, "crm_customers.unique(customerNumber)")["verdict"],
        "pass"
    );
    assert_eq!(outcome(&r, "crm_customers.schema")["verdict"], "pass");
    let o = s.raw_env(&["destroy", "--auto-approve", "--force-delete-data"], &env);
    assert!(o.status.success(), "{}", out(&o));
}

/// A JSON API on loopback: `/orders` in three pages (a `next` path, then a `Link` header), for
/// the bearer token `tok-123` only.
fn serve_api() -> (String, std::thread::JoinHandle<()>) {
    use std::io::{BufRead, BufReader};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let origin = base.clone();
    let handle = std::thread::spawn(move || {
        for stream in listener.incoming().take(8) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut first = String::new();
            reader.read_line(&mut first).unwrap();
            let mut auth = String::new();
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                if h.trim().is_empty() {
                    break;
                }
                if h.to_ascii_lowercase().starts_with("authorization:") {
                    auth = h.trim().to_string();
                }
            }
            let path = first.split_whitespace().nth(1).unwrap_or("/").to_string();
            let (status, link, body) = if !auth.ends_with("Bearer tok-123") {
                ("401 Unauthorized", String::new(), "{}".to_string())
            } else if path == "/orders" {
                (
                    "200 OK",
                    String::new(),
                    r#"{"data": [{"id": 1, "amount": "10.50", "placed_at": "2026-01-01T10:00:00Z"}, {"id": 2, "amount": 3, "placed_at": "2026-01-02 11:00:00"}], "next": "/orders?page=2"}"#.to_string(),
                )
            } else if path == "/orders?page=2" {
                (
                    "200 OK",
                    format!("Link: <{origin}/orders?page=3>; rel=\"next\"\r\n"),
                    r#"{"items": [{"ID": 3, "amount": "x", "placed_at": "2026-01-03 12:00:00"}, {"id": 4, "amount": "1.25", "placed_at": null}]}"#.to_string(),
                )
            } else if path == "/orders?page=3" {
                (
                    "200 OK",
                    String::new(),
                    r#"[{"id": 5, "amount": "99.99", "placed_at": "2026-01-05 00:00:00", "extra": true}]"#.to_string(),
                )
            } else {
                ("404 Not Found", String::new(), "{}".to_string())
            };
            let resp = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{link}Connection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(resp.as_bytes()).unwrap();
        }
    });
    (base, handle)
}

#[test]
fn an_http_api_source_is_followed_page_by_page() {
    let _c = cloud();
    let scope = Scope::new("runhttp");
    let s = Stack::new(&scope);
    s.edit(|t| {
        t.replacen(
            "sources:\n",
            "sources:\n  api:\n    kind: http_api\n    url: ${env.API_URL}\n    token: ${env.API_TOKEN}\n    tables: [orders]\n",
            1,
        )
        .replacen(
            "  batch:\n",
            "  batch:\n    api_load:\n      source: api\n      zone: raw\n      prefix: api/\n      format: parquet\n",
            1,
        )
        .replacen(
            "\ntables:\n",
            "\ntables:\n  api_orders:\n    zone: raw\n    from: api_load\n    source_table: orders\n    columns:\n      id: bigint\n      amount: decimal(8,2)\n      placed_at: timestamp\n",
            1,
        )
    });
    s.ok(&["apply"]);
    let (base, server) = serve_api();
    let lake = bucket(&s);

    // A wrong token: the step fails with the HTTP status, and the token is not printed.
    let o = s.raw_env(
        &["run", "--select", "api_load"],
        &[("API_URL", &base), ("API_TOKEN", "wrong-tok-999")],
    );
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let text = out(&o);
    assert!(
        text.contains("HTTP 401") && text.contains("source `api`"),
        "{text}"
    );
    assert!(!text.contains("wrong-tok-999"), "{text}");

    // Three pages, five records, one of which does not fit its column.
    let o = s.raw_env(
        &[
            "run",
            "--json",
            "--select",
            "api_load",
            "--max-bad-rows",
            "1",
        ],
        &[("API_URL", &base), ("API_TOKEN", "tok-123")],
    );
    let m: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", out(&o)));
    assert!(o.status.success(), "{m}");
    assert_eq!(step(&m, "ingest.api_load")["rows"], 4, "{m}");
    assert_eq!(step(&m, "ingest.api_load")["bad"], 1, "{m}");
    let rows = parquet_rows(&lake, "raw/api/orders/");
    assert_eq!(count(&rows), 4);
    let bad = json_lines(&lake, "raw/errors/api_load/api_orders/");
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0]["row"]["ID"], 3);
    assert!(
        bad[0]["error"]
            .as_str()
            .unwrap()
            .contains("column `amount`")
    );
    drop(server);
    s.ok(&["destroy", "--force-delete-data"]);
}

/// Parquet that nobody here wrote: TPC-H from `tpchgen-cli` (string views, as Arrow-based tools
/// write), loaded through a `files` source with declared types; the lake then holds what DuckDB
/// reads from the same files, to the cent.
#[test]
fn tpch_parquet_from_an_arrow_writer_loads_exactly() {
    let _c = cloud();
    let scope = Scope::new("runtpch");
    let s = Stack::new(&scope);
    let python = common::tools_python();
    let data = s.dir.join("tpch");
    let generated = std::process::Command::new(python.with_file_name("tpchgen-cli"))
        .args([
            "parquet",
            "-s",
            "0.001",
            "--tables=lineitem,nation",
            "--output-dir",
        ])
        .arg(&data)
        .output()
        .expect("tpchgen-cli runs (tests/tools/install.sh installs it)");
    assert!(generated.status.success(), "{}", out(&generated));
    s.edit(|t| {
        t.replacen(
            "sources:\n",
            "sources:\n  tpch:\n    kind: files\n    path: tpch\n    format: parquet\n    tables: [lineitem, nation]\n",
            1,
        )
        .replacen(
            "  batch:\n",
            "  batch:\n    tpch_load:\n      source: tpch\n      zone: raw\n      prefix: tpch/\n",
            1,
        )
        .replacen(
            "\ntables:\n",
            "\ntables:\n  lineitem:\n    zone: raw\n    from: tpch_load\n    columns:\n      l_orderkey: bigint\n      l_partkey: bigint\n      l_suppkey: bigint\n      l_linenumber: int\n      l_quantity: decimal(15,2)\n      l_extendedprice: decimal(15,2)\n      l_discount: decimal(15,2)\n      l_tax: decimal(15,2)\n      l_returnflag: string\n      l_linestatus: string\n      l_shipdate: date\n      l_commitdate: date\n      l_receiptdate: date\n      l_shipinstruct: string\n      l_shipmode: string\n      l_comment: string\n  nation:\n    zone: raw\n    from: tpch_load\n    columns:\n      n_nationkey: int\n      n_name: string\n      n_regionkey: int\n      n_comment: string\n",
            1,
        )
    });
    s.ok(&["apply"]);
    let (m, ok) = run(&s, &["--select", "tpch_load"]);
    assert!(ok, "{m}");
    assert_eq!(step(&m, "ingest.tpch_load")["bad"], 0, "{m}");
    let sql = "SELECT l_returnflag, l_linestatus, count(*) AS n, CAST(sum(l_extendedprice) AS VARCHAR) AS price, \
               CAST(min(l_shipdate) AS VARCHAR) AS first, max(length(l_comment)) AS longest \
               FROM lineitem GROUP BY 1, 2 ORDER BY 1, 2";
    let ours = s.query(sql);
    let file = data.join("lineitem.parquet");
    let duck = std::process::Command::new(&python)
        .args([
            "-c",
            "import sys, json, duckdb\n\
             rows = duckdb.sql(sys.argv[1].replace('FROM lineitem', \"FROM '\" + sys.argv[2] + \"'\")).fetchall()\n\
             print(json.dumps([[str(v) for v in r] for r in rows]))",
            sql,
            file.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(duck.status.success(), "{}", out(&duck));
    let theirs: Vec<Vec<String>> = serde_json::from_slice(&duck.stdout).unwrap();
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let ours: Vec<Vec<String>> = ours
        .iter()
        .map(|r| {
            [
                "l_returnflag",
                "l_linestatus",
                "n",
                "price",
                "first",
                "longest",
            ]
            .iter()
            .map(|c| text(&r[*c]))
            .collect()
        })
        .collect();
    assert!(ours.len() >= 3, "{ours:?}");
    assert_eq!(ours, theirs);
    let nations = s.query("SELECT count(*) AS n FROM nation");
    assert_eq!(text(&nations[0]["n"]), "25", "{nations:?}");
    s.ok(&["destroy", "--force-delete-data"]);
}

#[test]
fn files_sources_read_parquet_and_objects_in_s3() {
    use arrow_array::{ArrayRef, Date32Array, Int64Array, RecordBatch, StringArray};
    use std::sync::Arc;
    let _c = cloud();
    let scope = Scope::new("runfiles");
    let s = Stack::new(&scope);
    let lake = bucket(&s);
    // A Parquet file as another tool writes it: typed columns, a null, mixed-case names.
    std::fs::create_dir_all(s.dir.join("pq")).unwrap();
    let batch = RecordBatch::try_from_iter(vec![
        ("Id", Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef),
        (
            "name",
            Arc::new(StringArray::from(vec![Some("a"), None, Some("c")])) as ArrayRef,
        ),
        (
            "since",
            Arc::new(Date32Array::from(vec![20000, 20001, 20002])) as ArrayRef,
        ),
    ])
    .unwrap();
    let file = std::fs::File::create(s.dir.join("pq/vendors.parquet")).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    // The same logical types in the other physical variants Arrow-based writers choose (string
    // views, large strings, dictionaries, unannotated bytes, narrow decimals, Date64, an all-null
    // column), each declared plainly: the load casts them, exactly.
    let variants = RecordBatch::try_from_iter(vec![
        (
            "city",
            Arc::new(arrow_array::StringViewArray::from(vec![
                Some("Lyon"),
                None,
                Some("a city name longer than twelve bytes"),
            ])) as ArrayRef,
        ),
        (
            "code",
            Arc::new(arrow_array::LargeStringArray::from(vec!["F", "D", "É"])) as ArrayRef,
        ),
        (
            "flag",
            Arc::new(
                vec!["R", "A", "R"]
                    .into_iter()
                    .collect::<arrow_array::DictionaryArray<arrow_array::types::Int32Type>>(),
            ) as ArrayRef,
        ),
        (
            "label",
            Arc::new(arrow_array::BinaryArray::from(vec![
                &b"x"[..],
                &b"y"[..],
                "ü".as_bytes(),
            ])) as ArrayRef,
        ),
        (
            "amount",
            Arc::new(
                arrow_array::Decimal64Array::from(vec![12345, -1, 99999999])
                    .with_precision_and_scale(10, 2)
                    .unwrap(),
            ) as ArrayRef,
        ),
        (
            "day",
            Arc::new(arrow_array::Date64Array::from(vec![
                0,
                86_400_000,
                20_000 * 86_400_000,
            ])) as ArrayRef,
        ),
        ("note", Arc::new(arrow_array::NullArray::new(3)) as ArrayRef),
    ])
    .unwrap();
    let file = std::fs::File::create(s.dir.join("pq/variants.parquet")).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, variants.schema(), None).unwrap();
    w.write(&variants).unwrap();
    w.close().unwrap();
    s.edit(|t| {
        t.replacen(
            "sources:\n",
            &format!(
                "sources:\n  pq_files:\n    kind: files\n    path: pq\n    format: parquet\n    tables: [vendors, variants]\n  s3_files:\n    kind: files\n    path: s3://{lake}/incoming/\n    format: csv\n    tables: [rates]\n"
            ),
            1,
        )
        .replacen(
            "  batch:\n",
            "  batch:\n    vendor_load:\n      source: pq_files\n      zone: raw\n      prefix: vendors/\n    rate_load:\n      source: s3_files\n      zone: raw\n      prefix: rates/\n",
            1,
        )
        .replacen(
            "\ntables:\n",
            "\ntables:\n  vendors:\n    zone: raw\n    from: vendor_load\n    columns:\n      id: bigint\n      name: string\n      since: date\n  variants:\n    zone: raw\n    from: vendor_load\n    columns:\n      city: string\n      code: string\n      flag: string\n      label: string\n      amount: decimal(10,2)\n      day: date\n      note: string\n  rates:\n    zone: raw\n    from: rate_load\n    columns:\n      currency: string\n      rate: decimal(10,4)\n",
            1,
        )
    });
    s.ok(&["apply"]);
    cloud()
        .rt
        .block_on(
            cloud()
                .clients
                .s3
                .put_object()
                .bucket(&lake)
                .key("incoming/rates.csv")
                .body(
                    b"currency,rate\nEUR,1.0000\nUSD,1.0842\nJPY,162.5\n"
                        .to_vec()
                        .into(),
                )
                .send(),
        )
        .expect("put the CSV");
    let (m, ok) = run(&s, &["--select", "vendor_load", "--select", "rate_load"]);
    assert!(ok, "{m}");
    let vendors = parquet_rows(&lake, "raw/vendors/vendors/");
    assert_eq!(count(&vendors), 3);
    let names = vendors[0]
        .column_by_name("name")
        .unwrap()
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    assert!(arrow_array::Array::is_null(names, 1), "null stays null");
    let since = vendors[0]
        .column_by_name("since")
        .unwrap()
        .as_any()
        .downcast_ref::<Date32Array>()
        .unwrap();
    assert_eq!(since.value(0), 20000);
    let v = parquet_rows(&lake, "raw/vendors/variants/");
    assert_eq!(count(&v), 3);
    let text = |c: &str| -> Vec<Option<String>> {
        let a = v[0]
            .column_by_name(c)
            .unwrap()
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap_or_else(|| panic!("{c} is not Utf8: {:?}", v[0].schema()));
        a.iter().map(|x| x.map(str::to_string)).collect()
    };
    let some = |xs: &[&str]| xs.iter().map(|x| Some(x.to_string())).collect::<Vec<_>>();
    assert_eq!(
        text("city"),
        [
            Some("Lyon".into()),
            None,
            Some("a city name longer than twelve bytes".into())
        ]
    );
    assert_eq!(text("code"), some(&["F", "D", "É"]));
    assert_eq!(text("flag"), some(&["R", "A", "R"]));
    assert_eq!(text("label"), some(&["x", "y", "ü"]));
    assert_eq!(text("note"), [None, None, None]);
    let amount = v[0]
        .column_by_name("amount")
        .unwrap()
        .as_any()
        .downcast_ref::<arrow_array::Decimal128Array>()
        .expect("decimal(10,2) is Decimal128");
    assert_eq!(amount.values().to_vec(), [12345, -1, 99999999]);
    let day = v[0]
        .column_by_name("day")
        .unwrap()
        .as_any()
        .downcast_ref::<Date32Array>()
        .unwrap();
    assert_eq!(day.values().to_vec(), [0, 1, 20_000]);
    assert_eq!(count(&parquet_rows(&lake, "raw/rates/rates/")), 3);
    // Unchanged files (the local one by content, the object by ETag): nothing is loaded again.
    let (m, ok) = run(&s, &["--select", "vendor_load", "--select", "rate_load"]);
    assert!(ok, "{m}");
    assert_eq!(step(&m, "ingest.vendor_load")["objects"], 0, "{m}");
    assert_eq!(step(&m, "ingest.rate_load")["objects"], 0, "{m}");
    s.ok(&["destroy", "--force-delete-data"]);
}

/// The levels of the deployed pipeline's state machine for a stack file.
fn deployed_levels(file: &str) -> Vec<Vec<String>> {
    let (loaded, report) = dekit::load::load_file(std::path::Path::new(file), Some("local"))
        .unwrap_or_else(|(_, r)| panic!("{:?}", r.diags));
    let (checked, report) = dekit::validate::check(loaded, report);
    let checked = checked.unwrap_or_else(|| panic!("{:?}", report.diags));
    let g = dekit::graph::compile::compile(&checked).unwrap();
    dekit::graph::state_machine::levels(&dekit::graph::steps::step_graph(&g))
}

/// One execution of the deployed pipeline as the state machine makes it: each level's steps,
/// one invocation each (again while one answers `more`), then `finish`; through `dekit step`.
fn execute_deployed(s: &Stack, execution: &str) -> (Value, BTreeMap<String, Value>) {
    execute_crashing(s, execution, None)
}

/// `execute_deployed` whose first invocation of step `crash.0` dies at failpoint `crash.1`, as
/// a killed or timed-out invocation does; the state machine's retry invokes it again.
#[cfg_attr(not(feature = "failpoints"), allow(unused_variables))]
fn execute_crashing(
    s: &Stack,
    execution: &str,
    crash: Option<(&str, &str)>,
) -> (Value, BTreeMap<String, Value>) {
    let crashed = std::cell::Cell::new(false);
    let invoke = |event: Value| -> Value {
        let args = ["step", "--event", &event.to_string()];
        if let Some((step, failpoint)) = crash
            && event["step"] == step
            && !crashed.replace(true)
        {
            let o = s.raw_env(&args, &[SMALL_PARTS, ("DEKIT_FAILPOINT", failpoint)]);
            assert_eq!(
                o.status.code(),
                Some(137),
                "{failpoint} not reached: {}",
                out(&o)
            );
        }
        let o = s.raw_env(&args, &[SMALL_PARTS]);
        assert!(o.status.success(), "{event}: {}", out(&o));
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", out(&o)))
    };
    let done = execute_with(&s.file(), execution, invoke);
    assert_eq!(crash.is_some(), crashed.get(), "the crash was not made");
    done
}

/// `execute_deployed` with another way to invoke a step (the deployed function itself).
fn execute_with(
    file: &str,
    execution: &str,
    invoke: impl Fn(Value) -> Value,
) -> (Value, BTreeMap<String, Value>) {
    execute_input(file, execution, &serde_json::json!({}), invoke)
}

/// `execute_with` for an execution started with `input` (a run to resume, say).
fn execute_input(
    file: &str,
    execution: &str,
    input: &Value,
    invoke: impl Fn(Value) -> Value,
) -> (Value, BTreeMap<String, Value>) {
    let started = chrono::Utc::now().to_rfc3339();
    let mut answers = BTreeMap::new();
    for level in deployed_levels(file) {
        for step in level {
            let event = serde_json::json!({
                "action": "step", "step": step, "execution": execution, "started": started,
                "input": input,
            });
            let mut answer = invoke(event.clone());
            while answer["more"] == true {
                answer = invoke(event.clone());
            }
            answers.insert(step, answer);
        }
    }
    let finish = invoke(serde_json::json!({
        "action": "finish", "execution": execution, "started": started, "input": input,
    }));
    (finish, answers)
}

/// The lake's run manifest a deployed execution wrote (the newest).
fn last_manifest(s: &Stack) -> Value {
    let lake = bucket(s);
    // The one that finished last, not the last listed: run ids of one second sort by suffix.
    objects(&lake, "_dekit/runs/")
        .values()
        .map(|body| serde_json::from_slice::<Value>(body).unwrap())
        .max_by_key(|m| {
            chrono::DateTime::parse_from_rfc3339(m["finished_at"].as_str().unwrap()).unwrap()
        })
        .expect("a run manifest")
}

/// The deployed steps connect to a database source with what its secret holds (`apply` wrote
/// it; the step runtime's environment has no `${env.*}` of the stack): a wrong password fails
/// the source's step and skips its load, the password never shown; after `apply` with the
/// right one, the resumed execution loads exactly the sample.
#[test]
fn deployed_steps_read_the_source_secret_and_resume_after_a_wrong_password() {
    let _c = cloud();
    let scope = Scope::new("deppw");
    let s = Stack::new(&scope);
    s.ok(&["apply"]);
    s.ok(&["run", "--select", "shop_db"]); // the sample seeded into the local PostgreSQL
    let (port, password) = dekit::run::sources::local_postgres().unwrap();
    s.edit(|t| {
        t.replace("    local_sources: true\n", "")
            .replace("    port: 5432\n", &format!("    port: {port}\n"))
            .replace("    user: dekit_reader\n", "    user: dekit\n")
    });
    let wrong = "not-the-password-4711";
    let apply = |pw: &str| {
        let o = s.raw_env(
            &["apply", "--auto-approve"],
            &[("SHOP_DB_HOST", "127.0.0.1"), ("SHOP_DB_PASSWORD", pw)],
        );
        assert!(o.status.success(), "{}", out(&o));
    };
    apply(wrong);
    let lake = bucket(&s);
    // Executions as the state machine makes them, through `dekit step` without the stack's
    // variables; the password never shown.
    let invoke = |event: Value| -> Value {
        let o = s.raw(&["step", "--event", &event.to_string()]);
        assert!(o.status.success(), "{event}: {}", out(&o));
        assert!(
            !out(&o).contains(wrong),
            "the password was shown: {}",
            out(&o)
        );
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let execute = |execution: &str, input: Value| -> (Value, Value) {
        let (finish, _) = execute_input(&s.file(), execution, &input, invoke);
        (finish, last_manifest(&s))
    };
    let (finish, failed) = execute("pw-1", serde_json::json!({}));
    assert_eq!(finish["ok"], false, "{finish}");
    let source = step(&failed, "source.shop_db");
    assert_eq!(source["status"], "failed", "{failed}");
    assert!(
        source["error"]
            .as_str()
            .unwrap()
            .contains("password authentication failed"),
        "{source}"
    );
    assert_eq!(step(&failed, "ingest.shop_tables")["status"], "skipped");
    assert!(
        objects(&lake, "raw/shop/").is_empty(),
        "loaded with a wrong password"
    );
    // Fixed: the secret holds the right password; the resumed execution runs what did not
    // succeed and loads every table exactly.
    apply(&password);
    let resume = serde_json::json!({ "resume": failed["run_id"] });
    let (finish, resumed) = execute("pw-2", resume);
    assert_eq!(finish["ok"], true, "{finish}");
    assert_eq!(resumed["resumed_from"], failed["run_id"]);
    assert_eq!(step(&resumed, "ingest.shop_tables")["status"], "succeeded");
    for t in RAW_TABLES {
        let rows = parquet_rows(&lake, &format!("raw/shop/{t}/"));
        assert_eq!(count(&rows), sample_rows(t), "rows of {t}");
    }
    s.ok(&["destroy", "--force-delete-data"]);
}

/// A load longer than one invocation may run: each invocation commits a bounded range
/// (`orchestration.rows_per_invocation`) and answers that more follow, and the state machine on
/// the local cloud invokes it again until none do; a million rows land exactly once, and the
/// step's record counts them all.
#[test]
fn orchestrated_long_load_commits_ranges_until_done() {
    let _c = cloud();
    let scope = Scope::new("ranges");
    let s = Stack::new(&scope);
    s.edit(|t| format!("{t}\norchestration:\n  rows_per_invocation: 250000\n  retries: 0\n"));
    s.ok(&["apply"]);
    // The source database seeded with the sample, then a million more orders.
    s.ok(&["run", "--select", "shop_db"]);
    s.sql(
        "INSERT INTO orders SELECT 1000 + g, 1 + g % 50, 'placed', timestamp '2026-01-01' + g * interval '1 second' \
         FROM generate_series(1, 1000000) g",
    );
    let expected = sample_rows("orders") + 1_000_000;
    // An execution of the deployed pipeline: Step Functions invokes dekit on Lambda.
    let o = s.raw(&["run", "--deployed", "--json"]);
    assert!(o.status.success(), "{}", out(&o));
    let m: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", out(&o)));
    let load = step(&m, "ingest.shop_tables");
    assert_eq!(load["status"], "succeeded", "{load}");
    assert_eq!(load["by_table"]["orders"], expected, "{load}");
    // 1,000,150 orders in ranges of 250,000: five invocations, four of them answering `more`.
    let ranges = load["notes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n.as_str().unwrap().contains("a range committed"))
        .count();
    assert_eq!(ranges, 4, "{load}");
    assert!(load.get("more").is_none(), "{load}");
    let lake = bucket(&s);
    assert_eq!(distinct_orders(&lake), expected);
    assert!(objects(&lake, "_dekit/partial/").is_empty());
    s.ok(&["destroy", "--force-delete-data"]);
}

#[test]
fn deployed_steps_load_what_dekit_run_loads_and_gate_on_failures() {
    let _c = cloud();
    let (scope, beside) = (Scope::new("deployed"), Scope::new("deplocal"));
    // The same stack run by `dekit run` ...
    let local = Stack::new(&beside);
    local.ok(&["apply"]);
    local.ok(&["produce", "clickstream"]);
    let (m, ok) = run(&local, &[]);
    assert!(ok, "{m}");
    // ... and by the deployed pipeline's step runtime, one invocation per step.
    let s = Stack::new(&scope);
    s.ok(&["apply"]);
    s.ok(&["produce", "clickstream"]);
    // Its load of the shop's tables killed after a part was written, before it was committed:
    // the retried invocation loads every row once.
    let crash =
        cfg!(feature = "failpoints").then_some(("ingest.shop_tables", "batch.after_part@orders"));
    let (finish, answers) = execute_crashing(&s, "exec-1", crash);
    assert_eq!(finish["ok"], true, "{finish} {answers:?}");
    let manifest = last_manifest(&s);
    let lake = bucket(&s);
    for t in RAW_TABLES {
        let rows = parquet_rows(&lake, &format!("raw/shop/{t}/"));
        assert_eq!(count(&rows), sample_rows(t), "rows of {t}");
    }
    assert_eq!(
        event_ids(&json_lines(&lake, "raw/clickstream/")),
        sample_events()
    );
    // Every step's rows as `dekit run` counted them; quality steps ran their checks (gates).
    for r in m["steps"].as_array().unwrap() {
        let name = r["step"].as_str().unwrap();
        let deployed = step(&manifest, name);
        if name.starts_with("quality.") {
            assert_eq!(deployed["status"], "succeeded", "{deployed}");
            continue;
        }
        if crash.is_some_and(|(crashed, _)| crashed == name) {
            // Rows are counted per invocation: the tables the killed one had committed are not
            // counted again by the retry (the lake holds each row once, above); the table it
            // was killed in, and those after it, are counted whole.
            assert_eq!(deployed["status"], "succeeded", "{deployed}");
            for t in ["orders", "order_items"] {
                assert_eq!(
                    deployed["by_table"][t], r["by_table"][t],
                    "{t}: {deployed} vs {r}"
                );
            }
            continue;
        }
        assert_eq!(deployed["status"], r["status"], "{name}: {deployed} vs {r}");
        assert_eq!(deployed["rows"], r["rows"], "{name}: {deployed} vs {r}");
    }
    for model in ["fact_orders", "dim_customers", "ml_product_features"] {
        let sql = format!("SELECT count(*) AS n FROM {model}");
        assert_eq!(s.query(&sql), local.query(&sql), "{model}");
    }
    // A second execution with no new data writes no data object.
    let before = objects(&lake, "raw/");
    let (finish, _) = execute_deployed(&s, "exec-2");
    assert_eq!(finish["ok"], true, "{finish}");
    assert_eq!(objects(&lake, "raw/"), before);
    assert_eq!(step(&last_manifest(&s), "ingest.shop_tables")["objects"], 0);

    // A model failing at run time: its dependents are skipped, the branches beside it run,
    // and the run fails naming it.
    let model = s.dir.join("models/dim_products.sql");
    let sql = std::fs::read_to_string(&model).unwrap();
    std::fs::write(
        &model,
        format!(
            "SELECT * FROM ({}) p WHERE 1 / 0 = 1",
            sql.trim().trim_end_matches(';')
        ),
    )
    .unwrap();
    let (finish, answers) = execute_deployed(&s, "exec-3");
    assert_eq!(finish["ok"], false, "{finish}");
    let message = finish["message"].as_str().unwrap();
    assert!(message.contains("transform.dim_products"), "{message}");
    let manifest = last_manifest(&s);
    assert_eq!(
        step(&manifest, "transform.dim_products")["status"],
        "failed"
    );
    assert_eq!(
        step(&manifest, "transform.ml_product_features")["status"],
        "skipped"
    );
    assert_eq!(
        step(&manifest, "export.product_features")["status"],
        "skipped"
    );
    assert_eq!(
        step(&manifest, "transform.fact_orders")["status"],
        "succeeded",
        "{manifest:#}"
    );
    // The checks of fact_orders compare with dim_products: they wait for it, and the view
    // behind them is not served from data its gate did not pass.
    assert_eq!(step(&manifest, "quality.fact_orders")["status"], "skipped");
    assert_eq!(
        step(&manifest, "serve.sales_by_month_country")["status"],
        "skipped"
    );
    assert_eq!(
        step(&manifest, "transform.dim_customers")["status"],
        "succeeded"
    );
    assert!(
        answers["transform.ml_product_features"]["message"]
            .as_str()
            .unwrap()
            .contains("skipped"),
        "{answers:?}"
    );
    local.ok(&["destroy", "--force-delete-data"]);
    s.ok(&["destroy", "--force-delete-data"]);
}

/// The step runtime deployed: `apply` creates the function (dekit as `bootstrap`, the stack in
/// its package), and invocations of the function itself, through Lambda's API on the local
/// cloud, load the lake exactly as `dekit run` does.
#[test]
fn orchestrated_function_runs_the_steps() {
    let c = cloud();
    let scope = Scope::new("lambda");
    let s = Stack::new(&scope);
    s.edit(|t| format!("{t}\norchestration:\n  step_timeout_seconds: 300\n  memory_mb: 1024\n"));
    s.ok(&["apply"]);
    s.ok(&["produce", "clickstream"]);
    let function = format!("{}-local-steps", s.name);
    let invoke = |event: Value| -> Value {
        let out =
            c.rt.block_on(
                c.clients
                    .lambda
                    .invoke()
                    .function_name(&function)
                    .payload(aws_smithy_types::Blob::new(event.to_string()))
                    .send(),
            )
            .unwrap_or_else(|e| panic!("invoking {function}: {e:?}"));
        let body = out
            .payload()
            .map(|p| p.as_ref().to_vec())
            .unwrap_or_default();
        assert!(
            out.function_error().is_none(),
            "{event}: the function failed: {}",
            String::from_utf8_lossy(&body)
        );
        serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&body)))
    };
    let (finish, answers) = execute_with(&s.file(), "lambda-1", invoke);
    assert_eq!(finish["ok"], true, "{finish} {answers:?}");
    let lake = bucket(&s);
    for t in RAW_TABLES {
        let rows = parquet_rows(&lake, &format!("raw/shop/{t}/"));
        assert_eq!(count(&rows), sample_rows(t), "rows of {t}");
    }
    assert_eq!(
        event_ids(&json_lines(&lake, "raw/clickstream/")),
        sample_events()
    );
    let manifest = last_manifest(&s);
    assert_eq!(
        step(&manifest, "ingest.shop_tables")["rows"]
            .as_u64()
            .unwrap() as usize,
        RAW_TABLES.iter().map(|t| sample_rows(t)).sum::<usize>()
    );
    // The plan after apply is empty: the function reads back as it was deployed.
    let plan = s.ok(&["plan"]);
    assert!(plan.contains("No changes"), "{plan}");
    // A changed model is a new package: an update of the function's code.
    let model = s.dir.join("models/dim_products.sql");
    let sql = std::fs::read_to_string(&model).unwrap();
    std::fs::write(&model, format!("{sql}\n")).unwrap();
    let plan = s.ok(&["plan"]);
    assert!(
        plan.contains("lambda_function.steps will be updated in-place")
            && plan.contains("package_sha256"),
        "{plan}"
    );
    s.ok(&["destroy", "--force-delete-data"]);
}

/// The platform runs itself: `apply` deploys the schedule, the state machine and the step
/// runtime; the schedule fires, the execution succeeds, and the lake holds what `dekit run`
/// would have written.
#[test]
fn orchestrated_schedule_starts_the_pipeline_and_the_execution_loads_the_lake() {
    let c = cloud();
    let scope = Scope::new("schedule");
    let s = Stack::new(&scope);
    s.edit(|t| {
        format!("{t}\norchestration:\n  schedule: rate(1 minute)\n  step_timeout_seconds: 300\n")
    });
    s.ok(&["apply"]);
    let plan = s.ok(&["plan"]);
    assert!(plan.contains("No changes"), "read back as deployed: {plan}");
    s.ok(&["produce", "clickstream"]);
    let machine = format!(
        "arn:aws:states:us-east-1:000000000000:stateMachine:{}-local-pipeline",
        s.name
    );
    // Scheduler fires a one-minute rate within about 90 s of its creation.
    let began = std::time::Instant::now();
    let execution = loop {
        let listed =
            c.rt.block_on(
                c.clients
                    .sfn
                    .list_executions()
                    .state_machine_arn(&machine)
                    .send(),
            )
            .expect("list executions");
        let done = listed
            .executions()
            .iter()
            .find(|e| e.status() != &aws_sdk_sfn::types::ExecutionStatus::Running);
        if let Some(e) = done {
            break e.clone();
        }
        assert!(
            began.elapsed() < std::time::Duration::from_secs(240),
            "no execution finished within 240 s: {:?}",
            listed.executions()
        );
        std::thread::sleep(std::time::Duration::from_secs(5));
    };
    let history =
        c.rt.block_on(
            c.clients
                .sfn
                .describe_execution()
                .execution_arn(execution.execution_arn())
                .send(),
        )
        .expect("describe execution");
    assert_eq!(
        execution.status(),
        &aws_sdk_sfn::types::ExecutionStatus::Succeeded,
        "{history:?}"
    );
    let lake = bucket(&s);
    for t in RAW_TABLES {
        let rows = parquet_rows(&lake, &format!("raw/shop/{t}/"));
        assert_eq!(count(&rows), sample_rows(t), "rows of {t}");
    }
    assert_eq!(
        event_ids(&json_lines(&lake, "raw/clickstream/")),
        sample_events()
    );
    let manifest = last_manifest(&s);
    for r in manifest["steps"].as_array().unwrap() {
        assert_eq!(r["status"], "succeeded", "{r}");
    }
    // A model added to the stack is an update of the state machine (and of the function's
    // package, which carries the stack).
    s.edit(|t| {
        t.replace(
            "transforms:\n",
            "transforms:\n  dim_products_copy:\n    sql: models/dim_products.sql\n    zone: curated\n",
        )
    });
    let plan = s.ok(&["plan"]);
    assert!(
        plan.contains("sfn_state_machine.pipeline will be updated in-place"),
        "{plan}"
    );
    s.ok(&["destroy", "--force-delete-data"]);
}

/// A step failing in a deployed execution: the execution fails at it, what depends on it does
/// not run, the branches beside it do, the on-call's queue (subscribed to the `notify:` topic)
/// hears which step and why, and the manifest says so; fixed and applied, the next execution
/// succeeds.
#[test]
fn orchestrated_failing_step_fails_the_execution_and_tells_the_topic() {
    let c = cloud();
    let scope = Scope::new("sfnfail");
    let s = Stack::new(&scope);
    s.edit(|t| {
        format!("{t}\norchestration:\n  notify: [oncall]\n  retries: 0\n").replace(
            "observe:\n  alarms:\n",
            "observe:\n  topics:\n    oncall:\n      description: Pages the data on-call\n  alarms:\n",
        )
    });
    let model = s.dir.join("models/dim_products.sql");
    let good = std::fs::read_to_string(&model).unwrap();
    let broken = format!(
        "SELECT * FROM ({}) p WHERE 1 / 0 = 1",
        good.trim().trim_end_matches(';')
    );
    std::fs::write(&model, &broken).unwrap();
    s.ok(&["apply"]);
    let topic = format!("arn:aws:sns:us-east-1:000000000000:{}-local-oncall", s.name);
    let q = sqs();
    let url =
        c.rt.block_on(
            q.create_queue()
                .queue_name(format!("{}-pager", s.name))
                .send(),
        )
        .expect("CreateQueue")
        .queue_url()
        .unwrap()
        .to_string();
    let queue_arn = format!("arn:aws:sqs:us-east-1:000000000000:{}-pager", s.name);
    c.rt.block_on(
        c.clients
            .sns
            .subscribe()
            .topic_arn(&topic)
            .protocol("sqs")
            .endpoint(&queue_arn)
            .send(),
    )
    .expect("Subscribe");
    let machine = format!(
        "arn:aws:states:us-east-1:000000000000:stateMachine:{}-local-pipeline",
        s.name
    );
    let run = |name: &str| -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
        let started =
            c.rt.block_on(
                c.clients
                    .sfn
                    .start_execution()
                    .state_machine_arn(&machine)
                    .name(name)
                    .input("{}")
                    .send(),
            )
            .expect("StartExecution");
        let began = std::time::Instant::now();
        loop {
            let d =
                c.rt.block_on(
                    c.clients
                        .sfn
                        .describe_execution()
                        .execution_arn(started.execution_arn())
                        .send(),
                )
                .expect("DescribeExecution");
            if d.status() != &aws_sdk_sfn::types::ExecutionStatus::Running {
                return d;
            }
            assert!(
                began.elapsed().as_secs() < 240,
                "{name} still running: {d:?}"
            );
            std::thread::sleep(std::time::Duration::from_secs(2));
        }
    };
    let failed = run("broken");
    assert_eq!(
        failed.status(),
        &aws_sdk_sfn::types::ExecutionStatus::Failed,
        "{failed:?}"
    );
    assert_eq!(failed.error(), Some("StepsFailed"), "{failed:?}");
    let manifest = last_manifest(&s);
    assert_eq!(
        step(&manifest, "transform.dim_products")["status"],
        "failed"
    );
    assert!(
        step(&manifest, "transform.dim_products")["error"]
            .as_str()
            .unwrap()
            .contains("Divide by zero"),
        "{manifest}"
    );
    assert_eq!(
        step(&manifest, "transform.ml_product_features")["status"],
        "skipped"
    );
    assert_eq!(
        step(&manifest, "transform.fact_orders")["status"],
        "succeeded"
    );
    // The checks of fact_orders compare with dim_products: they wait for it, and the view
    // behind them is not served from data its gate did not pass.
    assert_eq!(step(&manifest, "quality.fact_orders")["status"], "skipped");
    assert_eq!(
        step(&manifest, "serve.sales_by_month_country")["status"],
        "skipped"
    );
    assert_eq!(
        step(&manifest, "transform.dim_customers")["status"],
        "succeeded"
    );
    // `observe` lists the execution, its status and the step that failed.
    let o = s.raw(&["observe", "--json"]);
    assert!(o.status.success(), "{}", out(&o));
    let seen: Value = serde_json::from_slice(&o.stdout).unwrap();
    let listed = seen["executions"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["name"] == "broken"))
        .unwrap_or_else(|| panic!("no execution `broken` in {seen:#}"));
    assert_eq!(listed["status"], "FAILED", "{listed}");
    assert_eq!(listed["run_id"], manifest["run_id"], "{listed}");
    let failed_steps: Vec<&str> = listed["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(
        failed_steps.len() == 1 && failed_steps[0].starts_with("transform.dim_products ("),
        "{listed}"
    );
    let o = s.raw(&["observe"]);
    assert!(
        out(&o).contains("Pipeline executions") && out(&o).contains("broken  FAILED"),
        "{}",
        out(&o)
    );
    let heard = receive(&q, &url, 20);
    assert_eq!(heard.len(), 1, "{heard:?}");
    let message = heard[0]["Message"].as_str().unwrap();
    assert!(
        message.contains("transform.dim_products") && message.contains("failed"),
        "{message}"
    );
    // Fixed and applied (a new package for the step runtime): `dekit run --deployed --resume`
    // starts an execution that runs only what did not succeed in the failed one, follows it
    // step by step, and exits 0 with the run's manifest.
    let failed_run = manifest["run_id"].as_str().unwrap().to_string();
    let o = s.raw(&["run", "--deployed", "--resume", "no-such-run"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(
        out(&o).contains("no run `no-such-run` to resume"),
        "{}",
        out(&o)
    );
    std::fs::write(&model, &good).unwrap();
    s.ok(&["apply"]);
    let o = s.raw(&["run", "--deployed", "--resume", &failed_run, "--json"]);
    assert!(o.status.success(), "{}", out(&o));
    let m: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", out(&o)));
    assert_eq!(m["resumed_from"], failed_run.as_str());
    let ran: Vec<&str> = m["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["status"], "succeeded", "{r}");
            r["step"].as_str().unwrap()
        })
        .collect();
    let not_succeeded: Vec<&str> = manifest["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] != "succeeded")
        .map(|r| r["step"].as_str().unwrap())
        .collect();
    assert_eq!(ran, not_succeeded, "{m}");
    // Exact: the rebuilt dimension holds every product once, and what succeeded before (the
    // loads, fact_orders) was not loaded or built again.
    assert_eq!(
        step(&m, "transform.dim_products")["rows"],
        s.query("SELECT count(DISTINCT product_id) AS n FROM products")[0]["n"]
    );
    let orders = s.query("SELECT count(*) AS n FROM fact_orders")[0]["n"].clone();
    assert_eq!(orders, step(&manifest, "transform.fact_orders")["rows"]);
    let followed = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(
        followed.contains("started (run ")
            && followed.contains("transform.ml_product_features: done")
            && !followed.contains("transform.fact_orders:"),
        "{followed}"
    );
    // Broken again: it exits 1 and says which step failed.
    std::fs::write(&model, &broken).unwrap();
    s.ok(&["apply"]);
    let o = s.raw(&["run", "--deployed"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(
        out(&o).contains("transform.dim_products: failed"),
        "{}",
        out(&o)
    );
    s.ok(&["destroy", "--force-delete-data"]);
}

/// Retail plus a model of product scores (`latest_scores`, its rows in its SQL) and a database
/// export of it: into `to` (a database source), table `product_scores`, keyed by `product_key`,
/// in `mode`.
fn with_score_export(s: &Stack, to: &str, mode: &str) {
    s.edit(|t| {
        t.replacen(
            "\ntransforms:\n",
            "\ntransforms:\n  latest_scores:\n    sql: models/latest_scores.sql\n    zone: curated\n",
            1,
        )
        .replacen(
            "  exports:\n",
            &format!("  exports:\n    scores_out:\n      from: latest_scores\n      to: {to}\n      table: product_scores\n      key: [product_key]\n      mode: {mode}\n"),
            1,
        )
    });
}

/// The model's rows: (product_key, score, label).
fn write_scores(s: &Stack, rows: &[(i64, &str, &str)]) {
    let values: Vec<String> = rows
        .iter()
        .map(|(k, score, label)| format!("({k}, cast('{score}' as decimal(6,3)), '{label}')"))
        .collect();
    std::fs::write(
        s.dir.join("models/latest_scores.sql"),
        format!(
            "select product_key, score, label from (values {}) as t(product_key, score, label)",
            values.join(", ")
        ),
    )
    .unwrap();
}

/// `run --select +scores_out --json`: the export step's record, and whether the run succeeded.
fn export_scores(s: &Stack, env: &[(&str, &str)]) -> (Value, bool) {
    let o = s.raw_env(&["run", "--select", "+scores_out", "--json"], env);
    let m: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("run printed no manifest ({e}):\n{}", out(&o)));
    (step(&m, "export.scores_out").clone(), o.status.success())
}

/// `dekit test --select latest_scores`: its exit as expected, and the export's reconciliation.
fn export_reconciled(s: &Stack, env: &[(&str, &str)], to: &str, passes: bool) -> Value {
    let o = s.raw_env(&["test", "--select", "latest_scores", "--json"], env);
    assert_eq!(o.status.success(), passes, "{}", out(&o));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    let name = format!("latest_scores.reconcile(export scores_out -> {to}.product_scores)");
    outcome(&report, &name).clone()
}

fn pg_rows(s: &Stack, sql: &str) -> Vec<Vec<String>> {
    let c = dekit::run::sources::local_conn("test", &s.db()).unwrap();
    cloud().rt.block_on(async {
        let client = dekit::run::sources::connect(&c, None).await.unwrap();
        client
            .query(sql, &[])
            .await
            .unwrap()
            .iter()
            .map(|r| (0..r.len()).map(|i| r.get::<_, String>(i)).collect())
            .collect()
    })
}

const SCORES: [(i64, &str, &str); 3] = [
    (1, "0.500", "low"),
    (2, "0.750", "mid"),
    (3, "0.990", "top"),
];

#[test]
fn a_database_export_upserts_by_key_and_a_rerun_changes_nothing() {
    let _c = cloud();
    let scope = Scope::new("exportpg");
    let s = Stack::new(&scope);
    with_score_export(&s, "shop_db", "upsert");
    write_scores(&s, &SCORES);
    s.ok(&["apply"]);
    let table = "SELECT product_key::text, score::text, label FROM product_scores ORDER BY 1";
    let versions = "SELECT product_key::text, xmin::text FROM product_scores ORDER BY 1";

    // First run: the table is created with the model's types, every row inserted.
    let (st, ok) = export_scores(&s, &[]);
    assert!(ok, "{st}");
    assert!(
        st["notes"][0]
            .as_str()
            .unwrap()
            .contains("3 inserted, 0 updated, 0 deleted, 0 rejected"),
        "{st}"
    );
    let want: Vec<Vec<String>> = SCORES
        .iter()
        .map(|(k, sc, l)| vec![k.to_string(), sc.to_string(), l.to_string()])
        .collect();
    assert_eq!(pg_rows(&s, table), want);
    let types = pg_rows(
        &s,
        "SELECT column_name::text, data_type::text FROM information_schema.columns WHERE table_name = 'product_scores' ORDER BY ordinal_position",
    );
    // `dekit test` reconciles the export: the model's rows, all in the target after the commit.
    let rec = export_reconciled(&s, &[], "shop_db", true);
    assert_eq!(rec["verdict"], "pass", "{rec}");
    assert!(
        rec["message"]
            .as_str()
            .unwrap()
            .contains("3 rows, 3 inserted"),
        "{rec}"
    );
    assert_eq!(
        types,
        [
            ["product_key", "bigint"],
            ["score", "numeric"],
            ["label", "text"]
        ]
    );

    // Unchanged: no statement that changes a row (each row's version is the same).
    let before = pg_rows(&s, versions);
    let (st, ok) = export_scores(&s, &[]);
    assert!(
        ok && st["notes"][0].as_str().unwrap().contains("unchanged"),
        "{st}"
    );
    assert_eq!(pg_rows(&s, versions), before);

    // One row changed: exactly that row is updated.
    write_scores(&s, &[SCORES[0], (2, "0.800", "high"), SCORES[2]]);
    let (st, ok) = export_scores(&s, &[]);
    assert!(ok, "{st}");
    assert!(
        st["notes"][0]
            .as_str()
            .unwrap()
            .contains("0 inserted, 1 updated, 0 deleted"),
        "{st}"
    );
    let after = pg_rows(&s, versions);
    assert_eq!(after[0], before[0]);
    assert_ne!(after[1], before[1]);
    assert_eq!(after[2], before[2]);
    assert_eq!(pg_rows(&s, table)[1], ["2", "0.800", "high"]);

    // upsert_delete: a key that left the model is deleted.
    s.edit(|t| t.replace("      mode: upsert\n", "      mode: upsert_delete\n"));
    write_scores(&s, &[SCORES[0], (2, "0.800", "high")]);
    let (st, ok) = export_scores(&s, &[]);
    assert!(ok, "{st}");
    assert!(
        st["notes"][0]
            .as_str()
            .unwrap()
            .contains("0 inserted, 0 updated, 1 deleted"),
        "{st}"
    );
    assert_eq!(pg_rows(&s, table).len(), 2);

    // A row the table refuses (a label too long for its column) goes to the error prefix with its
    // key and the database's error; with --max-bad-rows 0 nothing is written.
    s.sql("ALTER TABLE product_scores ALTER COLUMN label TYPE varchar(4)");
    write_scores(&s, &[(1, "0.600", "low"), (2, "0.800", "highest")]);
    let (st, ok) = export_scores(&s, &[]);
    assert!(!ok, "{st}");
    let err = st["error"].as_str().unwrap();
    assert!(
        err.contains("1 rows refused") && err.contains("nothing was written"),
        "{err}"
    );
    assert_eq!(
        pg_rows(&s, table)[0],
        ["1", "0.500", "low"],
        "a refused export wrote"
    );
    let lake = bucket(&s);
    let refused = json_lines(&lake, "curated/errors/exports/scores_out/");
    let refused = if refused.is_empty() {
        json_lines(&lake, "raw/errors/exports/scores_out/")
    } else {
        refused
    };
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["key"], "product_key = 2");
    assert!(
        refused[0]["error"].as_str().unwrap().contains("too long"),
        "{}",
        refused[0]
    );

    // A type that does not fit an existing column: a clear error naming it, nothing written.
    s.sql("ALTER TABLE product_scores ALTER COLUMN label TYPE integer USING 0");
    let (st, ok) = export_scores(&s, &[]);
    assert!(!ok);
    let err = st["error"].as_str().unwrap();
    assert!(
        err.contains("column `label` is text in the model but integer"),
        "{err}"
    );
    s.ok(&["destroy", "--force-delete-data"]);
}

#[test]
fn a_replacing_export_is_never_seen_half_written() {
    let _c = cloud();
    let scope = Scope::new("exportswap");
    let s = Stack::new(&scope);
    with_score_export(&s, "shop_db", "replace");
    let many = |n: i64, label: &'static str| -> Vec<(i64, String, &'static str)> {
        (1..=n)
            .map(|k| (k, format!("{}.{:03}", k % 100, k % 1000), label))
            .collect()
    };
    let first = many(60_000, "a");
    let rows: Vec<(i64, &str, &str)> = first.iter().map(|(k, s, l)| (*k, s.as_str(), *l)).collect();
    write_scores(&s, &rows);
    s.ok(&["apply"]);
    assert!(export_scores(&s, &[]).1);
    // Replaced by 40,000 other rows while a reader counts: it sees all of one or of the other.
    let second = many(40_000, "b");
    let rows: Vec<(i64, &str, &str)> = second
        .iter()
        .map(|(k, s, l)| (*k, s.as_str(), *l))
        .collect();
    write_scores(&s, &rows);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (flag, db) = (stop.clone(), s.db());
    let reader = std::thread::spawn(move || {
        let c = dekit::run::sources::local_conn("test", &db).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let client = dekit::run::sources::connect(&c, None).await.unwrap();
            let mut seen = std::collections::BTreeSet::new();
            // Until told to stop, and once more after: the last look is after the commit.
            loop {
                let last = flag.load(std::sync::atomic::Ordering::SeqCst);
                let r = client
                    .query_one(
                        "SELECT count(*), count(*) FILTER (WHERE label = 'a') FROM product_scores",
                        &[],
                    )
                    .await
                    .unwrap();
                seen.insert((r.get::<_, i64>(0), r.get::<_, i64>(1)));
                if last {
                    break;
                }
            }
            seen
        })
    });
    let (st, ok) = export_scores(&s, &[]);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen = reader.join().unwrap();
    assert!(ok, "{st}");
    assert!(
        st["notes"][0]
            .as_str()
            .unwrap()
            .contains("40000 inserted, 0 updated, 60000 deleted"),
        "{st}"
    );
    assert!(
        seen.iter()
            .all(|s| *s == (60_000, 60_000) || *s == (40_000, 0)),
        "a reader saw a partial table: {seen:?}"
    );
    // It looked before the commit and after it.
    assert!(
        seen.contains(&(60_000, 60_000)) && seen.contains(&(40_000, 0)),
        "{seen:?}"
    );
    s.ok(&["destroy", "--force-delete-data"]);
}

#[test]
fn a_database_export_into_mariadb_upserts_and_deletes_by_key() {
    let _c = cloud();
    let scope = Scope::new("exportmy");
    let s = Stack::new(&scope);
    let my = MariaDb::new(&s.name);
    my.sql("CREATE TABLE customers (customerNumber INT PRIMARY KEY); CREATE TABLE payments (checkNumber VARCHAR(50))");
    let vars = my.add_to(
        &s,
        "  crm_customers:\n    zone: raw\n    from: crm_load\n    source_table: customers\n    columns:\n      customerNumber: int\n",
    );
    let env: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    with_score_export(&s, "crm", "upsert_delete");
    write_scores(&s, &SCORES);
    let o = s.raw_env(&["apply", "--auto-approve"], &env);
    assert!(o.status.success(), "{}", out(&o));
    let rows = || -> Vec<(i64, String, String)> {
        cloud().rt.block_on(async {
            use mysql_async::prelude::Queryable;
            let mut c = my.conn.mysql().await.unwrap();
            c.query("SELECT product_key, CAST(score AS CHAR), label FROM product_scores ORDER BY 1")
                .await
                .unwrap()
        })
    };
    let (st, ok) = export_scores(&s, &env);
    assert!(ok, "{st}");
    assert!(
        st["notes"][0]
            .as_str()
            .unwrap()
            .contains("3 inserted, 0 updated, 0 deleted"),
        "{st}"
    );
    assert_eq!(rows()[2], (3, "0.990".to_string(), "top".to_string()));
    let (st, ok) = export_scores(&s, &env);
    assert!(
        ok && st["notes"][0].as_str().unwrap().contains("unchanged"),
        "{st}"
    );
    write_scores(&s, &[SCORES[0], (2, "0.800", "high")]);
    let (st, ok) = export_scores(&s, &env);
    assert!(ok, "{st}");
    assert!(
        st["notes"][0]
            .as_str()
            .unwrap()
            .contains("0 inserted, 1 updated, 1 deleted"),
        "{st}"
    );
    assert_eq!(
        rows(),
        [
            (1, "0.500".to_string(), "low".to_string()),
            (2, "0.800".to_string(), "high".to_string())
        ]
    );

    // The model rebuilt without its export: `dekit test` says the target is behind.
    write_scores(&s, &SCORES);
    let o = s.raw_env(&["run", "--select", "latest_scores"], &env);
    assert!(o.status.success(), "{}", out(&o));
    let rec = export_reconciled(&s, &env, "crm", false);
    assert_eq!(rec["verdict"], "fail", "{rec}");
    assert!(
        rec["message"]
            .as_str()
            .unwrap()
            .contains("has 3 rows now, the last export wrote 2"),
        "{rec}"
    );
    s.ok(&["destroy", "--force-delete-data"]);
}

/// An API that takes rows (`POST /scores`, `{"rows": [...]}`) as a flaky, rate-limited service
/// would: it fails every fifth request with a 500, answers the third with a 429 and `Retry-After:
/// 1` once, refuses rows whose label is `bad` (by index, in a 200), and keeps the rows of each
/// idempotency key once. What it received: (arrival, idempotency key, rows) of each accepted
/// request, and every request's arrival.
struct RowsApi {
    url: String,
    accepted: std::sync::Arc<std::sync::Mutex<BTreeMap<String, Vec<Value>>>>,
    arrivals: std::sync::Arc<std::sync::Mutex<Vec<std::time::Instant>>>,
}

fn rows_api() -> RowsApi {
    use std::io::BufReader;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = std::sync::Arc::new(std::sync::Mutex::new(BTreeMap::new()));
    let arrivals = std::sync::Arc::new(std::sync::Mutex::new(vec![]));
    let (acc, arr) = (accepted.clone(), arrivals.clone());
    std::thread::spawn(move || {
        let mut n = 0u32;
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            while let Some(r) = harness::read_request(&mut reader) {
                let (first, key, auth) = (
                    r.line.clone(),
                    r.header("idempotency-key").to_string(),
                    r.header("authorization").to_string(),
                );
                let body = r.body;
                arr.lock().unwrap().push(std::time::Instant::now());
                n += 1;
                let doc: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let (status, extra, answer) = if auth != "Bearer api-secret-9"
                    || !first.starts_with("POST /v1/scores ")
                {
                    ("401 Unauthorized", "", "{}".to_string())
                } else if n == 3 {
                    (
                        "429 Too Many Requests",
                        "Retry-After: 1\r\n",
                        "{}".to_string(),
                    )
                } else if n.is_multiple_of(5) {
                    ("500 Internal Server Error", "", "{}".to_string())
                } else {
                    let rows = doc["rows"].as_array().cloned().unwrap_or_default();
                    let errors: Vec<Value> = rows
                        .iter()
                        .enumerate()
                        .filter(|(_, r)| r["label"] == "bad")
                        .map(|(i, _)| serde_json::json!({ "index": i, "error": "label `bad` is not allowed" }))
                        .collect();
                    let kept: Vec<Value> =
                        rows.into_iter().filter(|r| r["label"] != "bad").collect();
                    acc.lock().unwrap().entry(key.clone()).or_insert(kept);
                    (
                        "200 OK",
                        "",
                        serde_json::json!({ "errors": errors }).to_string(),
                    )
                };
                let resp = format!(
                    "HTTP/1.1 {status}\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{answer}",
                    answer.len()
                );
                if stream.write_all(resp.as_bytes()).is_err() {
                    break;
                }
            }
        }
    });
    RowsApi {
        url,
        accepted,
        arrivals,
    }
}

#[test]
fn an_http_export_delivers_every_row_once_through_failures_and_the_rate_limit() {
    let _c = cloud();
    let scope = Scope::new("exporthttp");
    let s = Stack::new(&scope);
    let api = rows_api();
    s.edit(|t| {
        t.replacen(
            "sources:\n",
            "sources:\n  scores_api:\n    kind: http_api\n    url: ${env.SCORES_API}\n    token: ${env.SCORES_TOKEN}\n",
            1,
        )
    });
    with_score_export(&s, "scores_api", "upsert");
    s.edit(|t| {
        t.replace(
            "      table: product_scores\n      key: [product_key]\n      mode: upsert\n",
            "      path: /v1/scores\n      key: [product_key]\n      batch_size: 7\n      rate_per_second: 10\n",
        )
    });
    let mut rows: Vec<(i64, String, &str)> = (1..=60)
        .map(|k| {
            (
                k,
                format!("0.{:03}", k * 11 % 1000),
                if k == 33 { "bad" } else { "ok" },
            )
        })
        .collect();
    write_scores(
        &s,
        &rows
            .iter()
            .map(|(k, sc, l)| (*k, sc.as_str(), *l))
            .collect::<Vec<_>>(),
    );
    let env = [
        ("SCORES_API", format!("{}/", api.url)),
        ("SCORES_TOKEN", "api-secret-9".to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    s.ok(&["apply"]);
    let o = s.raw_env(
        &[
            "run",
            "--select",
            "+scores_out",
            "--json",
            "--max-bad-rows",
            "1",
        ],
        &env,
    );
    let m: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", out(&o)));
    assert!(o.status.success(), "{}", out(&o));
    let st = step(&m, "export.scores_out");
    let note = st["notes"][0].as_str().unwrap();
    assert!(
        note.contains("60 rows of latest_scores to scores_api/v1/scores in"),
        "{note}"
    );
    assert!(
        note.contains("59 delivered, 1 refused") && note.contains("1 throttled"),
        "{note}"
    );
    assert!(!out(&o).contains("api-secret-9"), "the token was printed");

    // Every row the API accepted, exactly once (it keeps one copy per idempotency key): 9
    // batches of at most 7 rows, through a 429 and every fifth request failing.
    let accepted = api.accepted.lock().unwrap().clone();
    assert_eq!(accepted.len(), 9, "{:?}", accepted.keys());
    let mut keys: Vec<i64> = accepted
        .values()
        .flatten()
        .map(|r| r["product_key"].as_i64().unwrap())
        .collect();
    keys.sort();
    let want: Vec<i64> = (1..=60).filter(|k| *k != 33).collect();
    assert_eq!(keys, want);
    let row5 = accepted
        .values()
        .flatten()
        .find(|r| r["product_key"] == 5)
        .unwrap();
    assert_eq!(row5["score"], "0.055", "{row5}");

    // Paced at 10 requests a second, as the API sees them: any k requests in a row span k/10 s at
    // least, less one request's delay (50 ms). Not each gap ≥ 1/10 s exactly: one request delayed
    // on a busy machine shortens the gap to the next (CI saw 89 ms beside the distribution
    // build); unpaced requests come milliseconds apart, and twice the rate fails at k = 2.
    let arrivals = api.arrivals.lock().unwrap().clone();
    assert!(arrivals.len() > 9, "{}", arrivals.len());
    let interval = std::time::Duration::from_millis(100);
    let delay = std::time::Duration::from_millis(50);
    for i in 0..arrivals.len() {
        for j in i + 1..arrivals.len() {
            let span = arrivals[j] - arrivals[i];
            assert!(
                span + delay >= interval * (j - i) as u32,
                "requests {i} to {j} arrived within {span:?}"
            );
        }
    }

    // The refused row in the error prefix, with its key and the API's reason.
    let lake = bucket(&s);
    let refused = json_lines(&lake, "curated/errors/exports/scores_out/");
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["key"], "product_key = 33");
    assert!(
        refused[0]["error"]
            .as_str()
            .unwrap()
            .contains("not allowed")
    );

    // `dekit test` reconciles it: the rows delivered plus the one refused are the model's.
    let o = s.raw_env(&["test", "--select", "latest_scores", "--json"], &env);
    let report: Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", out(&o)));
    let rec = outcome(
        &report,
        "latest_scores.reconcile(export scores_out -> scores_api/v1/scores)",
    );
    assert_eq!(rec["verdict"], "pass", "{rec}");
    assert!(
        rec["message"]
            .as_str()
            .unwrap()
            .contains("60 rows, 59 inserted"),
        "{rec}"
    );

    // Unchanged: nothing is sent. One row changed: every batch again, under the same keys
    // except the changed one's.
    let sent = api.arrivals.lock().unwrap().len();
    let o = s.raw_env(
        &["run", "--select", "+scores_out", "--max-bad-rows", "1"],
        &env,
    );
    assert!(o.status.success(), "{}", out(&o));
    assert_eq!(api.arrivals.lock().unwrap().len(), sent);
    rows[0].1 = "0.999".into();
    write_scores(
        &s,
        &rows
            .iter()
            .map(|(k, sc, l)| (*k, sc.as_str(), *l))
            .collect::<Vec<_>>(),
    );
    let o = s.raw_env(
        &["run", "--select", "+scores_out", "--max-bad-rows", "1"],
        &env,
    );
    assert!(o.status.success(), "{}", out(&o));
    assert_eq!(api.accepted.lock().unwrap().len(), 10);
    s.ok(&["destroy", "--force-delete-data"]);
}

/// The rows of Parquet parts a converter made.
fn batches_of(parts: Vec<dekit::run::convert::Part>) -> Vec<arrow_array::RecordBatch> {
    parts
        .into_iter()
        .flat_map(|p| {
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
                bytes::Bytes::from(p.bytes),
            )
            .unwrap()
            .build()
            .unwrap()
            .map(|b| b.unwrap())
        })
        .collect()
}

/// Where each bad row was and why.
fn bad_at(s: &dekit::run::convert::Summary) -> Vec<(String, String)> {
    s.bad
        .iter()
        .map(|b| (b.at.clone(), b.error.clone()))
        .collect()
}

/// PostgreSQL's binary COPY, decoded into the declared columns, loads what its text COPY loads
/// through the CSV path (which it replaced): the same rows, the same bad rows and messages,
/// over hostile values of every type a table holds (out-of-range integers, decimals with too
/// many places, NaN and infinities, padded chars, empty strings against NULLs, BC dates,
/// zoned timestamps, and types read as their output text: uuid, jsonb, arrays, inet, enums).
#[test]
fn postgres_binary_copy_loads_what_the_text_copy_loads() {
    use dekit::run::convert::{self, Spec, Summary};
    use dekit::schema::{Column, Kind};
    let c = cloud();
    let (port, password) = dekit::run::sources::local_postgres().unwrap();
    let table = format!("hostile_{}", std::process::id());
    // (column, PostgreSQL type, declared type, values of the 6 rows)
    let columns: &[(&str, &str, &str, [&str; 6])] = &[
        (
            "i2",
            "smallint",
            "tinyint",
            ["1", "-128", "300", "NULL", "0", "32767"],
        ),
        (
            "i4",
            "integer",
            "int",
            ["1", "-2147483648", "2147483647", "NULL", "7", "0"],
        ),
        (
            "i8",
            "bigint",
            "int",
            ["1", "2147483648", "-5", "NULL", "9223372036854775807", "3"],
        ),
        (
            "i8d",
            "bigint",
            "decimal(5,1)",
            ["1", "99999", "-9999", "NULL", "12", "0"],
        ),
        (
            "i8f",
            "bigint",
            "double",
            ["9007199254740993", "-1", "0", "NULL", "5", "2"],
        ),
        (
            "i4s",
            "integer",
            "string",
            ["1", "-2", "0", "NULL", "4", "5"],
        ),
        (
            "i4b",
            "integer",
            "boolean",
            ["1", "0", "2", "NULL", "1", "0"],
        ),
        (
            "f4",
            "real",
            "float",
            ["0.1", "'NaN'", "'Infinity'", "NULL", "-3.5", "1e-30"],
        ),
        (
            "f4d",
            "real",
            "double",
            ["0.1", "1.5", "-0", "NULL", "3.4028235e38", "7"],
        ),
        (
            "f8",
            "double precision",
            "double",
            [
                "0.1",
                "'NaN'",
                "'-Infinity'",
                "NULL",
                "1e-300",
                "0.30000000000000004",
            ],
        ),
        (
            "f8f",
            "double precision",
            "float",
            ["0.1", "1e300", "-2.5", "NULL", "0", "1"],
        ),
        (
            "n",
            "numeric(12,4)",
            "decimal(10,2)",
            ["12.3400", "-0.0100", "1.2345", "NULL", "99999999.99", "0"],
        ),
        (
            "nu",
            "numeric",
            "decimal(38,6)",
            [
                "'NaN'",
                "123456789012345678901234567890.5",
                "-0.000001",
                "NULL",
                "1e-7",
                "42",
            ],
        ),
        (
            "nd",
            "numeric(6,2)",
            "double",
            ["1.10", "-2.50", "0.01", "NULL", "9999.99", "0"],
        ),
        (
            "t",
            "text",
            "string",
            [
                "'plain'",
                "''",
                "'ünïcödé, \"quoted\"'",
                "NULL",
                "E'two\\nlines'",
                "'\\\\'",
            ],
        ),
        // The text COPY's NULL marker as data: CSV quotes it, and the CSV path read it as NULL.
        (
            "marker",
            "text",
            "string",
            ["'\\N'", "NULL", "'N'", "NULL", "'\\N '", "''"],
        ),
        (
            "tn",
            "text",
            "bigint",
            ["'12'", "'x'", "''", "NULL", "' 7'", "'-0'"],
        ),
        (
            "ch",
            "char(5)",
            "string",
            ["'ab'", "''", "'abcde'", "NULL", "' x'", "'z'"],
        ),
        (
            "b",
            "boolean",
            "boolean",
            ["true", "false", "true", "NULL", "false", "true"],
        ),
        (
            "bs",
            "boolean",
            "string",
            ["true", "false", "true", "NULL", "false", "true"],
        ),
        (
            "d",
            "date",
            "date",
            [
                "'2024-02-29'",
                "'infinity'",
                "'0044-03-15 BC'",
                "NULL",
                "'9999-12-31'",
                "'1970-01-01'",
            ],
        ),
        (
            "ds",
            "date",
            "string",
            [
                "'2024-02-29'",
                "'-infinity'",
                "'0001-01-01'",
                "NULL",
                "'2000-01-01'",
                "'1969-12-31'",
            ],
        ),
        (
            "ts",
            "timestamp",
            "timestamp",
            [
                "'2026-01-01 00:00:01.123456'",
                "'infinity'",
                "'1999-12-31 23:59:59.999999'",
                "NULL",
                "'0001-01-01 00:00:00'",
                "'1969-12-31 23:59:59.5'",
            ],
        ),
        (
            "tz",
            "timestamptz",
            "timestamp",
            [
                "'2026-01-01 02:00:00+02'",
                "'2000-01-01 00:00:00+00'",
                "'1970-01-01 00:00:00.000001-05'",
                "NULL",
                "'2038-01-19 03:14:08Z'",
                "'-infinity'",
            ],
        ),
        (
            "tsd",
            "timestamp",
            "date",
            [
                "'2026-01-01 00:00:00'",
                "'2026-01-01 12:00:00'",
                "'1999-12-31 00:00:00'",
                "NULL",
                "'2000-01-01 00:00:00'",
                "'1970-01-01 00:00:00'",
            ],
        ),
        (
            "u",
            "uuid",
            "string",
            [
                "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'",
                "NULL",
                "'00000000-0000-0000-0000-000000000000'",
                "NULL",
                "NULL",
                "NULL",
            ],
        ),
        (
            "j",
            "jsonb",
            "string",
            [
                "'{\"a\": [1, 2]}'",
                "'null'",
                "'\"s\"'",
                "NULL",
                "'{}'",
                "'1.50'",
            ],
        ),
        (
            "arr",
            "integer[]",
            "string",
            ["'{1,2,NULL}'", "'{}'", "NULL", "NULL", "'{7}'", "'{-1}'"],
        ),
        (
            "ip",
            "inet",
            "string",
            [
                "'192.168.0.1'",
                "'10.0.0.0/8'",
                "'::1'",
                "NULL",
                "'1.2.3.4/32'",
                "'0.0.0.0'",
            ],
        ),
        (
            "mood",
            "hostile_mood",
            "string",
            ["'ok'", "'sad'", "NULL", "NULL", "'ok'", "'sad'"],
        ),
    ];
    let sql = |client: &tokio_postgres::Client, q: String| {
        c.rt.block_on(client.batch_execute(&q))
            .unwrap_or_else(|e| panic!("{q}: {e:?}"));
    };
    let connect = || {
        let mut cfg = tokio_postgres::Config::new();
        cfg.host("127.0.0.1")
            .port(port)
            .user("dekit")
            .password(&password)
            .dbname("postgres");
        let (client, conn) = c.rt.block_on(cfg.connect(tokio_postgres::NoTls)).unwrap();
        c.rt.spawn(conn);
        client
    };
    let client = connect();
    sql(
        &client,
        format!(
            "DROP TABLE IF EXISTS {table}; DROP TYPE IF EXISTS {table}_mood; CREATE TYPE {table}_mood AS ENUM ('ok', 'sad')"
        ),
    );
    let defs: Vec<String> = columns
        .iter()
        .map(|(n, t, _, _)| {
            format!(
                "{n} {}",
                t.replace("hostile_mood", &format!("{table}_mood"))
            )
        })
        .collect();
    sql(
        &client,
        format!("CREATE TABLE {table} (id bigint, {})", defs.join(", ")),
    );
    for r in 0..6 {
        let values: Vec<&str> = columns.iter().map(|(_, _, _, v)| v[r]).collect();
        sql(
            &client,
            format!(
                "INSERT INTO {table} VALUES ({}, {})",
                r + 1,
                values.join(", ")
            ),
        );
    }
    let mut cols = vec![Column {
        name: "id".into(),
        kind: Kind::BigInt,
    }];
    cols.extend(columns.iter().map(|(n, _, k, _)| Column {
        name: n.to_string(),
        kind: Kind::parse(k).unwrap(),
    }));
    let load = |wanted: &[Column]| -> [(Vec<arrow_array::RecordBatch>, Summary); 2] {
        let spec = Spec {
            source: format!("db.{table}"),
            cols: wanted.to_vec(),
            watermark: None,
            null: Some("\\N"),
            by_key: true,
            names: vec![],
        };
        let names: Vec<&str> = wanted.iter().map(|c| c.name.as_str()).collect();
        let copy = |q: String| -> Vec<u8> {
            use futures_util::StreamExt;
            c.rt.block_on(async {
                let mut s = Box::pin(
                    client
                        .copy_out(&q)
                        .await
                        .unwrap_or_else(|e| panic!("{q}: {e:?}")),
                );
                let mut all = vec![];
                while let Some(b) = s.next().await {
                    all.extend_from_slice(&b.unwrap());
                }
                all
            })
        };
        let text = copy(format!(
            "COPY (SELECT {} FROM {table} ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER true, NULL '\\N')",
            names.join(", ")
        ));
        let probe =
            c.rt.block_on(client.prepare(&format!("SELECT {} FROM {table}", names.join(", "))))
                .unwrap();
        let (exprs, wires): (Vec<String>, Vec<_>) = names
            .iter()
            .zip(probe.columns())
            .zip(wanted)
            .map(|((n, pc), col)| dekit::run::postgres_in::select(n, pc.type_(), col.kind))
            .unzip();
        let binary = copy(format!(
            "COPY (SELECT {} FROM {table} ORDER BY id) TO STDOUT (FORMAT binary)",
            exprs.join(", ")
        ));
        let mut a = vec![];
        let sa = convert::csv(&text[..], &spec, &mut |p| {
            a.push(p);
            Ok(())
        })
        .unwrap();
        let mut b = vec![];
        let sb = dekit::run::postgres_in::load(&binary[..], &spec, &wires, &mut |p| {
            b.push(p);
            Ok(())
        })
        .unwrap();
        [(batches_of(a), sa), (batches_of(b), sb)]
    };
    // The binary COPY keeps a text that reads like the NULL marker as the text it is.
    let [_, (marker, _)] = load(&[
        cols[0].clone(),
        cols.iter().find(|c| c.name == "marker").unwrap().clone(),
    ]);
    let marker: Vec<Option<String>> = marker
        .iter()
        .flat_map(|b| {
            let a = b
                .column(1)
                .as_any()
                .downcast_ref::<arrow_array::StringArray>()
                .unwrap();
            a.iter().map(|v| v.map(str::to_string)).collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(
        marker,
        [
            Some("\\N".into()),
            None,
            Some("N".into()),
            None,
            Some("\\N ".into()),
            Some("".into())
        ]
    );
    // Each column alone beside the key, so every column's rows and messages are compared.
    let mut bad_total = 0;
    for col in cols[1..].iter().filter(|c| c.name != "marker") {
        let wanted = [cols[0].clone(), col.clone()];
        let [(text_rows, text_sum), (bin_rows, bin_sum)] = load(&wanted);
        let schema = dekit::schema::schema(&wanted);
        let cat = |b: &[arrow_array::RecordBatch]| {
            datafusion::arrow::compute::concat_batches(&schema, b).unwrap()
        };
        assert_eq!(cat(&bin_rows), cat(&text_rows), "column {}", col.name);
        assert_eq!(bin_sum.rows, text_sum.rows, "column {}", col.name);
        assert_eq!(bad_at(&bin_sum), bad_at(&text_sum), "column {}", col.name);
        bad_total += bin_sum.bad.len();
    }
    // The hostile values are refused as such, not loaded.
    assert!(bad_total >= 20, "{bad_total} bad values");
    // All columns at once: a row's first bad column names it.
    let [(text_rows, text_sum), (bin_rows, bin_sum)] = load(&cols);
    assert_eq!(
        bin_sum.bad.iter().map(|b| &b.error).collect::<Vec<_>>(),
        text_sum.bad.iter().map(|b| &b.error).collect::<Vec<_>>()
    );
    assert_eq!(
        bin_rows.iter().map(|b| b.num_rows()).sum::<usize>(),
        text_rows.iter().map(|b| b.num_rows()).sum::<usize>()
    );
    sql(
        &client,
        format!("DROP TABLE {table}; DROP TYPE {table}_mood"),
    );
}

/// MySQL/MariaDB rows handed straight to the column builders load what the CSV they were written
/// as before loaded (the same rows, bad rows and messages), over hostile values: out-of-range
/// integers, decimals with too many places, zero dates, unsigned bigints, floats, bits, JSON,
/// enums, and empty strings against NULLs.
#[test]
fn mysql_rows_load_what_their_csv_loaded() {
    use dekit::run::convert::{self, Spec, Summary};
    use dekit::schema::{Column, Kind};
    use mysql_async::prelude::Queryable;
    let c = cloud();
    let db = MariaDb::new(&format!("hostile{}", std::process::id()));
    // (column, MariaDB type, declared type, values of the 6 rows)
    let columns: &[(&str, &str, &str, [&str; 6])] = &[
        (
            "ti",
            "tinyint",
            "tinyint",
            ["1", "-128", "127", "NULL", "0", "5"],
        ),
        (
            "i",
            "int",
            "tinyint",
            ["1", "300", "-129", "NULL", "7", "0"],
        ),
        (
            "bi",
            "bigint unsigned",
            "bigint",
            [
                "1",
                "18446744073709551615",
                "9223372036854775807",
                "NULL",
                "0",
                "2",
            ],
        ),
        (
            "d",
            "decimal(12,4)",
            "decimal(10,2)",
            ["12.3400", "-0.0100", "1.2345", "NULL", "99999999.99", "0"],
        ),
        (
            "dd",
            "decimal(6,2)",
            "double",
            ["1.10", "-2.50", "0.01", "NULL", "9999.99", "0"],
        ),
        (
            "f",
            "float",
            "float",
            ["0.1", "3.4e38", "-2.5", "NULL", "1e-30", "0"],
        ),
        (
            "fd",
            "double",
            "double",
            ["0.1", "1e300", "-2.5", "NULL", "0.30000000000000004", "0"],
        ),
        (
            "s",
            "varchar(40)",
            "string",
            [
                "'plain'",
                "''",
                "'ünï, \"q\"'",
                "NULL",
                "'\\\\N'",
                "'two\\nlines'",
            ],
        ),
        (
            "sn",
            "varchar(10)",
            "bigint",
            ["'12'", "'x'", "''", "NULL", "' 7'", "'-0'"],
        ),
        (
            "dt",
            "date",
            "date",
            [
                "'2024-02-29'",
                "'0000-00-00'",
                "'9999-12-31'",
                "NULL",
                "'1000-01-01'",
                "'1970-01-01'",
            ],
        ),
        (
            "ts",
            "datetime(6)",
            "timestamp",
            [
                "'2026-01-01 00:00:01.123456'",
                "'0000-00-00 00:00:00'",
                "'1999-12-31 23:59:59.999999'",
                "NULL",
                "'1000-01-01 00:00:00'",
                "'1970-01-01 00:00:00.5'",
            ],
        ),
        ("b", "boolean", "boolean", ["1", "0", "1", "NULL", "0", "1"]),
        (
            "bit1",
            "bit(1)",
            "string",
            ["b'1'", "b'0'", "b'1'", "NULL", "b'0'", "b'1'"],
        ),
        (
            "j",
            "json",
            "string",
            [
                "'{\"a\": [1, 2]}'",
                "'null'",
                "'\"s\"'",
                "NULL",
                "'{}'",
                "'1.50'",
            ],
        ),
        (
            "e",
            "enum('ok','sad')",
            "string",
            ["'ok'", "'sad'", "NULL", "NULL", "'ok'", "'sad'"],
        ),
        (
            "t",
            "time",
            "string",
            [
                "'12:00:00'",
                "'-838:59:59'",
                "'00:00:00'",
                "NULL",
                "'23:59:59'",
                "'01:02:03'",
            ],
        ),
    ];
    let defs: Vec<String> = columns
        .iter()
        .map(|(n, t, _, _)| format!("`{n}` {t}"))
        .collect();
    db.sql("SET SESSION sql_mode = ''");
    db.sql(&format!(
        "CREATE TABLE hostile (id bigint, {})",
        defs.join(", ")
    ));
    for r in 0..6 {
        let values: Vec<&str> = columns.iter().map(|(_, _, _, v)| v[r]).collect();
        // Zero dates and out-of-range values need the permissive mode, as old tables have them.
        db.sql(&format!(
            "SET SESSION sql_mode = ''; INSERT INTO hostile VALUES ({}, {})",
            r + 1,
            values.join(", ")
        ));
    }
    let mut cols = vec![Column {
        name: "id".into(),
        kind: Kind::BigInt,
    }];
    cols.extend(columns.iter().map(|(n, _, k, _)| Column {
        name: n.to_string(),
        kind: Kind::parse(k).unwrap(),
    }));
    let load = |wanted: &[Column]| -> [(Vec<arrow_array::RecordBatch>, Summary); 2] {
        let spec = Spec {
            source: "crm.hostile".into(),
            cols: wanted.to_vec(),
            watermark: None,
            null: Some("\\N"),
            by_key: true,
            names: vec![],
        };
        let names: Vec<String> = wanted.iter().map(|c| format!("`{}`", c.name)).collect();
        let sql = format!("SELECT {} FROM hostile ORDER BY id", names.join(", "));
        // Before: the rows written as CSV with `\N` for NULL, read by the CSV loader.
        let csv = c.rt.block_on(async {
            let mut conn = db.conn.mysql().await.unwrap();
            let rows: Vec<mysql_async::Row> = conn.query(&sql).await.unwrap();
            let mut w = csv::Writer::from_writer(vec![]);
            w.write_record(wanted.iter().map(|c| c.name.as_str()))
                .unwrap();
            for row in rows {
                let fields: Vec<Vec<u8>> = (0..row.len())
                    .map(|i| match row.as_ref(i) {
                        Some(mysql_async::Value::Bytes(b)) => b.clone(),
                        _ => b"\\N".to_vec(),
                    })
                    .collect();
                w.write_record(&fields).unwrap();
            }
            w.into_inner().unwrap()
        });
        let mut a = vec![];
        let sa = convert::csv(&csv[..], &spec, &mut |p| {
            a.push(p);
            Ok(())
        })
        .unwrap();
        // Now: the rows themselves.
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let conn = c.rt.block_on(db.conn.mysql()).unwrap();
        let feeder = c.rt.spawn(dekit::run::mysql_in::send(conn, sql, tx));
        let mut b = vec![];
        let sb = dekit::run::mysql_in::load(rx, &spec, &mut |p| {
            b.push(p);
            Ok(())
        })
        .unwrap();
        c.rt.block_on(feeder).unwrap().unwrap();
        [(batches_of(a), sa), (batches_of(b), sb)]
    };
    let mut bad_total = 0;
    for col in &cols[1..] {
        let wanted = [cols[0].clone(), col.clone()];
        let [(csv_rows, csv_sum), (rows, sum)] = load(&wanted);
        let schema = dekit::schema::schema(&wanted);
        let cat = |b: &[arrow_array::RecordBatch]| {
            datafusion::arrow::compute::concat_batches(&schema, b).unwrap()
        };
        if col.name == "s" {
            // The CSV read the text `\N` as NULL; the rows keep it.
            let text = |b: &[arrow_array::RecordBatch]| -> Vec<Option<String>> {
                let b = cat(b);
                let a = b
                    .column(1)
                    .as_any()
                    .downcast_ref::<arrow_array::StringArray>()
                    .unwrap();
                a.iter().map(|v| v.map(str::to_string)).collect()
            };
            assert_eq!(text(&csv_rows)[4], None);
            assert_eq!(text(&rows)[4].as_deref(), Some("\\N"));
            continue;
        }
        assert_eq!(cat(&rows), cat(&csv_rows), "column {}", col.name);
        assert_eq!(sum.rows, csv_sum.rows, "column {}", col.name);
        assert_eq!(bad_at(&sum), bad_at(&csv_sum), "column {}", col.name);
        bad_total += sum.bad.len();
    }
    assert!(bad_total >= 8, "{bad_total} bad values");
}
