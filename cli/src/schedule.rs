//! AWS schedule expressions: `cron(minutes hours day-of-month month day-of-week year)` and
//! `rate(value unit)`, as EventBridge and Glue triggers accept them.

#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleError {
    /// Byte offset of the offending part inside the expression.
    pub offset: usize,
    pub len: usize,
    pub message: String,
}

const FIELDS: [(&str, u32, u32); 6] = [
    ("minutes", 0, 59),
    ("hours", 0, 23),
    ("day-of-month", 1, 31),
    ("month", 1, 12),
    ("day-of-week", 1, 7),
    ("year", 1970, 2199),
];
const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// Check an expression; `Ok` means AWS would accept it.
pub fn parse(expr: &str) -> Result<(), ScheduleError> {
    let err = |offset: usize, len: usize, message: String| ScheduleError {
        offset,
        len: len.max(1),
        message,
    };
    if let Some(body) = expr.strip_prefix("rate(").and_then(|b| b.strip_suffix(')')) {
        let parts: Vec<&str> = body.split_whitespace().collect();
        let [value, unit] = parts[..] else {
            return Err(err(
                5,
                body.len(),
                "rate needs a value and a unit, e.g. `rate(1 hour)`".into(),
            ));
        };
        let n: u32 = value.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
            err(
                5,
                value.len(),
                format!("`{value}` is not a positive whole number"),
            )
        })?;
        let ok = match unit {
            "minute" | "hour" | "day" => n == 1,
            "minutes" | "hours" | "days" => n > 1,
            _ => {
                return Err(err(
                    expr.len() - 1 - unit.len(),
                    unit.len(),
                    format!("unknown unit `{unit}`; use minute(s), hour(s) or day(s)"),
                ));
            }
        };
        if !ok {
            return Err(err(
                expr.len() - 1 - unit.len(),
                unit.len(),
                format!(
                    "use the singular unit for 1 and the plural otherwise (`rate({n} {})`)",
                    if n == 1 {
                        unit.trim_end_matches('s').to_string()
                    } else {
                        format!("{unit}s")
                    }
                ),
            ));
        }
        return Ok(());
    }
    let Some(body) = expr.strip_prefix("cron(").and_then(|b| b.strip_suffix(')')) else {
        return Err(err(
            0,
            expr.len(),
            "expected `cron(...)` or `rate(...)`".into(),
        ));
    };
    let mut fields = vec![];
    let mut pos = 5;
    for part in body.split(' ') {
        if !part.is_empty() {
            fields.push((pos, part));
        }
        pos += part.len() + 1;
    }
    if fields.len() != 6 {
        return Err(err(
            5,
            body.len(),
            format!(
                "cron needs 6 fields (minutes hours day-of-month month day-of-week year), found {}",
                fields.len()
            ),
        ));
    }
    for (i, (offset, text)) in fields.iter().enumerate() {
        let (name, lo, hi) = FIELDS[i];
        check_field(i, text, lo, hi)
            .map_err(|m| err(*offset, text.len(), format!("{name}: {m}")))?;
    }
    let (dom, dow) = (fields[2].1, fields[4].1);
    if (dom == "?") == (dow == "?") {
        return Err(err(
            fields[2].0,
            fields[4].0 + dow.len() - fields[2].0,
            "exactly one of day-of-month and day-of-week must be `?`".into(),
        ));
    }
    Ok(())
}

fn check_field(i: usize, text: &str, lo: u32, hi: u32) -> Result<(), String> {
    if text == "?" {
        return if i == 2 || i == 4 {
            Ok(())
        } else {
            Err("`?` is only allowed in day-of-month and day-of-week".into())
        };
    }
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (item, None),
        };
        if let Some(s) = step {
            let s: u32 = s.parse().map_err(|_| format!("`{s}` is not a step"))?;
            if s == 0 || s > hi {
                return Err(format!("step {s} is out of range"));
            }
        }
        if range == "*" {
            continue;
        }
        if i == 2 && (range == "L" || range == "LW" || range.ends_with('W')) {
            let d = range.trim_end_matches('W').trim_end_matches('L');
            if d.is_empty() || value(i, d).is_ok_and(|v| (1..=31).contains(&v)) {
                continue;
            }
        }
        if i == 4 && (range.ends_with('L') || range.contains('#')) {
            let d = range
                .split('#')
                .next()
                .unwrap_or_default()
                .trim_end_matches('L');
            if value(i, d).is_ok_and(|v| (1..=7).contains(&v)) {
                continue;
            }
        }
        let (a, b) = match range.split_once('-') {
            Some((a, b)) => (value(i, a)?, value(i, b)?),
            None => {
                let v = value(i, range)?;
                (v, v)
            }
        };
        for v in [a, b] {
            if v < lo || v > hi {
                return Err(format!("{v} is outside {lo}-{hi}"));
            }
        }
        // AWS refuses a range whose start is after its end (it does not wrap around).
        if a > b {
            return Err(format!(
                "the range `{range}` runs backwards; write the smaller value first"
            ));
        }
    }
    Ok(())
}

fn value(i: usize, s: &str) -> Result<u32, String> {
    let upper = s.to_ascii_uppercase();
    if i == 3
        && let Some(m) = MONTHS.iter().position(|m| *m == upper)
    {
        return Ok(m as u32 + 1);
    }
    if i == 4
        && let Some(d) = DAYS.iter().position(|d| *d == upper)
    {
        return Ok(d as u32 + 1);
    }
    s.parse().map_err(|_| format!("`{s}` is not a valid value"))
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn accepts_aws_examples() {
        for ok in [
            "cron(0 2 * * ? *)",
            "cron(15 10 ? * 6L 2002-2005)",
            "cron(0/15 * * * ? *)",
            "cron(0 8 1 * ? *)",
            "cron(0 18 ? * MON-FRI *)",
            "cron(0 12 ? * 2#1 *)",
            "rate(1 hour)",
            "rate(5 minutes)",
        ] {
            assert_eq!(parse(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn rejects_a_backwards_range() {
        let e = parse("cron(0 5-2 * * ? *)").unwrap_err();
        assert!(e.message.contains("runs backwards"), "{e:?}");
        assert_eq!((e.offset, e.len), (7, 3));
        assert!(parse("cron(0 18 ? * FRI-MON *)").is_err());
    }

    #[test]
    fn rejects_with_position() {
        let e = parse("cron(0 25 * * ? *)").unwrap_err();
        assert_eq!((e.offset, e.len), (7, 2));
        assert!(e.message.starts_with("hours"));
        assert!(
            parse("cron(0 2 * * * *)")
                .unwrap_err()
                .message
                .contains("`?`")
        );
        assert!(
            parse("cron(0 2 * *)")
                .unwrap_err()
                .message
                .contains("6 fields")
        );
        assert!(parse("rate(1 hours)").is_err());
        assert!(parse("rate(0 days)").is_err());
        assert!(parse("every day").is_err());
    }
}
