//! E113 shared-location: no two things share one AWS name or one place in the lake.
//!
//! Why: two tables on one S3 location read each other's files; two streams with one name are one
//! stream; the lake and the artifacts bucket being one bucket mixes scripts with data. An empty zone
//! prefix, or one zone's prefix inside another's, makes a zone's lifecycle (say, expire after 30
//! days) apply to other zones' data, or to the whole bucket.
//!
//! Example: zones `raw: {prefix: data/}` and `curated: {prefix: data/curated/}` → give each its
//! own prefix, `raw/` and `curated/`.

use super::Rule;
use crate::diagnostic::Diagnostic;
use crate::names::{Names, with_slash};
use crate::validate::Cx;
use std::collections::BTreeMap;

pub const RULE: Rule = Rule {
    code: "E113",
    name: "shared-location",
    summary: "buckets, streams, zone prefixes and table locations are each used once",
    hint: "give each its own name or prefix",
    source: include_str!("shared_location.rs"),
    also: &[],
    check,
};

fn check(cx: &Cx, out: &mut Vec<Diagnostic>) {
    let s = &cx.loaded.stack;
    let names = Names::new(cx.loaded);
    let lake = &s.storage.lake.bucket;
    if names.artifacts_bucket() == lake.value {
        let span = s
            .storage
            .artifacts_bucket
            .as_ref()
            .map_or(lake.span, |b| b.span);
        out.push(cx.error(
            "E113",
            format!(
                "the lake and the artifacts bucket are both `{}`",
                lake.value
            ),
            span,
        ));
    }
    // Zone prefixes: never empty, never one inside (or equal to) another.
    let zones: Vec<(&str, String, crate::source::Span)> = s
        .storage
        .lake
        .zones
        .iter()
        .map(|(k, z)| {
            let span = z.prefix.as_ref().map_or(k.span, |p| p.span);
            (k.value.as_str(), names.zone_prefix(k), span)
        })
        .collect();
    for (i, (zone, p, span)) in zones.iter().enumerate() {
        if p.is_empty() {
            out.push(
                cx.error("E113", format!("zone `{zone}` has an empty prefix: it is the whole bucket"), *span)
                    .hint("give the zone a prefix such as `raw/`; its lifecycle would otherwise apply to every zone"),
            );
            continue;
        }
        let clash = zones.iter().enumerate().find(|(j, (_, q, _))| {
            *j != i && !q.is_empty() && (p.starts_with(q.as_str()) && (p != q || *j < i))
        });
        if let Some((_, (other, q, _))) = clash {
            let how = if p == q {
                "is the same as"
            } else {
                "lies inside"
            };
            out.push(
                cx.error("E113", format!("zone `{zone}`'s prefix `{p}` {how} zone `{other}`'s `{q}`"), *span)
                    .hint("zones hold separate data with separate lifecycles; use prefixes that do not contain each other"),
            );
        }
    }
    // Streams: one physical name each.
    let mut streams: BTreeMap<String, u32> = BTreeMap::new();
    for (k, st) in s.ingest.streams.iter() {
        let physical = names.stream(k);
        let span = st.name.as_ref().map_or(k.span, |n| n.span);
        if let Some(line) = streams.insert(physical.clone(), span.line) {
            out.push(
                cx.error("E113", format!("two streams are named `{physical}`"), span)
                    .hint(format!(
                        "the other is at line {line}; give one a different `name:`"
                    )),
            );
        }
    }
    // Tables: one S3 location each.
    let mut locations: BTreeMap<String, (u32, String)> = BTreeMap::new();
    for (k, t) in s.tables.iter() {
        let location = format!(
            "{}{}",
            names.zone_prefix(&t.zone),
            with_slash(&names.table_prefix(k, t))
        );
        let span = t.prefix.as_ref().map_or(k.span, |p| p.span);
        if let Some((line, other)) =
            locations.insert(location.clone(), (k.span.line, k.value.clone()))
        {
            out.push(
                cx.error(
                    "E113",
                    format!(
                        "tables `{other}` and `{}` are both at `s3://{}/{location}`",
                        k.value, lake.value
                    ),
                    span,
                )
                .hint(format!(
                    "`{other}` is at line {line}; give one of them its own `prefix:`"
                )),
            );
        }
    }
}
