//! S101 raw-retention: a zone that ingestion writes to has a lifecycle that ends its objects
//! (`expire_days`).
//!
//! Why: raw data is the copy of sources nobody curates; kept forever it is cost without end and
//! personal data past any retention policy. The curated zones hold what lasts.
//!
//! Example: `zones: {raw: {}}` with a stream delivering to `raw` → add `expire_days: 365`.

use super::Rule;
use crate::diagnostic::Diagnostic;
use crate::validate::Cx;

pub const RULE: Rule = Rule {
    code: "S101",
    name: "raw-retention",
    summary: "zones that ingestion writes to expire their objects",
    hint: "add `expire_days` (and transitions to cheaper storage) to the zone",
    source: include_str!("raw_retention.rs"),
    also: &[],
    check,
};

fn check(cx: &Cx, out: &mut Vec<Diagnostic>) {
    let s = &cx.loaded.stack;
    let mut landing: Vec<&str> = s
        .ingest
        .streams
        .iter()
        .filter_map(|(_, st)| st.delivery.as_ref().map(|d| d.zone.value.as_str()))
        .collect();
    landing.extend(s.ingest.batch.iter().map(|(_, b)| b.zone.value.as_str()));
    for (name, zone) in s.storage.lake.zones.iter() {
        if landing.contains(&name.value.as_str()) && zone.expire_days.is_none() {
            out.push(
                cx.warning(
                    "S101",
                    format!(
                        "zone `{}` receives raw data from ingestion and keeps it forever",
                        name.value
                    ),
                    name.span,
                )
                .hint("add `expire_days` (e.g. 365) so raw copies of the sources end"),
            );
        }
    }
}
