//! What the local cloud cannot run is still checked for real: every Athena statement `run` sends
//! for the retail models (prod environment) is snapshot-tested and parsed as Trino by sqlglot, an
//! independent parser; every Glue script is snapshot-tested (it runs under PySpark in
//! `tests/transform.rs`).

mod common;

use std::path::PathBuf;
use std::process::Command;

fn retail(env: &str) -> dekit::validate::Checked {
    checked("stacks/retail/stack.yaml", env)
}

fn checked(file: &str, env: &str) -> dekit::validate::Checked {
    let path = common::repo_root().join(file);
    let (loaded, report) = dekit::load::load_file(&path, Some(env))
        .unwrap_or_else(|(_, r)| panic!("retail does not load: {:?}", r.diags));
    let (checked, report) = dekit::validate::check(loaded, report);
    checked.unwrap_or_else(|| panic!("retail does not check: {:?}", report.diags))
}

/// Every model and view of retail, with the statements `run` sends to Athena for it.
fn athena_statements() -> Vec<(String, Vec<String>)> {
    let checked = retail("prod");
    let s = &checked.loaded.stack;
    let mut names: Vec<String> = s.transforms.iter().map(|(n, _)| n.value.clone()).collect();
    names.extend(s.serving.views.iter().map(|(n, _)| n.value.clone()));
    names
        .into_iter()
        .map(|n| {
            let r = dekit::transform::athena::render(&checked, &n, "20261125T120000Z-abcd")
                .unwrap_or_else(|e| panic!("{n}: {e}"));
            (n, r.statements("20261125T120000Z-abcd"))
        })
        .collect()
}

/// The statements `dekit test` sends Athena for each SQL check of retail (prod).
fn athena_check_statements() -> Vec<(String, dekit::quality::athena::Statements)> {
    check_statements(&retail("prod"))
}

/// The same for a stack whose columns are camelCase (`customerNumber`).
fn camel_case_check_statements() -> Vec<(String, dekit::quality::athena::Statements)> {
    check_statements(&checked("tests/fixtures/camel_case/stack.yaml", "prod"))
}

fn check_statements(
    checked: &dekit::validate::Checked,
) -> Vec<(String, dekit::quality::athena::Statements)> {
    let db = dekit::names::Names::new(&checked.loaded).database();
    let known = checked.loaded.stack.relations();
    let mut out = vec![];
    for (rel, checks) in checked.loaded.stack.quality.iter() {
        for (i, c) in checks.iter().enumerate() {
            let url = format!("s3://lake/_dekit/failures/{}/{i}/", rel.value);
            if let Some(st) = dekit::quality::athena::render(c, &rel.value, &db, &known, &url) {
                out.push((format!("{}_{i}_{}", rel.value, dekit::checks::kind(c)), st));
            }
        }
    }
    out
}

#[test]
fn athena_check_statements_for_retail() {
    let all: Vec<String> = athena_check_statements()
        .into_iter()
        .map(|(n, st)| format!("-- {n}\n{}\n{}\n{}", st.count, st.sample, st.unload))
        .collect();
    assert!(all.len() >= 13, "{}", all.len());
    insta::assert_snapshot!("athena_quality_checks", all.join("\n\n"));
}

#[test]
fn athena_check_statements_name_camel_case_columns_as_the_catalog_does() {
    let all = camel_case_check_statements();
    assert_eq!(all.len(), 9, "{}", all.len());
    for (n, st) in &all {
        for sql in [&st.count, &st.sample, &st.unload] {
            // Quoted names are the catalog's lowercase ones; the user's own SQL stays as written.
            assert!(!sql.contains("\"customerNumber\""), "{n}: {sql}");
        }
    }
    let text: Vec<String> = all
        .into_iter()
        .map(|(n, st)| format!("-- {n}\n{}\n{}\n{}", st.count, st.sample, st.unload))
        .collect();
    insta::assert_snapshot!("athena_camel_case_checks", text.join("\n\n"));
}

#[test]
fn athena_statements_for_every_retail_model() {
    for (name, stmts) in athena_statements() {
        insta::assert_snapshot!(format!("athena_{name}"), stmts.join("\n;\n"));
    }
}

#[test]
fn athena_statements_parse_as_trino() {
    let dir = tempdir("trino");
    let mut files = vec![];
    for (name, stmts) in athena_statements() {
        for (i, s) in stmts.iter().enumerate() {
            let f = dir.join(format!("{name}_{i}.sql"));
            std::fs::write(&f, s).unwrap();
            files.push(f);
        }
    }
    // The quality checks' statements; UNLOAD's query on its own (sqlglot takes UNLOAD as an
    // opaque command, which would prove nothing).
    for (name, st) in athena_check_statements()
        .into_iter()
        .chain(camel_case_check_statements())
    {
        for (part, sql) in [
            ("count", &st.count),
            ("sample", &st.sample),
            ("failing", &st.failing),
        ] {
            let f = dir.join(format!("check_{name}_{part}.sql"));
            std::fs::write(&f, sql).unwrap();
            files.push(f);
        }
    }
    // A control: the parser must reject what Trino rejects, or its "ok" proves nothing.
    let broken = dir.join("control_broken.sql");
    std::fs::write(&broken, "SELECT a, FROM t WHERE").unwrap();
    let python = common::tools_python();
    let o = Command::new(&python)
        .arg(common::repo_root().join("tests/tools/trino_parse.py"))
        .args(&files)
        .arg(&broken)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    for f in &files {
        assert!(
            out.contains(&format!("ok {}", f.display())),
            "sqlglot (Trino) rejects {}:\n{out}\n{}",
            f.display(),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    assert!(
        out.contains(&format!("error {}", broken.display())),
        "the control statement parsed: {out}"
    );
    assert!(files.len() >= 7, "{files:?}");
}

#[test]
fn glue_scripts_for_every_retail_table_model() {
    let checked = retail("prod");
    for (name, t) in checked.loaded.stack.transforms.iter() {
        if t.materialized != dekit::model::Materialized::Table {
            continue;
        }
        let script = dekit::graph::compile::glue_script(
            &checked,
            name,
            &format!("s3://acme-retail-prod-lake/curated/{}/", name.value),
            "retail_prod",
        )
        .unwrap();
        insta::assert_snapshot!(format!("glue_{}", name.value), script);
    }
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dekit-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The engine is chosen once from the deployment: everything local on a local target; on AWS
/// Athena, except a table model declared `engine: glue`, which its Glue job builds.
#[test]
fn the_engine_of_each_model_follows_the_target_and_the_model() {
    use dekit::model::{Engine, Materialized};
    use dekit::transform::engine::SqlEngine;
    let local = retail("local");
    assert_eq!(SqlEngine::of(&local), SqlEngine::Local);
    for (name, _) in local.loaded.stack.transforms.iter() {
        assert_eq!(
            SqlEngine::for_model(&local, name),
            SqlEngine::Local,
            "{}",
            name.value
        );
    }
    let prod = retail("prod");
    assert_eq!(SqlEngine::of(&prod), SqlEngine::Athena);
    let mut glue = 0;
    for (name, t) in prod.loaded.stack.transforms.iter() {
        let want = if t.engine == Engine::Glue && t.materialized == Materialized::Table {
            glue += 1;
            SqlEngine::GlueSpark
        } else {
            SqlEngine::Athena
        };
        assert_eq!(SqlEngine::for_model(&prod, name), want, "{}", name.value);
    }
    assert!(glue > 0, "retail has a Glue model: the choice was tested");
    assert!(!SqlEngine::GlueSpark.capabilities().runs_checks);
    assert!(SqlEngine::Local.capabilities().skips_unchanged);
}

/// Retail with its pipeline deployed: the state machine, snapshotted, and accepted by an
/// independent Amazon States Language validator (npm `asl-validator`).
#[test]
fn retail_state_machine_is_valid_asl() {
    let dir = tempdir("asl");
    common::copy_dir(&common::repo_root().join("stacks/retail"), &dir);
    let file = dir.join("stack.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        format!("{text}\norchestration:\n  schedule: cron(0 5 * * ? *)\n  retries: 3\n"),
    )
    .unwrap();
    let (loaded, report) = dekit::load::load_file(&file, Some("prod")).unwrap();
    let (checked, report) = dekit::validate::check(loaded, report);
    let checked = checked.unwrap();
    let g = dekit::graph::compile::compile(&checked).unwrap();
    let def = dekit::graph::state_machine::of(&g, &checked.loaded).expect("a definition");
    // One scheduler: the batch load's Glue trigger is folded into the pipeline (W121 says so).
    assert!(
        !g.nodes
            .iter()
            .any(|n| n.kind
                == dekit::graph::NodeKind::Resource(dekit::graph::ResourceKind::GlueTrigger)),
        "a Glue trigger beside the pipeline"
    );
    assert!(
        report
            .diags
            .iter()
            .any(|d| d.code == "W121" && d.message.contains("batch `shop_tables`")),
        "{:?}",
        report.diags
    );
    let text = serde_json::to_string_pretty(&def).unwrap();
    insta::assert_snapshot!("retail_state_machine", text);
    // Every step of the run DAG has its task, after every step it depends on.
    let steps = dekit::graph::steps::step_graph(&g);
    let levels = dekit::graph::state_machine::levels(&steps);
    // The README draws these levels: the drawing is the graph's.
    let readme = std::fs::read_to_string(common::repo_root().join("README.md")).unwrap();
    for (i, level) in levels.iter().enumerate() {
        let node = format!("L{}[\"{}\"]", i + 1, level.join("<br>"));
        assert!(
            readme.contains(&node),
            "README's state machine lacks {node}"
        );
    }
    assert!(
        !readme.contains(&format!("L{}[", levels.len() + 1)),
        "README draws more levels than {}",
        levels.len()
    );
    let level_of = |s: &str| {
        levels
            .iter()
            .position(|l| l.iter().any(|x| x == s))
            .unwrap()
    };
    for (s, deps) in &steps {
        assert!(text.contains(&format!("\"{s}\": {{")), "no task for {s}");
        for d in deps {
            assert!(level_of(d) < level_of(s), "{s} runs before {d}");
        }
    }
    let path = dir.join("state-machine.json");
    std::fs::write(&path, &text).unwrap();
    let validator = common::tools_python().with_file_name("asl-validator");
    let o = Command::new(&validator)
        .arg("--json-path")
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("{} does not run: {e}", validator.display()));
    assert!(
        o.status.success(),
        "asl-validator refuses the definition:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    // The validator is not a rubber stamp: a state pointing nowhere is refused.
    let broken = text.replacen("\"Next\": \"finish\"", "\"Next\": \"nowhere\"", 1);
    assert_ne!(broken, text);
    std::fs::write(&path, &broken).unwrap();
    let o = Command::new(&validator)
        .arg("--json-path")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        !o.status.success(),
        "asl-validator accepted a dangling Next"
    );
}
