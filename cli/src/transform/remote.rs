//! Models on AWS's engines: Athena statements through the Athena API, and the Glue Spark job that
//! `apply` uploaded (StartJobRun, poll, a link to its logs). The local cloud runs neither: the
//! statements are snapshot-tested and parsed as Trino by sqlglot, the scripts run under PySpark.

use super::athena;
use super::catalog;
use super::session::Catalog;
use crate::cloud::error::from_sdk;
use crate::model::{Engine, Materialized};
use crate::stats::StepStats;
use aws_sdk_athena::types::{QueryExecutionContext, QueryExecutionState, ResultConfiguration};
use std::time::Duration;

/// Build `name` on its declared engine.
pub async fn model(cat: Catalog<'_>, name: &str, version: &str) -> Result<StepStats, String> {
    let t = cat
        .checked
        .loaded
        .stack
        .transforms
        .get(name)
        .ok_or_else(|| format!("no model `{name}`"))?;
    match (t.engine, t.materialized) {
        (Engine::Glue, Materialized::Table) => glue(cat, name, version).await,
        (_, Materialized::View) => view(cat, name).await,
        (Engine::Athena, Materialized::Table) => ctas(cat, name, t, version).await,
    }
}

pub async fn view(cat: Catalog<'_>, name: &str) -> Result<StepStats, String> {
    let m = &cat.checked.models[name];
    let db = cat.database();
    let sql = athena::qualified(&m.sql, &db, &cat.checked.loaded.stack.relations());
    let stmt = athena::view(&db, name, &sql);
    run_query(cat, &stmt, &shown(cat, name), 1).await?;
    Ok(StepStats {
        notes: vec![format!("{name}: view {db}.{name} replaced by Athena")],
        ..Default::default()
    })
}

async fn ctas(
    cat: Catalog<'_>,
    name: &str,
    t: &crate::model::Transform,
    version: &str,
) -> Result<StepStats, String> {
    let r = athena::render(cat.checked, name, version)?;
    let c = r.ctas(version);
    let (db, location, partition_by) = (r.db.as_str(), &r.location, &r.partition_by);
    let path = shown(cat, name);
    let partitions = if partition_by.is_empty() {
        vec![]
    } else {
        let id = run_query(cat, &c.partitions_query(), &path, 1).await?;
        query_rows(cat, &id).await?
    };
    for stmt in c.statements(&partitions) {
        run_query(cat, &stmt, &path, athena::CTAS_HEADER_LINES).await?;
    }
    // Switch the model's table to the scratch table's columns and location, then drop it.
    let scratch = c.scratch();
    let t_live = catalog::table(cat.clients, db, &scratch)
        .await?
        .ok_or_else(|| format!("{path}: Athena's CTAS left no table {db}.{scratch}"))?;
    let sd = t_live.storage_descriptor();
    let cols: Vec<(String, String)> = sd
        .map(|sd| sd.columns())
        .unwrap_or_default()
        .iter()
        .map(|c| {
            (
                c.name().to_string(),
                c.r#type().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let part: Vec<(String, String)> = partition_by
        .iter()
        .map(|p| (p.clone(), "string".into()))
        .collect();
    catalog::put_table(
        cat.clients,
        db,
        &catalog::ModelTable {
            name,
            description: t.description.as_deref().unwrap_or_default(),
            location,
            columns: &cols,
            partition: &part,
            parameters: vec![("dekit:version", version.to_string())],
        },
    )
    .await?;
    if !partition_by.is_empty() {
        // The scratch table's partitions (Athena registered them) move to the model's table.
        let parts = catalog::partitions(cat.clients, db, &scratch).await?;
        catalog::put_partitions(cat.clients, db, name, &cols, &parts).await?;
    }
    cat.clients
        .glue
        .delete_table()
        .database_name(db)
        .name(&scratch)
        .send()
        .await
        .map_err(|e| from_sdk("DeleteTable", &format!("{db}.{scratch}"), e).to_string())?;
    Ok(StepStats {
        notes: vec![format!("{name}: built by Athena at {location}")],
        ..Default::default()
    })
}

fn shown(cat: Catalog<'_>, name: &str) -> String {
    let p = &cat.checked.models[name].path;
    p.strip_prefix(cat.checked.loaded.src.dir())
        .unwrap_or(p)
        .to_string_lossy()
        .into_owned()
}

fn workgroup(cat: Catalog<'_>) -> Option<String> {
    cat.graph
        .get("athena_workgroup.main")
        .and_then(|n| n.attrs.get("name"))
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

/// Run one statement and wait for it; its execution id.
async fn run_query(
    cat: Catalog<'_>,
    sql: &str,
    path: &str,
    header_lines: u32,
) -> Result<String, String> {
    let a = &cat.clients.athena;
    let mut req = a
        .start_query_execution()
        .query_string(sql)
        .query_execution_context(
            QueryExecutionContext::builder()
                .database(cat.database())
                .build(),
        );
    match workgroup(cat) {
        Some(w) => req = req.work_group(w),
        None => {
            req = req.result_configuration(
                ResultConfiguration::builder()
                    .output_location(format!("s3://{}/_dekit/athena/", cat.bucket()))
                    .build(),
            )
        }
    }
    let id = req
        .send()
        .await
        .map_err(|e| from_sdk("StartQueryExecution", path, e).to_string())?
        .query_execution_id()
        .unwrap_or_default()
        .to_string();
    let mut wait = Duration::from_millis(200);
    loop {
        let q = a
            .get_query_execution()
            .query_execution_id(&id)
            .send()
            .await
            .map_err(|e| from_sdk("GetQueryExecution", &id, e).to_string())?;
        let status = q.query_execution().and_then(|q| q.status());
        match status.and_then(|s| s.state()) {
            Some(QueryExecutionState::Succeeded) => return Ok(id),
            Some(QueryExecutionState::Failed | QueryExecutionState::Cancelled) => {
                let reason = status
                    .and_then(|s| s.state_change_reason())
                    .unwrap_or("failed without a reason");
                return Err(athena::model_error(path, header_lines, reason));
            }
            _ => {}
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(5));
    }
}

/// The rows of a finished query, as text.
async fn query_rows(cat: Catalog<'_>, id: &str) -> Result<Vec<Vec<String>>, String> {
    query_table(cat, id).await.map(|(_, rows)| rows)
}

/// Run a query on Athena (`dekit test` on AWS); its rows as JSON objects of strings.
pub async fn select(
    cat: Catalog<'_>,
    sql: &str,
    what: &str,
) -> Result<Vec<serde_json::Value>, String> {
    let id = run_query(cat, sql, what, 1).await?;
    let (header, rows) = query_table(cat, &id).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            serde_json::Value::Object(
                header
                    .iter()
                    .cloned()
                    .zip(r.into_iter().map(Into::into))
                    .collect(),
            )
        })
        .collect())
}

/// Run a statement on Athena that returns nothing to read (UNLOAD).
pub async fn execute(cat: Catalog<'_>, sql: &str, what: &str) -> Result<(), String> {
    run_query(cat, sql, what, 1).await.map(|_| ())
}

/// The column names and rows of a finished query.
async fn query_table(
    cat: Catalog<'_>,
    id: &str,
) -> Result<(Vec<String>, Vec<Vec<String>>), String> {
    let mut header = vec![];
    let mut rows = vec![];
    let mut token = None;
    let mut first = true;
    loop {
        let page = cat
            .clients
            .athena
            .get_query_results()
            .query_execution_id(id)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| from_sdk("GetQueryResults", id, e).to_string())?;
        let set = page.result_set();
        for (i, r) in set.map(|s| s.rows()).unwrap_or_default().iter().enumerate() {
            if first && i == 0 {
                header = r
                    .data()
                    .iter()
                    .map(|d| d.var_char_value().unwrap_or_default().to_string())
                    .collect();
                continue;
            }
            rows.push(
                r.data()
                    .iter()
                    .map(|d| d.var_char_value().unwrap_or_default().to_string())
                    .collect(),
            );
        }
        first = false;
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok((header, rows));
        }
    }
}

/// Run the model's Glue job and wait for it; the job writes the new version and registers it.
async fn glue(cat: Catalog<'_>, name: &str, version: &str) -> Result<StepStats, String> {
    let job = cat
        .graph
        .get(&format!("glue_job.{name}"))
        .and_then(|n| n.attrs.get("name"))
        .and_then(|v| v.as_str())
        .ok_or_else(|| format!("model `{name}` has no Glue job in the graph"))?
        .to_string();
    let g = &cat.clients.glue;
    let run = g
        .start_job_run()
        .job_name(&job)
        .arguments("--dekit_version", version)
        .send()
        .await
        .map_err(|e| from_sdk("StartJobRun", &job, e).to_string())?;
    let run_id = run.job_run_id().unwrap_or_default().to_string();
    let region = cat.clients.target.region().to_string();
    let logs = format!(
        "https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#logsV2:log-groups/log-group/$252Faws-glue$252Fjobs$252Foutput/log-events/{run_id}"
    );
    let mut wait = Duration::from_secs(2);
    loop {
        let r = g
            .get_job_run()
            .job_name(&job)
            .run_id(&run_id)
            .send()
            .await
            .map_err(|e| from_sdk("GetJobRun", &job, e).to_string())?;
        let jr = r.job_run();
        use aws_sdk_glue::types::JobRunState as S;
        match jr.and_then(|j| j.job_run_state()) {
            Some(S::Succeeded) => {
                return Ok(StepStats {
                    notes: vec![format!(
                        "{name}: Glue job {job} run {run_id} succeeded; logs: {logs}"
                    )],
                    ..Default::default()
                });
            }
            Some(s @ (S::Failed | S::Error | S::Timeout | S::Stopped | S::Expired)) => {
                return Err(format!(
                    "{}: Glue job {job} run {run_id} {}: {}; logs: {logs}",
                    shown(cat, name),
                    s.as_str().to_lowercase(),
                    jr.and_then(|j| j.error_message()).unwrap_or("no message")
                ));
            }
            _ => {}
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(30));
    }
}
