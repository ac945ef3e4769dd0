//! Engine errors told at the model's file, line and column, the way `validate` tells stack errors.

use datafusion::common::DataFusionError;
use std::path::Path;

/// `models/x.sql:3:5: <the engine's message>`: the position from the engine's diagnostic when it
/// has one, else from the first identifier the message names that the SQL holds.
pub fn at_model(path: &Path, sql: &str, e: &DataFusionError) -> String {
    let message = message(e);
    let (line, col) = e
        .diagnostic()
        .and_then(|d| d.span)
        .filter(|s| s.start.line > 0)
        .map(|s| (s.start.line, s.start.column))
        .or_else(|| named_in(sql, &message))
        .unwrap_or((1, 1));
    format!("{}:{line}:{col}: {message}", shown(path))
}

/// The engine's message without DataFusion's wrapping.
pub fn message(e: &DataFusionError) -> String {
    let root = e.find_root();
    let m = match root {
        DataFusionError::Diagnostic(d, _) => d.message.clone(),
        other => other.to_string(),
    };
    m.trim_start_matches("Error during planning: ")
        .trim_start_matches("Schema error: ")
        .trim_start_matches("SQL error: ")
        .trim_start_matches("Execution error: ")
        .trim_start_matches("Arrow error: ")
        .trim_start_matches("External error: ")
        .to_string()
}

fn shown(path: &Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    path.strip_prefix(&cwd)
        .unwrap_or(path)
        .to_string_lossy()
        .to_string()
}

/// Where the first back-quoted or quoted name of the message occurs in the SQL.
fn named_in(sql: &str, message: &str) -> Option<(u64, u64)> {
    // DataFusion names a missing column bare ("No field named o.x. Valid fields are ...").
    let bare = message.split_once("No field named ").map(|(_, rest)| {
        rest.split(|c: char| c.is_whitespace() || c == ',')
            .next()
            .unwrap_or("")
            .trim_end_matches('.')
            .replace(['`', '"', '\''], "")
    });
    let quoted = message
        .split(['`', '\'', '"'])
        .skip(1)
        .step_by(2)
        .map(str::to_string);
    let names = bare
        .into_iter()
        .chain(quoted)
        .filter(|n| !n.is_empty())
        .map(|n| n.rsplit('.').next().unwrap_or(&n).to_ascii_lowercase());
    for n in names {
        let lower = sql.to_ascii_lowercase();
        let mut from = 0;
        while let Some(i) = lower[from..].find(&n) {
            let at = from + i;
            let before = lower[..at].chars().last();
            let after = lower[at + n.len()..].chars().next();
            let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
            if !word(before) && !word(after) && !in_comment(&lower, at) {
                let line = lower[..at].matches('\n').count() as u64 + 1;
                let col = lower[..at]
                    .rsplit('\n')
                    .next()
                    .unwrap_or("")
                    .chars()
                    .count() as u64
                    + 1;
                return Some((line, col));
            }
            from = at + n.len();
        }
    }
    None
}

fn in_comment(sql: &str, at: usize) -> bool {
    let line_start = sql[..at].rfind('\n').map_or(0, |i| i + 1);
    sql[line_start..at].contains("--")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_named_column() {
        let sql = "-- price per unit\nselect\n  o.order_id,\n  o.pricee\nfrom orders o";
        assert_eq!(
            named_in(sql, "No field named o.pricee. Valid fields are o.x."),
            Some((4, 5))
        );
        assert_eq!(named_in(sql, "No field named `o`.`pricee`"), Some((4, 5)));
    }
}
