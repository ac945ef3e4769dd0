//! `sources:`: one pipeline step per source (what `dekit run` reads from).

use super::{Builder, S};
use serde_json::json;

pub fn add(b: &mut Builder) {
    for (name, src) in b.s.sources.iter() {
        let mut attrs = json!({ "kind": src.kind.value });
        if !src.tables.is_empty() {
            let tables: Vec<String> = src.tables.iter().map(|t| t.value.clone()).collect();
            attrs["tables"] = json!(tables);
        }
        b.step(S::Source, name, attrs, []);
    }
}
