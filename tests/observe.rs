//! `dekit observe` against the local cloud: its numbers are the lake's and the run's (checked
//! against an SDK listing and the run manifest), and when a source breaks it names that source as
//! the cause of the stale tables downstream.

mod common;
mod harness;

use harness::stack::Stack;
use harness::{Scope, cloud};
use serde_json::Value;
use std::process::Command;

fn observe(s: &Stack, env: &[(&str, &str)]) -> Value {
    let o = s.raw_env(&["observe", "--json"], env);
    assert!(
        o.status.success(),
        "observe failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Objects and bytes under a prefix, listed with the SDK.
fn listed(bucket: &str, prefix: &str) -> (u64, u64) {
    let c = cloud();
    c.rt.block_on(async {
        let (mut n, mut bytes) = (0, 0);
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
                n += 1;
                bytes += o.size().unwrap() as u64;
            }
            token = page.next_continuation_token().map(str::to_string);
            if token.is_none() {
                return (n, bytes);
            }
        }
    })
}

#[test]
fn observe_reports_what_is_there_and_names_a_broken_source_as_the_cause() {
    let _c = cloud();
    let scope = Scope::new("obs");
    let s = Stack::new(&scope);
    s.ok(&["apply"]);
    s.ok(&["produce", "clickstream"]);
    let o = s.raw(&["run", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m: Value = serde_json::from_slice(&o.stdout).unwrap();

    let v = observe(&s, &[]);
    let bucket = format!("{}-local-lake", s.name);
    for z in v["zones"].as_array().unwrap() {
        let prefix = format!("{}/", z["name"].as_str().unwrap());
        let (n, bytes) = listed(&bucket, &prefix);
        assert_eq!(z["objects"], n, "{z}");
        assert_eq!(z["bytes"], bytes, "{z}");
    }
    let orders = v["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "orders")
        .unwrap();
    assert_eq!(orders["objects"], listed(&bucket, "raw/shop/orders/").0);
    assert!(orders["age_hours"].as_f64().unwrap() < 1.0, "{orders}");
    let run = &v["runs"][0];
    assert_eq!(run["run_id"], m["run_id"]);
    let rows: u64 = m["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["rows"].as_u64().unwrap())
        .sum();
    assert_eq!(run["rows"], rows);
    assert_eq!(run["ok"], true);
    assert_eq!(v["streams"][0]["produced"], 300);
    assert_eq!(v["streams"][0]["status"], "ACTIVE");
    assert!(
        v["resources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "ok" && r["drifted"].as_array().is_none_or(|d| d.is_empty())),
        "{}",
        v["resources"]
    );
    assert!(
        v["causes"].as_array().unwrap().is_empty(),
        "{}",
        v["causes"]
    );
    assert_eq!(v["streams"][0]["delivery"], "ACTIVE");
    assert_eq!(v["streams"][0]["delivery_errors"], 0);
    html_report_renders(&s);

    // Records Firehose could not deliver: its error prefix fills and a click is missing from the
    // lake. The failed reconciliation is put on the delivery, not on the data.
    let c = cloud();
    let lake = dekit::lake::Lake {
        clients: c.clients.clone(),
        bucket: bucket.clone(),
    };
    let clicks = c.rt.block_on(lake.list("raw/clickstream/")).unwrap();
    let first = clicks[0].clone();
    let original = c.rt.block_on(lake.get(&first)).unwrap().unwrap();
    let error_key = "raw/errors/clickstream/processing-failed/2026/11/26/part-1";
    c.rt.block_on(async {
        lake.put(error_key, b"{\"errorCode\":\"S3.AccessDenied\"}\n".to_vec())
            .await
            .unwrap();
        lake.delete(&first).await.unwrap();
    });
    let o = s.raw(&["test", "--select", "clickstream_events"]);
    assert!(
        !o.status.success(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let v = observe(&s, &[]);
    assert_eq!(v["streams"][0]["delivery_errors"], 1, "{}", v["streams"]);
    let causes = v["causes"].as_array().unwrap();
    let c0 = causes
        .iter()
        .find(|c| c["at"] == "firehose_delivery_stream.clickstream")
        .unwrap_or_else(|| panic!("the delivery is not named: {causes:#?} {}", v["tests"]));
    assert!(
        c0["cause"]
            .as_str()
            .unwrap()
            .contains("1 objects to its error prefix")
            && c0["symptom"]
                .as_str()
                .unwrap()
                .starts_with("check clickstream.reconcile"),
        "{c0}"
    );
    // Put back: the rest of the test starts from a clean lake and a passing test.
    c.rt.block_on(async {
        lake.delete(error_key).await.unwrap();
        lake.put(&first, original).await.unwrap();
    });
    let o = s.raw(&["test", "--select", "clickstream_events"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));

    // The shop database now answers with another password: the run fails at the source, the
    // load and everything built on it is skipped, and observe names the source.
    let (port, _) = dekit::run::sources::local_postgres().unwrap();
    s.edit(|t| {
        t.replace("    local_sources: true\n", "")
            .replace("    port: 5432\n", &format!("    port: {port}\n"))
    });
    let env = [
        ("SHOP_DB_HOST", "127.0.0.1"),
        ("SHOP_DB_PASSWORD", "not-the-password-4711"),
    ];
    let o = s.raw_env(&["apply", "--auto-approve"], &env);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = Command::new(env!("CARGO_BIN_EXE_dekit"))
        .args(["run", &s.file()])
        .envs(env)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let v = observe(&s, &env);
    assert_eq!(v["runs"][0]["ok"], false);
    // The failed run is a metric alarms can watch: FailedSteps > 0 for this stack.
    assert!(
        failed_steps(&s) >= 1.0,
        "no FailedSteps metric for the failed run"
    );
    let causes = v["causes"].as_array().unwrap();
    for stale in ["orders", "customers", "fact_orders", "dim_customers"] {
        let c = causes
            .iter()
            .find(|c| {
                c["symptom"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("`{stale}` is stale"))
            })
            .unwrap_or_else(|| panic!("no cause for {stale}: {causes:#?}"));
        assert_eq!(c["at"], "source.shop_db", "{c}");
        assert!(
            c["cause"]
                .as_str()
                .unwrap()
                .contains("password authentication failed"),
            "{c}"
        );
    }
    // The clickstream does not depend on the database: not blamed on it.
    assert!(
        !causes.iter().any(|c| c["symptom"]
            .as_str()
            .unwrap()
            .starts_with("`clickstream_events`")),
        "{causes:#?}"
    );
    let o = s.raw_env(&["destroy", "--auto-approve", "--force-delete-data"], &env);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Headless Chromium as the report tests run it (tests/tools/install.sh installs it).
fn chromium() -> Command {
    let mut c = Command::new("chromium");
    c.args(["--headless", "--no-sandbox", "--disable-gpu"]);
    c
}

/// A headless Chromium screenshot of a page: (stats of the PNG, Chromium's log).
fn screenshot(page: &std::path::Path, png: &std::path::Path) -> (Value, String) {
    let o = chromium()
        .args([
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1200,1400",
        ])
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs (tests/tools/install.sh installs it)");
    let log = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(png.exists(), "no screenshot:\n{log}");
    let stats = Command::new(common::tools_python())
        .arg(common::repo_root().join("tests/tools/png_stats.py"))
        .arg(png)
        .output()
        .unwrap();
    assert!(
        stats.status.success(),
        "{}",
        String::from_utf8_lossy(&stats.stderr)
    );
    (serde_json::from_slice(&stats.stdout).unwrap(), log)
}

/// Whether the lineage figure of `html` lies inside a `width`-pixel window, as Chromium lays it
/// out: "fits", or "cut" when its right edge is beyond the window's.
fn lineage_fits(html: &str, dir: &std::path::Path, width: u32) -> String {
    let probe = dir.join(format!("fits-{}.html", html.len()));
    let script = "<script>const r=document.querySelector('svg[aria-label=lineage]').getBoundingClientRect();\
                  document.body.setAttribute('data-lineage', r.right <= document.documentElement.clientWidth ? 'fits' : 'cut');</script>";
    std::fs::write(&probe, html.replace("</body>", &format!("{script}</body>"))).unwrap();
    let o = chromium()
        .args([&format!("--window-size={width},900"), "--dump-dom"])
        .arg(format!("file://{}", probe.display()))
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&o.stdout);
    let at = dom
        .find("data-lineage=\"")
        .unwrap_or_else(|| panic!("no layout verdict:\n{}", String::from_utf8_lossy(&o.stderr)));
    dom[at + 14..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// `observe --html`: one self-contained page that a browser renders (not blank) without a
/// console error, with the charts and the lineage.
fn html_report_renders(s: &Stack) {
    let dir = std::env::temp_dir().join(format!("dekit-observe-{}", s.name));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("report.html");
    let o = s.raw(&["observe", "--html", page.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = std::fs::read_to_string(&page).unwrap();
    for part in [
        "Run duration",
        "Zone size",
        "Lineage",
        "transform.fact_orders",
        "<svg",
    ] {
        assert!(html.contains(part), "the report has no {part}");
    }
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "the page fetches something"
    );
    let (stats, log) = screenshot(&page, &dir.join("report.png"));
    assert!(
        stats["nonwhite"].as_f64().unwrap() > 0.02,
        "a blank report: {stats}"
    );
    assert!(stats["colours"].as_u64().unwrap() > 20, "{stats}");
    assert!(
        !log.contains("CONSOLE"),
        "the page logged to the console:\n{log}"
    );
    // At 1280 px the lineage fits the page: nothing of it is cut off at the right.
    assert_eq!(lineage_fits(&html, &dir, 1280), "fits", "at 1280 px");
    // The control: a fixed-width figure wider than the window is found cut off (a first
    // `style` attribute wins over the report's own).
    let wide = html.replacen(
        "<svg viewBox",
        "<svg style=\"width:3000px\" data-wide=\"1\" viewBox",
        1,
    );
    assert_eq!(lineage_fits(&wide, &dir, 1280), "cut", "the control");
    // The control: an empty page is found blank, so the check above can fail.
    let empty = dir.join("empty.html");
    std::fs::write(&empty, "<!doctype html><html><body></body></html>").unwrap();
    let (stats, _) = screenshot(&empty, &dir.join("empty.png"));
    assert!(stats["nonwhite"].as_f64().unwrap() < 0.001, "{stats}");
    // And a page that logs an error is caught by the console check.
    let noisy = dir.join("noisy.html");
    std::fs::write(
        &noisy,
        "<html><body>x<script>console.error('boom')</script></body></html>",
    )
    .unwrap();
    let (_, log) = screenshot(&noisy, &dir.join("noisy.png"));
    assert!(
        log.contains("CONSOLE"),
        "console messages are not seen:\n{log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The largest `FailedSteps` value published for the stack in the last hour.
fn failed_steps(s: &Stack) -> f64 {
    use aws_sdk_cloudwatch::types::{Dimension, Statistic};
    let c = cloud();
    let now = std::time::SystemTime::now();
    let out =
        c.rt.block_on(
            c.clients
                .cloudwatch
                .get_metric_statistics()
                .namespace("dekit")
                .metric_name("FailedSteps")
                .dimensions(Dimension::builder().name("Stack").value(&s.name).build())
                .dimensions(
                    Dimension::builder()
                        .name("Environment")
                        .value("local")
                        .build(),
                )
                .start_time((now - std::time::Duration::from_secs(3600)).into())
                .end_time((now + std::time::Duration::from_secs(60)).into())
                .period(60)
                .statistics(Statistic::Maximum)
                .send(),
        )
        .expect("GetMetricStatistics");
    out.datapoints()
        .iter()
        .filter_map(|d| d.maximum())
        .fold(0.0, f64::max)
}

/// An OpenLineage receiver (as Marquez serves `/api/v1/lineage`): every request's path,
/// authorization header and body, in the order they arrived. Connections are kept alive, as
/// HTTP clients reuse them.
struct Receiver {
    url: String,
    got: std::sync::Arc<std::sync::Mutex<Vec<(String, String, Value)>>>,
}

fn receiver() -> Receiver {
    use std::io::{BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let got = std::sync::Arc::new(std::sync::Mutex::new(vec![]));
    let store = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let store = store.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                while let Some(r) = harness::read_request(&mut reader) {
                    let path = r.line.split_whitespace().nth(1).unwrap_or("").to_string();
                    let auth = r.header("authorization").to_string();
                    let event: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
                    store.lock().unwrap().push((path, auth, event));
                    stream
                        .write_all(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
                        .unwrap();
                }
            });
        }
    });
    Receiver { url, got }
}

/// (eventType, job name) of each event.
fn kinds(events: &[Value]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|e| {
            (
                e["eventType"].as_str().unwrap().to_string(),
                e["job"]["name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn dataset<'a>(e: &'a Value, side: &str, name: &str) -> &'a Value {
    e[side]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == name)
        .unwrap_or_else(|| panic!("no {side} {name} in {e}"))
}

#[test]
fn lineage_of_a_run_and_a_test_validates_and_reaches_the_receiver_in_order() {
    let _c = cloud();
    let scope = Scope::new("lineage");
    let s = Stack::new(&scope);
    let r = receiver();
    s.edit(|t| {
        t.replacen(
            "\nobserve:\n",
            "\nobserve:\n  lineage:\n    url: ${env.LINEAGE_URL}\n    api_key: ${env.LINEAGE_KEY}\n    file: lineage.jsonl\n",
            1,
        )
    });
    let env = [("LINEAGE_URL", r.url.as_str()), ("LINEAGE_KEY", "key-7")];
    let ok = |args: &[&str]| {
        let o = s.raw_env(args, &env);
        assert!(o.status.success(), "{args:?}: {}", harness::out(&o));
        o
    };
    ok(&["apply", "--auto-approve"]);
    ok(&["produce", "clickstream"]);
    let o = ok(&["run", "--json"]);
    let m: Value = serde_json::from_slice(&o.stdout).unwrap();
    ok(&["test"]);

    // The file and the receiver got the same events, in the same order, each authorized.
    let file = s.dir.join("lineage.jsonl");
    let lines: Vec<Value> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let got = r.got.lock().unwrap().clone();
    assert!(
        got.iter()
            .all(|(p, a, _)| p == "/api/v1/lineage" && a == "Bearer key-7"),
        "{:?}",
        got.iter().map(|(p, a, _)| (p, a)).collect::<Vec<_>>()
    );
    let received: Vec<Value> = got.into_iter().map(|(_, _, e)| e).collect();
    assert_eq!(received, lines);

    // Valid OpenLineage 2-0-2, every facet against its own schema (vendored; independent).
    let v = Command::new(common::tools_python())
        .arg(common::repo_root().join("tests/tools/openlineage_check.py"))
        .arg(&file)
        .output()
        .unwrap();
    assert!(v.status.success(), "{}", harness::out(&v));

    // The run: its START first, then per step a START before its COMPLETE, the run's COMPLETE
    // last; each step that ran once, nothing for the quality steps `run` leaves to `test`.
    let k = kinds(&lines);
    let run_end = k
        .iter()
        .position(|e| *e == ("COMPLETE".to_string(), "run".to_string()))
        .expect("the run completes");
    assert_eq!(k[0], ("START".into(), "run".into()));
    let ran: Vec<&Value> = m["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|st| st["status"] == "succeeded")
        .collect();
    for st in &ran {
        let name = st["step"].as_str().unwrap().to_string();
        let start = k[..run_end]
            .iter()
            .position(|e| *e == ("START".into(), name.clone()));
        let done = k[..run_end]
            .iter()
            .position(|e| *e == ("COMPLETE".into(), name.clone()));
        assert!(
            matches!((start, done), (Some(a), Some(b)) if a < b),
            "{name}: {k:?}"
        );
    }
    assert_eq!(run_end, 1 + 2 * ran.len(), "{k:?}");
    // Every step event names its parent, the run.
    let run_id = lines[0]["run"]["runId"].clone();
    assert!(
        lines[1..run_end]
            .iter()
            .all(|e| e["run"]["facets"]["parent"]["run"]["runId"] == run_id)
    );

    // Datasets as OpenLineage names them: the source table in PostgreSQL, the Glue table with
    // its declared schema and the rows the load wrote.
    let load = &lines[k
        .iter()
        .position(|e| *e == ("COMPLETE".into(), "ingest.shop_tables".into()))
        .unwrap()];
    let pg = dataset(load, "inputs", &format!("{}.public.orders", s.db()));
    assert!(
        pg["namespace"]
            .as_str()
            .unwrap()
            .starts_with("postgres://127.0.0.1:"),
        "{pg}"
    );
    let glue = dataset(load, "outputs", &format!("table/{}_local/orders", s.name));
    assert_eq!(glue["namespace"], "arn:aws:glue:us-east-1:000000000000");
    let orders_csv = std::fs::read_to_string(s.dir.join("data/shop/orders.csv")).unwrap();
    assert_eq!(
        glue["outputFacets"]["outputStatistics"]["rowCount"],
        orders_csv.lines().count() - 1
    );
    let fields: Vec<&str> = glue["facets"]["schema"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "order_id",
            "customer_id",
            "status",
            "order_ts",
            "ingest_date"
        ]
    );
    // A model reads the tables and models its SQL names.
    let fact = &lines[k
        .iter()
        .position(|e| *e == ("COMPLETE".into(), "transform.fact_orders".into()))
        .unwrap()];
    let mut inputs: Vec<&str> = fact["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    inputs.sort();
    assert_eq!(
        inputs,
        [
            format!("table/{}_local/order_items", s.name),
            format!("table/{}_local/orders", s.name)
        ]
    );

    // The test: each relation's checks as assertions on it.
    let tested = &lines[run_end + 1..];
    assert_eq!(tested[0]["job"]["name"], "test");
    let orders = tested
        .iter()
        .find(|e| e["job"]["name"] == "quality.orders" && e["eventType"] == "COMPLETE")
        .expect("quality.orders completes");
    let assertions = &orders["inputs"][0]["inputFacets"]["dataQualityAssertions"]["assertions"];
    let accepted = assertions
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["assertion"] == "accepted_values")
        .expect("accepted_values");
    assert_eq!(accepted["success"], true);
    assert_eq!(tested.last().unwrap()["eventType"], "COMPLETE");

    // A step that fails: FAIL with its error, the run FAIL, dependents silent.
    std::fs::write(
        s.dir.join("models/dim_date.sql"),
        "select no_such_column as date_key from orders",
    )
    .unwrap();
    let before = r.got.lock().unwrap().len();
    let o = s.raw_env(&["run", "--select", "dim_date+"], &env);
    assert_eq!(o.status.code(), Some(1), "{}", harness::out(&o));
    let after: Vec<Value> = r.got.lock().unwrap()[before..]
        .iter()
        .map(|(_, _, e)| e.clone())
        .collect();
    let k = kinds(&after);
    let failed = after
        .iter()
        .find(|e| e["eventType"] == "FAIL" && e["job"]["name"] == "transform.dim_date")
        .unwrap_or_else(|| panic!("{k:?}"));
    assert!(
        failed["run"]["facets"]["errorMessage"]["message"]
            .as_str()
            .unwrap()
            .contains("no_such_column"),
        "{failed}"
    );
    assert_eq!(k.last().unwrap(), &("FAIL".to_string(), "run".to_string()));
    assert!(
        !k.iter().any(|(_, j)| j == "serve.sales_by_month_country"),
        "a skipped dependent has events: {k:?}"
    );

    // A receiver that is gone: a warning, and the run is as it would be without lineage.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let gone = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let o = s.raw_env(
        &["run", "--select", "dim_customers"],
        &[("LINEAGE_URL", gone.as_str()), ("LINEAGE_KEY", "k")],
    );
    assert!(o.status.success(), "{}", harness::out(&o));
    assert!(
        harness::out(&o).contains("warning: lineage:") && harness::out(&o).contains(&gone),
        "{}",
        harness::out(&o)
    );
    s.ok(&["destroy", "--force-delete-data"]);
}
