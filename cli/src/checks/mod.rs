//! What each data-quality check is: one file per kind with what it tests, why, and an example;
//! each turns into one SQL query that counts failing rows (0 means the check passes), and one
//! listing them. Below the graph (which shows them) and `quality` (which runs them, and judges
//! the kinds that compare a schema or the run history instead: `schema`, the anomalies).

pub mod accepted_values;
pub mod custom;
pub mod freshness;
pub mod not_null;
pub mod range;
pub mod relationships;
pub mod row_count;
pub mod row_count_matches;
pub mod unique;

use crate::model::Check;
pub use crate::sql::name;
use serde_json::{Value, json};

pub fn kind(c: &Check) -> &'static str {
    match c {
        Check::NotNull(_) => "not_null",
        Check::Unique(_) => "unique",
        Check::AcceptedValues(_) => "accepted_values",
        Check::RowCount(_) => "row_count",
        Check::Freshness(_) => "freshness",
        Check::Relationships(_) => "relationships",
        Check::Range(_) => "range",
        Check::Schema(_) => "schema",
        Check::Sql(_) => "sql",
        Check::RowCountMatches(_) => "row_count_matches",
        Check::VolumeAnomaly(_) => "volume_anomaly",
        Check::FreshnessAnomaly(_) => "freshness_anomaly",
    }
}

/// A SQL check's two queries over one relation.
#[derive(Debug, Clone)]
pub struct Query {
    /// Counts the failing rows (0 passes).
    pub count: String,
    /// Lists them.
    pub rows: String,
}

/// The queries of a SQL check; none for the checks that compare a schema or the run history.
pub fn query(c: &Check, relation: &str) -> Option<Query> {
    Some(Query {
        count: sql(c, relation)?,
        rows: rows_sql(c, relation)?,
    })
}

/// The query counting failing rows of `relation` (a table, model or view name); none for the
/// checks that compare the data's schema or the run history instead.
pub fn sql(c: &Check, relation: &str) -> Option<String> {
    Some(match c {
        Check::NotNull(cols) => not_null::sql(relation, &names(cols)),
        Check::Unique(cols) => unique::sql(relation, &names(cols)),
        Check::AcceptedValues(a) => accepted_values::sql(relation, &a.column, &a.values),
        Check::RowCount(r) => row_count::sql(
            relation,
            r.min.as_ref().map(|m| m.value),
            r.max.as_ref().map(|m| m.value),
        ),
        Check::Freshness(f) => freshness::sql(relation, &f.column, f.max_age_hours.value),
        Check::Relationships(r) => {
            let (t, c) = r.to.split_once('.').unwrap_or((&r.to, ""));
            relationships::sql(relation, &r.column, t, c)
        }
        Check::Range(r) => range::sql(relation, &r.column, r.min, r.max),
        Check::Sql(q) => custom::sql(relation, &q.value),
        Check::RowCountMatches(m) => row_count_matches::sql(relation, &m.to, m.filter.as_deref()),
        Check::Schema(_) | Check::VolumeAnomaly(_) | Check::FreshnessAnomaly(_) => return None,
    })
}

/// The query listing what fails (`dekit test` shows a sample and stores them all).
pub fn rows_sql(c: &Check, relation: &str) -> Option<String> {
    Some(match c {
        Check::NotNull(cols) => not_null::rows(relation, &names(cols)),
        Check::Unique(cols) => unique::rows(relation, &names(cols)),
        Check::AcceptedValues(a) => accepted_values::rows(relation, &a.column, &a.values),
        Check::RowCount(_) => row_count::rows(relation),
        Check::Freshness(f) => freshness::rows(relation, &f.column),
        Check::Relationships(r) => {
            let (t, c) = r.to.split_once('.').unwrap_or((&r.to, ""));
            relationships::rows(relation, &r.column, t, c)
        }
        Check::Range(r) => range::rows(relation, &r.column, r.min, r.max),
        Check::Sql(q) => custom::rows(relation, &q.value),
        Check::RowCountMatches(m) => row_count_matches::rows(relation, &m.to, m.filter.as_deref()),
        Check::Schema(_) | Check::VolumeAnomaly(_) | Check::FreshnessAnomaly(_) => return None,
    })
}

/// A check's name as reports show it: `not_null(order_id, customer_id)`.
pub fn label(c: &Check) -> String {
    let cols = |v: &[crate::yaml::Spanned<String>]| {
        v.iter()
            .map(|c| c.value.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match c {
        Check::NotNull(v) => format!("not_null({})", cols(v)),
        Check::Unique(v) => format!("unique({})", cols(v)),
        Check::AcceptedValues(a) => format!("accepted_values({})", a.column.value),
        Check::RowCount(r) => format!(
            "row_count({}..{})",
            r.min
                .as_ref()
                .map(|m| m.value.to_string())
                .unwrap_or_default(),
            r.max
                .as_ref()
                .map(|m| m.value.to_string())
                .unwrap_or_default()
        ),
        Check::Freshness(f) => format!("freshness({}, {}h)", f.column.value, f.max_age_hours.value),
        Check::Relationships(r) => format!("relationships({} -> {})", r.column.value, r.to.value),
        Check::Range(r) => format!("range({})", r.column.value),
        Check::Schema(_) => "schema".into(),
        Check::Sql(_) => "sql".into(),
        Check::RowCountMatches(m) => format!("row_count_matches({})", m.to.value),
        Check::VolumeAnomaly(_) => "volume_anomaly".into(),
        Check::FreshnessAnomaly(_) => "freshness_anomaly".into(),
    }
}

/// Kind and query, as shown in the graph and in test reports.
pub fn describe(c: &Check) -> Value {
    json!({ "check": kind(c), "sql": sql(c, "{relation}") })
}

fn names(cols: &[crate::yaml::Spanned<String>]) -> Vec<&str> {
    cols.iter().map(|c| c.value.as_str()).collect()
}

/// The failing-row count of a query listing failing rows: one definition per check.
pub fn count_of(rows: &str) -> String {
    format!("SELECT count(*) AS failures FROM ({rows}) f")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{
        AcceptedValues, Freshness, Range, Relationships, RowCount, RowCountMatches,
    };
    use crate::yaml::Spanned;

    fn s(v: &str) -> Spanned<String> {
        Spanned::new(v.to_string())
    }

    /// One fixture per check kind: the SQL each one runs, snapshotted.
    #[test]
    fn check_sql_fixtures() {
        let checks = vec![
            Check::NotNull(vec![s("order_id"), s("customer_id")]),
            Check::Unique(vec![s("order_id")]),
            Check::AcceptedValues(AcceptedValues {
                column: s("status"),
                values: vec!["placed".into(), "o'hara".into()],
            }),
            Check::RowCount(RowCount {
                min: Some(Spanned::new(1)),
                max: Some(Spanned::new(1_000_000)),
            }),
            Check::Freshness(Freshness {
                column: s("order_ts"),
                max_age_hours: Spanned::new(48),
            }),
            Check::Relationships(Relationships {
                column: s("customer_key"),
                to: s("dim_customers.customer_key"),
            }),
            Check::Range(Range {
                column: s("quantity"),
                min: Some(1.0),
                max: Some(1000.0),
            }),
            Check::Sql(s(
                "SELECT * FROM {this} WHERE status = 'shipped' AND total <= 0;",
            )),
            Check::RowCountMatches(RowCountMatches {
                to: s("order_items"),
                filter: Some("quantity > 0".into()),
            }),
        ];
        for c in &checks {
            let sql = sql(c, "orders").expect("a SQL check");
            // Every check is a query the SQL parser accepts.
            assert!(crate::sql::relations(&sql).is_ok(), "{}: {sql}", kind(c));
            insta::assert_snapshot!(kind(c), sql);
            insta::assert_snapshot!(
                format!("{}_rows", kind(c)),
                rows_sql(c, "orders").expect("a SQL check")
            );
        }
    }
}
