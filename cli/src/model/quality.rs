//! `quality:` data tests per table or model. Each check kind is documented in `crate::quality`.
//!
//! A check is one key naming its kind, and optionally `severity: warn` beside it:
//! `- {unique: [order_id], severity: warn}`. A warning is reported, but does not fail `dekit test`.

use crate::yaml::Spanned;
use schemars::JsonSchema;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// What a failing check does: `error` (the default) fails `dekit test`; `warn` is reported only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckSeverity {
    #[default]
    Error,
    Warn,
}

/// A check and its severity.
#[derive(Debug, Clone)]
pub struct QualityCheck {
    pub check: Check,
    pub severity: CheckSeverity,
}

impl std::ops::Deref for QualityCheck {
    type Target = Check;
    fn deref(&self) -> &Check {
        &self.check
    }
}

/// The keys a check's mapping may have: a kind, and `severity`.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum CheckKey {
    NotNull,
    Unique,
    AcceptedValues,
    RowCount,
    Freshness,
    Relationships,
    Range,
    Schema,
    Sql,
    RowCountMatches,
    VolumeAnomaly,
    FreshnessAnomaly,
    Severity,
}

impl<'de> Deserialize<'de> for QualityCheck {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = QualityCheck;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a check: one of its kinds as the key, and optionally `severity`")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<QualityCheck, A::Error> {
                let mut check = None;
                let mut severity = CheckSeverity::Error;
                while let Some(k) = m.next_key::<CheckKey>()? {
                    let c = match k {
                        CheckKey::Severity => {
                            severity = m.next_value()?;
                            continue;
                        }
                        CheckKey::NotNull => Check::NotNull(m.next_value()?),
                        CheckKey::Unique => Check::Unique(m.next_value()?),
                        CheckKey::AcceptedValues => Check::AcceptedValues(m.next_value()?),
                        CheckKey::RowCount => Check::RowCount(m.next_value()?),
                        CheckKey::Freshness => Check::Freshness(m.next_value()?),
                        CheckKey::Relationships => Check::Relationships(m.next_value()?),
                        CheckKey::Range => Check::Range(m.next_value()?),
                        CheckKey::Schema => Check::Schema(m.next_value()?),
                        CheckKey::Sql => Check::Sql(m.next_value()?),
                        CheckKey::RowCountMatches => Check::RowCountMatches(m.next_value()?),
                        CheckKey::VolumeAnomaly => Check::VolumeAnomaly(m.next_value()?),
                        CheckKey::FreshnessAnomaly => Check::FreshnessAnomaly(m.next_value()?),
                    };
                    if check.replace(c).is_some() {
                        return Err(de::Error::custom(
                            "one check per list item: write the second as its own `- ...`",
                        ));
                    }
                }
                check
                    .map(|check| QualityCheck { check, severity })
                    .ok_or_else(|| {
                        de::Error::custom("the check names no kind (`not_null`, `unique`, ...)")
                    })
            }
        }
        d.deserialize_map(V)
    }
}

impl Serialize for QualityCheck {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut v = serde_json::to_value(&self.check).map_err(serde::ser::Error::custom)?;
        if self.severity == CheckSeverity::Warn
            && let Some(o) = v.as_object_mut()
        {
            o.insert("severity".into(), "warn".into());
        }
        v.serialize(s)
    }
}

impl JsonSchema for QualityCheck {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "QualityCheck".into()
    }
    /// The check kinds' schema, each allowing `severity` beside its kind.
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let severity = g.subschema_for::<CheckSeverity>().to_value();
        let mut v = Check::json_schema(g).to_value();
        if let Some(arms) = v.get_mut("oneOf").and_then(|a| a.as_array_mut()) {
            for arm in arms {
                if let Some(p) = arm.get_mut("properties").and_then(|p| p.as_object_mut()) {
                    p.insert("severity".into(), severity.clone());
                }
            }
        }
        schemars::Schema::try_from(v).expect("an object schema")
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    NotNull(Vec<Spanned<String>>),
    Unique(Vec<Spanned<String>>),
    AcceptedValues(AcceptedValues),
    RowCount(RowCount),
    Freshness(Freshness),
    Relationships(Relationships),
    Range(Range),
    /// The relation's columns and types are the declared ones.
    Schema(SchemaCheck),
    /// A query that must return no rows; `{this}` stands for the relation.
    Sql(Spanned<String>),
    /// As many rows as another relation (filtered): a fact table's rows against its source lines.
    RowCountMatches(RowCountMatches),
    /// The rows the last run wrote, against the history of runs.
    VolumeAnomaly(Anomaly),
    /// The time since the relation was last written, against the usual interval between runs.
    FreshnessAnomaly(Anomaly),
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SchemaCheck {
    /// Columns the declaration does not name are allowed (default: they fail the check).
    #[serde(default)]
    pub allow_extra: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RowCountMatches {
    /// The relation whose rows this one must match in number.
    pub to: Spanned<String>,
    /// A condition on `to`'s rows (SQL), e.g. `status <> 'cancelled'`.
    #[serde(default)]
    pub filter: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Anomaly {
    /// How many of the last successful runs make the history.
    #[serde(default = "ten")]
    pub runs: u32,
    /// Fewer runs than this in the history: the check passes, saying so.
    #[serde(default = "five")]
    pub min_runs: u32,
    /// How many robust deviations (1.4826 × MAD, at least 10% of the median) from the median fail.
    #[serde(default = "three")]
    pub tolerance: f64,
}

fn ten() -> u32 {
    10
}
fn five() -> u32 {
    5
}
fn three() -> f64 {
    3.0
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptedValues {
    pub column: Spanned<String>,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RowCount {
    #[serde(default)]
    pub min: Option<Spanned<u64>>,
    #[serde(default)]
    pub max: Option<Spanned<u64>>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Freshness {
    pub column: Spanned<String>,
    pub max_age_hours: Spanned<u32>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Relationships {
    pub column: Spanned<String>,
    /// `table.column` the values must exist in.
    pub to: Spanned<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Range {
    pub column: Spanned<String>,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
}
