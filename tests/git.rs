//! git-aware dekit, in a repository made with git2 in a temporary directory: retail committed,
//! applied and run; then one commit changes `fact_orders`'s SQL. `diff` shows exactly that model
//! with `sql_text` changed; `plan --since HEAD~1` and `run --since HEAD~1` select exactly the
//! model and what is downstream of it (`ml_product_features`, the view, the export, its checks);
//! apply records the commit, branch and dirty flag in the state and on the resources it creates.

mod common;
mod harness;

use harness::stack::Stack;
use harness::{Scope, cloud};
use serde_json::Value;
use std::collections::BTreeSet;

fn commit_all(repo: &git2::Repository, message: &str) -> git2::Oid {
    let mut index = repo.index().unwrap();
    index
        .add_all(["*"].iter(), git2::IndexAddOption::DEFAULT, None)
        .unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = git2::Signature::now("dekit test", "test@example.com").unwrap();
    let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
        .unwrap()
}

fn json(s: &Stack, args: &[&str]) -> Value {
    let o = s.raw(args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&o.stdout)))
}

fn bucket_tags(bucket: &str) -> Vec<(String, String)> {
    let c = cloud();
    let out =
        c.rt.block_on(c.clients.s3.get_bucket_tagging().bucket(bucket).send())
            .expect("GetBucketTagging");
    out.tag_set()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect()
}

#[test]
fn since_selects_the_changed_model_and_its_downstream() {
    let _c = cloud();
    let scope = Scope::new("git");
    let s = Stack::new(&scope);
    std::fs::write(s.dir.join(".gitignore"), ".dekit/\n").unwrap();
    let mut opts = git2::RepositoryInitOptions::new();
    opts.initial_head("main");
    let repo = git2::Repository::init_opts(&s.dir, &opts).unwrap();
    let first = commit_all(&repo, "retail");

    // `apply --json`: the outcome as one JSON document on stdout, progress on stderr.
    let applied: Value = serde_json::from_str(&s.ok(&["apply", "--json"])).unwrap();
    assert_eq!(applied["ok"], true, "{applied:#}");
    assert_eq!(
        applied["added"].as_u64().unwrap() as usize,
        applied["done"].as_array().unwrap().len()
    );
    assert!(applied["added"].as_u64().unwrap() >= 20, "{applied:#}");
    // The state and the resources apply created record the commit, branch and dirty flag.
    let state: Value = serde_json::from_str(
        &std::fs::read_to_string(s.dir.join(".dekit/local.state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["git"]["commit"], first.to_string());
    assert_eq!(state["git"]["branch"], "main");
    assert_eq!(state["git"]["dirty"], false);
    let tags = bucket_tags(&format!("{}-local-lake", s.name));
    for (k, v) in [
        ("dekit:git-commit", first.to_string()),
        ("dekit:git-branch", "main".to_string()),
        ("dekit:git-dirty", "false".to_string()),
    ] {
        assert!(
            tags.contains(&(k.to_string(), v.clone())),
            "{k}={v} not in {tags:?}"
        );
    }
    // A plan does not see the recorded commit as a change.
    let plan = json(&s, &["plan", "--json"]);
    assert!(
        plan["changes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["action"] == "no_op"),
        "{plan:#}"
    );
    // Nor as drift: the stamps are dekit's own, on every kind that takes tags.
    assert_eq!(plan["drift"], serde_json::json!([]), "{plan:#}");
    let seen = json(&s, &["observe", "--json"]);
    let drifted: Vec<&Value> = seen["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] != "ok" || r["drifted"].as_array().is_some_and(|d| !d.is_empty()))
        .collect();
    assert!(drifted.is_empty(), "not as declared: {drifted:#?}");
    let sent: Value = serde_json::from_str(&s.ok(&["produce", "clickstream", "--json"])).unwrap();
    assert_eq!(sent["records"], 300, "{sent}");
    assert_eq!(sent["failed"], 0, "{sent}");
    let o = s.raw(&["run"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // One commit: fact_orders's revenue is rounded.
    let sql = s.dir.join("models/fact_orders.sql");
    let text = std::fs::read_to_string(&sql).unwrap();
    std::fs::write(
        &sql,
        text.replace(
            "oi.quantity * oi.unit_price as revenue",
            "round(oi.quantity * oi.unit_price, 2) as revenue",
        ),
    )
    .unwrap();
    commit_all(&repo, "round revenue");

    let d = json(&s, &["diff", "HEAD~1", "HEAD", "--json"]);
    assert_eq!(
        d["changes"],
        serde_json::json!([{"component": "transforms.fact_orders", "kind": "changed", "fields": ["sql_text"]}]),
        "{d:#}"
    );
    // Working tree = HEAD: nothing.
    let d = json(&s, &["diff", "HEAD", "--json"]);
    assert_eq!(d["changes"], serde_json::json!([]));

    let downstream: BTreeSet<String> = [
        "transform.fact_orders",
        "transform.ml_product_features",
        "serve.sales_by_month_country",
        "export.product_features",
        "quality.fact_orders",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let plan = json(&s, &["plan", "--since", "HEAD~1", "--json"]);
    let selected: BTreeSet<String> = plan["since"]["selected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(selected, downstream, "{plan:#}");
    assert_eq!(
        plan["since"]["changed"][0]["component"],
        "transforms.fact_orders"
    );

    let md_path = s.dir.join(".dekit/summary.md");
    let o = s.raw_env(
        &["run", "--since", "HEAD~1", "--json"],
        &[("GITHUB_STEP_SUMMARY", md_path.to_str().unwrap())],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m: Value = serde_json::from_slice(&o.stdout).unwrap();
    let md = std::fs::read_to_string(&md_path).unwrap();
    assert!(
        md.contains("| `transform.fact_orders` | succeeded |"),
        "{md}"
    );
    let ran: BTreeSet<String> = m["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|st| st["step"].as_str().unwrap().to_string())
        .collect();
    let expected: BTreeSet<String> = downstream
        .iter()
        .filter(|s| ran.contains(*s) || !s.starts_with("quality."))
        .cloned()
        .collect();
    assert_eq!(ran, expected, "{m:#}");
    assert!(
        m["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|st| st["status"] == "succeeded" || st["status"] == "not_run"),
        "{m:#}"
    );
    // Since HEAD (nothing changed): nothing runs.
    let o = s.raw(&["run", "--since", "HEAD"]);
    assert!(o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("Nothing to run"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    // An unknown revision is an error naming it.
    let o = s.raw(&["plan", "--since", "no-such-branch"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no-such-branch"));
    let destroyed: Value =
        serde_json::from_str(&s.ok(&["destroy", "--force-delete-data", "--json"])).unwrap();
    assert_eq!(destroyed["ok"], true, "{destroyed:#}");
    assert_eq!(destroyed["destroyed"], applied["added"], "{destroyed:#}");
}
