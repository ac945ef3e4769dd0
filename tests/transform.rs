//! `dekit run` part 2 against the local cloud: the retail models, view and export built by the
//! local engine; every figure checked against values computed here, independently, from the sample
//! CSV files; rebuilds limited to what changed; a crash never leaves readers a partial table; bad
//! models named by file and line, their dependents skipped, the rest built.

mod common;
mod harness;

use base64::Engine as _;
use harness::stack::Stack;
use harness::{Scope, cloud, out, step};
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Output;

fn run(s: &Stack, extra: &[&str], env: &[(&str, &str)]) -> (Value, Output) {
    let mut args = vec!["run", "--json"];
    args.extend_from_slice(extra);
    let o = s.raw_env(&args, env);
    let m: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("run printed no manifest ({e}):\n{}", out(&o)));
    (m, o)
}

/// `dekit query --format json`: one JSON object per row.
fn int(v: &Value) -> i64 {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("not an integer: {v}"))
}

fn csv(table: &str) -> Vec<BTreeMap<String, String>> {
    let path = common::repo_root().join(format!("stacks/retail/data/shop/{table}.csv"));
    let mut r = ::csv::Reader::from_path(path).unwrap();
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            headers
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn cents(price: &str) -> i64 {
    let (whole, frac) = price.split_once('.').unwrap_or((price, "0"));
    whole.parse::<i64>().unwrap() * 100 + format!("{frac:0<2}")[..2].parse::<i64>().unwrap()
}

/// What the star schema must hold, computed from the sample files alone.
struct Expected {
    fact_rows: usize,
    revenue_cents: i64,
    orders_per_country: BTreeMap<String, i64>,
    customers: usize,
    order_days: usize,
}

fn expected() -> Expected {
    let customers = csv("customers");
    let orders = csv("orders");
    let items = csv("order_items");
    let country: BTreeMap<&str, &str> = customers
        .iter()
        .map(|c| (c["customer_id"].as_str(), c["country"].as_str()))
        .collect();
    let live: BTreeMap<&str, &BTreeMap<String, String>> = orders
        .iter()
        .filter(|o| o["status"] != "cancelled")
        .map(|o| (o["order_id"].as_str(), o))
        .collect();
    let lines: Vec<_> = items
        .iter()
        .filter(|i| live.contains_key(i["order_id"].as_str()))
        .collect();
    let mut per_country: BTreeMap<String, std::collections::BTreeSet<&str>> = BTreeMap::new();
    let mut buyers = std::collections::BTreeSet::new();
    for l in &lines {
        let o = live[l["order_id"].as_str()];
        per_country
            .entry(country[o["customer_id"].as_str()].to_string())
            .or_default()
            .insert(l["order_id"].as_str());
        buyers.insert(o["customer_id"].as_str());
    }
    let days: std::collections::BTreeSet<&str> = orders
        .iter()
        .map(|o| o["order_ts"].split(' ').next().unwrap())
        .collect();
    Expected {
        fact_rows: lines.len(),
        revenue_cents: lines
            .iter()
            .map(|l| l["quantity"].parse::<i64>().unwrap() * cents(&l["unit_price"]))
            .sum(),
        orders_per_country: per_country
            .into_iter()
            .map(|(c, o)| (c, o.len() as i64))
            .collect(),
        customers: buyers.len(),
        order_days: days.len(),
    }
}

const MODELS: [&str; 6] = [
    "dim_customers",
    "dim_products",
    "dim_date",
    "fact_orders",
    "product_interactions",
    "ml_product_features",
];

fn glue_table(s: &Stack, name: &str) -> aws_sdk_glue::types::Table {
    let c = cloud();
    c.rt.block_on(
        c.clients
            .glue
            .get_table()
            .database_name(format!("{}_local", s.name))
            .name(name)
            .send(),
    )
    .unwrap_or_else(|e| panic!("get table {name}: {e:?}"))
    .table()
    .cloned()
    .unwrap()
}

fn keys(s: &Stack, prefix: &str) -> Vec<String> {
    let c = cloud();
    c.rt.block_on(async {
        let lake = dekit::lake::Lake {
            clients: c.clients.clone(),
            bucket: format!("{}-local-lake", s.name),
        };
        lake.list(prefix).await.expect("list")
    })
}

#[test]
fn retail_star_schema_view_and_export_match_the_sample() {
    let _c = cloud();
    let scope = Scope::new("tfretail");
    let s = Stack::new(&scope);
    s.ok(&["apply"]);
    s.ok(&["produce", "clickstream"]);
    let (m, o) = run(&s, &[], &[]);
    assert!(o.status.success(), "run failed:\n{}", out(&o));
    for model in MODELS {
        assert_eq!(
            step(&m, &format!("transform.{model}"))["status"],
            "succeeded",
            "{m}"
        );
    }
    assert_eq!(
        step(&m, "serve.sales_by_month_country")["status"],
        "succeeded"
    );
    assert_eq!(step(&m, "export.product_features")["status"], "succeeded");

    let want = expected();
    let fact = s.query("select count(*) as n, cast(sum(revenue) * 100 as bigint) as cents, count(distinct customer_key) as buyers from fact_orders",
    );
    assert_eq!(int(&fact[0]["n"]) as usize, want.fact_rows);
    assert_eq!(int(&fact[0]["cents"]), want.revenue_cents, "total revenue");
    assert_eq!(int(&fact[0]["buyers"]) as usize, want.customers);
    assert_eq!(
        step(&m, "transform.fact_orders")["rows"].as_u64().unwrap() as usize,
        want.fact_rows
    );
    let per_country: BTreeMap<String, i64> = s
        .query("select country, sum(orders) as orders from sales_by_month_country group by country")
        .iter()
        .map(|r| {
            (
                r["country"].as_str().unwrap().to_string(),
                int(&r["orders"]),
            )
        })
        .collect();
    assert_eq!(per_country, want.orders_per_country, "orders per country");
    let days = s.query("select count(*) as n from dim_date");
    assert_eq!(int(&days[0]["n"]) as usize, want.order_days);
    // Trino's day_of_week: ISO, Monday = 1; 2026-11-23 was a Monday.
    let dow = s.query("select day_of_week from dim_date where calendar_date = DATE '2026-11-23'");
    if let Some(r) = dow.first() {
        assert_eq!(int(&r["day_of_week"]), 1);
    }
    // Clicks come from the stream: every sample event counted once.
    let clicks = s.query("select sum(views) + sum(add_to_carts) as n from product_interactions");
    let sample =
        std::fs::read_to_string(common::repo_root().join("stacks/retail/data/clickstream.jsonl"))
            .unwrap();
    let want_clicks = sample
        .lines()
        .filter(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            !v["product_id"].is_null()
                && matches!(v["event_type"].as_str(), Some("view" | "add_to_cart"))
        })
        .count();
    assert_eq!(int(&clicks[0]["n"]) as usize, want_clicks);

    // The catalog: each model a Parquet table at its current version; the view stored as Athena
    // stores views, over the environment's database.
    let run_id = m["run_id"].as_str().unwrap();
    let fact = glue_table(&s, "fact_orders");
    let loc = fact.storage_descriptor().unwrap().location().unwrap();
    assert!(
        loc.ends_with(&format!("/curated/fact_orders/{run_id}/")),
        "{loc}"
    );
    let cols: Vec<(&str, &str)> = fact
        .storage_descriptor()
        .unwrap()
        .columns()
        .iter()
        .map(|c| (c.name(), c.r#type().unwrap()))
        .collect();
    assert!(cols.contains(&("revenue", "decimal(21,2)")), "{cols:?}");
    assert!(cols.contains(&("order_ts", "timestamp")), "{cols:?}");
    let view = glue_table(&s, "sales_by_month_country");
    assert_eq!(view.table_type(), Some("VIRTUAL_VIEW"));
    let text = view.view_original_text().unwrap();
    let b64 = text
        .strip_prefix("/* Presto View: ")
        .and_then(|t| t.strip_suffix(" */"))
        .unwrap();
    let doc: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
    )
    .unwrap();
    assert!(
        doc["originalSql"]
            .as_str()
            .unwrap()
            .contains(&format!("\"{}_local\".\"fact_orders\"", s.name)),
        "{doc}"
    );
    assert_eq!(doc["columns"].as_array().unwrap().len(), 5, "{doc}");

    // The export: deterministic keys, the manifest last, rows as the model has.
    let exported = keys(&s, "serving/exports/product_features/");
    assert_eq!(
        exported,
        [
            "serving/exports/product_features/_manifest.json",
            "serving/exports/product_features/part-00000.parquet"
        ]
    );
    let manifest: Value = cloud().rt.block_on(async {
        dekit::lake::Lake {
            clients: cloud().clients.clone(),
            bucket: format!("{}-local-lake", s.name),
        }
        .get_json("serving/exports/product_features/_manifest.json")
        .await
        .unwrap()
        .unwrap()
    });
    assert_eq!(manifest["row_count"], csv("products").len());
    assert_eq!(manifest["source"], "ml_product_features");
    assert_eq!(manifest["run_id"], run_id);

    // Again, nothing new: no model is rebuilt, no object written under the model zones.
    let before = keys(&s, "curated/");
    let (m2, o) = run(&s, &[], &[]);
    assert!(o.status.success(), "{}", out(&o));
    for model in MODELS {
        let st = step(&m2, &format!("transform.{model}"));
        assert_eq!(st["objects"], 0, "{model} was rebuilt: {st}");
        assert!(
            st["notes"][0].as_str().unwrap().contains("up to date"),
            "{st}"
        );
    }
    assert_eq!(keys(&s, "curated/"), before);
    s.ok(&["destroy", "--force-delete-data"]);
}

#[test]
#[cfg_attr(
    not(feature = "failpoints"),
    ignore = "crash tests need `--features failpoints` (ci/test.sh passes it)"
)]
fn an_edited_model_rebuilds_with_its_downstream_and_a_crash_leaves_the_old_version() {
    let _c = cloud();
    let scope = Scope::new("tfedit");
    let s = Stack::new(&scope);
    s.ok(&["apply"]);
    let (_, o) = run(&s, &[], &[]);
    assert!(o.status.success(), "{}", out(&o));

    let sql = s.dir.join("models/dim_products.sql");
    let text = std::fs::read_to_string(&sql).unwrap();
    std::fs::write(
        &sql,
        text.replace("name, category", "upper(name) as name, category"),
    )
    .unwrap();
    let (m, o) = run(&s, &[], &[]);
    assert!(o.status.success(), "{}", out(&o));
    let rebuilt = |m: &Value, model: &str| step(m, &format!("transform.{model}"))["objects"] != 0;
    assert!(rebuilt(&m, "dim_products"), "{m}");
    assert!(
        rebuilt(&m, "ml_product_features"),
        "downstream of the edit: {m}"
    );
    for unchanged in [
        "dim_customers",
        "dim_date",
        "fact_orders",
        "product_interactions",
    ] {
        assert!(!rebuilt(&m, unchanged), "{unchanged} rebuilt: {m}");
    }
    let names = s.query("select count(*) as n from dim_products where name = upper(name)");
    assert_eq!(int(&names[0]["n"]) as usize, csv("products").len());

    // Killed after writing a new version, before switching the table: readers still get the
    // whole old version, and the next run finishes the job.
    let old = glue_table(&s, "dim_customers");
    let old_loc = old
        .storage_descriptor()
        .unwrap()
        .location()
        .unwrap()
        .to_string();
    let o = s.raw_env(
        &["run", "--select", "dim_customers", "--full-refresh"],
        &[("DEKIT_FAILPOINT", "transform.after_write")],
    );
    assert_eq!(o.status.code(), Some(137), "{}", out(&o));
    let now = glue_table(&s, "dim_customers");
    assert_eq!(
        now.storage_descriptor().unwrap().location().unwrap(),
        old_loc
    );
    let n = s.query("select count(*) as n from dim_customers");
    assert_eq!(int(&n[0]["n"]) as usize, csv("customers").len());
    let versions = |s: &Stack| -> std::collections::BTreeSet<String> {
        keys(s, "curated/dim_customers/")
            .iter()
            .map(|k| k.split('/').nth(2).unwrap().to_string())
            .collect()
    };
    assert_eq!(
        versions(&s).len(),
        2,
        "the crashed run's version is written but not used"
    );

    let (m, o) = run(&s, &["--select", "dim_customers", "--full-refresh"], &[]);
    assert!(o.status.success(), "{}", out(&o));
    let loc = glue_table(&s, "dim_customers")
        .storage_descriptor()
        .unwrap()
        .location()
        .unwrap()
        .to_string();
    assert!(loc.contains(m["run_id"].as_str().unwrap()), "{loc}");
    // The new version and the one before it stay; the crashed run's is gone.
    let v = versions(&s);
    assert_eq!(v.len(), 2, "{v:?}");
    assert!(
        old_loc.contains(v.iter().next().unwrap()),
        "{v:?} {old_loc}"
    );
    s.ok(&["destroy", "--force-delete-data"]);
}

#[test]
fn bad_models_are_named_by_file_and_line_and_skip_only_their_dependents() {
    let _c = cloud();
    let scope = Scope::new("tfbad");
    let s = Stack::new(&scope);
    std::fs::write(
        s.dir.join("models/missing_column.sql"),
        "-- reads a column orders does not have\nselect\n    o.order_id,\n    o.discount_code\nfrom orders o\n",
    )
    .unwrap();
    std::fs::write(
        s.dir.join("models/wrong_type.sql"),
        "select order_id, status from orders\n",
    )
    .unwrap();
    std::fs::write(
        s.dir.join("models/bad_cast.sql"),
        "select order_id,\n       cast(status as integer) as status_code\nfrom orders\n",
    )
    .unwrap();
    std::fs::write(
        s.dir.join("models/after_missing.sql"),
        "select count(*) as n from missing_column\n",
    )
    .unwrap();
    s.edit(|t| {
        t.replace(
            "transforms:\n",
            "transforms:\n  missing_column:\n    sql: models/missing_column.sql\n    zone: curated\n  wrong_type:\n    sql: models/wrong_type.sql\n    zone: curated\n    columns:\n      order_id: bigint\n      status: int\n  bad_cast:\n    sql: models/bad_cast.sql\n    zone: curated\n  after_missing:\n    sql: models/after_missing.sql\n    zone: curated\n",
        )
    });
    s.ok(&["apply"]);
    let (m, o) = run(&s, &[], &[]);
    assert!(!o.status.success(), "a failed model fails the run");
    let err = |model: &str| -> String {
        let st = step(&m, &format!("transform.{model}"));
        assert_eq!(st["status"], "failed", "{st}");
        st["error"].as_str().unwrap().to_string()
    };
    let e = err("missing_column");
    assert!(e.contains("models/missing_column.sql:4:5"), "{e}");
    assert!(e.contains("discount_code"), "{e}");
    let e = err("wrong_type");
    assert!(e.contains("models/wrong_type.sql"), "{e}");
    assert!(e.to_lowercase().contains("cast"), "{e}");
    let e = err("bad_cast");
    assert!(e.contains("models/bad_cast.sql"), "{e}");
    assert_eq!(step(&m, "transform.after_missing")["status"], "skipped");
    for model in MODELS {
        assert_eq!(
            step(&m, &format!("transform.{model}"))["status"],
            "succeeded",
            "{model}"
        );
    }
    s.ok(&["destroy", "--force-delete-data"]);
}

/// Each retail table model's Glue script, as `apply` uploads it, run under real PySpark over
/// Parquet copies of its inputs (through a stand-in for `awsglue`): its rows are the local
/// engine's rows for the same model, and it registers what it wrote in the catalog.
#[test]
fn glue_scripts_under_pyspark_give_the_local_engines_rows() {
    let _c = cloud();
    let scope = Scope::new("tfspark");
    let s = Stack::new(&scope);
    s.ok(&["apply"]);
    s.ok(&["produce", "clickstream"]);
    let (_, o) = run(&s, &[], &[]);
    assert!(o.status.success(), "{}", out(&o));

    let (loaded, report) = dekit::load::load_file(std::path::Path::new(&s.file()), None)
        .unwrap_or_else(|(_, r)| panic!("{:?}", r.diags));
    let checked = dekit::validate::check(loaded, report).0.expect("checks");
    let db = format!("{}_local", s.name);
    let dir = std::env::temp_dir().join(format!("dekit-spark-{}", s.name));
    let _ = std::fs::remove_dir_all(&dir);
    let copy = |sql: &str, to: &std::path::Path| {
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        let o = s.raw(&[
            "query",
            sql,
            "--format",
            "parquet",
            "--output",
            to.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{sql}: {}", out(&o));
    };
    let mut jobs = vec![];
    for (name, t) in checked.loaded.stack.transforms.iter() {
        if t.materialized != dekit::model::Materialized::Table {
            continue;
        }
        let name = name.value.as_str();
        let mut inputs = serde_json::Map::new();
        for r in &checked.models[name].reads {
            let d = dir.join("inputs").join(r);
            copy(&format!("select * from {r}"), &d.join("part-0.parquet"));
            inputs.insert(r.clone(), Value::from(d.to_str().unwrap()));
        }
        let expected = dir.join("expected").join(format!("{name}.parquet"));
        copy(&format!("select * from {name}"), &expected);
        let target = format!("file://{}/out/{name}/", dir.display());
        let script = dekit::graph::compile::glue_script(&checked, name, &target, &db).unwrap();
        let path = dir.join("scripts").join(format!("{name}.py"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, script).unwrap();
        jobs.push(serde_json::json!({
            "model": name,
            "script": path,
            "inputs": inputs,
            "expected": expected,
            "output": format!("{target}spark/"),
        }));
    }
    assert_eq!(jobs.len(), MODELS.len());
    let plan = dir.join("plan.json");
    std::fs::write(
        &plan,
        serde_json::json!({ "database": db, "jobs": jobs }).to_string(),
    )
    .unwrap();
    let endpoint = cloud().clients.target.endpoint("glue").unwrap().to_string();
    let o = std::process::Command::new(common::tools_python())
        .arg(common::repo_root().join("tests/tools/run_glue.py"))
        .arg(&plan)
        .envs([
            ("AWS_ENDPOINT_URL", endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    let results: Vec<Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert_eq!(
        results.len(),
        MODELS.len(),
        "PySpark did not report every model:\n{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for r in &results {
        assert_eq!(
            r["match"], true,
            "Spark's rows differ from the local engine's: {r}"
        );
        assert_eq!(r["rows"], r["expected_rows"], "{r}");
        assert!(r["rows"].as_u64().unwrap() > 0, "{r}");
    }
    assert!(o.status.success(), "{stdout}");
    // The job registered its output: the model's table now points at the Spark version.
    let t = glue_table(&s, "fact_orders");
    let loc = t.storage_descriptor().unwrap().location().unwrap();
    assert_eq!(
        loc,
        format!("file://{}/out/fact_orders/spark/", dir.display())
    );
    let _ = std::fs::remove_dir_all(&dir);
    s.ok(&["destroy", "--force-delete-data"]);
}

/// An incremental model rewrites only the partitions whose rows changed; the others keep their
/// location; a duplicate unique key fails it.
#[test]
fn an_incremental_model_rewrites_only_changed_partitions() {
    let _c = cloud();
    let scope = Scope::new("tfincr");
    let s = Stack::new(&scope);
    std::fs::write(
        s.dir.join("models/orders_by_month.sql"),
        "select date_format(order_ts, '%Y-%m') as order_month, order_id, customer_id, status\nfrom orders\n",
    )
    .unwrap();
    s.edit(|t| {
        t.replace(
            "transforms:\n",
            "transforms:\n  orders_by_month:\n    sql: models/orders_by_month.sql\n    zone: curated\n    partition_by: [order_month]\n    incremental: { unique_key: [order_id] }\n",
        )
    });
    s.ok(&["apply"]);
    let (m, o) = run(&s, &["--select", "+orders_by_month"], &[]);
    assert!(o.status.success(), "{}", out(&o));
    let months: std::collections::BTreeSet<String> = csv("orders")
        .iter()
        .map(|o| o["order_ts"][..7].to_string())
        .collect();
    let st = step(&m, "transform.orders_by_month");
    assert_eq!(
        st["objects"].as_u64().unwrap() as usize,
        months.len(),
        "{st}"
    );
    let first_id = m["run_id"].as_str().unwrap().to_string();

    // One new order in a new month: one partition is written, the rest stay where they were.
    s.sql("INSERT INTO orders VALUES (900001, 1, 'placed', '2027-03-15 10:00:00')");
    let (m, o) = run(&s, &["--select", "+orders_by_month"], &[]);
    assert!(o.status.success(), "{}", out(&o));
    let st = step(&m, "transform.orders_by_month");
    assert_eq!(st["objects"], 1, "{st}");
    assert!(
        st["notes"][0]
            .as_str()
            .unwrap()
            .contains(&format!("1 of {} partitions rewritten", months.len() + 1)),
        "{st}"
    );
    let c = cloud();
    let parts =
        c.rt.block_on(
            c.clients
                .glue
                .get_partitions()
                .database_name(format!("{}_local", s.name))
                .table_name("orders_by_month")
                .send(),
        )
        .unwrap();
    let locs: BTreeMap<String, String> = parts
        .partitions()
        .iter()
        .map(|p| {
            (
                p.values()[0].clone(),
                p.storage_descriptor()
                    .unwrap()
                    .location()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(locs.len(), months.len() + 1);
    assert!(
        locs["2027-03"].contains(m["run_id"].as_str().unwrap()),
        "{locs:?}"
    );
    let older = months.iter().next().unwrap();
    assert!(locs[older].contains(&first_id), "{locs:?}");
    let n = s.query("select count(*) as n from orders_by_month");
    assert_eq!(int(&n[0]["n"]) as usize, csv("orders").len() + 1);
    let n = s.query("select count(*) as n from orders_by_month where order_month = '2027-03'");
    assert_eq!(int(&n[0]["n"]), 1);

    // Nothing new: nothing written.
    let (m, o) = run(&s, &["--select", "orders_by_month"], &[]);
    assert!(o.status.success(), "{}", out(&o));
    assert_eq!(step(&m, "transform.orders_by_month")["objects"], 0);

    // A unique key that is not unique fails the model, naming a duplicate.
    s.sql("INSERT INTO orders VALUES (900002, 1, 'placed', '2027-03-16 10:00:00')");
    std::fs::write(
        s.dir.join("models/orders_by_month.sql"),
        "select date_format(order_ts, '%Y-%m') as order_month, 1 as order_id, customer_id, status\nfrom orders\n",
    )
    .unwrap();
    let (m, _) = run(&s, &["--select", "+orders_by_month"], &[]);
    let st = step(&m, "transform.orders_by_month");
    assert_eq!(st["status"], "failed", "{st}");
    assert!(
        st["error"]
            .as_str()
            .unwrap()
            .contains("unique key (order_id) is not unique: (1)"),
        "{st}"
    );
    s.ok(&["destroy", "--force-delete-data"]);
}
