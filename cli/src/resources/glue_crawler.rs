//! `glue_crawler`: keeps a declared table's partitions current (catalog target, schema changes
//! only logged), on an optional schedule, under its own read-only role.
//!
//! Why: Firehose writes new date prefixes continuously; without new partitions Athena does not see them.
//!
//! Example: `glue_crawler.clickstream_events` → `retail-local-clickstream_events-crawler`, hourly.

use super::{Attrs, Fut, Provider, absent, s, tags};
use crate::cloud::error::from_sdk;
use crate::cloud::{Clients, CloudError};
use aws_sdk_glue::types::{
    CatalogTarget, CrawlerTargets, DeleteBehavior, SchemaChangePolicy, UpdateBehavior,
};
use serde_json::json;

pub struct GlueCrawler;

fn targets(d: &Attrs) -> Result<CrawlerTargets, CloudError> {
    let t = CatalogTarget::builder()
        .database_name(s(d, "database"))
        .tables(s(d, "catalog_target"))
        .build()
        .map_err(|e| CloudError::new("Build", s(d, "name"), "InvalidInput", e.to_string()))?;
    Ok(CrawlerTargets::builder().catalog_targets(t).build())
}

fn policy() -> SchemaChangePolicy {
    SchemaChangePolicy::builder()
        .update_behavior(UpdateBehavior::Log)
        .delete_behavior(DeleteBehavior::Log)
        .build()
}

impl Provider for GlueCrawler {
    fn read<'a>(&'a self, c: &'a Clients, d: &'a Attrs) -> Fut<'a, Option<Attrs>> {
        Box::pin(async move {
            let name = s(d, "name");
            let Some(out) = absent(
                c.glue
                    .get_crawler()
                    .name(name)
                    .send()
                    .await
                    .map_err(|e| from_sdk("GetCrawler", name, e)),
            )?
            else {
                return Ok(None);
            };
            let Some(cr) = out.crawler() else {
                return Ok(None);
            };
            let mut live = Attrs::new();
            live.insert("name".into(), json!(cr.name()));
            live.insert("role_arn".into(), json!(cr.role()));
            live.insert("database".into(), json!(cr.database_name()));
            let target = cr
                .targets()
                .and_then(|t| t.catalog_targets().first())
                .and_then(|t| t.tables().first());
            live.insert("catalog_target".into(), json!(target));
            let scp = cr.schema_change_policy();
            live.insert(
                "schema_change_policy".into(),
                json!({
                    "update_behavior": scp.and_then(|p| p.update_behavior()).map(|b| b.as_str()).unwrap_or_default(),
                    "delete_behavior": scp.and_then(|p| p.delete_behavior()).map(|b| b.as_str()).unwrap_or_default(),
                }),
            );
            if let Some(sc) = cr
                .crawler_security_configuration()
                .filter(|s| !s.is_empty())
            {
                live.insert("security_configuration".into(), json!(sc));
            }
            if let Some(sch) = cr.schedule().and_then(|s| s.schedule_expression()) {
                live.insert("schedule".into(), json!(sch));
            }
            live.insert("tags".into(), d.get("tags").cloned().unwrap_or_default());
            Ok(Some(live))
        })
    }

    fn create<'a>(&'a self, c: &'a Clients, d: &'a Attrs) -> Fut<'a, ()> {
        Box::pin(async move {
            let name = s(d, "name");
            let mut req = c
                .glue
                .create_crawler()
                .name(name)
                .role(s(d, "role_arn"))
                .database_name(s(d, "database"))
                .targets(targets(d)?)
                .schema_change_policy(policy())
                .set_crawler_security_configuration(super::glue_job::security(d))
                .set_schedule(
                    d.get("schedule")
                        .and_then(|v| v.as_str())
                        .map(str::to_string),
                );
            for (k, v) in tags(d) {
                req = req.tags(k, v);
            }
            req.send()
                .await
                .map_err(|e| from_sdk("CreateCrawler", name, e))?;
            Ok(())
        })
    }

    fn update<'a>(&'a self, c: &'a Clients, d: &'a Attrs, _live: &'a Attrs) -> Fut<'a, ()> {
        Box::pin(async move {
            let name = s(d, "name");
            c.glue
                .update_crawler()
                .name(name)
                .role(s(d, "role_arn"))
                .database_name(s(d, "database"))
                .targets(targets(d)?)
                .schema_change_policy(policy())
                .set_crawler_security_configuration(super::glue_job::security(d))
                .set_schedule(
                    d.get("schedule")
                        .and_then(|v| v.as_str())
                        .map(str::to_string),
                )
                .send()
                .await
                .map_err(|e| from_sdk("UpdateCrawler", name, e))?;
            Ok(())
        })
    }

    fn delete<'a>(&'a self, c: &'a Clients, a: &'a Attrs, _force: bool) -> Fut<'a, ()> {
        Box::pin(async move {
            let name = s(a, "name");
            absent(
                c.glue
                    .delete_crawler()
                    .name(name)
                    .send()
                    .await
                    .map_err(|e| from_sdk("DeleteCrawler", name, e)),
            )?;
            Ok(())
        })
    }
}
