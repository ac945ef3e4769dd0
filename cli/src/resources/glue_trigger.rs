//! `glue_trigger`: the schedule that starts a batch ingest job (`cron(...)`/`rate(...)` in AWS syntax).
//!
//! Why: the schedule belongs to the stack, so it is planned, diffed and destroyed with the job.
//!
//! Example: `glue_trigger.shop_tables` → `cron(0 2 * * ? *)` starting `retail-local-shop_tables`.

use super::{Attrs, Fut, Provider, absent, s, tags};
use crate::cloud::Clients;
use crate::cloud::error::from_sdk;
use aws_sdk_glue::types::{Action, TriggerType, TriggerUpdate};
use serde_json::json;

pub struct GlueTrigger;

impl Provider for GlueTrigger {
    fn replace_on(&self) -> &'static [&'static str] {
        &["name", "type"]
    }
    fn read<'a>(&'a self, c: &'a Clients, d: &'a Attrs) -> Fut<'a, Option<Attrs>> {
        Box::pin(async move {
            let name = s(d, "name");
            let Some(out) = absent(
                c.glue
                    .get_trigger()
                    .name(name)
                    .send()
                    .await
                    .map_err(|e| from_sdk("GetTrigger", name, e)),
            )?
            else {
                return Ok(None);
            };
            let Some(t) = out.trigger() else {
                return Ok(None);
            };
            let mut live = Attrs::new();
            live.insert("name".into(), json!(t.name()));
            live.insert("type".into(), json!(t.r#type().map(|t| t.as_str())));
            live.insert("schedule".into(), json!(t.schedule()));
            live.insert(
                "job".into(),
                json!(t.actions().first().and_then(|a| a.job_name())),
            );
            live.insert("tags".into(), d.get("tags").cloned().unwrap_or_default());
            Ok(Some(live))
        })
    }

    fn create<'a>(&'a self, c: &'a Clients, d: &'a Attrs) -> Fut<'a, ()> {
        Box::pin(async move {
            let name = s(d, "name");
            let mut req = c
                .glue
                .create_trigger()
                .name(name)
                .r#type(TriggerType::Scheduled)
                .schedule(s(d, "schedule"))
                .actions(Action::builder().job_name(s(d, "job")).build())
                .start_on_creation(true);
            for (k, v) in tags(d) {
                req = req.tags(k, v);
            }
            req.send()
                .await
                .map_err(|e| from_sdk("CreateTrigger", name, e))?;
            Ok(())
        })
    }

    fn update<'a>(&'a self, c: &'a Clients, d: &'a Attrs, _live: &'a Attrs) -> Fut<'a, ()> {
        Box::pin(async move {
            let name = s(d, "name");
            let upd = TriggerUpdate::builder()
                .schedule(s(d, "schedule"))
                .actions(Action::builder().job_name(s(d, "job")).build())
                .build();
            c.glue
                .update_trigger()
                .name(name)
                .trigger_update(upd)
                .send()
                .await
                .map_err(|e| from_sdk("UpdateTrigger", name, e))?;
            Ok(())
        })
    }

    fn delete<'a>(&'a self, c: &'a Clients, a: &'a Attrs, _force: bool) -> Fut<'a, ()> {
        Box::pin(async move {
            let name = s(a, "name");
            absent(
                c.glue
                    .delete_trigger()
                    .name(name)
                    .send()
                    .await
                    .map_err(|e| from_sdk("DeleteTrigger", name, e)),
            )?;
            Ok(())
        })
    }
}
