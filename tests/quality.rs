//! `dekit test` against the local cloud: retail passes after a run; then data is corrupted in the
//! source database and in the lake itself (a null, duplicated orders, an orphan key, a lost and a
//! duplicated clickstream record, a stale load) and each is reported by the right check with
//! sample rows, exit 1, and JUnit XML that an independent parser reads.

mod common;
mod harness;

use harness::stack::Stack;
use harness::{Scope, cloud, outcome};
use serde_json::Value;
use std::io::Read;

fn lake(s: &Stack) -> dekit::lake::Lake {
    dekit::lake::Lake {
        clients: cloud().clients.clone(),
        bucket: format!("{}-local-lake", s.name),
    }
}

fn test_report(s: &Stack, junit: &std::path::Path) -> (Value, bool) {
    let o = s.raw(&["test", "--json", "--junit", junit.to_str().unwrap()]);
    let r: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "test printed no report ({e}):\n{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    (r, o.status.success())
}

/// Test cases of a JUnit file as Python's ElementTree reads them: (name, failed).
fn junit_cases(path: &std::path::Path) -> Vec<(String, bool)> {
    let py = "import sys, json, xml.etree.ElementTree as E\n\
              root = E.parse(sys.argv[1]).getroot()\n\
              assert root.tag == 'testsuites'\n\
              print(json.dumps([[c.get('name'), c.find('failure') is not None or c.find('error') is not None] for c in root.iter('testcase')]))";
    let o = std::process::Command::new(common::tools_python())
        .args(["-c", py, path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "JUnit does not parse: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice::<Vec<(String, bool)>>(&o.stdout).unwrap()
}

/// (name, message) of the JUnit cases reported as `<skipped>`.
fn junit_skipped(path: &std::path::Path) -> Vec<(String, String)> {
    let py = "import sys, json, xml.etree.ElementTree as E\n\
              root = E.parse(sys.argv[1]).getroot()\n\
              print(json.dumps([[c.get('name'), c.find('skipped').get('message')] for c in root.iter('testcase') if c.find('skipped') is not None]))";
    let o = std::process::Command::new(common::tools_python())
        .args(["-c", py, path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn text_of(body: &[u8]) -> String {
    if body.starts_with(&[0x1f, 0x8b]) {
        let mut s = String::new();
        flate2::read::MultiGzDecoder::new(body)
            .read_to_string(&mut s)
            .unwrap();
        s
    } else {
        String::from_utf8(body.to_vec()).unwrap()
    }
}

// Load ids and partitions derive from the day: the same test on three days, one of them the day
// the test once failed on (it copied "the first part" and hoped it was the last load's), one a
// leap day, one just after midnight at a month's end.
#[test]
fn test_passes_on_retail_and_names_each_corruption() {
    passes_and_names_each_corruption("qtest", "2026-12-05T17:30:00Z");
}

#[test]
fn test_passes_and_names_each_corruption_on_a_leap_day() {
    passes_and_names_each_corruption("qleap", "2028-02-29T12:00:00Z");
}

#[test]
fn test_passes_and_names_each_corruption_after_midnight() {
    passes_and_names_each_corruption("qmidnight", "2027-03-01T00:00:01Z");
}

fn passes_and_names_each_corruption(test: &str, now: &str) {
    let _c = cloud();
    let scope = Scope::new(test);
    let s = Stack::at(&scope, now);
    s.ok(&["apply"]);
    // The same sample produced twice: every record is sent, and lands, twice.
    s.ok(&["produce", "clickstream"]);
    s.ok(&["produce", "clickstream"]);
    let run = s.raw(&["run"]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let dir = std::env::temp_dir().join(format!("dekit-quality-{}", s.name));
    std::fs::create_dir_all(&dir).unwrap();
    let junit = dir.join("junit.xml");
    let (r, ok) = test_report(&s, &junit);
    assert!(ok, "retail fails its own checks: {r:#}");
    let cases = junit_cases(&junit);
    assert_eq!(cases.len(), r["outcomes"].as_array().unwrap().len());
    assert!(
        cases.len() >= 12 && cases.iter().all(|(_, failed)| !failed),
        "{cases:?}"
    );
    assert_eq!(
        outcome(&r, "clickstream.reconcile(produced -> clickstream_events)")["message"],
        "produced 600, landed 600"
    );
    // The stack's unit tests: models on fixture rows.
    assert_eq!(
        outcome(&r, "unit.fact_orders_leaves_out_cancelled_orders")["message"],
        "1 rows as expected"
    );
    assert_eq!(
        outcome(&r, "unit.dim_customers_keeps_the_latest_load")["verdict"],
        "pass"
    );
    // The data files' columns are the declared ones; the fact has one row per live order line.
    assert_eq!(outcome(&r, "orders.schema")["verdict"], "pass");
    assert_eq!(
        outcome(&r, "fact_orders.row_count_matches(order_items)")["verdict"],
        "pass"
    );
    // Too little history to judge: skipped, saying how much it has; so in JUnit and the terminal.
    let o = outcome(&r, "orders.volume_anomaly");
    assert_eq!(o["verdict"], "skipped");
    assert!(
        o["message"]
            .as_str()
            .unwrap()
            .contains("0 runs of history, 5 needed"),
        "{o}"
    );
    let skipped = junit_skipped(&junit);
    assert!(
        skipped.contains(&(
            "orders.volume_anomaly".to_string(),
            o["message"].as_str().unwrap().to_string()
        )),
        "{skipped:?}"
    );
    let text = s.ok(&["test", "--select", "orders"]);
    assert!(
        text.lines()
            .any(|l| l.starts_with("SKIP  orders.volume_anomaly: skipped: 0 runs of history")),
        "{text}"
    );
    assert!(text.contains(" skipped. Report: "), "{text}");
    // The batch load reconciles: what the source gave is what the parts in the lake hold.
    let o = outcome(&r, "orders.reconcile(shop_db.orders -> lake)");
    assert_eq!(o["verdict"], "pass", "{o:#}");
    let read = o["sample"][0]["read"].as_u64().unwrap();
    assert!(read > 0 && o["sample"][0]["in_lake"] == read, "{o:#}");

    // In the source: a customer without an email, an order of a customer that does not exist.
    s.sql(
        "INSERT INTO customers VALUES (1001, NULL, 'No', 'Mail', 'DE', '2026-11-01 10:00:00'); \
         INSERT INTO orders VALUES (900001, 99999, 'placed', '2026-11-20 10:00:00'); \
         INSERT INTO order_items VALUES (900001, 1, 1, 10.00); \
         INSERT INTO order_items VALUES (900001, 2, 1, -5.00);",
    );
    // A history of five earlier runs that loaded about 5,000 orders each, an hour apart.
    let l = lake(&s);
    let rt = &cloud().rt;
    rt.block_on(async {
        for i in 0..5u64 {
            let at = format!("2026-01-01T0{i}:00:00+00:00");
            let m = serde_json::json!({
                "run_id": format!("20260101T0{i}0000Z-00{i}0"),
                "stack": s.name, "environment": "local",
                "git_commit": null, "git_dirty": null,
                "started_at": at, "finished_at": at, "selectors": [],
                "steps": [{
                    "step": "ingest.shop_tables", "kind": "ingest", "status": "succeeded",
                    "rows": 9000 + i, "bytes": 0, "objects": 4, "bad": 0, "notes": [],
                    "by_table": {"orders": 5000 + 10 * i},
                    "duration_ms": 1000
                }]
            });
            l.put_json(&format!("_dekit/runs/20260101T0{i}0000Z-00{i}0.json"), &m)
                .await
                .unwrap();
        }
    });
    let run = s.raw(&["run"]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    // In the lake: a part of the orders' last load stored twice, one click lost and another
    // landed twice. The part is found through the load's record, not by listing order.
    rt.block_on(async {
        let last = dekit::records::last_load(&l, "shop_tables", "orders")
            .await
            .unwrap()
            .expect("the orders' last load is recorded");
        let parts = l.list(&last.objects).await.unwrap();
        let part = parts
            .iter()
            .find(|k| k.ends_with(".parquet"))
            .unwrap_or_else(|| panic!("no part under {}: {parts:?}", last.objects));
        let body = l.get(part).await.unwrap().unwrap();
        l.put(&part.replace(".parquet", "-copy.parquet"), body)
            .await
            .unwrap();

        let clicks = l.list("raw/clickstream/").await.unwrap();
        let a = &clicks[0];
        let text_a = text_of(&l.get(a).await.unwrap().unwrap());
        let lines_a: Vec<&str> = text_a.lines().filter(|x| !x.trim().is_empty()).collect();
        // Another object whose first record is another record (each was produced twice, and a
        // buffering Firehose may start two objects with the same one).
        let mut other = None;
        for b in &clicks[1..] {
            let text_b = text_of(&l.get(b).await.unwrap().unwrap());
            let first = text_b.lines().next().unwrap_or_default().to_string();
            if !first.trim().is_empty() && first != lines_a[0] {
                other = Some((b.clone(), first));
                break;
            }
        }
        let (b, first_b) = other.expect("an object starting with another record");
        // Object a loses its first record; b's first record lands a second time.
        l.put(a, lines_a[1..].join("\n").into_bytes())
            .await
            .unwrap();
        l.put(&format!("{b}-again"), format!("{first_b}\n").into_bytes())
            .await
            .unwrap();
    });
    let (r, ok) = test_report(&s, &junit);
    assert!(!ok, "corrupted data passed: {r:#}");
    let failed = |name: &str| {
        let o = outcome(&r, name);
        assert_eq!(o["verdict"], "fail", "{o:#}");
        o.clone()
    };
    let o = failed("customers.not_null(customer_id, email)");
    assert_eq!(o["failures"], 1);
    assert_eq!(o["sample"][0]["customer_id"], 1001);
    assert!(
        o["stored"]
            .as_str()
            .unwrap()
            .contains("_dekit/failures/customers/")
    );
    let o = failed("orders.unique(order_id)");
    assert!(o["failures"].as_u64().unwrap() >= 1, "{o}");
    assert_eq!(o["sample"][0]["occurrences"], 2);
    let o = failed("fact_orders.relationships(customer_key -> dim_customers.customer_key)");
    // Both lines of the orphan order.
    assert_eq!(o["failures"], 2);
    assert_eq!(o["sample"][0]["customer_key"], 99999);
    // Reconciled as multisets: the record that lost a copy is named as lost (produced twice,
    // landed once), the one that gained a copy as landed more than once (twice, three times).
    let o = failed("clickstream.reconcile(produced -> clickstream_events)");
    assert_eq!(
        o["message"],
        "produced 600, landed 600: 1 lost: 1 records landed more than once"
    );
    assert_eq!(o["failures"], 2, "{o:#}");
    assert_eq!(o["sample"][0]["occurrences"], 3, "{o:#}");
    assert_eq!(o["sample"][0]["produced"], 2, "{o:#}");
    assert_eq!(o["sample"][1]["occurrences"], 1, "{o:#}");
    assert_eq!(o["sample"][1]["produced"], 2, "{o:#}");
    assert_ne!(
        o["sample"][0]["event_id"], o["sample"][1]["event_id"],
        "{o:#}"
    );
    // The CI step summary (GITHUB_STEP_SUMMARY): a Markdown line per check that did not pass.
    let md_path = dir.join("summary.md");
    let o = s.raw_env(
        &["test", "--select", "orders"],
        &[("GITHUB_STEP_SUMMARY", md_path.to_str().unwrap())],
    );
    assert!(!o.status.success());
    let md = std::fs::read_to_string(&md_path).unwrap();
    assert!(md.starts_with("### dekit test: "), "{md}");
    assert!(
        md.contains("| `orders.unique(order_id)` | **fail** |"),
        "{md}"
    );
    // The copied part is in the load's prefix: the lake holds more rows than the load wrote.
    let o = failed("orders.reconcile(shop_db.orders -> lake)");
    assert!(
        o["message"].as_str().unwrap().contains("more than written"),
        "{o}"
    );
    // The second run loaded one order against a history of about 5,000 a run.
    let o = failed("orders.volume_anomaly");
    let m = o["message"].as_str().unwrap();
    assert!(
        m.contains("the last run wrote 1 rows") && m.contains("median 5015"),
        "{m}"
    );
    // A warning is reported with its rows, but is not a failure.
    let o = outcome(&r, "order_items.sql");
    assert_eq!(o["verdict"], "warn", "{o:#}");
    assert_eq!(o["sample"][0]["unit_price"], -5.0, "{o:#}");
    // What was not corrupted still passes.
    assert_eq!(
        outcome(&r, "order_items.range(quantity)")["verdict"],
        "pass"
    );
    let cases = junit_cases(&junit);
    assert_eq!(cases.len(), r["outcomes"].as_array().unwrap().len());
    for (name, failed) in &cases {
        let v = &outcome(&r, name)["verdict"];
        assert_eq!(*failed, v == "fail" || v == "error", "{name}: {v}");
    }

    // A stalled load: the newest orders partition is two years old.
    rt.block_on(async {
        for k in l.list("raw/shop/orders/").await.unwrap() {
            let body = l.get(&k).await.unwrap().unwrap();
            let old = regex_day(&k);
            l.put(&old, body).await.unwrap();
            l.delete(&k).await.unwrap();
        }
    });
    let (r, ok) = test_report(&s, &junit);
    assert!(!ok);
    let o = outcome(&r, "orders.freshness(ingest_date, 48h)");
    assert_eq!(o["verdict"], "fail", "{o:#}");
    assert!(
        o["sample"][0]["newest"]
            .as_str()
            .unwrap()
            .starts_with("2024-01-01"),
        "{o}"
    );

    // A part with a column nobody declared: the schema check names it, from the files.
    rt.block_on(async {
        use datafusion::arrow::array::{Int64Array, StringArray};
        use datafusion::arrow::datatypes::{DataType, Field, Schema};
        let schema = std::sync::Arc::new(Schema::new(vec![
            Field::new("order_id", DataType::Int64, true),
            Field::new("coupon", DataType::Utf8, true),
        ]));
        let batch = datafusion::arrow::array::RecordBatch::try_new(
            schema.clone(),
            vec![
                std::sync::Arc::new(Int64Array::from(vec![1])),
                std::sync::Arc::new(StringArray::from(vec!["WELCOME10"])),
            ],
        )
        .unwrap();
        let mut body = vec![];
        let mut w =
            datafusion::parquet::arrow::ArrowWriter::try_new(&mut body, schema, None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        l.put("raw/shop/orders/ingest_date=2024-01-02/extra.parquet", body)
            .await
            .unwrap();
    });
    let o = s.raw(&["test", "--json", "--select", "orders"]);
    assert!(!o.status.success());
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let o = outcome(&r, "orders.schema");
    assert_eq!(o["verdict"], "fail", "{o:#}");
    assert_eq!(o["failures"], 1, "{o:#}");
    assert_eq!(
        o["sample"][0],
        serde_json::json!({"column": "coupon", "declared": null, "found": "string", "problem": "undeclared"})
    );

    // A load recorded without its parts' prefix (by an older dekit): reconciliation says it
    // skipped it, and why, instead of leaving it out.
    rt.block_on(async {
        let key = "_dekit/state/ingest/shop_tables/orders.json";
        let mut st: Value = l.get_json(key).await.unwrap().expect("the load state");
        st["last"]["objects"] = Value::String(String::new());
        l.put_json(key, &st).await.unwrap();
    });
    let o = s.raw(&["test", "--json", "--select", "orders"]);
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let o = outcome(&r, "orders.reconcile(shop_db.orders -> lake)");
    assert_eq!(o["verdict"], "skipped", "{o:#}");
    assert!(
        o["message"]
            .as_str()
            .unwrap()
            .contains("without the prefix"),
        "{o:#}"
    );

    // A wrong expectation fails its unit test, showing the row expected and the row returned.
    s.edit(|t| {
        t.replace(
            "date_key: 20260302, revenue: 8.50",
            "date_key: 20260302, revenue: 9.00",
        )
    });
    let o = s.raw(&[
        "test",
        "--json",
        "--select",
        "fact_orders_leaves_out_cancelled_orders",
    ]);
    assert!(!o.status.success());
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let u = outcome(&r, "unit.fact_orders_leaves_out_cancelled_orders");
    assert_eq!(u["verdict"], "fail", "{u:#}");
    assert_eq!(u["sample"][0]["missing"]["revenue"], 9.0, "{u:#}");
    assert_eq!(u["sample"][1]["unexpected"]["order_id"], 1, "{u:#}");
    let _ = std::fs::remove_dir_all(&dir);
    s.ok(&["destroy", "--force-delete-data"]);
}

/// The same key in the `ingest_date=2024-01-01` partition.
fn regex_day(key: &str) -> String {
    let at = key.find("ingest_date=").unwrap() + "ingest_date=".len();
    format!("{}2024-01-01{}", &key[..at], &key[at + 10..])
}
