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
            .all(|r| r["status"] == "ok"),
        "{}",
        v["resources"]
    );
    assert!(
        v["causes"].as_array().unwrap().is_empty(),
        "{}",
        v["causes"]
    );

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
