//! `engine: athena` on AWS: a model's SQL rendered as Athena statements and run through the
//! Athena API in the stack's workgroup.
//!
//! A table model is built the way the local engine builds it: a CTAS writes the new version to
//! its own prefix under a scratch table name; dekit then switches the model's catalog table to that
//! prefix (one UpdateTable) and drops the scratch table. Athena writes at most 100 partitions per
//! statement, so a partitioned model's partitions are written 100 at a time: the CTAS takes the
//! first hundred, an INSERT INTO each further hundred. Views are `CREATE OR REPLACE VIEW`.
//!
//! Table and model names in the SQL are qualified with the environment's database
//! (`"retail_prod"."orders"`), in place, so Athena's line and column numbers are the model's.

use crate::sql::ident;
use sqlparser::ast::{ObjectName, Query, Spanned, Visit, Visitor};
use std::collections::BTreeSet;
use std::ops::ControlFlow;

/// Lines the rendered CTAS puts before the model's first line.
pub const CTAS_HEADER_LINES: u32 = 3;

/// The model's SQL with every relation it names from `known` written `"db"."name"`; CTEs and
/// names already qualified stay as they are. Unparseable SQL is returned unchanged (validate has
/// already reported it).
pub fn qualified(sql: &str, db: &str, known: &BTreeSet<String>) -> String {
    let Ok(statements) = crate::sql::parse(sql) else {
        return sql.to_string();
    };
    let mut v = Names::default();
    let _ = statements.visit(&mut v);
    let mut edits: Vec<(usize, usize, String)> = v
        .spans
        .into_iter()
        .filter(|(n, _, _)| known.contains(n) && !v.ctes.contains(n))
        .filter_map(|(n, start, end)| {
            Some((
                crate::sql::offset(sql, start)?,
                crate::sql::offset(sql, end)?,
                format!("{}.{}", ident(db), ident(&n)),
            ))
        })
        .collect();
    edits.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut out = sql.to_string();
    for (a, b, with) in edits {
        out.replace_range(a..b, &with);
    }
    out
}

/// A 1-based (line, column).
type At = (u64, u64);

#[derive(Default)]
struct Names {
    /// Unqualified relation names with their start and end.
    spans: Vec<(String, At, At)>,
    ctes: BTreeSet<String>,
}

impl Visitor for Names {
    type Break = ();

    fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
        if let Some(with) = &q.with {
            for cte in &with.cte_tables {
                self.ctes.insert(cte.alias.name.value.to_lowercase());
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_relation(&mut self, name: &ObjectName) -> ControlFlow<()> {
        if name.0.len() == 1 {
            let span = name.span();
            let n = name.0[0].to_string().trim_matches('"').to_lowercase();
            self.spans.push((
                n,
                (span.start.line, span.start.column),
                (span.end.line, span.end.column),
            ));
        }
        ControlFlow::Continue(())
    }
}

/// A model's statements as `run` sends them to Athena, with the version `version` and, for a
/// partitioned model, its partitions not yet split (`Ctas::statements` splits them by 100).
pub struct Rendered {
    pub db: String,
    pub model: String,
    pub sql: String,
    pub location: String,
    pub partition_by: Vec<String>,
    pub columns: Vec<String>,
    pub view: bool,
}

impl Rendered {
    pub fn ctas<'a>(&'a self, version: &'a str) -> Ctas<'a> {
        Ctas {
            db: &self.db,
            model: &self.model,
            sql: &self.sql,
            location: &self.location,
            version,
            partition_by: &self.partition_by,
            columns: &self.columns,
        }
    }

    /// Every statement for an unsplit build (a view: its one CREATE OR REPLACE VIEW).
    pub fn statements(&self, version: &str) -> Vec<String> {
        if self.view {
            return vec![view(&self.db, &self.model, &self.sql)];
        }
        let c = self.ctas(version);
        let mut out = vec![];
        if !self.partition_by.is_empty() {
            out.push(c.partitions_query());
        }
        out.extend(c.statements(&[]));
        out
    }
}

/// Render model or view `name` of the checked stack for Athena.
pub fn render(
    checked: &crate::validate::Checked,
    name: &str,
    version: &str,
) -> Result<Rendered, String> {
    let s = &checked.loaded.stack;
    let names = crate::names::Names::new(&checked.loaded);
    let db = names.database();
    let m = checked
        .models
        .get(name)
        .ok_or_else(|| format!("no model or view `{name}`"))?;
    let sql = qualified(&m.sql, &db, &checked.loaded.stack.relations());
    let t = s.transforms.get(name);
    let view = t.is_none_or(|t| t.materialized == crate::model::Materialized::View);
    let partition_by: Vec<String> = t.map(|t| t.partitions()).unwrap_or_default();
    let location = match t {
        Some(t) if !view => format!(
            "s3://{}/{}{name}/{version}/",
            names.lake_bucket(),
            names.zone_prefix(&t.zone)
        ),
        _ => String::new(),
    };
    let columns = if partition_by.is_empty() {
        vec![]
    } else {
        crate::sql::output_columns(&m.sql).ok_or_else(|| {
            format!(
                "{}: a partitioned model run by Athena names each output column (no `*`, every expression aliased): Athena wants the partition columns last",
                m.path.display()
            )
        })?
    };
    Ok(Rendered {
        db,
        model: name.to_string(),
        sql,
        location,
        partition_by,
        columns,
        view,
    })
}

/// What a table model needs rendered.
pub struct Ctas<'a> {
    pub db: &'a str,
    pub model: &'a str,
    /// The model's SQL, qualified.
    pub sql: &'a str,
    /// The new version's prefix, `s3://.../<model>/<version>/`.
    pub location: &'a str,
    pub version: &'a str,
    pub partition_by: &'a [String],
    /// Every output column, when partitioned (Athena wants the partition columns last).
    pub columns: &'a [String],
}

impl Ctas<'_> {
    pub fn scratch(&self) -> String {
        format!(
            "{}__dekit_{}",
            self.model,
            self.version.replace('-', "_").to_lowercase()
        )
    }

    fn select(&self) -> String {
        if self.partition_by.is_empty() {
            return self.sql.trim_end().trim_end_matches(';').to_string();
        }
        let ordered: Vec<String> = self
            .columns
            .iter()
            .filter(|c| !self.partition_by.contains(c))
            .chain(self.partition_by.iter())
            .map(|c| ident(c))
            .collect();
        format!(
            "SELECT {} FROM (\n{}\n) AS model",
            ordered.join(", "),
            self.sql.trim_end().trim_end_matches(';')
        )
    }

    /// The query listing the partitions the model writes (to split them by 100).
    pub fn partitions_query(&self) -> String {
        let cols: Vec<String> = self.partition_by.iter().map(|c| ident(c)).collect();
        format!(
            "SELECT DISTINCT {} FROM (\n{}\n) AS model ORDER BY {}",
            cols.join(", "),
            self.sql.trim_end().trim_end_matches(';'),
            cols.join(", ")
        )
    }

    /// The statements, in order: one CTAS, then one INSERT INTO per further 100 partitions.
    /// `partitions` are the values the partitions query returned (ignored when unpartitioned).
    pub fn statements(&self, partitions: &[Vec<String>]) -> Vec<String> {
        let mut with = vec![
            "format = 'PARQUET'".to_string(),
            "write_compression = 'SNAPPY'".to_string(),
            format!("external_location = {}", crate::sql::literal(self.location)),
        ];
        if !self.partition_by.is_empty() {
            let cols: Vec<String> = self
                .partition_by
                .iter()
                .map(|c| crate::sql::literal(c))
                .collect();
            with.push(format!("partitioned_by = ARRAY[{}]", cols.join(", ")));
        }
        let target = format!("{}.{}", ident(self.db), ident(&self.scratch()));
        let head = format!("CREATE TABLE {target}\nWITH ({})\nAS\n", with.join(", "));
        debug_assert_eq!(head.lines().count() as u32, CTAS_HEADER_LINES);
        if self.partition_by.is_empty() || partitions.len() <= 100 {
            return vec![format!("{head}{}", self.select())];
        }
        partitions
            .chunks(100)
            .enumerate()
            .map(|(i, chunk)| {
                let filter = self.partitions_in(chunk);
                let body = format!(
                    "SELECT * FROM (\n{}\n) AS model\nWHERE {filter}",
                    self.select()
                );
                if i == 0 {
                    format!("{head}{body}")
                } else {
                    format!("INSERT INTO {target}\n{body}")
                }
            })
            .collect()
    }

    /// The condition selecting the partitions `values` (values in partition-key order).
    fn partitions_in(&self, values: &[Vec<String>]) -> String {
        let cols: Vec<String> = self.partition_by.iter().map(|c| ident(c)).collect();
        let tuples: Vec<String> = values
            .iter()
            .map(|v| {
                let vs: Vec<String> = v.iter().map(|x| crate::sql::literal(x)).collect();
                if vs.len() == 1 {
                    vs[0].clone()
                } else {
                    format!("({})", vs.join(", "))
                }
            })
            .collect();
        let lhs = if cols.len() == 1 {
            // Partition values come back as text; compare as text whatever the column's type.
            format!("CAST({} AS varchar)", cols[0])
        } else {
            format!(
                "({})",
                cols.iter()
                    .map(|c| format!("CAST({c} AS varchar)"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        format!("{lhs} IN ({})", tuples.join(", "))
    }
}

/// `CREATE OR REPLACE VIEW`, one header line before the model's SQL.
pub fn view(db: &str, name: &str, sql: &str) -> String {
    format!(
        "CREATE OR REPLACE VIEW {}.{} AS\n{}",
        ident(db),
        ident(name),
        sql.trim_end().trim_end_matches(';')
    )
}

/// Athena's error (`line 4:9: Column 'x' cannot be resolved`) at the model's own line.
pub fn model_error(path: &str, header_lines: u32, reason: &str) -> String {
    let parsed = reason.split_once("line ").and_then(|(_, rest)| {
        let (pos, msg) = rest.split_once(": ")?;
        let (l, c) = pos.split_once(':')?;
        Some((l.parse::<u32>().ok()?, c.parse::<u32>().ok()?, msg))
    });
    match parsed {
        Some((l, c, msg)) if l > header_lines => {
            format!("{path}:{}:{c}: Athena: {msg}", l - header_lines)
        }
        _ => format!("{path}: Athena: {reason}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> BTreeSet<String> {
        ["orders", "order_items", "dim_date"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn qualifies_in_place() {
        let sql = "with o as (select * from orders)\nselect * from o\njoin order_items oi on true\njoin other.dim_date d on true";
        assert_eq!(
            qualified(sql, "retail_prod", &known()),
            "with o as (select * from \"retail_prod\".\"orders\")\nselect * from o\njoin \"retail_prod\".\"order_items\" oi on true\njoin other.dim_date d on true"
        );
    }

    #[test]
    fn athena_lines_map_back_to_the_model() {
        assert_eq!(
            model_error(
                "models/f.sql",
                3,
                "line 7:12: Column 'x' cannot be resolved"
            ),
            "models/f.sql:4:12: Athena: Column 'x' cannot be resolved"
        );
        assert_eq!(
            model_error("m.sql", 3, "Access denied"),
            "m.sql: Athena: Access denied"
        );
    }

    #[test]
    fn over_100_partitions_split() {
        let c = Ctas {
            db: "d",
            model: "m",
            sql: "select a, day from t",
            location: "s3://b/curated/m/v1/",
            version: "v1",
            partition_by: &["day".into()],
            columns: &["day".into(), "a".into()],
        };
        let parts: Vec<Vec<String>> = (0..250).map(|i| vec![format!("{i}")]).collect();
        let s = c.statements(&parts);
        assert_eq!(s.len(), 3);
        assert!(s[0].starts_with("CREATE TABLE \"d\".\"m__dekit_v1\""));
        assert!(s[1].starts_with("INSERT INTO \"d\".\"m__dekit_v1\""));
        assert!(s[2].contains("'249'") && !s[2].contains("'199'"));
        assert!(s[0].contains("SELECT \"a\", \"day\" FROM"));
    }
}
