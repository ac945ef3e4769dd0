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
