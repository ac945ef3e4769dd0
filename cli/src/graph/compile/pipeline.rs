//! `transforms:`, `serving:` and `quality:`: pipeline steps over the catalog (a Glue job with its
//! role for each `engine: glue` model), ordered so data is tested before anything reads it.

use super::{Builder, R, S, resource_address, storage};
use crate::model::{Engine, Materialized};
use crate::names::with_slash;
use crate::policy::{Policy, list_prefixes};
use crate::validate::Relation;
use serde_json::{Value, json};

pub fn add(b: &mut Builder) {
    let workgroup = storage::workgroup(b);
    transforms(b, &workgroup);
    views(b, &workgroup);
    exports(b, &workgroup);
    quality(b, &workgroup);
}

fn relation(b: &Builder, name: &str) -> Option<Relation> {
    let s = b.s;
    if s.tables.get(name).is_some() {
        Some(Relation::Table)
    } else if s.transforms.get(name).is_some() {
        Some(Relation::Transform)
    } else if s.serving.views.get(name).is_some() {
        Some(Relation::View)
    } else {
        None
    }
}

/// What a reader of `rel` waits for: its producer and, when declared, its quality step (dbt's
/// `build` order: data is tested before anything downstream reads it).
fn upstream(b: &Builder, rel: &str, reader: &str) -> Vec<String> {
    let s = b.s;
    let mut deps = match relation(b, rel) {
        Some(Relation::Table) => {
            let mut d = vec![resource_address(R::GlueTable, rel)];
            if let Some(from) = s.tables.get(rel).and_then(|t| t.from.as_ref()) {
                d.push(format!("ingest.{}", from.value));
            }
            d
        }
        Some(Relation::Transform) => vec![format!("transform.{rel}")],
        Some(Relation::View) => vec![format!("serve.{rel}")],
        None => vec![],
    };
    if s.quality.get(rel).is_some() && rel != reader {
        deps.push(format!("quality.{rel}"));
    }
    deps
}

/// What a model waits for: the producers (and quality steps) of everything its SQL reads.
fn reads_upstream(b: &Builder, model: &crate::validate::SqlModel, name: &str) -> Vec<String> {
    model
        .reads
        .iter()
        .flat_map(|r| upstream(b, r, name))
        .collect()
}

fn sql_path(b: &Builder, path: &std::path::Path) -> String {
    path.strip_prefix(b.loaded.src.dir())
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

fn transforms(b: &mut Builder, workgroup: &Option<String>) {
    let s = b.s;
    let lake = b.lake();
    let db = b.database();
    let db_addr = resource_address(R::GlueDatabase, "catalog");
    for (name, t) in s.transforms.iter() {
        let model = &b.checked.models[&name.value];
        let mut deps = reads_upstream(b, model, name);
        deps.extend(t.depends_on.iter().flat_map(|d| {
            if s.ingest.streams.get(d).is_some() || s.ingest.batch.get(d).is_some() {
                vec![format!("ingest.{}", d.value)]
            } else {
                upstream(b, d, name)
            }
        }));
        let (url, key) = b.zone_location(&t.zone, &name.value);
        let mut attrs = json!({
            "engine": t.engine,
            "materialized": t.materialized,
            "sql": sql_path(b, &model.path),
            "database": db,
            "reads": model.reads,
        });
        if t.materialized == Materialized::Table {
            attrs["location"] = json!(url);
            attrs["format"] = json!(t.format.as_str());
            if !t.partition_by.is_empty() {
                let cols: Vec<String> = t.partition_by.iter().map(|p| p.value.clone()).collect();
                attrs["partition_by"] = json!(cols);
            }
        }
        match t.engine {
            Engine::Athena => deps.extend(workgroup.clone()),
            Engine::Glue => {
                // SQL that has no Spark form was reported by validate; the script says why.
                let script = glue_script(b.checked, name, &url, &db)
                    .unwrap_or_else(|e| format!("raise SystemExit({:?})\n", e));
                let read_prefixes: Vec<String> = model
                    .reads
                    .iter()
                    .filter_map(|r| relation_prefix(b, r))
                    .collect();
                let reads: Vec<String> = read_prefixes
                    .iter()
                    .map(|p| b.arns.objects(&lake, p))
                    .collect();
                let mut listed = read_prefixes.clone();
                listed.push(key.clone());
                let mut tables: Vec<String> = vec![
                    b.arns.glue_catalog(),
                    b.arns.glue_database(&db),
                    b.arns.glue_table(&db, name),
                ];
                tables.extend(model.reads.iter().map(|r| b.arns.glue_table(&db, r)));
                let mut policy = Policy::default().allow(
                    "WriteModel",
                    &["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
                    vec![b.arns.objects(&lake, &key)],
                );
                if !reads.is_empty() {
                    policy = policy.allow("ReadInputs", &["s3:GetObject"], reads);
                }
                let policy = policy
                    .allow_if(
                        "ListLake",
                        &["s3:ListBucket"],
                        vec![b.arns.bucket(&lake)],
                        list_prefixes(&listed),
                    )
                    .allow(
                        "Catalog",
                        &[
                            "glue:GetDatabase",
                            "glue:GetTable",
                            "glue:GetPartitions",
                            "glue:CreateTable",
                            "glue:UpdateTable",
                            "glue:BatchCreatePartition",
                        ],
                        tables,
                    );
                // The Data Catalog as Spark's metastore: the SQL names catalog tables.
                let job = b.glue_job(
                    name,
                    script,
                    policy,
                    json!({ "--enable-glue-datacatalog": "true" }),
                    vec![db_addr.clone()],
                );
                deps.push(job);
            }
        }
        b.step(S::Transform, name, attrs, deps);
    }
}

fn views(b: &mut Builder, workgroup: &Option<String>) {
    let db = b.database();
    for (name, _) in b.s.serving.views.iter() {
        let model = &b.checked.models[&name.value];
        let mut deps = reads_upstream(b, model, name);
        deps.extend(workgroup.clone());
        let attrs = json!({
            "engine": "athena",
            "materialized": "view",
            "sql": sql_path(b, &model.path),
            "database": db,
            "reads": model.reads,
        });
        b.step(S::Serve, name, attrs, deps);
    }
}

fn exports(b: &mut Builder, workgroup: &Option<String>) {
    for (name, e) in b.s.serving.exports.iter() {
        let mut deps = upstream(b, &e.from, name);
        let mut attrs = match (&e.zone, &e.to) {
            (Some(zone), _) => {
                let prefix = e
                    .prefix
                    .as_ref()
                    .map_or_else(|| format!("{name}/"), |p| p.value.clone());
                let (url, _) = b.zone_location(zone, &prefix);
                deps.extend(workgroup.clone());
                json!({ "from": e.from.value, "writes": url, "format": e.format.as_str(), "consumer": e.consumer })
            }
            // Rows written back into a database source: after the source answers.
            (None, Some(to)) => {
                deps.push(format!("source.{}", to.value));
                json!({
                    "from": e.from.value,
                    "to": to.value,
                    "table": e.table.as_ref().map(|t| t.value.clone()),
                    "key": e.key.iter().map(|k| k.value.clone()).collect::<Vec<_>>(),
                    "mode": e.mode.as_ref().map(|m| m.value).unwrap_or_default().as_str(),
                })
            }
            (None, None) => continue,
        };
        if let Some(sch) = &e.schedule {
            attrs["schedule"] = json!(sch.value);
        }
        b.step(S::Export, name, attrs, deps);
    }
}

fn quality(b: &mut Builder, workgroup: &Option<String>) {
    for (name, checks) in b.s.quality.iter() {
        let mut deps = upstream(b, name, name);
        deps.extend(workgroup.clone());
        // The relations a check compares with are read too: their producers come first (not
        // their own checks, which may compare back with this one).
        for c in checks.iter() {
            let other = match &c.check {
                crate::model::Check::Relationships(r) => r.to.split_once('.').map(|(t, _)| t),
                crate::model::Check::RowCountMatches(m) => Some(m.to.as_str()),
                _ => None,
            };
            if let Some(other) = other.filter(|o| *o != name.value) {
                deps.extend(upstream(b, other, other));
            }
        }
        let tests: Vec<Value> = checks
            .iter()
            .map(|c| json!(crate::checks::describe(c)))
            .collect();
        b.step(
            S::Quality,
            name,
            json!({ "relation": name.value, "checks": tests }),
            deps,
        );
    }
}

/// Key prefix holding a relation's data (tables and table models), for read grants.
fn relation_prefix(b: &Builder, name: &str) -> Option<String> {
    let node = b.node(&resource_address(R::GlueTable, name));
    if let Some(loc) = node.and_then(|n| n.attrs["location"].as_str()) {
        return loc
            .strip_prefix(&format!("s3://{}/", b.lake()))
            .map(str::to_string);
    }
    let t = b.s.transforms.get(name)?;
    Some(format!(
        "{}{}",
        b.names.zone_prefix(&t.zone),
        with_slash(name)
    ))
}

/// The Glue script of model `name`, writing under `target` and registering in `database`
/// (the model's zone and the stack's database when `apply` uploads it; local paths in tests).
pub fn glue_script(
    checked: &crate::validate::Checked,
    name: &str,
    target: &str,
    database: &str,
) -> Result<String, String> {
    let t = checked
        .loaded
        .stack
        .transforms
        .get(name)
        .ok_or_else(|| format!("no model `{name}`"))?;
    let m = checked
        .models
        .get(name)
        .ok_or_else(|| format!("no SQL for model `{name}`"))?;
    let partition_by = t.partitions();
    crate::dialect::spark::script(&crate::dialect::spark::Script {
        job: &crate::names::Names::new(&checked.loaded).scoped(name),
        model: name,
        sql: &m.sql,
        target,
        database,
        partition_by: &partition_by,
        description: t.description.as_deref().unwrap_or_default(),
    })
    .map_err(|e| format!("{}: {e}", m.path.display()))
}
