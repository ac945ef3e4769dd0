//! `dekit init`: each template, generated into an empty directory, validates, lints clean,
//! applies, runs and tests green on the local cloud as written, and its models hold what its
//! sample data says (computed here from the sample files, not by dekit). Existing files are never
//! overwritten; without a terminal the template must be named.

mod common;
mod harness;

use harness::{Scope, cloud, out};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn dekit_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dekit"))
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

fn ok_in(dir: &Path, args: &[&str]) -> String {
    let o = dekit_in(dir, args);
    assert!(o.status.success(), "dekit {args:?} failed:\n{}", out(&o));
    String::from_utf8(o.stdout).unwrap()
}

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dekit-init-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// `dekit init` into a new directory named after the stack; the stack's directory.
fn init(parent: &Path, name: &str, flags: &[&str]) -> PathBuf {
    std::fs::create_dir_all(parent).unwrap();
    let mut args = vec!["init", name];
    args.extend_from_slice(flags);
    let printed = ok_in(parent, &args);
    assert!(
        printed.contains(&format!("Created the stack `{name}`")) && printed.contains("dekit run"),
        "{printed}"
    );
    parent.join(name)
}

fn query(dir: &Path, sql: &str) -> Vec<Value> {
    ok_in(dir, &["query", "stack.yaml", sql, "--format", "json"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Lines of a template's sample file, header first for CSV.
fn sample(template: &str, file: &str) -> Vec<String> {
    std::fs::read_to_string(common::repo_root().join(format!("templates/init/{template}/{file}")))
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn every_template_validates_and_lints_clean_and_its_stack_is_as_recorded() {
    let parent = temp("lint");
    for (template, extra) in [
        ("warehouse", &["--database", "postgres"][..]),
        ("warehouse", &["--database", "mysql"][..]),
        ("clickstream", &[][..]),
        ("files", &[][..]),
    ] {
        let name = match extra.last() {
            Some(db) => format!("{template}-{db}"),
            None => template.to_string(),
        };
        let mut flags = vec!["--template", template];
        flags.extend_from_slice(extra);
        let dir = init(&parent, &name, &flags);
        let v = ok_in(&dir, &["validate", "stack.yaml"]);
        assert!(v.contains("is valid"), "{v}");
        for env in ["local", "prod"] {
            let o = dekit_in(&dir, &["lint", "stack.yaml", "--env", env]);
            let text = out(&o);
            assert!(
                o.status.success() && text.contains("0 errors, 0 warnings"),
                "{name} --env {env}: {text}"
            );
        }
        let stack = std::fs::read_to_string(dir.join("stack.yaml")).unwrap();
        insta::assert_snapshot!(format!("init_{}", name.replace('-', "_")), stack);
    }
    let _ = std::fs::remove_dir_all(&parent);
}

#[test]
fn init_refuses_to_overwrite_and_asks_for_what_it_cannot_ask() {
    let parent = temp("refuse");
    let dir = init(&parent, "shop", &["--template", "files"]);
    let before = std::fs::read_to_string(dir.join("stack.yaml")).unwrap();
    // Into the same directory again: refused, naming the file, and nothing is written.
    std::fs::remove_file(dir.join("README.md")).unwrap();
    let o = dekit_in(&parent, &["init", "shop", "--template", "warehouse"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(
        out(&o).contains("stack.yaml") && out(&o).contains("does not overwrite"),
        "{}",
        out(&o)
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("stack.yaml")).unwrap(),
        before
    );
    assert!(!dir.join("README.md").exists(), "a file was written");
    // No terminal and no template: the flag is named, with the choices.
    let o = dekit_in(&parent, &["init", "other"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        out(&o).contains("--template (warehouse, clickstream, files)"),
        "{}",
        out(&o)
    );
    // A directory whose name is no stack name needs --name; a bad --name is refused.
    let o = dekit_in(&parent, &["init", "My Stack", "--template", "files"]);
    assert!(out(&o).contains("pass --name"), "{}", out(&o));
    let o = dekit_in(
        &parent,
        &["init", "x", "--template", "files", "--name", "Bad_Name"],
    );
    assert!(
        out(&o).contains("`Bad_Name` is not a stack name"),
        "{}",
        out(&o)
    );
    assert!(!parent.join("My Stack").exists() && !parent.join("x").exists());
    let _ = std::fs::remove_dir_all(&parent);
}

#[test]
fn init_asks_on_a_terminal() {
    // util-linux `script` gives dekit a terminal; the answers come through it.
    let parent = temp("ask");
    std::fs::create_dir_all(&parent).unwrap();
    let mut child = Command::new("script")
        .args([
            "-qec",
            &format!("'{}' init my-events", env!("CARGO_BIN_EXE_dekit")),
            "/dev/null",
        ])
        .current_dir(&parent)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("util-linux script");
    use std::io::Write;
    // The second template, and the name offered (the directory's).
    child.stdin.take().unwrap().write_all(b"2\n\n").unwrap();
    let o = child.wait_with_output().unwrap();
    let text = out(&o);
    assert!(o.status.success(), "{text}");
    assert!(
        text.contains("Which template?") && text.contains("Stack name [my-events]"),
        "{text}"
    );
    let stack = std::fs::read_to_string(parent.join("my-events/stack.yaml")).unwrap();
    assert!(
        stack.contains("stack: my-events\n") && stack.contains("kind: events"),
        "{stack}"
    );
    let _ = std::fs::remove_dir_all(&parent);
}

/// The warehouse template's source database on the local server, dropped at the end.
struct SourceDb {
    kind: dekit::run::sources::Db,
    name: String,
}

impl Drop for SourceDb {
    fn drop(&mut self) {
        use dekit::run::sources::{Db, connect, local_conn_to, pg_error};
        let admin = if self.kind == Db::Postgres {
            "postgres"
        } else {
            "mysql"
        };
        let conn = local_conn_to(self.kind, "test", admin).unwrap();
        let db = self.name.clone();
        let dropped: Result<(), String> = cloud().rt.block_on(async {
            if self.kind == Db::Postgres {
                let c = connect(&conn, None).await?;
                c.batch_execute(&format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"))
                    .await
                    .map_err(|e| pg_error(&e))
            } else {
                use mysql_async::prelude::Queryable;
                let mut c = conn.mysql().await?;
                c.query_drop(format!("DROP DATABASE IF EXISTS `{db}`"))
                    .await
                    .map_err(|e| e.to_string())
            }
        });
        if let Err(e) = dropped
            && !std::thread::panicking()
        {
            panic!("dropping {db}: {e}");
        }
    }
}

/// apply, run (after `before_run`), test: each green; then the check, then destroy.
fn lifecycle(dir: &Path, before_run: &[&str], check: impl FnOnce(&Path)) {
    ok_in(dir, &["apply", "stack.yaml", "--auto-approve"]);
    if !before_run.is_empty() {
        ok_in(dir, before_run);
    }
    ok_in(dir, &["run", "stack.yaml"]);
    let tested = ok_in(dir, &["test", "stack.yaml"]);
    assert!(tested.contains(" 0 failed"), "{tested}");
    check(dir);
    ok_in(
        dir,
        &[
            "destroy",
            "stack.yaml",
            "--auto-approve",
            "--force-delete-data",
        ],
    );
}

/// Orders that were not cancelled, and their revenue in cents, from the sample CSVs.
fn expected_sales() -> (usize, i64) {
    let cents = |s: &str| -> i64 {
        let (a, b) = s.split_once('.').unwrap();
        a.parse::<i64>().unwrap() * 100 + b.parse::<i64>().unwrap()
    };
    let prices: std::collections::HashMap<String, i64> =
        sample("warehouse", "data/shop/products.csv")
            .iter()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (f[0].to_string(), cents(f[3]))
            })
            .collect();
    let sold: Vec<(String, i64)> = sample("warehouse", "data/shop/orders.csv")
        .iter()
        .skip(1)
        .map(|l| l.split(',').map(String::from).collect::<Vec<_>>())
        .filter(|f| f[4] != "cancelled")
        .map(|f| (f[2].clone(), f[3].parse::<i64>().unwrap()))
        .collect();
    let revenue = sold.iter().map(|(p, q)| prices[p] * q).sum();
    (sold.len(), revenue)
}

fn warehouse_on(db: dekit::run::sources::Db, flag: &str, scope_name: &str) {
    let _c = cloud();
    let scope = Scope::new(scope_name);
    let name = scope.prefix.trim_end_matches('-').to_string();
    let parent = temp(&name);
    let dir = init(
        &parent,
        &name,
        &["--template", "warehouse", "--database", flag],
    );
    let _db = SourceDb {
        kind: db,
        name: format!("{}_shop", name.replace('-', "_")),
    };
    lifecycle(&dir, &[], |dir| {
        let (orders, cents) = expected_sales();
        let got = query(
            dir,
            "select count(*) as n, cast(sum(revenue) * 100 as bigint) as cents from fact_sales",
        );
        assert_eq!(got[0]["n"], orders, "{got:?}");
        assert_eq!(got[0]["cents"], cents, "{got:?}");
        let by_month = query(dir, "select sum(orders) as n from revenue_by_month");
        assert_eq!(by_month[0]["n"], orders, "{by_month:?}");
    });
    let _ = std::fs::remove_dir_all(&parent);
}

#[test]
fn warehouse_template_runs_green_on_postgres() {
    warehouse_on(dekit::run::sources::Db::Postgres, "postgres", "initpg");
}

#[test]
fn warehouse_template_runs_green_on_mysql() {
    warehouse_on(dekit::run::sources::Db::Mysql, "mysql", "initmy");
}

#[test]
fn clickstream_template_runs_green() {
    let _c = cloud();
    let scope = Scope::new("initclick");
    let name = scope.prefix.trim_end_matches('-').to_string();
    let parent = temp(&name);
    let dir = init(&parent, &name, &["--template", "clickstream"]);
    lifecycle(&dir, &["produce", "stack.yaml", "events"], |dir| {
        let events: Vec<Value> = sample("clickstream", "data/events.jsonl")
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let landed = query(
            dir,
            "select count(distinct event_id) as n, count(*) as c from app_events",
        );
        assert_eq!(landed[0]["n"], events.len(), "{landed:?}");
        assert_eq!(landed[0]["c"], events.len(), "{landed:?}");
        let views = events
            .iter()
            .filter(|e| e["event_type"] == "page_view")
            .count();
        let got = query(dir, "select sum(views) as v from top_pages");
        assert_eq!(got[0]["v"], views, "{got:?}");
    });
    let _ = std::fs::remove_dir_all(&parent);
}

#[test]
fn files_template_runs_green() {
    let _c = cloud();
    let scope = Scope::new("initfiles");
    let name = scope.prefix.trim_end_matches('-').to_string();
    let parent = temp(&name);
    let dir = init(&parent, &name, &["--template", "files"]);
    lifecycle(&dir, &[], |dir| {
        let readings: Vec<Value> = sample("files", "data/readings/readings.jsonl")
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let days: std::collections::BTreeSet<(String, String)> = readings
            .iter()
            .map(|r| {
                (
                    r["station_id"].as_str().unwrap().to_string(),
                    r["measured_at"].as_str().unwrap()[..10].to_string(),
                )
            })
            .collect();
        let got = query(
            dir,
            "select count(*) as n, sum(readings) as r from daily_readings",
        );
        assert_eq!(got[0]["n"], days.len(), "{got:?}");
        assert_eq!(got[0]["r"], readings.len(), "{got:?}");
        let lowest = readings
            .iter()
            .map(|r| r["temperature_c"].as_f64().unwrap())
            .fold(f64::INFINITY, f64::min);
        let cold = query(dir, "select min(min_temperature_c) as t from coldest_days");
        assert_eq!(cold[0]["t"].as_f64(), Some(lowest), "{cold:?}");
    });
    let _ = std::fs::remove_dir_all(&parent);
}
