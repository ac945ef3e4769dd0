//! The SQL engine that builds a model, replaces a view or runs a check, chosen once from the
//! deployment: the local engine (DataFusion over the lake) on a `local` target; on AWS, Athena,
//! or a model's Glue Spark job where the model says `engine: glue`. Where the engines differ, the
//! difference is a named capability here, not a branch found elsewhere.
//!
//! Reconciliation (`quality::reconcile`) is not an engine's work on any target: it counts the
//! rows of the lake's objects of one load against their source, which no SQL engine is needed for.

use super::session::Catalog;
use super::{materialize, remote};
use crate::lake::Lake;
use crate::model::{Engine, Materialized, Target};
use crate::stats::{Progress, StepStats};
use crate::validate::Checked;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlEngine {
    /// DataFusion in this process, over the lake's objects.
    Local,
    /// Athena: CTAS and views in the Glue catalog, checks by query (failing rows UNLOADed).
    Athena,
    /// The model's Glue job (`apply` uploaded its PySpark script).
    GlueSpark,
}

/// What an engine does that another does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Skips a model whose SQL and inputs are unchanged since its last build (its fingerprint),
    /// unless `--full-refresh`. Athena and Glue rebuild every time they run: the fingerprint reads
    /// the inputs' objects, which dekit lists itself only where it runs the SQL itself.
    pub skips_unchanged: bool,
    /// Runs data-quality checks (Glue jobs build models only; on AWS checks run on Athena).
    pub runs_checks: bool,
    /// Builds incremental models by partition (`incremental:`); elsewhere they are rebuilt whole.
    pub builds_incrementally: bool,
}

impl SqlEngine {
    /// The engine of the deployment's views and checks.
    pub fn of(checked: &Checked) -> SqlEngine {
        if checked.loaded.env.target.value == Target::Local {
            SqlEngine::Local
        } else {
            SqlEngine::Athena
        }
    }

    /// The engine that builds model `name`: the deployment's, or on AWS the model's own choice.
    pub fn for_model(checked: &Checked, name: &str) -> SqlEngine {
        match SqlEngine::of(checked) {
            SqlEngine::Local => SqlEngine::Local,
            _ => match checked.loaded.stack.transforms.get(name) {
                Some(t) if t.engine == Engine::Glue && t.materialized == Materialized::Table => {
                    SqlEngine::GlueSpark
                }
                _ => SqlEngine::Athena,
            },
        }
    }

    pub fn capabilities(self) -> Capabilities {
        match self {
            SqlEngine::Local => Capabilities {
                skips_unchanged: true,
                runs_checks: true,
                builds_incrementally: true,
            },
            SqlEngine::Athena => Capabilities {
                skips_unchanged: false,
                runs_checks: true,
                builds_incrementally: false,
            },
            SqlEngine::GlueSpark => Capabilities {
                skips_unchanged: false,
                runs_checks: false,
                builds_incrementally: false,
            },
        }
    }

    /// Build model `name` as version `run_id`.
    pub async fn build(
        self,
        cat: Catalog<'_>,
        lake: &Lake,
        name: &str,
        run_id: &str,
        full_refresh: bool,
        progress: &Progress,
    ) -> Result<StepStats, String> {
        match self {
            SqlEngine::Local => {
                materialize::model(cat, lake, name, run_id, full_refresh, progress).await
            }
            SqlEngine::Athena | SqlEngine::GlueSpark => remote::model(cat, name, run_id).await,
        }
    }

    /// Create or replace serving view `name`.
    pub async fn replace_view(self, cat: Catalog<'_>, name: &str) -> Result<StepStats, String> {
        match self {
            SqlEngine::Local => {
                let description = cat
                    .checked
                    .loaded
                    .stack
                    .serving
                    .views
                    .get(name)
                    .and_then(|v| v.description.clone());
                materialize::view(cat, name, description.as_deref().unwrap_or_default()).await
            }
            SqlEngine::Athena | SqlEngine::GlueSpark => remote::view(cat, name).await,
        }
    }
}
