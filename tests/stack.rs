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
        text.contains("Plan: 26 to add, 0 to change, 0 to replace, 0 to destroy."),
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
    assert!(pos("glue_security_configuration.glue") < pos("glue_job.shop_tables"));
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
            && !matches!(
                n["kind"].as_str(),
                Some("glue_table" | "s3_object" | "glue_security_configuration")
            )
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
    // All but the alarm topic and the catalog's encryption (retail has no KMS key of its own,
    // and its account baseline encrypts the catalog): those are in the lint and alarm tests.
    assert_eq!(
        seen.len(),
        13,
        "the retail stack uses every other resource kind: {seen:?}"
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

fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            if e.file_name() != ".dekit" {
                copy_tree(&e.path(), &dest);
            }
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// Every string of a YAML document.
fn yaml_strings(y: &yaml_rust2::Yaml, out: &mut Vec<String>) {
    match y {
        yaml_rust2::Yaml::String(s) => out.push(s.clone()),
        yaml_rust2::Yaml::Array(a) => a.iter().for_each(|x| yaml_strings(x, out)),
        yaml_rust2::Yaml::Hash(h) => h.iter().for_each(|(k, v)| {
            yaml_strings(k, out);
            yaml_strings(v, out);
        }),
        _ => {}
    }
}

/// `dekit ...` invocations in a shell line: the words up to `||`, `&&`, `;` or `|`.
fn invocations(line: &str) -> Vec<Vec<String>> {
    let mut out = vec![];
    let words: Vec<&str> = line.split_whitespace().collect();
    for (i, w) in words.iter().enumerate() {
        // At a command's start: the line's first word, or after a list item's `-`.
        if *w != "dekit" || (i > 0 && !["-", "run:"].contains(&words[i - 1])) {
            continue;
        }
        let call: Vec<String> = words[i..]
            .iter()
            .take_while(|w| !["||", "&&", ";", "|"].contains(w))
            .map(|w| w.trim_matches('"').to_string())
            .collect();
        if call.len() > 1 {
            out.push(call);
        }
    }
    out
}

#[test]
fn ci_pipelines_render_parse_and_name_real_commands_and_flags() {
    let root = repo_root();
    let mut checked = 0;
    for (provider, rel, example) in [
        (
            "github",
            ".github/workflows/dekit.yml",
            "ci/examples/github/dekit.yml",
        ),
        (
            "gitlab",
            ".gitlab-ci.yml",
            "ci/examples/gitlab/.gitlab-ci.yml",
        ),
    ] {
        let dir = std::env::temp_dir().join(format!("dekit-ci-{provider}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        copy_tree(&root.join("stacks/retail"), &dir.join("stacks/retail"));
        let args = [
            "ci",
            "init",
            "--provider",
            provider,
            "--stack",
            "stacks/retail/stack.yaml",
            "--dir",
            dir.to_str().unwrap(),
        ];
        let o = dekit(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        let text = std::fs::read_to_string(dir.join(rel)).unwrap();
        snapshot_dir("ci").bind(|| insta::assert_snapshot!(provider, text));
        // The shipped example is what the command renders today.
        assert_eq!(
            text,
            std::fs::read_to_string(root.join(example)).unwrap(),
            "{example} is stale: re-render it with `dekit ci init --provider {provider}`"
        );
        // Not overwritten without --force.
        let again = dekit(&args);
        assert_eq!(again.status.code(), Some(1));
        assert!(stderr(&again).contains("--force"), "{}", stderr(&again));

        let docs = yaml_rust2::YamlLoader::load_from_str(&text)
            .unwrap_or_else(|e| panic!("{provider}: not YAML: {e}"));
        assert_eq!(docs.len(), 1);
        let mut strings = vec![];
        yaml_strings(&docs[0], &mut strings);
        let calls: Vec<Vec<String>> = strings
            .iter()
            .flat_map(|s| s.lines().map(str::to_string).collect::<Vec<_>>())
            .flat_map(|l| invocations(&format!("run: {l}")))
            .collect();
        let commands: std::collections::BTreeSet<String> =
            calls.iter().map(|c| c[1].clone()).collect();
        for want in ["validate", "plan", "apply", "run", "test", "local"] {
            assert!(
                commands.contains(want),
                "{provider}: no `dekit {want}` in {calls:?}"
            );
        }
        for call in &calls {
            if let Some(problem) = unknown_in(call) {
                panic!("{provider}: {problem}");
            }
            checked += 1;
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    assert!(checked >= 12, "{checked}");
    // Controls: a flag and a command that do not exist are caught the same way.
    let call = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(unknown_in(&call(&["dekit", "plan", "--no-such-flag"])).is_some());
    assert!(unknown_in(&call(&["dekit", "local", "begin"])).is_some());
    assert!(unknown_in(&call(&["dekit", "deploy", "x"])).is_some());
    assert!(unknown_in(&call(&["dekit", "plan", "--since", "main"])).is_none());
}

/// Why `dekit ...` would not run as written: a command, subcommand or flag that does not exist.
fn unknown_in(call: &[String]) -> Option<String> {
    let top = dekit(&[call[1].as_str(), "--help"]);
    if !top.status.success() {
        return Some(format!("`dekit {}` is not a command", call[1]));
    }
    let mut cmd = vec![call[1].clone()];
    if stdout(&top).contains("Commands:") {
        match call.get(2).filter(|w| !w.starts_with('-')) {
            Some(sub) => cmd.push(sub.clone()),
            None => return Some(format!("`dekit {}` needs a subcommand", call[1])),
        }
    }
    let mut help_args: Vec<&str> = cmd.iter().map(String::as_str).collect();
    help_args.push("--help");
    let help = dekit(&help_args);
    if !help.status.success() {
        return Some(format!("`dekit {}` does not exist", cmd.join(" ")));
    }
    let text = stdout(&help);
    call.iter()
        .filter(|w| w.starts_with("--"))
        .map(|f| f.split('=').next().unwrap())
        .find(|name| !text.contains(&format!("{name} ")) && !text.contains(&format!("{name}\n")))
        .map(|name| format!("`dekit {}` has no flag {name}", cmd.join(" ")))
}

#[test]
fn markdown_step_summary_of_a_plan() {
    let path = std::env::temp_dir().join(format!("dekit-summary-{}.md", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_dekit"))
        .args(["plan", RETAIL, "--offline"])
        .current_dir(repo_root())
        .env("GITHUB_STEP_SUMMARY", &path)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let md = std::fs::read_to_string(&path).unwrap();
    assert!(
        md.starts_with("### dekit plan: stack `retail`, environment `local`"),
        "{md}"
    );
    assert!(md.contains("| create | `s3_bucket.lake` |"), "{md}");
    assert!(
        md.contains("**26 to add, 0 to change, 0 to replace, 0 to destroy.**"),
        "{md}"
    );
    let _ = std::fs::remove_file(&path);
    // Unset: nothing written anywhere, the plan as usual.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_dekit"))
        .args(["plan", RETAIL, "--offline"])
        .current_dir(repo_root())
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(!path.exists());
}

#[test]
fn version_names_the_commit() {
    let o = dekit(&["--version"]);
    let v = stdout(&o);
    assert!(
        v.starts_with(&format!("dekit {} (", env!("CARGO_PKG_VERSION"))),
        "{v}"
    );
    let commit = v
        .trim()
        .trim_end_matches(')')
        .rsplit('(')
        .next()
        .unwrap()
        .to_string();
    assert!(
        commit == "unknown"
            || (commit.len() == 12 && commit.chars().all(|c| c.is_ascii_hexdigit())),
        "{v}"
    );
}

/// `(code, line)` of each `# <- CODE` marker in a lint fixture.
fn lint_markers(text: &str) -> Vec<(String, u64)> {
    text.lines()
        .enumerate()
        .filter_map(|(i, l)| {
            l.split_once("# <- ")
                .map(|(_, code)| (code.trim().to_string(), i as u64 + 1))
        })
        .collect()
}

#[test]
fn lint_corpus_each_caught_by_its_rule_at_its_line() {
    let dir = repo_root().join("tests/lint");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "{} lint fixtures", files.len());
    let mut codes = std::collections::BTreeSet::new();
    for f in &files {
        let expected = lint_markers(&std::fs::read_to_string(f).unwrap());
        assert!(
            !expected.is_empty(),
            "{}: no `# <- CODE` marker",
            f.display()
        );
        let o = dekit(&["lint", f.to_str().unwrap(), "--format", "json"]);
        let found: Vec<Value> = serde_json::from_str(&stdout(&o))
            .unwrap_or_else(|e| panic!("{}: {e}\n{}", f.display(), stderr(&o)));
        let at = |v: &Value| {
            (
                v["code"].as_str().unwrap().to_string(),
                v["line"].as_u64().unwrap(),
            )
        };
        for want in &expected {
            assert!(
                found.iter().any(|v| at(v) == *want),
                "{}: {want:?} not found in {found:#?}",
                f.display()
            );
            codes.insert(want.0.clone());
        }
        // Nothing else is an error: one root cause, one finding.
        for v in found.iter().filter(|v| v["level"] == "error") {
            assert!(expected.contains(&at(v)), "{}: unexpected {v}", f.display());
        }
        let errors = found.iter().any(|v| v["level"] == "error");
        assert_eq!(o.status.code(), Some(i32::from(errors)), "{}", f.display());
    }
    assert!(codes.len() >= 8, "{codes:?}");
    // Retail lints clean, locally and for production: no error, no warning.
    for env in ["local", "prod"] {
        let o = dekit(&["lint", RETAIL, "--env", env, "--format", "json"]);
        assert!(o.status.success(), "{}", stdout(&o));
        let found: Vec<Value> = serde_json::from_str(&stdout(&o)).unwrap();
        assert!(
            found.iter().all(|v| v["level"] == "note"),
            "{env}: {found:#?}"
        );
    }
}

#[test]
fn lint_sarif_is_valid_sarif_2_1_0() {
    let python = common::tools_python();
    let dir = std::env::temp_dir().join(format!("dekit-sarif-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let schema = repo_root().join("tests/tools/sarif-2.1.0.json");
    let script = repo_root().join("tests/tools/lint_checks.py");
    for fixture in [
        "tests/lint/public_access.yaml",
        "tests/lint/records_over_shard.yaml",
        RETAIL,
    ] {
        let o = dekit(&["lint", fixture, "--format", "sarif"]);
        let path = dir.join("out.sarif");
        std::fs::write(&path, o.stdout).unwrap();
        let v = std::process::Command::new(&python)
            .arg(&script)
            .args(["sarif", schema.to_str().unwrap(), path.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            v.status.success(),
            "{fixture}: {}{}",
            String::from_utf8_lossy(&v.stdout),
            String::from_utf8_lossy(&v.stderr)
        );
    }
    // A control: a SARIF file without its version fails the same check.
    let bad = dir.join("bad.sarif");
    std::fs::write(&bad, r#"{"runs": []}"#).unwrap();
    let v = std::process::Command::new(&python)
        .arg(&script)
        .args(["sarif", schema.to_str().unwrap(), bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        !v.status.success(),
        "the schema accepted a SARIF file without a version"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn generated_iam_policies_pass_parliament() {
    let python = common::tools_python();
    let script = repo_root().join("tests/tools/lint_checks.py");
    let dir = std::env::temp_dir().join(format!("dekit-parliament-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for env in ["local", "prod"] {
        let o = dekit(&["graph", RETAIL, "--env", env, "--format", "json"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let path = dir.join(format!("{env}.json"));
        std::fs::write(&path, &o.stdout).unwrap();
        let v = std::process::Command::new(&python)
            .arg(&script)
            .args(["iam", path.to_str().unwrap()])
            .output()
            .unwrap();
        let out: Value = serde_json::from_slice(&v.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&v.stderr)));
        assert_eq!(out["ok"], true, "{env}: {out:#}");
        assert!(out["checked"].as_u64().unwrap() >= 4, "{out}");
    }
    // With the stack's own key, named by alias: Glue encrypts S3 writes, logs and bookmarks
    // with it, the roles may use it only through the alias (`kms:ResourceAliases`; IAM never
    // matches an alias ARN as a resource), and the Data Catalog is encrypted by this stack.
    let kms = dir.join("kms");
    common::copy_dir(&repo_root().join("stacks/retail"), &kms);
    let file = kms.join("stack.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    let text = text
        .replace(
            "  encryption: aws\n",
            "  encryption: kms\n  kms_key: alias/retail-lake\n",
        )
        .replace(
            "catalog_encryption: external",
            "catalog_encryption: managed",
        );
    // With its pipeline deployed: the step runtime's role is checked too.
    let text = format!("{text}\norchestration:\n  schedule: rate(1 hour)\n");
    std::fs::write(&file, text).unwrap();
    let o = dekit(&["graph", file.to_str().unwrap(), "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let g: Value = serde_json::from_slice(&o.stdout).unwrap();
    let node = |addr: &str| -> Value {
        g["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["address"] == addr)
            .unwrap_or_else(|| panic!("no {addr}"))["attributes"]
            .clone()
    };
    let key = "arn:aws:kms:us-east-1:000000000000:alias/retail-lake";
    let sc = node("glue_security_configuration.glue");
    assert_eq!(
        (
            &sc["s3_encryption"],
            &sc["cloudwatch_encryption"],
            &sc["job_bookmarks_encryption"],
            &sc["kms_key"]
        ),
        (
            &Value::from("SSE-KMS"),
            &Value::from("SSE-KMS"),
            &Value::from("CSE-KMS"),
            &Value::from(key)
        )
    );
    assert_eq!(
        node("glue_job.shop_tables")["security_configuration"],
        sc["name"]
    );
    assert_eq!(
        node("glue_crawler.clickstream_events")["security_configuration"],
        sc["name"]
    );
    let cat = node("glue_catalog_encryption.catalog");
    assert_eq!(
        (&cat["catalog_encryption"], &cat["kms_key"]),
        (&Value::from("SSE-KMS"), &Value::from(key))
    );
    let policy = node("iam_role.shop_tables_job")["inline_policy"].clone();
    let sids: Vec<&str> = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["Sid"].as_str())
        .collect();
    assert!(
        sids.contains(&"UseLakeKey") && sids.contains(&"EncryptedLogs"),
        "{sids:?}"
    );
    let use_key = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "UseLakeKey")
        .unwrap();
    assert_eq!(
        use_key["Condition"]["ForAnyValue:StringEquals"]["kms:ResourceAliases"],
        "alias/retail-lake"
    );
    assert!(
        node("iam_role.pipeline_steps")["inline_policy"]["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["Sid"] == "UseLakeKey"),
        "the step runtime reads and writes the lake under the stack's key"
    );
    let path = dir.join("kms.json");
    std::fs::write(&path, &o.stdout).unwrap();
    let v = std::process::Command::new(&python)
        .arg(&script)
        .args(["iam", path.to_str().unwrap()])
        .output()
        .unwrap();
    let out: Value = serde_json::from_slice(&v.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&v.stderr)));
    assert_eq!(out["ok"], true, "kms: {out:#}");
    // It lints clean: no error, no warning.
    let o = dekit(&["lint", file.to_str().unwrap(), "--format", "json"]);
    let found: Vec<Value> = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(found.iter().all(|v| v["level"] == "note"), "{found:#?}");
    // A control: parliament does flag a policy with an unknown action and a `*` resource.
    let graph = serde_json::json!({"nodes": [{"address": "iam_role.x", "attributes": {"inline_policy": {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObjekt"], "Resource": "*"},
            {"Effect": "Allow", "Action": ["kms:Decrypt"],
             "Resource": "arn:aws:kms:us-east-1:000000000000:key/*",
             "Condition": {"StringEquals": {"kms:NoSuchAliases": "alias/x"}}}
        ]
    }}}]});
    let path = dir.join("bad.json");
    std::fs::write(&path, graph.to_string()).unwrap();
    let v = std::process::Command::new(&python)
        .arg(&script)
        .args(["iam", path.to_str().unwrap()])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&v.stdout);
    assert!(!v.status.success(), "{out}");
    // Condition keys are accepted only where parliament's database lists them for the action
    // or its resource type: a made-up one is still reported.
    assert!(out.contains("kms:NoSuchAliases"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// S126: the deployed pipeline as generated stays inside its stack (`dekit lint` is clean), and
/// each way out of it, made by editing the graph, is a finding on the resource.
#[test]
fn lint_keeps_the_deployed_pipeline_inside_its_stack() {
    let dir = std::env::temp_dir().join(format!("dekit-s126-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    common::copy_dir(&repo_root().join("stacks/retail"), &dir);
    let file = dir.join("stack.yaml");
    let text = std::fs::read_to_string(&file).unwrap().replace(
        "observe:\n  alarms:\n",
        "observe:\n  topics:\n    oncall:\n      description: Pages the on-call\n  alarms:\n",
    );
    let text = format!("{text}\norchestration:\n  schedule: rate(1 hour)\n  notify: [oncall]\n");
    std::fs::write(&file, text).unwrap();
    let o = dekit(&["lint", file.to_str().unwrap(), "--format", "json"]);
    let found: Vec<Value> = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(found.iter().all(|v| v["code"] != "S126"), "{found:#?}");
    let (loaded, report) = dekit::load::load_file(&file, None).unwrap();
    let (checked, _) = dekit::validate::check(loaded, report);
    let mut g = dekit::graph::compile::compile(&checked.unwrap()).unwrap();
    let at = |_: &str| dekit::source::Span::default();
    assert_eq!(dekit::lint::pipeline::check(&g, &at), vec![]);
    // On AWS the steps push models down: the function's role may run queries in the stack's
    // workgroup, drop the Athena models' scratch tables and start the Glue model's job; no more.
    let role = g.get("iam_role.pipeline_steps").unwrap();
    let statements = role.attrs["inline_policy"]["Statement"].as_array().unwrap();
    let sid = |name: &str| {
        statements
            .iter()
            .find(|s| s["Sid"] == name)
            .unwrap_or_else(|| panic!("no {name} in {statements:#?}"))
    };
    assert_eq!(
        sid("Queries")["Resource"],
        serde_json::json!(["arn:aws:athena:us-east-1:000000000000:workgroup/retail-local"])
    );
    assert_eq!(
        sid("ModelJobs")["Resource"],
        serde_json::json!([
            "arn:aws:glue:us-east-1:000000000000:job/retail-local-product-interactions"
        ])
    );
    assert!(
        sid("ScratchTables")["Resource"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r
                .as_str()
                .unwrap()
                .ends_with("/retail_local/dim_customers__dekit_*")),
        "{statements:#?}"
    );
    for n in &mut g.nodes {
        match n.address.as_str() {
            "sfn_state_machine.pipeline" => {
                let text = serde_json::to_string(&n.attrs["definition"])
                    .unwrap()
                    .replace("function:", "function:someone-elses-")
                    .replace("-oncall\"", "-elsewhere\"")
                    .replacen(
                        "arn:aws:states:::lambda:invoke\"",
                        "arn:aws:states:::glue:startJobRun.sync\"",
                        1,
                    );
                n.attrs["definition"] = serde_json::from_str(&text).unwrap();
            }
            "scheduler_schedule.pipeline" => {
                n.attrs["target"]["arn"] =
                    Value::from("arn:aws:states:us-east-1:1:stateMachine:other");
            }
            "lambda_function.steps" => {
                n.attrs["artifacts_bucket"] = Value::from("someone-elses-bucket");
            }
            _ => {}
        }
    }
    let found: Vec<String> = dekit::lint::pipeline::check(&g, &at)
        .into_iter()
        .map(|f| f.2)
        .collect();
    let has = |s: &str| found.iter().any(|f| f.contains(s));
    assert!(
        has("invokes `arn:aws:lambda:") && has("not the stack's function"),
        "{found:#?}"
    );
    assert!(
        has("publishes to `arn:aws:sns:") && has("-elsewhere`"),
        "{found:#?}"
    );
    assert!(
        has("calls `arn:aws:states:::glue:startJobRun.sync`"),
        "{found:#?}"
    );
    assert!(
        has("scheduler_schedule.pipeline starts `arn:aws:states:us-east-1:1:stateMachine:other`"),
        "{found:#?}"
    );
    assert!(
        has("lambda_function.steps reads its package from `someone-elses-bucket`"),
        "{found:#?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Credentials that do not work for an `aws` environment: each cause said with its next command,
/// not the SDK's provider chain (no network needed: each fails before or at a local address).
/// The messages are snapshots (`tests/snapshots/credentials/`), this machine's paths as `<home>`.
#[test]
fn credential_errors_name_the_cause_and_the_next_command() {
    let dir = std::env::temp_dir().join(format!("dekit-creds-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // Retail without `profile:`, for the cases that name none.
    let bare = dir.join("bare");
    common::copy_dir(&repo_root().join("stacks/retail"), &bare);
    let text = std::fs::read_to_string(bare.join("stack.yaml")).unwrap();
    std::fs::write(
        bare.join("stack.yaml"),
        text.replace("    profile: retail-prod\n", ""),
    )
    .unwrap();
    let plan = |stack: &std::path::Path, extra: &[(&str, &str)]| -> String {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_dekit"));
        c.arg("plan")
            .arg(stack)
            .args(["--env", "prod"])
            .current_dir(repo_root())
            .env("HOME", &dir)
            .env("AWS_CONFIG_FILE", dir.join("config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("credentials"))
            .env("AWS_EC2_METADATA_DISABLED", "true");
        for k in [
            "AWS_PROFILE",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
        ] {
            c.env_remove(k);
        }
        c.envs(extra.iter().copied());
        let o = c.output().unwrap();
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        let err = stderr(&o);
        assert!(
            !err.contains("provider chain") && !err.contains("IMDS"),
            "{err}"
        );
        err.replace(&dir.display().to_string(), "<home>")
    };
    let retail = repo_root().join(RETAIL);
    let mut said = vec![];
    // The profile prod names is not set up here; nor the one AWS_PROFILE names; and none at all.
    said.push(("profile not configured", plan(&retail, &[])));
    said.push((
        "AWS_PROFILE not configured",
        plan(&bare.join("stack.yaml"), &[("AWS_PROFILE", "nope")]),
    ));
    said.push(("no credentials", plan(&bare.join("stack.yaml"), &[])));
    // Set up for SSO, but nobody signed in (or the session expired).
    std::fs::write(
        dir.join("config"),
        "[profile retail-prod]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Admin\nregion = eu-west-1\n\n[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\n",
    )
    .unwrap();
    said.push(("SSO not signed in", plan(&retail, &[])));
    // Access keys for the profile, but AWS does not answer.
    std::fs::remove_file(dir.join("config")).unwrap();
    std::fs::write(
        dir.join("credentials"),
        "[retail-prod]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = example-secret\n",
    )
    .unwrap();
    let unreachable = plan(&retail, &[("AWS_ENDPOINT_URL", "http://127.0.0.1:9")]);
    assert!(
        !unreachable.contains("example-secret"),
        "a secret was shown: {unreachable}"
    );
    said.push(("endpoint not answering", unreachable));
    for (case, err) in &said {
        assert!(
            err.trim_end().lines().count() <= 3,
            "{case}: not one paragraph:\n{err}"
        );
    }
    let text: String = said
        .iter()
        .map(|(case, err)| format!("## {case}\n{err}\n"))
        .collect();
    snapshot_dir("credentials").bind(|| insta::assert_snapshot!("credential_errors", text));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A database source that only receives an export's rows still gets its connection secret on
/// AWS (the deployed step runtime has no `${env.*}`), with no `tables:` warning; the export's
/// step runs after the source's and the model's.
#[test]
fn an_export_target_gets_its_secret_and_its_place_in_the_pipeline() {
    let dir = std::env::temp_dir().join(format!("dekit-export-target-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    common::copy_dir(&repo_root().join("stacks/retail"), &dir);
    let file = dir.join("stack.yaml");
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replacen(
            "sources:\n",
            "sources:\n  app_db:\n    kind: postgres\n    host: ${env.APP_DB_HOST}\n    database: app\n    user: dekit_writer\n    password: ${env.APP_DB_PASSWORD}\n",
            1,
        )
        .replacen(
            "  exports:\n",
            "  exports:\n    features_to_app:\n      from: ml_product_features\n      to: app_db\n      table: product_features\n      key: [product_key]\n",
            1,
        );
    std::fs::write(&file, text).unwrap();
    let o = dekit(&["validate", file.to_str().unwrap(), "--env", "prod"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("W171"), "{}", stderr(&o));
    let o = dekit(&[
        "graph",
        file.to_str().unwrap(),
        "--env",
        "prod",
        "--format",
        "json",
    ]);
    let g: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let node = |a: &str| {
        g["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["address"] == a)
            .unwrap_or_else(|| panic!("no {a}"))
            .clone()
    };
    let secret = node("secretsmanager_secret.app_db");
    assert_eq!(
        secret["attributes"]["value_from"]["database"], "app",
        "{secret}"
    );
    let step = node("export.features_to_app");
    let deps: Vec<&str> = step["depends_on"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    assert!(
        deps.contains(&"source.app_db") && deps.contains(&"transform.ml_product_features"),
        "{deps:?}"
    );
    assert_eq!(step["attributes"]["mode"], "upsert");
    let _ = std::fs::remove_dir_all(&dir);
}
