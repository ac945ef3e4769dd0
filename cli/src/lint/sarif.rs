//! Findings as SARIF 2.1.0, the format GitHub code scanning and other CI tools read: one run, the
//! rules used (id, name, description, help), a result per finding with its file, line and column.

use super::{Finding, Level};
use serde_json::{Value, json};

/// (name, summary, hint) of a code: validate's rules, then the graph's.
fn rule(code: &str) -> (String, String, String) {
    let v = crate::validate::rules::ALL.iter().find_map(|r| {
        if r.code == code {
            return Some((r.name, r.summary, r.hint));
        }
        r.also.iter().find(|a| a.0 == code).map(|a| (a.1, a.2, a.3))
    });
    let g = super::GRAPH_RULES
        .iter()
        .find(|r| r.0 == code)
        .map(|r| (r.1, r.2, r.3));
    let (n, s, h) = v.or(g).unwrap_or(("", "", ""));
    (n.to_string(), s.to_string(), h.to_string())
}

pub fn render(findings: &[Finding]) -> Value {
    let mut codes: Vec<&str> = findings.iter().map(|f| f.code).collect();
    codes.sort();
    codes.dedup();
    let rules: Vec<Value> = codes
        .iter()
        .map(|c| {
            let (name, summary, hint) = rule(c);
            json!({
                "id": c,
                "name": name,
                "shortDescription": { "text": summary },
                "help": { "text": hint },
            })
        })
        .collect();
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            json!({
                "ruleId": f.code,
                "ruleIndex": codes.iter().position(|c| *c == f.code).unwrap_or(0),
                "level": match f.level {
                    Level::Error => "error",
                    Level::Warning => "warning",
                    Level::Note => "note",
                },
                "message": { "text": format!("{} (fix: {})", f.message, f.hint) },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": f.file },
                        "region": { "startLine": f.line.max(1), "startColumn": f.col.max(1) }
                    }
                }]
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "dekit",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/dekit/dekit",
                "rules": rules,
            }},
            "results": results,
        }]
    })
}
