//! SQL of transforms and views: parse it and find the relations it reads, which become DAG edges.

use sqlparser::ast::{ObjectName, Query, Statement, Visit, Visitor};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;
use std::collections::BTreeSet;
use std::ops::ControlFlow;

#[derive(Debug, Clone, PartialEq)]
pub struct SqlError {
    pub message: String,
    /// 1-based position in the SQL file when the parser gave one.
    pub line: u32,
    pub col: u32,
}

/// Parse a model's SQL (one query) and return the names it reads, CTEs excluded, lowercased, in
/// order of name.
pub fn relations(sql: &str) -> Result<BTreeSet<String>, SqlError> {
    let statements = Parser::parse_sql(&GenericDialect {}, sql).map_err(|e| {
        let message = e.to_string();
        // Errors at the end of input carry no position: point at the last character.
        let (line, col) = position(&message).unwrap_or_else(|| end_of(sql));
        let message = message
            .split(" at Line:")
            .next()
            .unwrap_or(&message)
            .trim_start_matches("sql parser error: ")
            .to_string();
        SqlError { message, line, col }
    })?;
    match statements.as_slice() {
        [Statement::Query(_)] => {}
        [] => {
            return Err(SqlError {
                message: "the file holds no SQL statement".into(),
                line: 1,
                col: 1,
            });
        }
        _ => {
            return Err(SqlError {
                message: "a model is exactly one SELECT query (dekit writes the CREATE TABLE/VIEW)"
                    .into(),
                line: 1,
                col: 1,
            });
        }
    }
    let mut v = Relations::default();
    let _ = statements.visit(&mut v);
    Ok(v.names.difference(&v.ctes).cloned().collect())
}

#[derive(Default)]
struct Relations {
    names: BTreeSet<String>,
    ctes: BTreeSet<String>,
}

impl Visitor for Relations {
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
        if let Some(last) = name.0.last() {
            self.names
                .insert(last.to_string().trim_matches('"').to_lowercase());
        }
        ControlFlow::Continue(())
    }
}

fn end_of(sql: &str) -> (u32, u32) {
    let trimmed = sql.trim_end();
    let line = trimmed.lines().count().max(1) as u32;
    let col = trimmed
        .lines()
        .last()
        .map_or(1, |l| l.chars().count() as u32);
    (line, col.max(1))
}

fn position(msg: &str) -> Option<(u32, u32)> {
    let rest = &msg[msg.find("Line: ")? + 6..];
    let line: u32 = rest.split(',').next()?.trim().parse().ok()?;
    let rest = &rest[rest.find("Column: ")? + 8..];
    let col: u32 = rest
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .ok()?;
    Some((line, col))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_relations_but_not_ctes() {
        let r = relations(
            "with recent as (select * from orders where order_ts > now())
             select c.country, count(*) from recent r join retail.customers c on r.customer_id = c.customer_id
             group by 1",
        )
        .unwrap();
        assert_eq!(r.into_iter().collect::<Vec<_>>(), ["customers", "orders"]);
    }

    #[test]
    fn reports_syntax_error_position() {
        let e = relations("select a,\nfrom t where").unwrap_err();
        assert_eq!(e.line, 2, "{e:?}");
        assert!(
            relations("drop table x")
                .unwrap_err()
                .message
                .contains("one SELECT")
        );
    }
}

/// The names of the columns a model's query outputs, lowercased, when every one is known: plain
/// and qualified column references and aliased expressions. `None` when the SQL does not parse or
/// an output has no name dekit can tell (`*`, an unaliased expression), so callers check nothing
/// rather than guess.
pub fn output_columns(sql: &str) -> Option<Vec<String>> {
    use sqlparser::ast::{Expr, SelectItem, SetExpr};
    let statements = Parser::parse_sql(&GenericDialect {}, sql).ok()?;
    let [Statement::Query(q)] = statements.as_slice() else {
        return None;
    };
    let mut body = q.body.as_ref();
    // A UNION's columns are named by its first branch.
    while let SetExpr::SetOperation { left, .. } = body {
        body = left.as_ref();
    }
    let SetExpr::Select(select) = body else {
        return None;
    };
    select
        .projection
        .iter()
        .map(|item| match item {
            SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.to_lowercase()),
            SelectItem::UnnamedExpr(Expr::Identifier(i)) => Some(i.value.to_lowercase()),
            SelectItem::UnnamedExpr(Expr::CompoundIdentifier(parts)) => {
                parts.last().map(|i| i.value.to_lowercase())
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod output_tests {
    use super::output_columns;

    #[test]
    fn names_of_the_outputs_when_all_are_known() {
        assert_eq!(
            output_columns("select o.order_id, sum(i.qty) as units, Status from orders o join items i on true group by 1, 3").unwrap(),
            ["order_id", "units", "status"]
        );
        assert_eq!(
            output_columns("select a from x union all select b from y").unwrap(),
            ["a"]
        );
        assert!(output_columns("select * from x").is_none());
        assert!(output_columns("select count(*) from x").is_none());
        assert!(output_columns("not sql").is_none());
    }
}
