//! `ingest.batch`: a Glue job per batch load (script rendered from `templates/`), with its role and,
//! where a schedule is declared and no pipeline is deployed (`orchestration:`), its trigger; plus
//! the ingest step `dekit run` (and the deployed pipeline) executes.

use super::{Builder, R, S, resource_address};
use crate::policy::{Policy, list_prefixes};
use crate::templates;
use serde_json::json;

// Long: one stack section to its nodes (job, script, role, trigger), in the order the references need.
pub fn add(b: &mut Builder) {
    let s = b.s;
    let lake = b.lake();
    let db = b.database();
    let db_addr = resource_address(R::GlueDatabase, "catalog");
    for (name, batch) in s.ingest.batch.iter() {
        let src = s.sources.get(&batch.source);
        let tables: Vec<String> = if batch.tables.is_empty() {
            src.map(|s| s.tables.iter().map(|t| t.value.clone()).collect())
                .unwrap_or_default()
        } else {
            batch.tables.iter().map(|t| t.value.clone()).collect()
        };
        let prefix = batch
            .prefix
            .as_ref()
            .map_or_else(|| format!("{}/", batch.source.value), |p| p.value.clone());
        let (url, key) = b.zone_location(&batch.zone, &prefix);
        let job_name = b.names.scoped(name);
        let script = templates::render(
            "glue/batch_ingest.py",
            &json!({
                "job": job_name,
                "source": batch.source.value,
                "kind": src.map(|s| s.kind.value),
                "tables": tables,
                "target": url,
                "format": batch.format.as_str(),
                "partition_by": batch.partition_by.iter().map(|p| p.value.clone()).collect::<Vec<_>>(),
                "database": db,
            }),
        );
        let secret = super::sources::secret_name(b, &batch.source.value);
        // The catalog tables this load writes are the ones declared `from:` it (their source
        // table may be named differently), not the source's own table names.
        let mut glue_resources = vec![b.arns.glue_catalog(), b.arns.glue_database(&db)];
        glue_resources.extend(
            s.tables
                .iter()
                .filter(|(_, t)| t.from.as_ref().is_some_and(|f| f.value == name.value))
                .map(|(t, _)| b.arns.glue_table(&db, t)),
        );
        let policy = Policy::default()
            .allow(
                "WriteLake",
                &["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
                vec![b.arns.objects(&lake, &key)],
            )
            .allow_if(
                "ListLake",
                &["s3:ListBucket"],
                vec![b.arns.bucket(&lake)],
                list_prefixes(std::slice::from_ref(&key)),
            )
            .allow(
                "Catalog",
                &[
                    "glue:GetDatabase",
                    "glue:GetTable",
                    "glue:UpdateTable",
                    "glue:BatchCreatePartition",
                    "glue:GetPartitions",
                ],
                glue_resources,
            )
            .allow(
                "SourceSecret",
                &["secretsmanager:GetSecretValue"],
                vec![format!(
                    "arn:aws:secretsmanager:{}:{}:secret:{secret}-*",
                    b.arns.region, b.arns.account
                )],
            );
        let mut job_deps = vec![db_addr.clone()];
        let secret_addr = resource_address(R::SecretsmanagerSecret, &batch.source.value);
        if b.node(&secret_addr).is_some() {
            job_deps.push(secret_addr);
        }
        let job = b.glue_job(
            name,
            script,
            policy,
            json!({ "--source_secret_id": secret }),
            job_deps,
        );
        let mut deps = vec![job.clone(), format!("source.{}", batch.source.value)];
        let mut step = json!({ "mode": "batch", "writes": url, "tables": tables });
        // One scheduler: with `orchestration:` the pipeline's state machine runs the load on
        // its schedule, with dekit's watermarks and load ids; a Glue trigger beside it would
        // load the same tables a second way (W121 says so at the batch's `schedule:`).
        if let Some(schedule) = batch
            .schedule
            .as_ref()
            .filter(|_| s.orchestration.is_none())
        {
            deps.push(b.resource(
                R::GlueTrigger,
                name,
                json!({ "name": b.name_of(&job), "type": "SCHEDULED", "schedule": schedule.value, "job": b.name_of(&job) }),
                [job.clone()],
            ));
            step["schedule"] = json!(schedule.value);
        }
        // The catalog tables it fills: it waits for them, and lineage shows it as their producer.
        let produces: Vec<String> = s
            .tables
            .iter()
            .filter(|(_, t)| t.from.as_ref().is_some_and(|f| f.value == name.value))
            .map(|(t, _)| resource_address(R::GlueTable, t))
            .collect();
        step["produces"] = json!(produces);
        deps.extend(produces);
        b.step(S::Ingest, name, step, deps);
    }
}
