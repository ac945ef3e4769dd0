//! E165 key-prefix: S3 key prefixes are plain relative paths: no `.` or `..` segment, no leading
//! `/`, no empty segment.
//!
//! Why: a prefix flows into S3 keys and into the IAM resources that grant access to them. S3
//! keeps `raw/../curated/` as a literal key (no folder is resolved), so data lands where no
//! table reads it, while a reader of the IAM policy takes it to mean another zone; a leading `/`
//! or `//` makes keys with an empty folder name that consoles and tools show differently.
//!
//! Example: `prefix: ../curated/` → `prefix: curated/`.

use super::Rule;
use crate::diagnostic::Diagnostic;
use crate::validate::Cx;
use crate::yaml::Spanned;

pub const RULE: Rule = Rule {
    code: "E165",
    name: "key-prefix",
    summary: "S3 key prefixes are plain relative paths",
    hint: "write the prefix as folders separated by single `/`, relative to the zone, e.g. `shop/orders/`",
    source: include_str!("key_prefix.rs"),
    also: &[],
    check,
};

/// Why a prefix is not a plain relative path, and the byte offset and length of the culprit.
pub fn problem(prefix: &str) -> Option<(usize, usize, String)> {
    if prefix.starts_with('/') {
        return Some((0, 1, "a key prefix must not start with `/`".into()));
    }
    let mut at = 0;
    let segments: Vec<&str> = prefix.split('/').collect();
    for (i, seg) in segments.iter().enumerate() {
        // A trailing `/` leaves one empty last segment: that is the usual folder form.
        let last = i + 1 == segments.len();
        match *seg {
            "" if !last => {
                return Some((
                    at,
                    1,
                    "a key prefix must not hold an empty folder (`//`)".into(),
                ));
            }
            "." | ".." => {
                return Some((
                    at,
                    seg.len(),
                    format!("`{seg}` is not resolved by S3: it becomes a folder named `{seg}`"),
                ));
            }
            _ => {}
        }
        at += seg.len() + 1;
    }
    None
}

fn check(cx: &Cx, out: &mut Vec<Diagnostic>) {
    let s = &cx.loaded.stack;
    let mut all: Vec<&Spanned<String>> = vec![];
    all.extend(
        s.storage
            .lake
            .zones
            .iter()
            .filter_map(|(_, z)| z.prefix.as_ref()),
    );
    for (_, st) in s.ingest.streams.iter() {
        if let Some(d) = &st.delivery {
            all.extend(d.prefix.as_ref());
            all.extend(d.error_prefix.as_ref());
        }
    }
    all.extend(s.ingest.batch.iter().filter_map(|(_, b)| b.prefix.as_ref()));
    all.extend(s.tables.iter().filter_map(|(_, t)| t.prefix.as_ref()));
    all.extend(
        s.serving
            .exports
            .iter()
            .filter_map(|(_, e)| e.prefix.as_ref()),
    );
    for p in all {
        if let Some((offset, len, message)) = problem(p) {
            out.push(cx.error_in("E165", message, p, offset, len));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::problem;

    #[test]
    fn plain_relative_paths_only() {
        for ok in ["shop/", "shop/orders/", "shop", "a.b/c-d_e/"] {
            assert_eq!(problem(ok), None, "{ok}");
        }
        assert_eq!(problem("/shop/").map(|p| p.0), Some(0));
        assert_eq!(problem("shop//orders/").map(|p| (p.0, p.1)), Some((5, 1)));
        assert_eq!(problem("raw/../curated/").map(|p| (p.0, p.1)), Some((4, 2)));
        assert_eq!(problem("./x/").map(|p| (p.0, p.1)), Some((0, 1)));
    }
}
