//! `engine: glue`: a model's SQL for Spark, and the PySpark script its Glue job runs (the graph
//! fills it in for each model: `graph::compile::glue_script`).
//!
//! Models are written once, in Athena's (Trino's) dialect. Spark differs in a few functions, so
//! the script gets the SQL with those calls rewritten to Spark's (`day_of_week(x)` →
//! `(weekday(x) + 1)`, `date_format(x, '%Y%m%d')` → `date_format(x, 'yyyyMMdd')`, ...); a test
//! runs every rendered script under real PySpark and compares its rows with the local engine's.

use serde_json::json;
use sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, ObjectName, ObjectNamePart,
    Value, VisitMut, VisitorMut,
};
use std::ops::ControlFlow;

/// The model's SQL in Spark's dialect, or why it cannot be translated.
pub fn spark_sql(sql: &str) -> Result<String, String> {
    let mut statements = crate::sql::parse(sql).map_err(|e| e.message)?;
    let mut t = Translate { error: None };
    let _ = statements.visit(&mut t);
    if let Some(e) = t.error {
        return Err(e);
    }
    Ok(statements
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join(";\n"))
}

struct Translate {
    error: Option<String>,
}

fn name_of(n: &ObjectName) -> String {
    n.0.last()
        .map(|p| p.to_string().to_lowercase())
        .unwrap_or_default()
}

fn set_name(n: &mut ObjectName, to: &str) {
    n.0 = vec![ObjectNamePart::Identifier(Ident::new(to))];
}

fn args(f: &mut sqlparser::ast::Function) -> Vec<&mut Expr> {
    match &mut f.args {
        FunctionArguments::List(l) => l
            .args
            .iter_mut()
            .filter_map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
                _ => None,
            })
            .collect(),
        _ => vec![],
    }
}

fn string_literal(e: &Expr) -> Option<String> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) => Some(s.clone()),
            _ => None,
        },
        _ => None,
    }
}

impl VisitorMut for Translate {
    type Break = ();

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        let Expr::Function(f) = expr else {
            return ControlFlow::Continue(());
        };
        let name = name_of(&f.name);
        match name.as_str() {
            "day_of_week" | "dow" => {
                set_name(&mut f.name, "weekday");
                let inner = std::mem::replace(expr, Expr::value(Value::Null));
                *expr = Expr::Nested(Box::new(Expr::BinaryOp {
                    left: Box::new(inner),
                    op: sqlparser::ast::BinaryOperator::Plus,
                    right: Box::new(Expr::value(Value::Number("1".into(), false))),
                }));
            }
            "day_of_year" | "doy" => set_name(&mut f.name, "dayofyear"),
            "day_of_month" => set_name(&mut f.name, "dayofmonth"),
            "week" | "week_of_year" => set_name(&mut f.name, "weekofyear"),
            "date_format" | "date_parse" => {
                let mut a = args(f);
                if let Some(fmt) = a.get_mut(1) {
                    match string_literal(fmt).map(|s| super::date_formats::java(&s)) {
                        Some(Ok(j)) => **fmt = Expr::value(Value::SingleQuotedString(j)),
                        Some(Err(e)) => self.error = Some(e),
                        None => {
                            self.error =
                                Some(format!("{name}(): the format must be a string literal"))
                        }
                    }
                }
                if name == "date_parse" {
                    set_name(&mut f.name, "to_timestamp");
                }
            }
            "date_add" | "date_diff" => {
                let mut a = args(f);
                if let Some(unit) = a.first_mut() {
                    match string_literal(unit) {
                        Some(u) => {
                            **unit = Expr::Identifier(Ident::new(u.to_uppercase()));
                        }
                        None => {
                            self.error =
                                Some(format!("{name}(): the unit must be a string literal"))
                        }
                    }
                }
                set_name(
                    &mut f.name,
                    if name == "date_add" {
                        "timestampadd"
                    } else {
                        "timestampdiff"
                    },
                );
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

/// What the Glue script of a model needs.
pub struct Script<'a> {
    pub job: &'a str,
    pub model: &'a str,
    pub sql: &'a str,
    /// `s3://.../<zone><model>/`: each run writes a version below it.
    pub target: &'a str,
    pub database: &'a str,
    pub partition_by: &'a [String],
    pub description: &'a str,
}

/// The PySpark script, or why the model's SQL has no Spark form.
pub fn script(s: &Script<'_>) -> Result<String, String> {
    let sql = spark_sql(s.sql)?;
    Ok(crate::templates::render(
        "glue/transform.py",
        &json!({
            "job": s.job,
            "model": s.model,
            "sql": serde_json::to_string(&sql).unwrap_or_default(),
            "target": s.target,
            "database": s.database,
            "partition_by": serde_json::to_string(s.partition_by).unwrap_or_default(),
            "description": serde_json::to_string(s.description).unwrap_or_default(),
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trino_calls_become_spark_calls() {
        let s = spark_sql(
            "select cast(date_format(o.order_ts, '%Y%m%d') as integer) as k, day_of_week(o.order_ts) as dow, date_diff('day', a, b) as d from orders o",
        )
        .unwrap();
        assert_eq!(
            s,
            "SELECT CAST(date_format(o.order_ts, 'yyyyMMdd') AS INTEGER) AS k, (weekday(o.order_ts) + 1) AS dow, timestampdiff(DAY, a, b) AS d FROM orders o"
        );
    }
}
