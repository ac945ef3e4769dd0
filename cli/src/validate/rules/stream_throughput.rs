//! S102 stream-throughput: a provisioned stream's shards can take the rate its producers are
//! expected to send (`expected: {records_per_second, kib_per_second}`).
//!
//! Why: each shard takes at most 1,000 records and 1 MiB per second; above that, writes are
//! throttled (`WriteProvisionedThroughputExceeded`) and producers retry or drop. Found at
//! `validate`, it is a number to change, not an incident.
//!
//! Example: `shards: 1` with `expected: {records_per_second: 2500}` → at least 3 shards.

use super::Rule;
use crate::diagnostic::Diagnostic;
use crate::model::StreamMode;
use crate::validate::Cx;

pub const RULE: Rule = Rule {
    code: "S102",
    name: "stream-throughput",
    summary: "a provisioned stream's shards take its expected write rate",
    hint: "raise `shards`, or use `mode: on_demand`",
    source: include_str!("stream_throughput.rs"),
    also: &[],
    check,
};

/// Per shard and second: 1,000 records, 1,024 KiB.
const RECORDS: u64 = 1000;
const KIB: u64 = 1024;

fn check(cx: &Cx, out: &mut Vec<Diagnostic>) {
    for (_, st) in cx.loaded.stack.ingest.streams.iter() {
        let (Some(e), StreamMode::Provisioned) = (&st.expected, st.mode) else {
            continue;
        };
        let shards = st.shards.as_ref().map_or(1, |s| s.value.max(1)) as u64;
        for (v, per, unit) in [
            (&e.records_per_second, RECORDS, "records"),
            (&e.kib_per_second, KIB, "KiB"),
        ] {
            let Some(v) = v else { continue };
            if v.value as u64 > shards * per {
                let need = (v.value as u64).div_ceil(per);
                out.push(
                    cx.error(
                        "S102",
                        format!(
                            "{} {unit}/s expected, {shards} shard(s) take {} {unit}/s",
                            v.value,
                            shards * per
                        ),
                        v.span,
                    )
                    .hint(format!("at least {need} shards, or `mode: on_demand`")),
                );
            }
        }
    }
}
