//! SQL of transforms and views: parse it and find the relations it reads, which become DAG edges.

use sqlparser::ast::{ObjectName, Query, Statement, Visit, Visitor};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;
use std::collections::BTreeSet;
use std::ops::ControlFlow;

/// A double-quoted identifier, as Athena/Trino, DataFusion and PostgreSQL read it.
pub fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// A relation or column as the catalog names it, quoted: lowercase, as Glue keeps names and the
/// loader writes columns (`customerNumber` is the column `customernumber`). Quoting the declared
/// spelling made the local engine look for `customerNumber` and fail; Athena ignores case.
pub fn name(s: &str) -> String {
    ident(&s.to_ascii_lowercase())
}

/// A check's query with `{this}` replaced by the relation's quoted catalog name.
pub fn this(sql: &str, relation: &str) -> String {
    sql.replace("{this}", &name(relation))
}

/// A single-quoted string literal.
pub fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[derive(Debug, Clone, PartialEq)]
pub struct SqlError {
    pub message: String,
    /// 1-based position in the SQL file when the parser gave one.
    pub line: u32,
    pub col: u32,
}

/// How deep one expression may nest, bounded by the operators along a path of the tree (`a OR b
/// OR c` holds two; `x = 1 OR x = 2` three: every operator counts, an upper bound of the depth).
/// The parser builds long chains without recursion, but every walk over the tree (visitors, the
/// engines' planners, even dropping it) recurses once per level: a model of 200,000 `OR` terms
/// overflowed the stack. A thousand is far beyond hand-written SQL.
pub const MAX_EXPRESSION_DEPTH: usize = 1000;

/// Parse SQL, refusing first (from the tokens alone, without building a tree) an expression
/// nested deeper than `MAX_EXPRESSION_DEPTH`. Every parse of stack SQL goes through here.
pub fn parse(sql: &str) -> Result<Vec<Statement>, SqlError> {
    bounded(sql)?;
    Parser::parse_sql(&GenericDialect {}, sql).map_err(|e| {
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
    })
}

/// The depth check of `parse`: operators counted along each path, a parenthesis inheriting the
/// count where it opens, a comma or clause keyword starting a new expression at its level.
fn bounded(sql: &str) -> Result<(), SqlError> {
    use sqlparser::keywords::Keyword;
    use sqlparser::tokenizer::{Token, Tokenizer};
    let dialect = GenericDialect {};
    // A text that does not tokenize gets the parser's own error.
    let Ok(tokens) = Tokenizer::new(&dialect, sql).tokenize_with_location() else {
        return Ok(());
    };
    // (count at this level's start, count now) per open parenthesis.
    let mut levels: Vec<(usize, usize)> = vec![(0, 0)];
    for t in &tokens {
        let top = levels.last_mut().expect("the outermost level stays");
        let operator = match &t.token {
            Token::LParen => {
                let now = top.1;
                levels.push((now, now));
                false
            }
            Token::RParen => {
                if levels.len() > 1 {
                    levels.pop();
                }
                false
            }
            Token::Comma | Token::SemiColon => {
                top.1 = top.0;
                false
            }
            Token::Word(w) => match w.keyword {
                Keyword::AND | Keyword::OR | Keyword::NOT | Keyword::LIKE | Keyword::IS => true,
                Keyword::SELECT
                | Keyword::FROM
                | Keyword::WHERE
                | Keyword::GROUP
                | Keyword::HAVING
                | Keyword::ORDER
                | Keyword::LIMIT
                | Keyword::ON
                | Keyword::JOIN
                | Keyword::WHEN
                | Keyword::THEN
                | Keyword::ELSE
                | Keyword::END
                | Keyword::UNION
                | Keyword::EXCEPT
                | Keyword::INTERSECT => {
                    top.1 = top.0;
                    false
                }
                _ => false,
            },
            Token::Plus
            | Token::Minus
            | Token::Mul
            | Token::Div
            | Token::Mod
            | Token::StringConcat
            | Token::Eq
            | Token::DoubleEq
            | Token::Neq
            | Token::Lt
            | Token::Gt
            | Token::LtEq
            | Token::GtEq
            | Token::Spaceship
            | Token::Ampersand
            | Token::Pipe
            | Token::Caret => true,
            _ => false,
        };
        if operator {
            let top = levels.last_mut().expect("the outermost level stays");
            top.1 += 1;
            if top.1 > MAX_EXPRESSION_DEPTH {
                return Err(SqlError {
                    message: format!(
                        "this expression holds more than {MAX_EXPRESSION_DEPTH} operators, too deep a tree to walk safely; write long lists of alternatives as `col IN (...)` or a join with a table of values"
                    ),
                    line: t.span.start.line.max(1) as u32,
                    col: t.span.start.column.max(1) as u32,
                });
            }
        }
    }
    Ok(())
}

/// Parse a model's SQL (one query) and return the names it reads, CTEs excluded, lowercased, in
/// order of name.
pub fn relations(sql: &str) -> Result<BTreeSet<String>, SqlError> {
    let statements = parse(sql)?;
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

/// Byte offset of a 1-based (line, column in characters).
pub fn offset(sql: &str, (line, col): (u64, u64)) -> Option<usize> {
    if line == 0 {
        return None;
    }
    let mut at = 0;
    for (i, l) in sql.split_inclusive('\n').enumerate() {
        if i as u64 + 1 == line {
            let c = l
                .char_indices()
                .nth(col as usize - 1)
                .map_or(l.len(), |(b, _)| b);
            return Some(at + c);
        }
        at += l.len();
    }
    None
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
    fn refuses_an_expression_too_deep_to_walk_and_says_where() {
        let terms: Vec<String> = (0..200_000).map(|i| format!("x = {i}")).collect();
        let sql = format!("select *\nfrom t\nwhere {}", terms.join(" or "));
        let e = relations(&sql).unwrap_err();
        assert_eq!(e.line, 3, "{e:?}");
        assert!(e.message.contains("more than 1000 operators"), "{e:?}");
        // Nesting counts along the path: parentheses do not reset it.
        let mut inner = "a".to_string();
        for _ in 0..10 {
            inner = format!("({} + {inner})", vec!["a"; 120].join(" + "));
        }
        let e = relations(&format!("select {inner} from t")).unwrap_err();
        assert!(e.message.contains("too deep a tree"), "{e:?}");
        // Long but flat: many columns, each short, and a long IN list.
        let cols: Vec<String> = (0..3000).map(|i| format!("a + {i} as c{i}")).collect();
        let list: Vec<String> = (0..50_000).map(|i| i.to_string()).collect();
        let wide = format!(
            "select {} from t where a in ({})",
            cols.join(", "),
            list.join(", ")
        );
        assert!(relations(&wide).is_ok());
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
    let statements = parse(sql).ok()?;
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
