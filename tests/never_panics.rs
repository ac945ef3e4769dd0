//! Property tests: loading and checking a stack never panics, whatever the bytes; and every stack
//! that checks clean compiles to a graph whose references all resolve (the reference check runs in
//! `compile`), and plans.

use dekit::source::SourceFile;
use proptest::prelude::*;

fn retail_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../stacks/retail")
}

/// Whether the text got as far as a plan. Fuzzed text lives in the retail directory, so the SQL
/// files it names are found and mutated stacks reach compile and plan.
fn check(text: &str) -> bool {
    let src = SourceFile::new(retail_dir().join("fuzz.yaml"), text);
    let Ok((loaded, report)) = dekit::load::load(src, None) else {
        return false;
    };
    let (checked, report) = dekit::validate::check(loaded, report);
    let _ = report.render(None);
    let Some(c) = checked else { return false };
    let g = dekit::graph::compile::compile(&c).unwrap_or_else(|e| panic!("{e}\n---\n{text}"));
    dekit::plan::diff(&g, &Default::default()).expect("a checked stack has no cycle");
    true
}

fn retail() -> String {
    std::fs::read_to_string(retail_dir().join("stack.yaml")).unwrap()
}

/// Light mutations that keep most stacks valid: renamed components, other counts and options.
#[test]
fn mutated_stacks_reach_compile_and_plan() {
    let base = retail();
    // Each edit is a group of replacements that keeps the stack consistent.
    let edits: &[&[(&str, &str)]] = &[
        &[("shop_tables", "shop_tbls")],
        &[
            ("    clickstream:\n", "    click_stream:\n"),
            ("from: clickstream\n", "from: click_stream\n"),
            ("stream: clickstream\n", "stream: click_stream\n"),
        ],
        &[("clickstream_iterator_age", "click_lag")],
        &[("retail_${environment}", "shop_${environment}")],
        &[("stack: retail", "stack: shop-2")],
    ];
    let mut reached = 0;
    for mask in 0u32..(1 << edits.len()) {
        let mut text = base.clone();
        for (i, group) in edits.iter().enumerate() {
            if mask & (1 << i) != 0 {
                for (from, to) in *group {
                    assert!(text.contains(from), "{from:?} is not in the retail stack");
                    text = text.replace(from, to);
                }
            }
        }
        if check(&text) {
            reached += 1;
        }
    }
    assert!(
        reached == 1 << edits.len(),
        "only {reached} of {} mutated stacks reached compile and plan",
        1 << edits.len()
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text(s in "\\PC{0,400}") {
        let _ = check(&s);
    }

    #[test]
    fn yaml_like_text(s in "([a-z_]{1,8}: ?|  |- |\\[|\\]|\\{|\\}|\"|'|\\$\\{|\\}|&a |\\*a|---|\n|[0-9]{1,6}|#|:|,){0,80}") {
        let _ = check(&s);
    }

    #[test]
    fn mutated_retail(cuts in proptest::collection::vec((0usize..12_000, 0usize..40, "[ :\\-\\[\\]{}\"'\\n$#a-z0-9]{0,4}"), 1..6)) {
        let mut text = retail();
        for (at, len, insert) in cuts {
            let at = at % text.len().max(1);
            let at = (0..=at).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
            let end = (at + len).min(text.len());
            let end = (end..=text.len()).find(|i| text.is_char_boundary(*i)).unwrap_or(text.len());
            text.replace_range(at..end, &insert);
        }
        let _ = check(&text);
    }
}

#[test]
fn arbitrary_bytes_as_files() {
    // Invalid UTF-8 is reported as a read error, not a panic.
    let dir = std::env::temp_dir().join(format!("dekit-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("bytes.yaml");
    std::fs::write(&p, [0xff, 0xfe, b's', b't', 0x80]).unwrap();
    let err = dekit::load::load_file(&p, None).unwrap_err();
    assert!(err.1.diags[0].message.contains("not valid UTF-8"));
    std::fs::remove_dir_all(dir).unwrap();
}

/// The classes of hostile input, generated: alias bombs, deep nesting, huge key counts, odd bytes,
/// paths out of the stack, YAML tags. Each is refused (or accepted) without a panic, well under
/// a second on a debug build, with its errors located in the stack file or its SQL, and nothing
/// of a file outside the stack's directory appears in the output.
#[test]
fn hostile_inputs_are_refused_quickly_and_precisely() {
    let base = std::env::temp_dir().join(format!("dekit-hostile-{}", std::process::id()));
    let dir = base.join("stack");
    std::fs::create_dir_all(dir.join("models")).unwrap();
    let secret = "TOP-SECRET-OUTSIDE-THE-STACK";
    std::fs::write(base.join("outside.sql"), format!("select '{secret}'")).unwrap();
    std::os::unix::fs::symlink(base.join("outside.sql"), dir.join("models/link.sql")).unwrap();
    let _ = std::process::Command::new("mkfifo")
        .arg(dir.join("models/fifo.sql"))
        .status();
    let valid_head = "stack: shop\nenvironments:\n  local:\n    target: local\nstorage:\n  lake:\n    bucket: shop-lake-test\n    zones:\n      raw: {}\n      curated: {}\n  catalog:\n    database: shop\n";
    let model =
        |path: &str| format!("{valid_head}transforms:\n  m:\n    sql: {path}\n    zone: curated\n");
    let mut cases: Vec<(String, Vec<u8>)> = vec![];
    for (depth, width) in [(4, 10), (6, 8), (9, 10), (12, 4), (30, 2)] {
        let mut t = String::from("stack: shop\nvariables:\n  l0: &l0 [a, b]\n");
        for i in 1..depth {
            let refs = vec![format!("*l{}", i - 1); width].join(", ");
            t.push_str(&format!("  l{i}: &l{i} [{refs}]\n"));
        }
        cases.push((format!("alias bomb {depth}x{width}"), t.into_bytes()));
    }
    for n in [200, 6_000, 100_000] {
        cases.push((
            format!("nesting {n}"),
            format!(
                "stack: shop\nvariables:\n  x: {}{}\n",
                "[".repeat(n),
                "]".repeat(n)
            )
            .into_bytes(),
        ));
        cases.push((
            format!("type nesting {n}"),
            format!(
                "{valid_head}tables:\n  t:\n    zone: raw\n    columns:\n      c: {}int{}\n",
                "array<".repeat(n),
                ">".repeat(n)
            )
            .into_bytes(),
        ));
    }
    for n in [10_000, 40_000] {
        let mut t = String::from("stack: shop\nvariables:\n");
        for i in 0..n {
            t.push_str(&format!("  v{i}: x\n"));
        }
        cases.push((format!("{n} variables"), t.into_bytes()));
    }
    let mut nul = valid_head.as_bytes().to_vec();
    nul.insert(30, 0);
    cases.push(("NUL byte".into(), nul));
    cases.push((
        "CR-only lines".into(),
        valid_head.replace('\n', "\r").into_bytes(),
    ));
    cases.push((
        "invalid UTF-8".into(),
        [valid_head.as_bytes(), &[0xff, 0xfe]].concat(),
    ));
    for p in [
        "../outside.sql",
        "/etc/passwd",
        "models/link.sql",
        "models/fifo.sql",
        "/proc/self/environ",
        "../../../../../../dev/zero",
    ] {
        cases.push((format!("sql: {p}"), model(p).into_bytes()));
    }
    cases.push(("SQL of 20,000 ORs".into(), {
        let ors = vec!["a = 1"; 20_000].join(" OR ");
        std::fs::write(
            dir.join("models/ors.sql"),
            format!("select * from t where {ors}"),
        )
        .unwrap();
        model("models/ors.sql").into_bytes()
    }));
    // One expression of 200,000 terms (1.4 MB): every walk over its tree recursed once per term
    // and overflowed the stack; refused from its tokens, with its line and column.
    cases.push(("SQL of 200,000 ORs".into(), {
        let ors: Vec<String> = (0..200_000).map(|i| format!("x = {i}")).collect();
        std::fs::write(
            dir.join("models/deep.sql"),
            format!("select x\nfrom t\nwhere {}\n", ors.join(" or ")),
        )
        .unwrap();
        model("models/deep.sql").into_bytes()
    }));
    // 50,000 entries that are each an error: diagnostics were quadratic in their number.
    cases.push(("50,000 errors".into(), {
        let mut t = format!("{valid_head}tables:\n");
        for i in 0..50_000 {
            t.push_str(&format!("  x{i}: 1\n"));
        }
        t.into_bytes()
    }));
    for tag in [
        "!!binary c2VjcmV0",
        "!!python/object:os.system x",
        "!custom x",
    ] {
        cases.push((
            format!("tag {tag}"),
            format!("stack: shop\nvariables:\n  v: {tag}\n").into_bytes(),
        ));
    }
    for (name, bytes) in cases {
        let file = dir.join("stack.yaml");
        std::fs::write(&file, &bytes).unwrap();
        let t = std::time::Instant::now();
        let (errors, rendered) = match dekit::load::load_file(&file, None) {
            Ok((loaded, report)) => {
                let src = loaded.src.clone();
                let (checked, report) = dekit::validate::check(loaded, report);
                if let Some(c) = checked {
                    let g = dekit::graph::compile::compile(&c).expect("references resolve");
                    dekit::plan::diff(&g, &Default::default()).expect("no cycle");
                }
                (
                    report.errors().cloned().collect::<Vec<_>>(),
                    report.render(Some(&src)),
                )
            }
            Err((src, report)) => (
                report.errors().cloned().collect(),
                report.render(src.as_ref()),
            ),
        };
        // A guard against hangs (a blow-up is minutes), not a speed measure: speed is the validate
        // benchmark's, and a loaded CI machine must not fail this.
        let took = t.elapsed();
        assert!(
            took < std::time::Duration::from_secs(20),
            "{name}: took {took:?}"
        );
        assert!(
            !rendered.contains(secret),
            "{name}: a file outside the stack was shown:\n{rendered}"
        );
        assert!(
            !rendered.contains("root:x:0:0"),
            "{name}: /etc/passwd was shown"
        );
        if name.starts_with("sql: ")
            || name.starts_with("tag ")
            || name == "SQL of 200,000 ORs"
            || name == "50,000 errors"
            || name.starts_with("alias bomb 9")
            || name == "NUL byte"
        {
            assert!(!errors.is_empty(), "{name}: accepted");
        }
        for e in &errors {
            let located = e.span.is_some() || name == "invalid UTF-8";
            assert!(
                located,
                "{name}: an error without line and column: {}",
                e.message
            );
        }
    }
    std::fs::remove_dir_all(&base).unwrap();
}
