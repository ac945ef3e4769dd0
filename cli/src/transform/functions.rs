//! Athena (Trino) functions the local engine lacks, with Trino's semantics, so one model's SQL
//! gives the same rows locally and on AWS: `year(ts)`, `day_of_week(ts)` (ISO, Monday = 1),
//! `date_format(ts, '%Y-%m-%d')` with MySQL-style specifiers (DataFusion's own `date_format` is
//! chrono's `to_char`, where `%i` and `%M` mean other things), `date_parse`, `date_add`, `date_diff`.
//!
//! Example: `cast(date_format(order_ts, '%Y%m%d') as integer)` is `20261125` on both engines.

use chrono::{DateTime, Datelike, Duration, Months, NaiveDateTime};
use datafusion::arrow::array::{
    Array, ArrayRef, Int64Array, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::compute::kernels::cast::cast;
use datafusion::arrow::compute::kernels::temporal::{DatePart, date_part};
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::{DataFusionError, Result, ScalarValue, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use std::sync::Arc;

const MICROS: DataType = DataType::Timestamp(TimeUnit::Microsecond, None);

/// Every function this module adds, to register on a session.
pub fn all() -> Vec<ScalarUDF> {
    let mut out: Vec<ScalarUDF> = PARTS
        .iter()
        .map(|(name, part)| ScalarUDF::from(Part::new(name, *part)))
        .collect();
    out.push(ScalarUDF::from(Trino::new(
        "date_format",
        2,
        DataType::Utf8,
    )));
    out.push(ScalarUDF::from(Trino::new("date_parse", 2, MICROS)));
    out.push(ScalarUDF::from(Trino::new("date_add", 3, MICROS)));
    out.push(ScalarUDF::from(Trino::new("date_diff", 3, DataType::Int64)));
    out.push(ScalarUDF::from(ClockNow::new(None)));
    out
}

/// Trino's field functions, each a bigint.
const PARTS: &[(&str, Field)] = &[
    ("year", Field::Arrow(DatePart::Year)),
    ("quarter", Field::Arrow(DatePart::Quarter)),
    ("month", Field::Arrow(DatePart::Month)),
    ("week", Field::Arrow(DatePart::Week)),
    ("week_of_year", Field::Arrow(DatePart::Week)),
    ("day", Field::Arrow(DatePart::Day)),
    ("day_of_month", Field::Arrow(DatePart::Day)),
    ("day_of_week", Field::IsoWeekday),
    ("dow", Field::IsoWeekday),
    ("day_of_year", Field::Arrow(DatePart::DayOfYear)),
    ("doy", Field::Arrow(DatePart::DayOfYear)),
    ("hour", Field::Arrow(DatePart::Hour)),
    ("minute", Field::Arrow(DatePart::Minute)),
    ("second", Field::Arrow(DatePart::Second)),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Arrow(DatePart),
    /// ISO day of the week, Monday = 1 .. Sunday = 7.
    IsoWeekday,
}

#[derive(Debug, PartialEq, Eq)]
struct Part {
    name: String,
    field: Field,
    signature: Signature,
}

// The name alone identifies the function (DatePart has no Hash).
impl std::hash::Hash for Part {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.name.hash(h);
    }
}

impl Part {
    fn new(name: &str, field: Field) -> Part {
        Part {
            name: name.into(),
            field,
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for Part {
    fn name(&self) -> &str {
        &self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let ts = timestamps(&args.args[0], args.number_rows, &self.name)?;
        let out: ArrayRef = match self.field {
            Field::Arrow(p) => cast(&date_part(&ts, p)?, &DataType::Int64)?,
            Field::IsoWeekday => Arc::new(
                micros(&ts)
                    .iter()
                    .map(|v| v.map(|v| i64::from(naive(v).weekday().number_from_monday())))
                    .collect::<Int64Array>(),
            ),
        };
        Ok(ColumnarValue::Array(out))
    }
}

/// Trino functions with arguments beyond the timestamp.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Trino {
    name: String,
    ret: DataType,
    signature: Signature,
}

impl Trino {
    fn new(name: &str, args: usize, ret: DataType) -> Trino {
        Trino {
            name: name.into(),
            ret,
            signature: Signature::any(args, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for Trino {
    fn name(&self) -> &str {
        &self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(self.ret.clone())
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let a = &args.args;
        let out: ArrayRef = match self.name.as_str() {
            "date_format" => {
                let ts = timestamps(&a[0], n, "date_format")?;
                let fmt = chrono_format(&literal(&a[1], "date_format")?)?;
                Arc::new(
                    micros(&ts)
                        .iter()
                        .map(|v| v.map(|v| naive(v).format(&fmt).to_string()))
                        .collect::<StringArray>(),
                )
            }
            "date_parse" => {
                let s = cast(&a[0].to_array(n)?, &DataType::Utf8)?;
                let s = s.as_any().downcast_ref::<StringArray>().expect("utf8");
                let fmt = chrono_format(&literal(&a[1], "date_parse")?)?;
                let parsed: Result<TimestampMicrosecondArray> = s
                    .iter()
                    .map(|v| v.map(|v| parse(v, &fmt)).transpose())
                    .collect();
                Arc::new(parsed?)
            }
            "date_add" => {
                let unit = literal(&a[0], "date_add")?;
                let k = cast(&a[1].to_array(n)?, &DataType::Int64)?;
                let k = k.as_any().downcast_ref::<Int64Array>().expect("int64");
                let ts = timestamps(&a[2], n, "date_add")?;
                let out: Result<TimestampMicrosecondArray> = micros(&ts)
                    .iter()
                    .zip(k.iter())
                    .map(|(t, k)| match (t, k) {
                        (Some(t), Some(k)) => add(&unit, k, naive(t)).map(|d| Some(to_micros(d))),
                        _ => Ok(None),
                    })
                    .collect();
                Arc::new(out?)
            }
            "date_diff" => {
                let unit = literal(&a[0], "date_diff")?;
                let from = timestamps(&a[1], n, "date_diff")?;
                let to = timestamps(&a[2], n, "date_diff")?;
                let out: Result<Int64Array> = micros(&from)
                    .iter()
                    .zip(micros(&to).iter())
                    .map(|(f, t)| match (f, t) {
                        (Some(f), Some(t)) => diff(&unit, naive(f), naive(t)).map(Some),
                        _ => Ok(None),
                    })
                    .collect();
                Arc::new(out?)
            }
            other => return exec_err!("no function {other}"),
        };
        Ok(ColumnarValue::Array(out))
    }
}

/// Any date or timestamp argument as micro-second timestamps (Trino's `timestamp(6)`).
fn timestamps(v: &ColumnarValue, n: usize, f: &str) -> Result<ArrayRef> {
    let a = v.to_array(n)?;
    let a = match a.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            return exec_err!(
                "{f}() takes a date or timestamp, not a string: cast it first (CAST(x AS timestamp))"
            );
        }
        DataType::Timestamp(_, Some(_)) => cast(
            &a,
            &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        )
        .and_then(|a| cast(&a, &MICROS))?,
        _ => cast(&a, &MICROS)?,
    };
    Ok(a)
}

fn micros(a: &ArrayRef) -> &TimestampMicrosecondArray {
    a.as_any()
        .downcast_ref::<TimestampMicrosecondArray>()
        .expect("cast to micro-second timestamps")
}

fn naive(us: i64) -> NaiveDateTime {
    DateTime::from_timestamp_micros(us)
        .unwrap_or_default()
        .naive_utc()
}

fn to_micros(d: NaiveDateTime) -> i64 {
    d.and_utc().timestamp_micros()
}

fn literal(v: &ColumnarValue, f: &str) -> Result<String> {
    match v {
        ColumnarValue::Scalar(
            ScalarValue::Utf8(Some(s))
            | ScalarValue::LargeUtf8(Some(s))
            | ScalarValue::Utf8View(Some(s)),
        ) => Ok(s.clone()),
        _ => exec_err!("{f}(): the format or unit must be a string literal"),
    }
}

/// Trino's (MySQL's) `date_format` specifiers in chrono's terms.
pub fn chrono_format(mysql: &str) -> Result<String> {
    crate::dialect::date_formats::chrono(mysql).map_err(DataFusionError::Execution)
}

fn parse(s: &str, fmt: &str) -> Result<i64> {
    NaiveDateTime::parse_from_str(s, fmt)
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(s, fmt)
                .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default())
        })
        .map(to_micros)
        .map_err(|e| DataFusionError::Execution(format!("date_parse('{s}'): {e}")))
}

fn add(unit: &str, k: i64, t: NaiveDateTime) -> Result<NaiveDateTime> {
    let months = |m: i64| {
        let m32 = Months::new(m.unsigned_abs() as u32);
        if m >= 0 {
            t.checked_add_months(m32)
        } else {
            t.checked_sub_months(m32)
        }
    };
    let r = match unit.to_ascii_lowercase().as_str() {
        "millisecond" => t.checked_add_signed(Duration::milliseconds(k)),
        "second" => t.checked_add_signed(Duration::seconds(k)),
        "minute" => t.checked_add_signed(Duration::minutes(k)),
        "hour" => t.checked_add_signed(Duration::hours(k)),
        "day" => t.checked_add_signed(Duration::days(k)),
        "week" => t.checked_add_signed(Duration::weeks(k)),
        "month" => months(k),
        "quarter" => months(k * 3),
        "year" => months(k * 12),
        other => return exec_err!("date_add: unknown unit `{other}`"),
    };
    r.ok_or_else(|| DataFusionError::Execution(format!("date_add: {k} {unit} overflows")))
}

fn diff(unit: &str, from: NaiveDateTime, to: NaiveDateTime) -> Result<i64> {
    let d = to - from;
    // Whole months between the two, as Trino counts them (a month not yet complete is not counted).
    let months = || {
        let m = (i64::from(to.year()) - i64::from(from.year())) * 12 + i64::from(to.month())
            - i64::from(from.month());
        let shifted = add("month", m, from).unwrap_or(from);
        if m > 0 && shifted > to {
            m - 1
        } else if m < 0 && shifted < to {
            m + 1
        } else {
            m
        }
    };
    Ok(match unit.to_ascii_lowercase().as_str() {
        "millisecond" => d.num_milliseconds(),
        "second" => d.num_seconds(),
        "minute" => d.num_minutes(),
        "hour" => d.num_hours(),
        "day" => d.num_days(),
        "week" => d.num_weeks(),
        "month" => months(),
        "quarter" => months() / 3,
        "year" => months() / 12,
        other => return exec_err!("date_diff: unknown unit `{other}`"),
    })
}

/// `now()` and `current_timestamp` by dekit's clock (`crate::clock`), not the system's: a
/// freshness check judged under a simulated day compares with that day. As DataFusion's own
/// `now()`, one value for the whole query, fixed when the query is planned.
#[derive(Debug, PartialEq, Eq, Hash)]
struct ClockNow {
    signature: Signature,
    aliases: Vec<String>,
    timezone: Option<Arc<str>>,
}

impl ClockNow {
    fn new(timezone: Option<Arc<str>>) -> ClockNow {
        ClockNow {
            signature: Signature::nullary(Volatility::Stable),
            aliases: vec!["current_timestamp".to_string()],
            timezone,
        }
    }

    fn value(&self) -> ScalarValue {
        ScalarValue::TimestampNanosecond(
            crate::clock::now().timestamp_nanos_opt(),
            self.timezone.clone(),
        )
    }
}

impl ScalarUDFImpl for ClockNow {
    fn name(&self) -> &str {
        "now"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn with_updated_config(
        &self,
        config: &datafusion::common::config::ConfigOptions,
    ) -> Option<ScalarUDF> {
        let tz = config.execution.time_zone.as_deref().map(Arc::from);
        Some(ScalarUDF::from(ClockNow::new(tz)))
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Timestamp(
            TimeUnit::Nanosecond,
            self.timezone.clone(),
        ))
    }

    fn invoke_with_args(&self, _: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Ok(ColumnarValue::Scalar(self.value()))
    }

    fn simplify(
        &self,
        _: Vec<datafusion::logical_expr::Expr>,
        _: &datafusion::logical_expr::simplify::SimplifyContext,
    ) -> Result<datafusion::logical_expr::simplify::ExprSimplifyResult> {
        Ok(
            datafusion::logical_expr::simplify::ExprSimplifyResult::Simplified(
                datafusion::logical_expr::Expr::Literal(self.value(), None),
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::SessionContext;

    async fn one(sql: &str) -> String {
        let ctx = SessionContext::new();
        for f in all() {
            ctx.register_udf(f);
        }
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        datafusion::arrow::util::display::array_value_to_string(batches[0].column(0), 0).unwrap()
    }

    /// `validate` knows what the local engine resolves from `dialect::local`: exactly these.
    #[test]
    fn registers_the_trino_functions_the_dialect_names() {
        let mut added: Vec<String> = all()
            .iter()
            .map(|f| f.name().to_string())
            .filter(|n| n != "now") // DataFusion's own name, replaced by the clock's
            .collect();
        added.sort();
        let mut named: Vec<&str> = crate::dialect::local::TRINO_ADDED.to_vec();
        named.sort();
        assert_eq!(added, named);
    }

    /// Expected values are Trino's (checked against its documentation's examples).
    #[tokio::test]
    async fn trino_semantics() {
        let ts = "TIMESTAMP '2026-11-25 13:05:09'";
        assert_eq!(one(&format!("select year({ts})")).await, "2026");
        assert_eq!(one(&format!("select day_of_week({ts})")).await, "3"); // a Wednesday
        assert_eq!(one("select day_of_week(DATE '2026-11-29')").await, "7"); // Sunday
        assert_eq!(one(&format!("select quarter({ts})")).await, "4");
        assert_eq!(one(&format!("select day_of_year({ts})")).await, "329");
        assert_eq!(
            one(&format!("select date_format({ts}, '%Y%m%d')")).await,
            "20261125"
        );
        assert_eq!(
            one(&format!("select date_format({ts}, '%H:%i:%s %M')")).await,
            "13:05:09 November"
        );
        assert_eq!(
            one("select date_parse('2026/11/25 13:05', '%Y/%m/%d %H:%i')").await,
            "2026-11-25T13:05:00"
        );
        assert_eq!(
            one(&format!("select date_add('month', 3, {ts})")).await,
            "2027-02-25T13:05:09"
        );
        assert_eq!(
            one("select date_diff('month', TIMESTAMP '2026-01-15 00:00:00', TIMESTAMP '2026-02-14 23:00:00')").await,
            "0"
        );
        assert_eq!(
            one("select date_diff('month', TIMESTAMP '2026-01-15 00:00:00', TIMESTAMP '2026-03-15 00:00:00')").await,
            "2"
        );
        assert_eq!(
            one("select date_diff('day', TIMESTAMP '2026-01-31 00:00:00', TIMESTAMP '2026-02-28 00:00:00')").await,
            "28"
        );
    }

    #[tokio::test]
    async fn strings_are_refused_with_the_fix() {
        let ctx = SessionContext::new();
        for f in all() {
            ctx.register_udf(f);
        }
        let e = ctx
            .sql("select year('2026-01-01')")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap_err();
        assert!(e.to_string().contains("CAST(x AS timestamp)"), "{e}");
    }
}
