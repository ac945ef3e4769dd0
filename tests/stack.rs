//! The stack language end to end through the `dekit` binary: the retail stack validates, compiles
//! and plans (snapshots), and every file of the bad-input corpus fails with precise diagnostics.

mod common;

use common::{dekit, repo_root, stderr, stdout};
use serde_json::Value;

const RETAIL: &str = "stacks/retail/stack.yaml";

fn snapshot_dir(sub: &str) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(repo_root().join("tests/snapshots").join(sub));
    s.set_prepend_module_to_snapshot(false);
    s
}

#[test]
fn retail_validates_for_every_environment() {
    for env in ["local", "prod"] {
        let o = dekit(&["validate", RETAIL, "--env", env]);
        assert!(o.status.success(), "{env}: {}", stderr(&o));
        assert!(stdout(&o).contains(&format!("environment `{env}`")));
        assert_eq!(stderr(&o), "", "retail has no warnings");
    }
}

#[test]
fn unknown_environment_is_an_error_with_suggestion() {
    let o = dekit(&["validate", RETAIL, "--env", "prd"]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("unknown environment `prd`") && e.contains("did you mean `prod`?"),
        "{e}"
    );
}

#[test]
fn retail_graph_snapshots() {
    let settings = snapshot_dir("retail");
    for format in ["json", "dot", "mermaid"] {
        let o = dekit(&["graph", RETAIL, "--format", format]);
        assert!(o.status.success(), "{}", stderr(&o));
        settings.bind(|| insta::assert_snapshot!(format!("graph_{format}"), stdout(&o)));
    }
}

#[test]
fn retail_offline_plan_snapshot_and_exit_codes() {
    let o = dekit(&["plan", RETAIL, "--offline"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("Plan: 25 to add, 0 to change, 0 to replace, 0 to destroy."),
        "{text}"
    );
    snapshot_dir("retail").bind(|| insta::assert_snapshot!("plan_offline_local", text));

    let prod = dekit(&["plan", RETAIL, "--offline", "--env", "prod"]);
    assert!(prod.status.success(), "prod plan failed: {}", stderr(&prod));
    snapshot_dir("retail").bind(|| insta::assert_snapshot!("plan_offline_prod", stdout(&prod)));

    let o = dekit(&["plan", RETAIL, "--offline", "--detailed-exitcode"]);
    assert_eq!(o.status.code(), Some(2), "changes exit 2");

    let o = dekit(&["plan", RETAIL, "--offline", "--json"]);
    let plan: Value = serde_json::from_str(&stdout(&o)).expect("plan json");
    let changes = plan["changes"].as_array().unwrap();
    assert!(changes.iter().all(|c| c["action"] == "create"));
    // Dependencies come before dependents.
    let pos = |a: &str| {
        changes
            .iter()
            .position(|c| c["address"] == a)
            .unwrap_or_else(|| panic!("{a} in plan"))
    };
    assert!(pos("s3_bucket.lake") < pos("glue_database.catalog"));
    assert!(pos("iam_role.clickstream_delivery") < pos("firehose_delivery_stream.clickstream"));
    assert!(pos("kinesis_stream.clickstream") < pos("cloudwatch_alarm.clickstream_iterator_age"));
    assert!(pos("s3_object.shop_tables_script") < pos("glue_job.shop_tables"));
}

fn retail_graph() -> Value {
    let o = dekit(&["graph", RETAIL, "--format", "json"]);
    serde_json::from_str(&stdout(&o)).expect("graph json")
}

#[test]
fn retail_security_defaults() {
    let g = retail_graph();
    let nodes = g["nodes"].as_array().unwrap();
    let mut roles = 0;
    for n in nodes {
        let a = &n["attributes"];
        match n["kind"].as_str().unwrap() {
            "s3_bucket" => {
                assert!(
                    a["encryption"]["algorithm"].is_string(),
                    "{} encrypted",
                    n["address"]
                );
                for k in [
                    "block_public_acls",
                    "ignore_public_acls",
                    "block_public_policy",
                    "restrict_public_buckets",
                ] {
                    assert_eq!(a["public_access_block"][k], true, "{} {k}", n["address"]);
                }
                let deny = &a["policy"]["Statement"][0];
                assert_eq!(deny["Sid"], "DenyInsecureTransport");
                assert_eq!(deny["Effect"], "Deny");
            }
            "iam_role" => {
                roles += 1;
                let v = dekit::policy::violations(&a["inline_policy"]);
                assert!(v.is_empty(), "{}: {v:?}", n["address"]);
                let text = a["inline_policy"].to_string();
                assert!(
                    !text.contains("\"*\""),
                    "{} has a bare wildcard",
                    n["address"]
                );
            }
            "kinesis_stream" => assert_eq!(a["encryption"]["type"], "KMS"),
            _ => {}
        }
        if n["category"] == "resource"
            && !matches!(n["kind"].as_str(), Some("glue_table" | "s3_object"))
        {
            assert_eq!(
                a["tags"]["dekit:managed-by"], "dekit",
                "{} tagged",
                n["address"]
            );
        }
    }
    assert_eq!(roles, 4, "one role per component that runs code");
}

#[test]
fn retail_lineage_orders_the_pipeline() {
    let g = retail_graph();
    let lineage: Vec<(String, String)> = g["lineage"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["from"].as_str().unwrap().to_string(),
                e["to"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let has = |f: &str, t: &str| lineage.iter().any(|(a, b)| a == f && b == t);
    assert!(has("source.shop_db", "ingest.shop_tables"));
    assert!(has("ingest.shop_tables", "transform.dim_customers"));
    assert!(has("glue_table.orders", "transform.fact_orders"));
    assert!(
        has("quality.orders", "transform.fact_orders"),
        "tests gate downstream models"
    );
    assert!(has("transform.fact_orders", "serve.sales_by_month_country"));
    assert!(has(
        "transform.ml_product_features",
        "export.product_features"
    ));
    assert!(has("ingest.clickstream", "transform.product_interactions"));
}

/// One fixture per resource kind: the first resource of each kind in the retail graph.
#[test]
fn retail_resource_kind_fixtures() {
    let g = retail_graph();
    let mut seen = std::collections::BTreeSet::new();
    for n in g["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["category"] == "resource")
    {
        let kind = n["kind"].as_str().unwrap().to_string();
        if seen.insert(kind.clone()) {
            let mut attrs = n["attributes"].clone();
            if let Some(content) = attrs.get_mut("content") {
                *content = Value::from("<script, see s3_object_* snapshots>");
            }
            snapshot_dir("resources").bind(|| insta::assert_json_snapshot!(kind, attrs));
        }
    }
    assert_eq!(
        seen.len(),
        12,
        "the retail stack uses every resource kind: {seen:?}"
    );
}

#[test]
fn retail_generated_glue_scripts() {
    let g = retail_graph();
    for n in g["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "s3_object")
    {
        let content = n["attributes"]["content"].as_str().unwrap();
        let name = n["address"].as_str().unwrap().replace('.', "_");
        snapshot_dir("retail").bind(|| insta::assert_snapshot!(name, content));
        assert_eq!(
            n["attributes"]["content_sha256"],
            dekit::hash::sha256(content)
        );
    }
}

#[test]
fn schema_snapshot_matches_published_file() {
    let o = dekit(&["schema"]);
    assert!(o.status.success());
    let text = stdout(&o);
    let schema: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        schema["additionalProperties"], false,
        "unknown top-level keys are rejected"
    );
    assert!(
        schema["required"]
            .as_array()
            .unwrap()
            .contains(&Value::from("storage"))
    );
    snapshot_dir("schema").bind(|| insta::assert_snapshot!("stack_schema", text));
    let published = std::fs::read_to_string(repo_root().join("schema/stack.schema.json"))
        .expect("schema/stack.schema.json");
    assert_eq!(
        published.trim_end(),
        text.trim_end(),
        "run `dekit schema > schema/stack.schema.json`"
    );
}

#[test]
fn bad_input_corpus() {
    let dir = repo_root().join("tests/corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 30, "the corpus has {} files", files.len());
    let settings = snapshot_dir("corpus");
    for path in files {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let rel = format!("tests/corpus/{name}.yaml");
        let o = dekit(&["validate", &rel]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{name} must fail:\n{err}");
        assert!(!err.contains("panicked"), "{name} panicked:\n{err}");
        // Every error names a file, line and column.
        let errors = err.matches("error[").count();
        assert!(errors >= 1, "{name}: {err}");
        let located = err
            .lines()
            .filter(|l| {
                l.trim_start().starts_with("--> ")
                    && l.rsplit(':')
                        .next()
                        .is_some_and(|c| c.parse::<u32>().is_ok())
            })
            .count();
        assert!(
            located >= errors,
            "{name}: every error has line:column\n{err}"
        );
        settings.bind(|| insta::assert_snapshot!(name, err));
    }
}

#[test]
fn multiple_errors_are_all_reported() {
    let o = dekit(&["validate", "tests/corpus/multiple_errors.yaml"]);
    let err = stderr(&o);
    for code in ["E010", "E011", "E101", "E120", "E150"] {
        assert!(
            err.contains(&format!("error[{code}]")),
            "{code} missing:\n{err}"
        );
    }
}

#[test]
fn json_diagnostics_for_tools() {
    let o = dekit(&["validate", "tests/corpus/unknown_nested_key.yaml", "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let d: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(d[0]["code"], "E010");
    assert_eq!(d[0]["span"]["line"], 20);
    assert_eq!(d[0]["span"]["col"], 7);
    assert_eq!(d[0]["hint"], "did you mean `shards`?");
}

#[test]
fn missing_file_is_a_clean_error() {
    let o = dekit(&["validate", "stacks/nope/stack.yaml"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("cannot read stacks/nope/stack.yaml"));
}

/// One registry of codes: every code the source emits is registered, each registered code is
/// explained by `dekit rules CODE` and shown by a corpus fixture's snapshot.
#[test]
fn every_code_is_registered_explained_and_has_a_fixture() {
    let registered: Vec<String> = dekit::codes::all()
        .iter()
        .map(|c| c.code.to_string())
        .collect();
    // Codes the source emits: every "E123"/"W123" literal under cli/src.
    let mut emitted = std::collections::BTreeSet::new();
    let mut dirs = vec![repo_root().join("cli/src")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).unwrap();
                let b = text.as_bytes();
                for i in 0..b.len().saturating_sub(5) {
                    if b[i] == b'"'
                        && (b[i + 1] == b'E' || b[i + 1] == b'W')
                        && b[i + 2..i + 5].iter().all(u8::is_ascii_digit)
                        && b[i + 5] == b'"'
                    {
                        emitted.insert(text[i + 1..i + 5].to_string());
                    }
                }
            }
        }
    }
    for code in &emitted {
        assert!(
            registered.contains(code),
            "{code} is emitted but not registered in codes.rs"
        );
    }
    let snapshots: String = std::fs::read_dir(repo_root().join("tests/snapshots/corpus"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    // A file that cannot be read has no line to point at, so E000 is shown by
    // `never_panics::arbitrary_bytes_as_files` instead of the corpus.
    let not_in_corpus = ["E000"];
    for code in &registered {
        if !not_in_corpus.contains(&code.as_str()) {
            assert!(
                snapshots.contains(&format!("[{code}]")),
                "{code} has no corpus fixture whose snapshot shows it"
            );
        }
        let o = dekit(&["rules", code]);
        assert!(o.status.success(), "dekit rules {code} failed");
        let text = String::from_utf8(o.stdout).unwrap();
        assert!(
            text.contains("Why") && text.contains("Example") && text.contains("Fix: "),
            "dekit rules {code} does not explain what, why, example and fix:\n{text}"
        );
    }
    assert!(!dekit(&["rules", "E999"]).status.success());
}

/// Tools asking for JSON get JSON, also when the stack is invalid: the diagnostics, as
/// `validate --json` prints them, with exit code 1.
#[test]
fn json_commands_print_diagnostics_as_json_for_an_invalid_stack() {
    for args in [
        &[
            "plan",
            "--offline",
            "--json",
            "tests/corpus/unknown_top_key.yaml",
        ][..],
        &[
            "graph",
            "--format",
            "json",
            "tests/corpus/unknown_top_key.yaml",
        ][..],
        &["validate", "--json", "tests/corpus/unknown_top_key.yaml"][..],
    ] {
        let o = dekit(args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let v: Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: stdout is not JSON: {e}"));
        let diags = v.as_array().expect("a list of diagnostics");
        assert_eq!(
            diags.len(),
            1,
            "{args:?}: one root cause, one diagnostic: {v}"
        );
        assert_eq!(diags[0]["code"], "E010");
    }
}
