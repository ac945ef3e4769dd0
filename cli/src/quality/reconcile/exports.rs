//! Database exports: each export's last sync against the model's rows and the target's keys.

use crate::lake::Lake;
use crate::quality::outcome::{Outcome, Verdict};
use crate::transform::errors::message;
use crate::transform::session::Catalog;
use datafusion::prelude::SessionContext;
use std::time::Instant;

/// Every database export's last sync: the model's rows now against the rows the export wrote,
/// and the model's keys the target held after the commit (read back inside the export's
/// transaction) plus the rows it refused, against the rows it had. An export that never ran is
/// skipped, saying so.
pub async fn against_targets(
    cat: Catalog<'_>,
    ctx: &SessionContext,
    lake: &Lake,
    relations: &[String],
) -> Result<Vec<Outcome>, String> {
    let s = &cat.checked.loaded.stack;
    let mut out = vec![];
    for (name, e) in s.serving.exports.iter() {
        let Some(target) = e.target(name) else {
            continue;
        };
        if !relations.is_empty() && !relations.contains(&e.from.value) {
            continue;
        }
        let started = Instant::now();
        let sql = format!("SELECT count(*) FROM {}", crate::sql::name(&e.from.value));
        let mut o = Outcome::new(
            format!(
                "{}.reconcile(export {} -> {target})",
                e.from.value, name.value
            ),
            &e.from.value,
            "reconcile",
            sql.clone(),
        );
        let state: Option<crate::records::SyncState> = lake
            .get_json(&crate::records::export_state_key(name))
            .await
            .map_err(|e| e.to_string())?;
        match state {
            None => {
                o.verdict = Verdict::Skipped;
                o.message = format!(
                    "`{}` was never exported: `dekit run` exports it",
                    name.value
                );
            }
            Some(st) => {
                let now = match ctx.sql(&sql).await {
                    Ok(df) => df.collect().await.map_err(|e| message(&e)),
                    Err(e) => Err(message(&e)),
                }
                .and_then(|b| crate::quality::outcome::first_int(&b));
                let summary = format!(
                    "run {}: {} rows, {} inserted, {} updated, {} deleted, {} refused; {} of its keys in {target} after the commit",
                    st.run_id,
                    st.rows,
                    st.inserted,
                    st.updated,
                    st.deleted,
                    st.rejected,
                    st.read_back
                );
                match now {
                    Err(e) => {
                        o.verdict = Verdict::Error;
                        o.message = e;
                    }
                    Ok(_) if st.read_back + st.rejected != st.rows => {
                        o.verdict = Verdict::Fail;
                        o.failures = st.rows.abs_diff(st.read_back + st.rejected);
                        o.message = format!(
                            "{summary}: {} rows neither in the target nor refused",
                            o.failures
                        );
                    }
                    Ok(n) if n != st.rows => {
                        o.verdict = Verdict::Fail;
                        o.failures = n.abs_diff(st.rows);
                        o.message = format!(
                            "`{}` has {n} rows now, the last export wrote {}: run `dekit run --select {}` ({summary})",
                            e.from.value, st.rows, name.value
                        );
                    }
                    Ok(_) => o.message = summary,
                }
            }
        }
        o.duration_ms = started.elapsed().as_millis() as u64;
        out.push(o);
    }
    Ok(out)
}
