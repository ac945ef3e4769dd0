//! E150 column-type: column and partition types are Glue/Hive types Athena can read.
//!
//! Why: Glue stores any string as a type; a typo (`bigint64`) only fails when Athena queries.
//! Partition keys must be primitive types.
//!
//! Example: `amount: money` → `amount: decimal(12,2)`.

use super::Rule;
use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::validate::Cx;

pub const RULE: Rule = Rule {
    code: "E150",
    name: "column-type",
    summary: "column types are valid Glue/Hive types",
    hint: "types: boolean, int, bigint, double, decimal(p,s), string, varchar(n), date, timestamp, array<T>, map<K,V>, struct<...>",
    source: include_str!("column_type.rs"),
    also: &[],
    check,
};

pub const PRIMITIVES: &[&str] = &[
    "boolean",
    "tinyint",
    "smallint",
    "int",
    "integer",
    "bigint",
    "float",
    "double",
    "string",
    "date",
    "timestamp",
    "binary",
];

fn check(cx: &Cx, out: &mut Vec<Diagnostic>) {
    for (_, t) in cx.loaded.stack.tables.iter() {
        let cols = t.columns.iter().map(|c| (c, false));
        let parts = t.partitions.iter().map(|c| (c, true));
        for ((_, ty), partition) in cols.chain(parts) {
            let result = parse(&ty.to_lowercase()).and_then(|rest| {
                if rest.is_empty() {
                    Ok(())
                } else {
                    Err(format!("unexpected `{rest}`"))
                }
            });
            let mut d = match result {
                Ok(()) if partition && !is_primitive(ty) => cx
                    .error(
                        "E150",
                        format!("partition type `{}` is not primitive", ty.value),
                        ty.span,
                    )
                    .hint("partition keys are primitive types such as `string`, `date` or `int`"),
                Ok(()) => continue,
                Err(why) => cx
                    .error(
                        "E150",
                        format!(
                            "invalid column type `{}`",
                            crate::yaml::de::truncate(&ty.value)
                        ),
                        ty.span,
                    )
                    .label(why),
            };
            if let Some(s) = did_you_mean(&ty.to_lowercase(), PRIMITIVES.iter().copied()) {
                d = d.hint(format!("did you mean `{s}`?"));
            } else if d.hint.is_none() {
                d = d.hint("types: boolean, tinyint, smallint, int, bigint, float, double, decimal(p,s), string, char(n), varchar(n), date, timestamp, binary, array<T>, map<K,V>, struct<name:T,...>");
            }
            out.push(d);
        }
    }
}

fn is_primitive(ty: &str) -> bool {
    let t = ty.to_lowercase();
    PRIMITIVES.contains(&t.as_str())
        || t.starts_with("decimal")
        || t.starts_with("char")
        || t.starts_with("varchar")
}

/// How deep `array<map<struct<...>>>` may nest (Glue's own limit is far below what would
/// exhaust the stack of this recursive parser).
const MAX_NESTING: usize = 32;

/// Parse one type at the start of `s`; return what follows it.
pub fn parse(s: &str) -> Result<&str, String> {
    parse_nested(s, 0)
}

fn parse_nested(s: &str, depth: usize) -> Result<&str, String> {
    if depth > MAX_NESTING {
        return Err(format!("types nest deeper than {MAX_NESTING} levels"));
    }
    let parse = |s| parse_nested(s, depth + 1);
    let s = s.trim_start();
    let word_end = s
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(s.len());
    let (word, rest) = s.split_at(word_end);
    match word {
        w if PRIMITIVES.contains(&w) => Ok(rest),
        "decimal" | "char" | "varchar" => {
            let Some(inner) = rest.strip_prefix('(') else {
                return if word == "decimal" {
                    Ok(rest)
                } else {
                    Err(format!("`{word}` needs a length, e.g. `{word}(50)`"))
                };
            };
            let close = inner.find(')').ok_or("missing `)`")?;
            let args: Vec<&str> = inner[..close].split(',').map(str::trim).collect();
            let nums: Vec<u32> = args
                .iter()
                .map(|a| {
                    a.parse::<u32>()
                        .map_err(|_| format!("`{a}` is not a number"))
                })
                .collect::<Result<_, _>>()?;
            match (word, nums.as_slice()) {
                ("decimal", [p] | [p, _]) if !(1..=38).contains(p) => {
                    Err(format!("decimal precision {p} is outside 1-38"))
                }
                ("decimal", [p, s]) if s > p => {
                    Err(format!("decimal scale {s} is larger than precision {p}"))
                }
                ("decimal", [_] | [_, _]) => Ok(&inner[close + 1..]),
                ("char", [n]) if (1..=255).contains(n) => Ok(&inner[close + 1..]),
                ("varchar", [n]) if (1..=65535).contains(n) => Ok(&inner[close + 1..]),
                _ => Err(format!("bad arguments for `{word}`")),
            }
        }
        "array" => {
            let inner = rest.strip_prefix('<').ok_or("`array` needs `<T>`")?;
            let after = parse(inner)?;
            after
                .trim_start()
                .strip_prefix('>')
                .ok_or_else(|| "missing `>`".to_string())
        }
        "map" => {
            let inner = rest.strip_prefix('<').ok_or("`map` needs `<K,V>`")?;
            let after = parse(inner)?;
            let after = after
                .trim_start()
                .strip_prefix(',')
                .ok_or("`map` needs two types")?;
            let after = parse(after)?;
            after
                .trim_start()
                .strip_prefix('>')
                .ok_or_else(|| "missing `>`".to_string())
        }
        "struct" => {
            let mut rest = rest
                .strip_prefix('<')
                .ok_or("`struct` needs `<name:T,...>`")?;
            loop {
                let colon = rest.find(':').ok_or("struct fields are `name:type`")?;
                let field = rest[..colon].trim();
                if field.is_empty() || !field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                {
                    return Err(format!("bad struct field name `{field}`"));
                }
                rest = parse(&rest[colon + 1..])?.trim_start();
                if let Some(r) = rest.strip_prefix(',') {
                    rest = r;
                } else {
                    return rest
                        .strip_prefix('>')
                        .ok_or_else(|| "missing `>`".to_string());
                }
            }
        }
        "" => Err("missing type".into()),
        w => Err(format!("unknown type `{w}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn types() {
        for ok in [
            "bigint",
            "decimal(12,2)",
            "array<struct<a:int,b:map<string,array<double>>>>",
            "varchar(20)",
        ] {
            assert_eq!(parse(ok), Ok(""), "{ok}");
        }
        for bad in [
            "bigint64",
            "decimal(40,2)",
            "array<int",
            "map<string>",
            "char",
            "struct<:int>",
        ] {
            assert!(parse(bad).map(|r| r.is_empty()) != Ok(true), "{bad}");
        }
    }
}
