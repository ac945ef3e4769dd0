//! Physical AWS names of a stack's resources, derived in one place so plan, apply and checks agree.
//!
//! One convention per service:
//! - everything outside the Glue Data Catalog that dekit names (streams, delivery streams, IAM
//!   roles, Glue jobs, triggers and crawlers, CloudWatch alarms, the Athena workgroup) is
//!   `<stack>-<environment>-<component>[-<purpose>]` in words joined by `-`: an `_` in a stack-level
//!   name becomes `-` (`shop_tables` → `retail-local-shop-tables`, its role
//!   `retail-local-shop-tables-job`);
//! - Glue Data Catalog names (databases, tables, columns) use `_` only, as Athena requires, and are
//!   the stack's own names;
//! - buckets and streams given an explicit name in the stack keep it.
//!
//! Names are only for creating a resource: a resource that refers to another takes that one's
//! recorded outputs along the graph edge (`graph::refs`), never a name derived here a second time.

use crate::load::Loaded;

pub struct Names<'a> {
    prefix: String,
    loaded: &'a Loaded,
}

impl<'a> Names<'a> {
    pub fn new(loaded: &'a Loaded) -> Self {
        Names {
            prefix: format!("{}-{}", loaded.stack.stack.value, loaded.env_name).replace('_', "-"),
            loaded,
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn lake_bucket(&self) -> String {
        self.loaded.stack.storage.lake.bucket.value.clone()
    }

    pub fn artifacts_bucket(&self) -> String {
        match &self.loaded.stack.storage.artifacts_bucket {
            Some(b) => b.value.clone(),
            None => format!("{}-artifacts", self.lake_bucket()),
        }
    }

    pub fn stream(&self, name: &str) -> String {
        match self
            .loaded
            .stack
            .ingest
            .streams
            .get(name)
            .and_then(|s| s.name.as_ref())
        {
            Some(n) => n.value.clone(),
            None => self.scoped(name),
        }
    }

    pub fn delivery(&self, name: &str) -> String {
        format!("{}-delivery", self.stream(name))
    }

    /// A component-scoped name (role, job, crawler, alarm, workgroup), words joined by `-`.
    pub fn scoped(&self, name: &str) -> String {
        format!("{}-{name}", self.prefix).replace('_', "-")
    }

    /// The role of a component that runs code: `<component>-<purpose>` (`shop-tables-job`).
    pub fn role(&self, component: &str, purpose: &str) -> String {
        self.scoped(&format!("{component}-{purpose}"))
    }

    pub fn database(&self) -> String {
        self.loaded.stack.storage.catalog.database.value.clone()
    }

    /// Key prefix of a zone, always ending in `/`.
    pub fn zone_prefix(&self, zone: &str) -> String {
        let p = self
            .loaded
            .stack
            .storage
            .lake
            .zones
            .get(zone)
            .and_then(|z| z.prefix.as_ref())
            .map_or_else(|| format!("{zone}/"), |p| p.value.clone());
        with_slash(&p)
    }
}

impl Names<'_> {
    /// Key prefix an export writes under: its zone's, then its own `prefix:` (default: its name).
    pub fn export_prefix(&self, name: &str, e: &crate::model::Export) -> String {
        format!(
            "{}{}",
            self.zone_prefix(e.zone.as_ref().map_or("", |z| z.value.as_str())),
            with_slash(
                &e.prefix
                    .as_ref()
                    .map_or_else(|| format!("{name}/"), |p| p.value.clone())
            )
        )
    }

    /// Key prefix of a table's data inside its zone: its own `prefix:`, else where the batch load
    /// or stream delivery it comes `from` writes it, else `<table>/`.
    pub fn table_prefix(&self, name: &str, t: &crate::model::Table) -> String {
        let s = &self.loaded.stack;
        let from_batch = t.from.as_ref().and_then(|f| s.ingest.batch.get(f));
        let from_stream = t
            .from
            .as_ref()
            .and_then(|f| s.ingest.streams.get(f).map(|st| (f, st)));
        match (&t.prefix, from_batch, from_stream) {
            (Some(p), _, _) => p.value.clone(),
            (None, Some(batch), _) => {
                let base = batch
                    .prefix
                    .as_ref()
                    .map_or_else(|| format!("{}/", batch.source.value), |p| p.value.clone());
                let table = t.source_table.as_ref().map_or(name, |s| s.value.as_str());
                format!("{}{table}/", with_slash(&base))
            }
            (None, None, Some((f, st))) => st
                .delivery
                .as_ref()
                .and_then(|d| d.prefix.as_ref())
                .map_or_else(|| format!("{}/", f.value), |p| p.value.clone()),
            _ => format!("{name}/"),
        }
    }
}

pub fn with_slash(p: &str) -> String {
    let p = p.trim_start_matches('/');
    if p.is_empty() || p.ends_with('/') {
        p.to_string()
    } else {
        format!("{p}/")
    }
}

/// The log groups Glue writes a job's (`crawler: false`) or crawler's logs to when the security
/// configuration `config` encrypts them, for a run under `role`.
pub fn encrypted_glue_log_groups(role: &str, config: &str, crawler: bool) -> Vec<String> {
    if crawler {
        vec![format!("/aws-glue/crawlers-role/{role}-{config}")]
    } else {
        ["output", "error"]
            .iter()
            .map(|s| format!("/aws-glue/jobs-{role}-{config}/{s}"))
            .collect()
    }
}
