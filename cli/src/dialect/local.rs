//! The functions the local engine resolves: DataFusion's own (aliases included) and the Trino
//! functions dekit adds to it (`transform::functions` registers exactly `TRINO_ADDED`, a test
//! there says so), so `validate` can tell a model that would fail locally before any run.

use std::collections::BTreeSet;
use std::sync::OnceLock;

/// Trino functions the local engine gains from dekit, with Trino's semantics.
pub const TRINO_ADDED: &[&str] = &[
    "year",
    "quarter",
    "month",
    "week",
    "week_of_year",
    "day",
    "day_of_month",
    "day_of_week",
    "dow",
    "day_of_year",
    "doy",
    "hour",
    "minute",
    "second",
    "date_format",
    "date_parse",
    "date_add",
    "date_diff",
];

/// Every function name the local engine resolves.
pub fn functions() -> &'static BTreeSet<String> {
    static SET: OnceLock<BTreeSet<String>> = OnceLock::new();
    SET.get_or_init(|| {
        let ctx = datafusion::prelude::SessionContext::new();
        let state = ctx.state();
        let mut set: BTreeSet<String> = BTreeSet::new();
        for f in state.scalar_functions().values() {
            set.insert(f.name().to_string());
            set.extend(f.aliases().iter().cloned());
        }
        for f in state.aggregate_functions().values() {
            set.insert(f.name().to_string());
            set.extend(f.aliases().iter().cloned());
        }
        for f in state.window_functions().values() {
            set.insert(f.name().to_string());
            set.extend(f.aliases().iter().cloned());
        }
        set.extend(TRINO_ADDED.iter().map(|n| n.to_string()));
        set
    })
}
