//! E103 glue-name: catalog database, table, model, view and column names are Athena-safe.
//!
//! Why: Glue accepts names Athena cannot query unquoted (upper case, dashes); dekit keeps every
//! catalog name queryable as written.
//!
//! Example: a table `Order-Items` → `order_items`.

use super::Rule;
use crate::aws_names;
use crate::diagnostic::Diagnostic;
use crate::validate::Cx;
use crate::yaml::Spanned;

pub const RULE: Rule = Rule {
    code: "E103",
    name: "glue-name",
    summary: "catalog names use lowercase letters, digits and `_`",
    hint: "Glue and Athena names are lowercase letters, digits and `_`, e.g. `order_items`",
    source: include_str!("glue_name.rs"),
    also: &[],
    check,
};

fn check(cx: &Cx, out: &mut Vec<Diagnostic>) {
    let s = &cx.loaded.stack;
    let mut names: Vec<(&str, &Spanned<String>)> = vec![("database", &s.storage.catalog.database)];
    for (k, t) in s.tables.iter() {
        names.push(("table", k));
        names.extend(t.columns.iter().map(|(c, _)| ("column", c)));
        names.extend(t.partitions.iter().map(|(c, _)| ("partition", c)));
    }
    names.extend(s.transforms.iter().map(|(k, _)| ("model", k)));
    names.extend(s.serving.views.iter().map(|(k, _)| ("view", k)));
    for (what, name) in names {
        if let Err(why) = aws_names::glue(name) {
            let fixed: String = name
                .to_lowercase()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            out.push(
                cx.error(
                    "E103",
                    format!("invalid {what} name `{}`", name.value),
                    name.span,
                )
                .label(why)
                // Suggest only a name that is itself valid (never the bad value again).
                .hint(if aws_names::glue(&fixed).is_ok() && fixed != name.value {
                    format!("try `{fixed}`")
                } else {
                    "use lowercase letters, digits and `_`, starting with a letter".to_string()
                }),
            );
        }
    }
}
