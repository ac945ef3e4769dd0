//! E135 sql-dialect / W136 athena-partitions: a model's SQL uses only functions and constructs that
//! both engines running it have — the local engine (DataFusion, with dekit's Trino functions) and
//! Athena (Trino) — and, for `engine: glue`, that dekit can write for Spark.
//!
//! Why: models are written once and run locally and on AWS. A function only one engine has fails
//! on the other, after the data has been loaded and the earlier models built; found here, it is a
//! line in a file with the portable form beside it. Athena writes at most 100 partitions per
//! statement: a partitioned Athena model is written in several statements (W136 says so).
//!
//! Example: `select to_char(order_ts, '%Y') from orders` → E135 at the call: Athena has no
//! `to_char`; write `date_format(order_ts, '%Y')`, which both engines run with Trino's meaning.

use super::Rule;
use crate::diagnostic::Diagnostic;
use crate::validate::Cx;
use sqlparser::ast::{CastKind, Expr, Query, SetExpr, Spanned, Visit, Visitor};
use std::collections::BTreeSet;
use std::ops::ControlFlow;

pub const RULE: Rule = Rule {
    code: "E135",
    name: "sql-dialect",
    summary: "model SQL uses functions and constructs both the local engine and Athena have",
    hint: "use the portable form shown; `dekit query` tries SQL on the local engine",
    source: include_str!("sql_dialect.rs"),
    also: &[(
        "W136",
        "athena-partitions",
        "a partitioned Athena model may write more than 100 partitions in one statement",
        "dekit splits the write into statements of 100 partitions; fewer partitions are faster",
    )],
    check,
};

/// Functions Athena (Trino 3xx/4xx, as Athena engine 3 has them) provides.
const TRINO: &[&str] = &[
    // aggregate
    "approx_distinct",
    "approx_most_frequent",
    "approx_percentile",
    "approx_set",
    "arbitrary",
    "any_value",
    "array_agg",
    "avg",
    "bitwise_and_agg",
    "bitwise_or_agg",
    "bool_and",
    "bool_or",
    "checksum",
    "corr",
    "count",
    "count_if",
    "covar_pop",
    "covar_samp",
    "every",
    "geometric_mean",
    "histogram",
    "kurtosis",
    "listagg",
    "map_agg",
    "map_union",
    "max",
    "max_by",
    "min",
    "min_by",
    "multimap_agg",
    "numeric_histogram",
    "reduce_agg",
    "regr_intercept",
    "regr_slope",
    "set_agg",
    "set_union",
    "skewness",
    "stddev",
    "stddev_pop",
    "stddev_samp",
    "sum",
    "var_pop",
    "var_samp",
    "variance",
    // window
    "cume_dist",
    "dense_rank",
    "first_value",
    "lag",
    "last_value",
    "lead",
    "nth_value",
    "ntile",
    "percent_rank",
    "rank",
    "row_number",
    // math and bits
    "abs",
    "acos",
    "asin",
    "atan",
    "atan2",
    "beta_cdf",
    "bit_count",
    "bitwise_and",
    "bitwise_left_shift",
    "bitwise_not",
    "bitwise_or",
    "bitwise_right_shift",
    "bitwise_xor",
    "cbrt",
    "ceil",
    "ceiling",
    "cos",
    "cosh",
    "cosine_similarity",
    "degrees",
    "e",
    "exp",
    "floor",
    "from_base",
    "greatest",
    "infinity",
    "inverse_beta_cdf",
    "inverse_normal_cdf",
    "is_finite",
    "is_infinite",
    "is_nan",
    "least",
    "ln",
    "log",
    "log10",
    "log2",
    "mod",
    "nan",
    "normal_cdf",
    "pi",
    "pow",
    "power",
    "radians",
    "rand",
    "random",
    "round",
    "sign",
    "sin",
    "sinh",
    "sqrt",
    "tan",
    "tanh",
    "to_base",
    "truncate",
    "width_bucket",
    // string, binary, regexp, json, url
    "chr",
    "codepoint",
    "concat",
    "concat_ws",
    "crc32",
    "format",
    "from_base64",
    "from_hex",
    "from_utf8",
    "hamming_distance",
    "json_array_contains",
    "json_array_get",
    "json_array_length",
    "json_exists",
    "json_extract",
    "json_extract_scalar",
    "json_format",
    "json_parse",
    "json_query",
    "json_size",
    "json_value",
    "length",
    "levenshtein_distance",
    "lower",
    "lpad",
    "ltrim",
    "luhn_check",
    "md5",
    "murmur3",
    "normalize",
    "position",
    "regexp_count",
    "regexp_extract",
    "regexp_extract_all",
    "regexp_like",
    "regexp_position",
    "regexp_replace",
    "regexp_split",
    "replace",
    "reverse",
    "rpad",
    "rtrim",
    "sha1",
    "sha256",
    "sha512",
    "soundex",
    "split",
    "split_part",
    "split_to_map",
    "starts_with",
    "strpos",
    "substr",
    "substring",
    "to_base64",
    "to_hex",
    "to_utf8",
    "translate",
    "trim",
    "upper",
    "url_decode",
    "url_encode",
    "url_extract_fragment",
    "url_extract_host",
    "url_extract_parameter",
    "url_extract_path",
    "url_extract_port",
    "url_extract_protocol",
    "url_extract_query",
    "word_stem",
    "xxhash64",
    // date and time
    "at_timezone",
    "current_date",
    "current_time",
    "current_timestamp",
    "current_timezone",
    "date",
    "date_add",
    "date_diff",
    "date_format",
    "date_parse",
    "date_trunc",
    "day",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "dow",
    "doy",
    "format_datetime",
    "from_iso8601_date",
    "from_iso8601_timestamp",
    "from_unixtime",
    "from_unixtime_nanos",
    "hour",
    "human_readable_seconds",
    "last_day_of_month",
    "localtime",
    "localtimestamp",
    "millisecond",
    "minute",
    "month",
    "now",
    "parse_datetime",
    "parse_duration",
    "quarter",
    "second",
    "timezone_hour",
    "timezone_minute",
    "to_iso8601",
    "to_milliseconds",
    "to_unixtime",
    "week",
    "week_of_year",
    "with_timezone",
    "year",
    "year_of_week",
    "yow",
    // conditional, arrays, maps, misc
    "cardinality",
    "coalesce",
    "contains",
    "element_at",
    "array_distinct",
    "array_except",
    "array_intersect",
    "array_join",
    "array_max",
    "array_min",
    "array_position",
    "array_remove",
    "array_sort",
    "array_union",
    "arrays_overlap",
    "filter",
    "flatten",
    "if",
    "map",
    "map_concat",
    "map_entries",
    "map_filter",
    "map_from_entries",
    "map_keys",
    "map_values",
    "nullif",
    "reduce",
    "repeat",
    "sequence",
    "shuffle",
    "slice",
    "transform",
    "transform_keys",
    "transform_values",
    "try",
    "typeof",
    "uuid",
    "zip",
    "zip_with",
];

/// Portable forms for functions one engine lacks.
const ALTERNATIVES: &[(&str, &str)] = &[
    (
        "to_char",
        "date_format(ts, '%Y-%m-%d') (Trino's format, run the same by both engines)",
    ),
    ("strftime", "date_format(ts, '%Y-%m-%d')"),
    (
        "date_part",
        "extract(year FROM ts), or year(ts), month(ts), ...",
    ),
    (
        "datepart",
        "extract(year FROM ts), or year(ts), month(ts), ...",
    ),
    (
        "to_timestamp",
        "date_parse(text, '%Y-%m-%d %H:%i:%s') or CAST(text AS timestamp)",
    ),
    (
        "to_date",
        "CAST(text AS date) or CAST(date_parse(text, '%d/%m/%Y') AS date)",
    ),
    ("datediff", "date_diff('day', start, end)"),
    ("dateadd", "date_add('day', n, ts)"),
    ("nvl", "coalesce(a, b)"),
    ("ifnull", "coalesce(a, b)"),
    ("if", "CASE WHEN cond THEN a ELSE b END"),
    ("iff", "CASE WHEN cond THEN a ELSE b END"),
    ("len", "length(s)"),
    ("char_length", "length(s)"),
    ("character_length", "length(s)"),
    ("instr", "strpos(s, sub)"),
    ("array_length", "cardinality(arr)"),
    (
        "approx_count_distinct",
        "approx_distinct(x) (Athena) or count(DISTINCT x) (both)",
    ),
    ("string_agg", "array_join(array_agg(x), ',')"),
    ("group_concat", "array_join(array_agg(x), ',')"),
    ("listagg", "array_join(array_agg(x), ',')"),
    ("regexp_matches", "regexp_like(s, pattern)"),
    ("arbitrary", "min(x) or max(x) (any value, on both engines)"),
    ("any_value", "min(x) or max(x) (any value, on both engines)"),
    (
        "count_if",
        "count(*) FILTER (WHERE cond) or sum(CASE WHEN cond THEN 1 ELSE 0 END)",
    ),
    ("try", "CASE WHEN ... or try_cast(x AS type)"),
    (
        "format_datetime",
        "date_format(ts, '%Y-%m-%d') (MySQL-style format)",
    ),
    (
        "json_extract_scalar",
        "no portable form: extract JSON fields at load (declare them as columns)",
    ),
    (
        "json_extract",
        "no portable form: extract JSON fields at load (declare them as columns)",
    ),
];

fn check(cx: &Cx, out: &mut Vec<Diagnostic>) {
    let s = &cx.loaded.stack;
    let trino: BTreeSet<&str> = TRINO.iter().copied().collect();
    for (name, m) in &cx.models {
        let Some(file) = cx.files.iter().find(|f| f.path == m.path) else {
            continue;
        };
        let Ok(statements) = crate::sql::parse(&m.sql) else {
            continue; // E131 has said why
        };
        let mut v = Finder {
            found: vec![],
            trino: &trino,
            local: crate::dialect::local::functions(),
        };
        let _ = statements.visit(&mut v);
        for (line, col, msg, fix) in v.found {
            let at = file.offset_of(line as u32, col as u32);
            out.push(
                Diagnostic::error("E135", format!("model `{name}`: {msg}"))
                    .at(file, file.span_at(at, 1))
                    .hint(fix),
            );
        }
        if let Some(t) = s.transforms.get(name) {
            if t.engine == crate::model::Engine::Glue
                && let Err(e) = crate::dialect::spark::spark_sql(&m.sql)
            {
                out.push(
                    Diagnostic::error("E135", format!("model `{name}` (engine: glue): {e}"))
                        .at(file, file.span_at(0, 1))
                        .hint("use a construct Spark has, or `engine: athena`"),
                );
            }
            if t.engine == crate::model::Engine::Athena
                && t.materialized == crate::model::Materialized::Table
                && let Some(p) = t.partition_by.first()
            {
                out.push(
                    cx.warning(
                        "W136",
                        format!(
                            "model `{name}` is partitioned by `{}`: on AWS, Athena writes at most 100 partitions per statement, so dekit writes it 100 partitions at a time",
                            p.value
                        ),
                        p.span,
                    )
                    .hint("partition by a coarser value (a month, not a day) or run the model with `engine: glue`"),
                );
            }
        }
    }
}

struct Finder<'a> {
    /// (line, column, message, portable form).
    found: Vec<(u64, u64, String, String)>,
    trino: &'a BTreeSet<&'a str>,
    local: &'a BTreeSet<String>,
}

impl Finder<'_> {
    fn push(&mut self, e: &impl Spanned, msg: String, fix: String) {
        let s = e.span().start;
        self.found.push((s.line.max(1), s.column.max(1), msg, fix));
    }
}

fn alternative(name: &str) -> String {
    ALTERNATIVES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, a)| format!("portable: {a}"))
        .unwrap_or_else(|| "write it with functions both engines have".into())
}

impl Visitor for Finder<'_> {
    type Break = ();

    fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
        if let SetExpr::Select(s) = q.body.as_ref()
            && let Some(qualify) = &s.qualify
        {
            self.push(
                qualify,
                "QUALIFY is not Trino (Athena rejects it)".into(),
                "filter a window function in an outer query: SELECT * FROM (SELECT ..., row_number() OVER (...) AS rn FROM t) WHERE rn = 1".into(),
            );
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
        match e {
            Expr::Function(f) if f.name.0.len() == 1 => {
                let name = f.name.0[0].to_string().trim_matches('"').to_lowercase();
                let in_trino = self.trino.contains(name.as_str());
                let in_local = self.local.contains(&name);
                let missing = match (in_trino, in_local) {
                    (true, true) => None,
                    (false, true) => Some("Athena (Trino) has no function"),
                    (true, false) => Some("the local engine has no function"),
                    (false, false) => Some("neither Athena nor the local engine has a function"),
                };
                if let Some(m) = missing {
                    self.push(&f.name, format!("{m} `{name}`"), alternative(&name));
                }
            }
            Expr::Cast {
                kind: CastKind::DoubleColon,
                data_type,
                ..
            } => self.push(
                e,
                "`::` casts are not Trino (Athena rejects them)".into(),
                format!("portable: CAST(x AS {data_type})"),
            ),
            Expr::ILike { .. } => self.push(
                e,
                "ILIKE is not Trino (Athena rejects it)".into(),
                "portable: lower(x) LIKE lower('pattern')".into(),
            ),
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

/// The rule's own fixtures: each construct found where it is, nothing in portable SQL.
#[cfg(test)]
mod tests {
    use super::*;

    fn find(sql: &str) -> Vec<(u64, u64, String)> {
        let trino: BTreeSet<&str> = TRINO.iter().copied().collect();
        let mut v = Finder {
            found: vec![],
            trino: &trino,
            local: crate::dialect::local::functions(),
        };
        let _ = crate::sql::parse(sql).unwrap().visit(&mut v);
        v.found.into_iter().map(|(l, c, m, _)| (l, c, m)).collect()
    }

    #[test]
    fn retail_functions_are_portable() {
        assert!(find("select year(ts), day_of_week(ts), date_format(ts, '%Y'), count(*) filter (where x = 1), row_number() over (partition by a order by b) from t").is_empty());
    }

    #[test]
    fn one_engine_only_is_found_at_its_place() {
        let f = find(
            "select\n  to_char(ts, '%Y'),\n  if(a, 1, 2),\n  x::int\nfrom t where s ilike 'a%'",
        );
        let msgs: Vec<String> = f.iter().map(|(l, c, m)| format!("{l}:{c} {m}")).collect();
        assert_eq!(
            msgs,
            [
                "2:3 Athena (Trino) has no function `to_char`",
                "3:3 the local engine has no function `if`",
                "4:3 `::` casts are not Trino (Athena rejects them)",
                "5:14 ILIKE is not Trino (Athena rejects it)",
            ]
        );
    }
}
