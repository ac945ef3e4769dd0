//! Trino's (MySQL's) `date_format` specifiers — what model SQL writes, as Athena reads it — in the
//! terms of the two other engines that run the same SQL: chrono (the local engine's functions) and
//! Java's `DateTimeFormatter` (Spark, for Glue jobs). One table, so the engines cannot drift apart.

/// (specifier, chrono's form, Spark's form where Spark has one).
const SPECIFIERS: &[(char, &str, Option<&str>)] = &[
    ('a', "%a", Some("EEE")),
    ('b', "%b", Some("MMM")),
    ('c', "%-m", Some("M")),
    ('d', "%d", Some("dd")),
    ('e', "%-d", Some("d")),
    ('f', "%6f", Some("SSSSSS")),
    ('H', "%H", Some("HH")),
    ('h', "%I", Some("hh")),
    ('I', "%I", Some("hh")),
    ('i', "%M", Some("mm")),
    ('j', "%j", Some("DDD")),
    ('k', "%-H", Some("H")),
    ('l', "%-I", Some("h")),
    ('M', "%B", Some("MMMM")),
    ('m', "%m", Some("MM")),
    ('p', "%p", Some("a")),
    ('r', "%I:%M:%S %p", Some("hh:mm:ss a")),
    ('S', "%S", Some("ss")),
    ('s', "%S", Some("ss")),
    ('T', "%H:%M:%S", Some("HH:mm:ss")),
    // ISO week and week-based year: Spark 3 refuses week-based patterns.
    ('v', "%V", None),
    ('W', "%A", Some("EEEE")),
    ('x', "%G", None),
    ('Y', "%Y", Some("yyyy")),
    ('y', "%y", Some("yy")),
    ('%', "%%", Some("%")),
];

fn find(spec: char) -> Option<&'static (char, &'static str, Option<&'static str>)> {
    SPECIFIERS.iter().find(|(c, _, _)| *c == spec)
}

/// A format in chrono's terms; other characters pass through.
pub fn chrono(mysql: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = mysql.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let spec = chars
            .next()
            .ok_or_else(|| format!("date format `{mysql}` ends with a lone `%`"))?;
        let (_, to, _) = find(spec).ok_or_else(|| {
            format!("date format specifier `%{spec}` is not supported by Athena's date_format")
        })?;
        out.push_str(to);
    }
    Ok(out)
}

/// A format in Java's (Spark's) terms; letters outside specifiers are quoted as literals.
pub fn java(mysql: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut literal = String::new();
    let flush = |out: &mut String, lit: &mut String| {
        if !lit.is_empty() {
            out.push('\'');
            out.push_str(&lit.replace('\'', "''"));
            out.push('\'');
            lit.clear();
        }
    };
    let mut chars = mysql.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            if c.is_ascii_alphabetic() {
                literal.push(c);
            } else {
                flush(&mut out, &mut literal);
                out.push(c);
            }
            continue;
        }
        flush(&mut out, &mut literal);
        let spec = chars
            .next()
            .ok_or_else(|| format!("date format `{mysql}` ends with a lone `%`"))?;
        match find(spec) {
            Some((_, _, Some(to))) => out.push_str(to),
            _ => {
                return Err(format!(
                    "date format specifier `%{spec}` has no Spark equivalent dekit knows"
                ));
            }
        }
    }
    flush(&mut out, &mut literal);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_table_for_both_engines() {
        assert_eq!(chrono("%Y-%m-%d %H:%i:%s").unwrap(), "%Y-%m-%d %H:%M:%S");
        assert_eq!(java("%Y-%m-%d %H:%i:%s").unwrap(), "yyyy-MM-dd HH:mm:ss");
        assert_eq!(java("%YT%H").unwrap(), "yyyy'T'HH");
        assert!(java("week %v").unwrap_err().contains("%v"));
        assert!(chrono("%Q").unwrap_err().contains("%Q"));
        assert!(chrono("%Y%").unwrap_err().contains("lone"));
        // Every specifier once.
        let mut seen: Vec<char> = SPECIFIERS.iter().map(|(c, _, _)| *c).collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), SPECIFIERS.len());
    }
}
