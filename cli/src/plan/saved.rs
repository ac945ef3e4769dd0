//! A plan saved by `dekit plan --out`, with what it was computed from, so `apply --plan` applies
//! exactly it or refuses when the state or the stack changed since.

use super::Plan;
use crate::state::State;
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Serialize, Deserialize)]
pub struct SavedPlan {
    pub lineage: String,
    pub serial: u64,
    pub stack_sha256: String,
    pub plan: Plan,
}

impl SavedPlan {
    pub fn write(&self, path: &Path) -> Result<(), String> {
        std::fs::write(
            path,
            serde_json::to_vec_pretty(self).expect("plan serializes"),
        )
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }

    /// The saved plan, if it still applies to `state` and the stack whose text hashes to `stack_sha256`.
    /// A state never saved (a new stack) takes the plan's lineage: each command starts a new
    /// state with a lineage of its own, so comparing them would refuse every first plan.
    pub fn read_fresh(path: &Path, state: &mut State, stack_sha256: &str) -> Result<Plan, String> {
        let text =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let saved: SavedPlan = serde_json::from_slice(&text)
            .map_err(|e| format!("{} is not a dekit plan: {e}", path.display()))?;
        if state.serial == 0 && saved.serial == 0 {
            state.lineage.clone_from(&saved.lineage);
        }
        if saved.lineage != state.lineage || saved.serial != state.serial {
            return Err(format!(
                "the saved plan is stale: state changed since it was made (serial {} → {}); run `dekit plan` again",
                saved.serial, state.serial
            ));
        }
        if saved.stack_sha256 != stack_sha256 {
            return Err("the saved plan is stale: the stack file changed since it was made; run `dekit plan` again".into());
        }
        Ok(saved.plan)
    }
}
