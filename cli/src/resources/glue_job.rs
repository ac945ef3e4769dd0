//! `glue_job`: a Glue Spark job (batch ingest or a transform) running a script dekit rendered from
//! `templates/` and uploaded to the artifacts bucket, under the component's own role.
//!
//! Why: on AWS, loads from databases and Spark transforms run as Glue jobs; the job definition is
//! infrastructure, its runs are pipeline steps.
//!
//! Example: `glue_job.shop_tables` → `retail-local-shop_tables`, G.1X × 2, Glue 4.0.

use super::{Attrs, Fut, Provider, absent, int, s, tags};
use crate::cloud::Clients;
use crate::cloud::error::from_sdk;
use aws_sdk_glue::types::{JobCommand, JobUpdate, WorkerType};
use serde_json::{Value, json};
use std::collections::HashMap;

pub struct GlueJob;

fn command(d: &Attrs) -> JobCommand {
    JobCommand::builder()
        .name("glueetl")
        .script_location(s(d, "script_location"))
        .python_version("3")
        .build()
}

fn args(d: &Attrs) -> HashMap<String, String> {
    d["default_arguments"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect()
}

pub(super) fn security(d: &Attrs) -> Option<String> {
    d.get("security_configuration")
        .and_then(Value::as_str)
        .map(str::to_string)
}

impl Provider for GlueJob {
    fn read<'a>(&'a self, c: &'a Clients, d: &'a Attrs) -> Fut<'a, Option<Attrs>> {
        Box::pin(async move {
            let name = s(d, "name");
            let Some(out) = absent(
                c.glue
                    .get_job()
                    .job_name(name)
                    .send()
                    .await
                    .map_err(|e| from_sdk("GetJob", name, e)),
            )?
            else {
                return Ok(None);
            };
            let Some(j) = out.job() else { return Ok(None) };
            let args: serde_json::Map<String, Value> = j
                .default_arguments()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
                .unwrap_or_default();
            let mut live = Attrs::new();
            live.insert("name".into(), json!(j.name()));
            live.insert("role_arn".into(), json!(j.role()));
            live.insert(
                "script_location".into(),
                json!(j.command().and_then(|c| c.script_location())),
            );
            live.insert("glue_version".into(), json!(j.glue_version()));
            live.insert(
                "worker_type".into(),
                json!(j.worker_type().map(|w| w.as_str())),
            );
            live.insert("number_of_workers".into(), json!(j.number_of_workers()));
            live.insert("default_arguments".into(), Value::Object(args));
            if let Some(sc) = j.security_configuration().filter(|s| !s.is_empty()) {
                live.insert("security_configuration".into(), json!(sc));
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
                .create_job()
                .name(name)
                .role(s(d, "role_arn"))
                .command(command(d))
                .glue_version(s(d, "glue_version"))
                .worker_type(WorkerType::from(s(d, "worker_type")))
                .number_of_workers(int(d, "number_of_workers") as i32)
                .set_default_arguments(Some(args(d)))
                .set_security_configuration(security(d));
            for (k, v) in tags(d) {
                req = req.tags(k, v);
            }
            req.send()
                .await
                .map_err(|e| from_sdk("CreateJob", name, e))?;
            Ok(())
        })
    }

    fn update<'a>(&'a self, c: &'a Clients, d: &'a Attrs, _live: &'a Attrs) -> Fut<'a, ()> {
        Box::pin(async move {
            let name = s(d, "name");
            let upd = JobUpdate::builder()
                .role(s(d, "role_arn"))
                .command(command(d))
                .glue_version(s(d, "glue_version"))
                .worker_type(WorkerType::from(s(d, "worker_type")))
                .number_of_workers(int(d, "number_of_workers") as i32)
                .set_default_arguments(Some(args(d)))
                .set_security_configuration(security(d))
                .build();
            c.glue
                .update_job()
                .job_name(name)
                .job_update(upd)
                .send()
                .await
                .map_err(|e| from_sdk("UpdateJob", name, e))?;
            Ok(())
        })
    }

    fn delete<'a>(&'a self, c: &'a Clients, a: &'a Attrs, _force: bool) -> Fut<'a, ()> {
        Box::pin(async move {
            let name = s(a, "name");
            absent(
                c.glue
                    .delete_job()
                    .job_name(name)
                    .send()
                    .await
                    .map_err(|e| from_sdk("DeleteJob", name, e)),
            )?;
            Ok(())
        })
    }
}
