//! E103 glue-name: catalog database, table, model, view and column names are Athena-safe.
//!
//! Why: Glue accepts names Athena cannot query unquoted (upper case, dashes); dekit keeps every
//! catalog name queryable as written.
//!
//! Example: a table `Order-Items` → `order_items`.
//!
//! W104 column-case: a column declared in mixed case (`customerNumber`, as a MySQL schema has it)
//! is not an error: Glue and Athena store it in lowercase, and `dekit run` matches source columns
//! ignoring case. It is said once per table, as a warning listing the columns.

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
    also: &[(
        "W104",
        "column-case",
        "mixed-case column names are stored in lowercase by Glue and Athena",
        "write them in lowercase to match what queries see; sources are matched ignoring case",
    )],
    check,
};

fn check(cx: &Cx, out: &mut Vec<Diagnostic>) {
    let s = &cx.loaded.stack;
    let mut names: Vec<(&str, &Spanned<String>)> = vec![("database", &s.storage.catalog.database)];
    for (k, t) in s.tables.iter() {
        names.push(("table", k));
        // Columns valid once lowercased: one warning for the table, not an error each.
        let (cased, other): (Vec<_>, Vec<_>) = t.columns.iter().map(|(c, _)| c).partition(|c| {
            aws_names::glue(c).is_err() && aws_names::glue(&c.to_ascii_lowercase()).is_ok()
        });
        if let Some(first) = cased.first() {
            out.push(
                cx.warning(
                    "W104",
                    format!(
                        "table `{}`: column{} {} {} stored in lowercase by Glue and Athena ({})",
                        k.value,
                        if cased.len() > 1 { "s" } else { "" },
                        cased
                            .iter()
                            .map(|c| format!("`{}`", c.value))
                            .collect::<Vec<_>>()
                            .join(", "),
                        if cased.len() > 1 { "are" } else { "is" },
                        cased
                            .iter()
                            .map(|c| c.to_ascii_lowercase())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    first.span,
                )
                .hint("`dekit run` matches source columns ignoring case; queries use the lowercase names"),
            );
        }
        names.extend(other.into_iter().map(|c| ("column", c)));
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
