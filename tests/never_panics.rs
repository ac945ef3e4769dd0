//! Property tests: loading and checking a stack never panics, whatever the bytes.

use dekit::source::SourceFile;
use proptest::prelude::*;

fn check(text: &str) {
    let src = SourceFile::new("fuzz.yaml", text);
    if let Ok((loaded, report)) = dekit::load::load(src, None) {
        let (checked, report) = dekit::validate::check(loaded, report);
        let _ = report.render(None);
        if let Some(c) = checked {
            let g = dekit::graph::compile::compile(&c);
            let _ = dekit::plan::diff(&g, &Default::default());
        }
    }
}

fn retail() -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::read_to_string(root.join("stacks/retail/stack.yaml")).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text(s in "\\PC{0,400}") {
        check(&s);
    }

    #[test]
    fn yaml_like_text(s in "([a-z_]{1,8}: ?|  |- |\\[|\\]|\\{|\\}|\"|'|\\$\\{|\\}|&a |\\*a|---|\n|[0-9]{1,6}|#|:|,){0,80}") {
        check(&s);
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
        check(&text);
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
