//! Models, views and exports built by the local engine.
//!
//! A table model is written as Parquet under a new version prefix, `<zone><model>/<run id>/`
//! (hive partitions below it when it declares `partition_by`), then its catalog table is switched
//! there in one UpdateTable: a reader sees the old version or the new, never a partial one. The
//! version before stays for readers still on it; older ones are deleted.
//!
//! A model is rebuilt only when its fingerprint changed: the hash of its SQL and settings and of
//! what it reads (a table's objects and their ETags, a model's current version, a view's SQL and
//! inputs). A re-run with no new input rewrites nothing; an edited model rebuilds itself, and its
//! new version changes the fingerprint of every model downstream.

use super::catalog::{self, ModelTable};
use super::errors::{at_model, message};
use super::session::{self, Catalog};
use super::types;
use crate::lake::Lake;
use crate::model::Materialized;
use crate::stats::{Progress, StepStats};
use datafusion::arrow::array::RecordBatch;
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::prelude::{DataFrame, SessionContext};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// What the last build of a model left, in `_dekit/state/models/<model>.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelState {
    pub fingerprint: String,
    pub version: String,
    pub location: String,
    pub rows: u64,
    pub built_at: String,
    /// Incremental models: each partition's content hash and where it is (`p=v/...` → part).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub partitions: BTreeMap<String, PartState>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartState {
    pub values: Vec<String>,
    pub hash: String,
    pub version: String,
    pub location: String,
    pub rows: u64,
}

pub fn state_key(model: &str) -> String {
    format!("_dekit/state/models/{model}.json")
}

/// Build the transform `name` (a table or a view model).
// Long: one model build: fingerprint, skip, build, register, version; to split next.
pub async fn model(
    cat: Catalog<'_>,
    lake: &Lake,
    name: &str,
    version: &str,
    full_refresh: bool,
    progress: &Progress,
) -> Result<StepStats, String> {
    let s = &cat.checked.loaded.stack;
    let t = s
        .transforms
        .get(name)
        .ok_or_else(|| format!("no model `{name}`"))?;
    if t.materialized == Materialized::View {
        return view(cat, name, t.description.as_deref().unwrap_or_default()).await;
    }
    let m = &cat.checked.models[name];
    let db = cat.database();
    let fingerprint = fingerprint(cat, lake, name).await?;
    let key = state_key(name);
    let prev: Option<ModelState> = lake.get_json(&key).await.map_err(|e| e.to_string())?;
    let live = catalog::location(cat.clients, &db, name).await?;
    if let Some(p) = &prev
        && !full_refresh
        && p.fingerprint == fingerprint
        && live.as_deref() == Some(p.location.as_str())
    {
        return Ok(StepStats {
            rows: p.rows,
            notes: vec![format!(
                "{name}: up to date (inputs and SQL unchanged since {})",
                p.built_at
            )],
            ..Default::default()
        });
    }

    let ctx = session::new(cat)?;
    session::register_all(&ctx, cat, m.reads.iter().map(String::as_str)).await?;
    let df = ctx
        .sql(&m.sql)
        .await
        .map_err(|e| at_model(&m.path, &m.sql, &e))?;
    let df = if t.columns.is_empty() {
        df
    } else {
        contract(df, name, t, &m.path)?
    };
    let partition_by = t.partitions();
    let (columns, partition) = split_columns(&df, &partition_by, &m.path)?;
    if t.format != crate::model::DataFormat::Parquet {
        return Err(format!(
            "model `{name}`: the local engine writes parquet, not {}",
            t.format.as_str()
        ));
    }
    let base = format!(
        "{}{name}/",
        crate::names::Names::new(&cat.checked.loaded).zone_prefix(&t.zone)
    );
    if let Some(inc) = &t.incremental {
        if partition_by.is_empty() {
            return Err(format!(
                "{}: model `{name}` is incremental: give it `partition_by`, the partitions compared between builds",
                m.path.display()
            ));
        }
        let b = Build {
            cat,
            lake,
            name,
            version,
            base: &base,
            path: &m.path,
            columns: &columns,
            partition: &partition,
            partition_by: &partition_by,
            description: t.description.as_deref().unwrap_or_default(),
        };
        let keys: Vec<String> = inc
            .unique_key
            .iter()
            .map(|k| k.value.to_ascii_lowercase())
            .collect();
        return incremental(&b, df, &keys, prev, fingerprint, progress).await;
    }
    let prefix = format!("{base}{version}/");
    let url = lake.url(&prefix);
    let written = write(&ctx, df, &url, &partition_by)
        .await
        .map_err(|e| at_model(&m.path, &m.sql, &e))?;
    progress.add(written, 0);
    crate::failpoint::failpoint("transform.after_write");

    let objects = lake.list(&prefix).await.map_err(|e| e.to_string())?;
    if objects.is_empty() {
        // An empty result still gets a file, so readers find the schema.
        return Err(format!(
            "model `{name}`: the engine wrote no file under {url}"
        ));
    }
    let description = t.description.clone().unwrap_or_default();
    catalog::put_table(
        cat.clients,
        &db,
        &ModelTable {
            name,
            description: &description,
            location: &url,
            columns: &columns,
            partition: &partition,
            parameters: vec![
                ("dekit:stack", s.stack.value.clone()),
                ("dekit:environment", cat.checked.loaded.env_name.clone()),
                ("dekit:version", version.to_string()),
            ],
        },
    )
    .await?;
    if !partition.is_empty() {
        let parts = partitions(&objects, &prefix, &partition_by, lake);
        catalog::put_partitions(cat.clients, &db, name, &columns, &parts).await?;
    }
    lake.put_json(
        &key,
        &ModelState {
            fingerprint,
            version: version.to_string(),
            location: url.clone(),
            rows: written,
            built_at: crate::clock::now().to_rfc3339(),
            partitions: BTreeMap::new(),
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    let keep: BTreeSet<String> = [Some(version.to_string()), prev.map(|p| p.version)]
        .into_iter()
        .flatten()
        .collect();
    let deleted = prune(lake, &base, &keep).await?;
    let mut notes = vec![format!("{name}: {written} rows at {url}")];
    if deleted > 0 {
        notes.push(format!(
            "{name}: removed {deleted} objects of older versions"
        ));
    }
    Ok(StepStats {
        rows: written,
        objects: objects.len() as u64,
        notes,
        ..Default::default()
    })
}

struct Build<'a> {
    cat: Catalog<'a>,
    lake: &'a Lake,
    name: &'a str,
    version: &'a str,
    base: &'a str,
    path: &'a std::path::Path,
    columns: &'a [(String, String)],
    partition: &'a [(String, String)],
    partition_by: &'a [String],
    description: &'a str,
}

/// An incremental build: the result's partitions are hashed (rows sorted, as Parquet bytes) and
/// only those whose hash changed are written under the new version and switched in the catalog;
/// the others keep their location. Each partition switches atomically; a reader during the build
/// may see some partitions new and others old, never a partial partition.
// Long: the incremental build's partition compare and swap share one plan; to split next.
async fn incremental(
    b: &Build<'_>,
    df: DataFrame,
    unique_key: &[String],
    prev: Option<ModelState>,
    fingerprint: String,
    progress: &Progress,
) -> Result<StepStats, String> {
    use datafusion::arrow::datatypes::DataType;
    use datafusion::functions_aggregate::expr_fn::count;
    use datafusion::prelude::{Expr, cast, col, lit};
    let err =
        |e: datafusion::error::DataFusionError| format!("{}: {}", b.path.display(), message(&e));
    if !unique_key.is_empty() {
        let keys: Vec<Expr> = unique_key.iter().map(|k| col(k.as_str())).collect();
        let dup = df
            .clone()
            .aggregate(keys, vec![count(lit(1)).alias("n")])
            .and_then(|d| d.filter(col("n").gt(lit(1))))
            .and_then(|d| d.limit(0, Some(1)))
            .map_err(err)?
            .collect()
            .await
            .map_err(err)?;
        if let Some(batch) = dup.iter().find(|b| b.num_rows() > 0) {
            let shown: Vec<String> = (0..unique_key.len())
                .map(|i| {
                    datafusion::arrow::util::display::array_value_to_string(batch.column(i), 0)
                        .unwrap_or_default()
                })
                .collect();
            return Err(format!(
                "{}: model `{}`'s unique key ({}) is not unique: ({}) occurs more than once",
                b.path.display(),
                b.name,
                unique_key.join(", "),
                shown.join(", ")
            ));
        }
    }
    let as_text: Vec<Expr> = b
        .partition_by
        .iter()
        .map(|p| cast(col(p.as_str()), DataType::Utf8).alias(p.as_str()))
        .collect();
    let values = df
        .clone()
        .select(as_text.clone())
        .and_then(|d| d.distinct())
        .map_err(err)?
        .collect()
        .await
        .map_err(err)?;
    let mut tuples: Vec<Vec<String>> = vec![];
    for batch in &values {
        for r in 0..batch.num_rows() {
            tuples.push(
                (0..batch.num_columns())
                    .map(|c| {
                        datafusion::arrow::util::display::array_value_to_string(batch.column(c), r)
                            .unwrap_or_default()
                    })
                    .collect(),
            );
        }
    }
    tuples.sort();
    let data_cols: Vec<Expr> = b.columns.iter().map(|(c, _)| col(c.as_str())).collect();
    let sort: Vec<_> = b
        .columns
        .iter()
        .map(|(c, _)| col(c.as_str()).sort(true, true))
        .collect();
    let old = prev
        .as_ref()
        .map(|p| p.partitions.clone())
        .unwrap_or_default();
    let mut parts: BTreeMap<String, PartState> = BTreeMap::new();
    let (mut rows, mut rewritten) = (0u64, 0usize);
    for values in tuples {
        let dir: Vec<String> = b
            .partition_by
            .iter()
            .zip(&values)
            .map(|(p, v)| format!("{p}={}", hive_escape(v)))
            .collect();
        let dir = dir.join("/");
        let filter = b
            .partition_by
            .iter()
            .zip(&values)
            .map(|(p, v)| cast(col(p.as_str()), DataType::Utf8).eq(lit(v.clone())))
            .reduce(Expr::and)
            .expect("partitioned");
        let batches = df
            .clone()
            .filter(filter)
            .and_then(|d| d.select(data_cols.clone()))
            .and_then(|d| d.sort(sort.clone()))
            .map_err(err)?
            .collect()
            .await
            .map_err(err)?;
        let n: u64 = batches.iter().map(|x| x.num_rows() as u64).sum();
        rows += n;
        let bytes = parquet_bytes(&batches, b.columns)?;
        let hash = hex::encode(Sha256::digest(&bytes));
        let state = match old.get(&dir) {
            Some(o) if o.hash == hash => o.clone(),
            _ => {
                let key = format!("{}{}/{dir}/part-0.parquet", b.base, b.version);
                progress.add(n, bytes.len() as u64);
                b.lake.put(&key, bytes).await.map_err(|e| e.to_string())?;
                rewritten += 1;
                PartState {
                    values,
                    hash,
                    version: b.version.to_string(),
                    location: b.lake.url(&format!("{}{}/{dir}/", b.base, b.version)),
                    rows: n,
                }
            }
        };
        parts.insert(dir, state);
    }
    crate::failpoint::failpoint("transform.after_write");
    let db = b.cat.database();
    let s = &b.cat.checked.loaded.stack;
    catalog::put_table(
        b.cat.clients,
        &db,
        &ModelTable {
            name: b.name,
            description: b.description,
            location: &b.lake.url(&format!("{}{}/", b.base, b.version)),
            columns: b.columns,
            partition: b.partition,
            parameters: vec![
                ("dekit:stack", s.stack.value.clone()),
                ("dekit:environment", b.cat.checked.loaded.env_name.clone()),
                ("dekit:version", b.version.to_string()),
            ],
        },
    )
    .await?;
    let list: Vec<(Vec<String>, String)> = parts
        .values()
        .map(|p| (p.values.clone(), p.location.clone()))
        .collect();
    catalog::put_partitions(b.cat.clients, &db, b.name, b.columns, &list).await?;
    let mut keep: BTreeSet<String> = parts.values().map(|p| p.version.clone()).collect();
    keep.insert(b.version.to_string());
    let total = parts.len();
    b.lake
        .put_json(
            &state_key(b.name),
            &ModelState {
                fingerprint,
                version: b.version.to_string(),
                location: b.lake.url(&format!("{}{}/", b.base, b.version)),
                rows,
                built_at: crate::clock::now().to_rfc3339(),
                partitions: parts,
            },
        )
        .await
        .map_err(|e| e.to_string())?;
    // Versions no partition uses any more (and not the previous build's, for readers on it).
    if let Some(p) = &prev {
        keep.insert(p.version.clone());
    }
    let deleted = prune(b.lake, b.base, &keep).await?;
    let mut notes = vec![format!(
        "{}: {rewritten} of {total} partitions rewritten, {rows} rows",
        b.name
    )];
    if deleted > 0 {
        notes.push(format!(
            "{}: removed {deleted} objects no partition uses",
            b.name
        ));
    }
    Ok(StepStats {
        rows,
        objects: rewritten as u64,
        notes,
        ..Default::default()
    })
}

fn parquet_bytes(batches: &[RecordBatch], columns: &[(String, String)]) -> Result<Vec<u8>, String> {
    use datafusion::parquet::arrow::ArrowWriter;
    let schema = match batches.first() {
        Some(b) => b.schema(),
        None => {
            return Err(format!(
                "no rows for a partition of {} columns",
                columns.len()
            ));
        }
    };
    let mut out = vec![];
    let mut w = ArrowWriter::try_new(&mut out, schema, None).map_err(|e| e.to_string())?;
    for b in batches {
        w.write(b).map_err(|e| e.to_string())?;
    }
    w.close().map_err(|e| e.to_string())?;
    Ok(out)
}

/// A partition value as a hive path segment (what Spark and Athena write).
fn hive_escape(v: &str) -> String {
    v.chars()
        .map(|c| match c {
            '/' | '=' | '%' | '#' | '?' | ':' | '\\' | '\n' | '"' | '\'' => {
                format!("%{:02X}", c as u32)
            }
            c => c.to_string(),
        })
        .collect()
}

/// A view (a `serving.views` entry or a view model): checked by planning it locally, then stored
/// in the catalog as Athena stores views, with the columns the plan gives.
pub async fn view(cat: Catalog<'_>, name: &str, description: &str) -> Result<StepStats, String> {
    let m = &cat.checked.models[name];
    let ctx = session::new(cat)?;
    session::register_all(&ctx, cat, m.reads.iter().map(String::as_str)).await?;
    let df = ctx
        .sql(&m.sql)
        .await
        .map_err(|e| at_model(&m.path, &m.sql, &e))?;
    let columns =
        types::columns(df.schema().as_arrow()).map_err(|e| format!("{}: {e}", m.path.display()))?;
    let db = cat.database();
    let sql = super::athena::qualified(&m.sql, &db, &cat.checked.loaded.stack.relations());
    catalog::put_view(cat.clients, &db, name, description, &sql, &columns).await?;
    Ok(StepStats {
        notes: vec![format!(
            "{name}: view {db}.{name} ({} columns)",
            columns.len()
        )],
        ..Default::default()
    })
}

/// The result cast to the declared `columns:`, in their order; a column missing from the result,
/// or output but not declared, is an error before anything is written.
fn contract(
    df: DataFrame,
    name: &str,
    t: &crate::model::Transform,
    path: &std::path::Path,
) -> Result<DataFrame, String> {
    use datafusion::prelude::{cast, ident};
    let out: BTreeSet<String> = df
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().to_ascii_lowercase())
        .collect();
    let declared: Vec<(String, &str)> = t
        .columns
        .iter()
        .map(|(c, ty)| (c.value.to_ascii_lowercase(), ty.value.as_str()))
        .collect();
    if let Some((c, _)) = declared.iter().find(|(c, _)| !out.contains(c)) {
        return Err(format!(
            "{}: model `{name}` declares column `{c}`, which the query does not output",
            path.display()
        ));
    }
    if let Some(c) = out.iter().find(|c| !declared.iter().any(|(d, _)| d == *c)) {
        return Err(format!(
            "{}: the query outputs `{c}`, which model `{name}`'s `columns:` does not declare",
            path.display()
        ));
    }
    let exprs = declared
        .iter()
        .map(|(c, ty)| {
            let kind = crate::schema::Kind::parse(ty)
                .map_err(|e| format!("model `{name}` column `{c}`: {e}"))?;
            let field = df
                .schema()
                .fields()
                .iter()
                .find(|f| f.name().eq_ignore_ascii_case(c))
                .map(|f| f.name().clone())
                .unwrap_or_default();
            Ok(cast(ident(field), kind.arrow()).alias(c))
        })
        .collect::<Result<Vec<_>, String>>()?;
    df.select(exprs)
        .map_err(|e| format!("{}: {}", path.display(), message(&e)))
}

/// Names and Glue types.
type Columns = Vec<(String, String)>;

fn split_columns(
    df: &DataFrame,
    partition_by: &[String],
    path: &std::path::Path,
) -> Result<(Columns, Columns), String> {
    let all =
        types::columns(df.schema().as_arrow()).map_err(|e| format!("{}: {e}", path.display()))?;
    let names: BTreeSet<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
    if let Some(missing) = partition_by.iter().find(|p| !names.contains(p.as_str())) {
        return Err(format!(
            "{}: `partition_by` names `{missing}`, which the query does not output (it has {})",
            path.display(),
            all.iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let (part, cols): (Vec<_>, Vec<_>) =
        all.into_iter().partition(|(n, _)| partition_by.contains(n));
    // Partition values are path segments: the catalog types them as strings.
    let part = partition_by
        .iter()
        .filter(|p| part.iter().any(|(n, _)| n == *p))
        .map(|p| (p.clone(), "string".to_string()))
        .collect();
    Ok((cols, part))
}

/// Write the result as Parquet under `url`; the rows written.
async fn write(
    ctx: &SessionContext,
    df: DataFrame,
    url: &str,
    partition_by: &[String],
) -> datafusion::error::Result<u64> {
    let schema = df.schema().as_arrow().clone();
    let opts = DataFrameWriteOptions::new().with_partition_by(partition_by.to_vec());
    let out = df.write_parquet(url, opts, None).await?;
    let rows = count(&out);
    if rows == 0 && partition_by.is_empty() {
        // DataFusion writes no file for no rows: one empty file keeps the schema readable.
        let empty = ctx.read_batch(RecordBatch::new_empty(std::sync::Arc::new(schema)))?;
        empty
            .write_parquet(
                &format!("{url}part-0.parquet"),
                DataFrameWriteOptions::new().with_single_file_output(true),
                None,
            )
            .await?;
    }
    Ok(rows)
}

fn count(batches: &[RecordBatch]) -> u64 {
    batches
        .iter()
        .filter_map(|b| {
            b.column_by_name("count").and_then(|c| {
                c.as_any()
                    .downcast_ref::<datafusion::arrow::array::UInt64Array>()
                    .map(|a| a.iter().flatten().sum::<u64>())
            })
        })
        .sum()
}

/// The hive partitions among the written objects: values (in `partition_by` order) and location.
fn partitions(
    objects: &[String],
    prefix: &str,
    partition_by: &[String],
    lake: &Lake,
) -> Vec<(Vec<String>, String)> {
    let mut out: BTreeMap<Vec<String>, String> = BTreeMap::new();
    for key in objects {
        let rest = key.strip_prefix(prefix).unwrap_or(key);
        let dirs: Vec<&str> = rest.split('/').collect();
        if dirs.len() <= partition_by.len() {
            continue;
        }
        let values: Option<Vec<String>> = partition_by
            .iter()
            .zip(&dirs)
            .map(|(p, d)| d.strip_prefix(&format!("{p}=")).map(percent_decode))
            .collect();
        if let Some(values) = values {
            let loc = format!("{prefix}{}/", dirs[..partition_by.len()].join("/"));
            out.entry(values).or_insert_with(|| lake.url(&loc));
        }
    }
    out.into_iter().collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Delete every version under `base` but those in `keep`; the objects deleted.
async fn prune(lake: &Lake, base: &str, keep: &BTreeSet<String>) -> Result<u64, String> {
    let mut n = 0;
    for key in lake.list(base).await.map_err(|e| e.to_string())? {
        let version = key[base.len()..].split('/').next().unwrap_or_default();
        if !keep.contains(version) {
            lake.delete(&key).await.map_err(|e| e.to_string())?;
            n += 1;
        }
    }
    Ok(n)
}

/// The hash of what a model's result depends on.
pub async fn fingerprint(cat: Catalog<'_>, lake: &Lake, name: &str) -> Result<String, String> {
    let mut h = Sha256::new();
    let mut seen = BTreeSet::new();
    Box::pin(feed(cat, lake, name, &mut h, &mut seen, true)).await?;
    Ok(hex::encode(h.finalize()))
}

async fn feed(
    cat: Catalog<'_>,
    lake: &Lake,
    name: &str,
    h: &mut Sha256,
    seen: &mut BTreeSet<String>,
    root: bool,
) -> Result<(), String> {
    if !seen.insert(name.to_string()) {
        return Ok(());
    }
    let s = &cat.checked.loaded.stack;
    h.update(format!("\n#{name}\n"));
    if s.tables.get(name).is_some() {
        let table = cat.graph.catalog_table(name);
        let loc = table.map(|t| t.location()).unwrap_or_default().to_string();
        h.update(serde_json::to_string(&table.map(|t| t.attrs())).unwrap_or_default());
        let key = loc
            .strip_prefix(&format!("s3://{}/", lake.bucket))
            .unwrap_or_default();
        for o in lake
            .list_objects(key, None)
            .await
            .map_err(|e| e.to_string())?
        {
            h.update(format!("{} {} {}\n", o.key, o.etag, o.size));
        }
        return Ok(());
    }
    let model = cat.checked.models.get(name);
    let t = s.transforms.get(name);
    if let Some(t) = t
        && t.materialized == Materialized::Table
        && !root
    {
        // A model read by another: its current version stands for its content.
        let loc = catalog::location(cat.clients, &cat.database(), name).await?;
        h.update(loc.unwrap_or_else(|| "not built".into()));
        return Ok(());
    }
    if let Some(m) = model {
        h.update(&m.sql);
        if let Some(t) = t {
            h.update(serde_json::to_string(t).unwrap_or_default());
        }
        for r in &m.reads {
            Box::pin(feed(cat, lake, r, h, seen, false)).await?;
        }
    }
    Ok(())
}

/// An error of the engine without its SQL context (for exports and queries).
pub fn plain(e: &datafusion::error::DataFusionError) -> String {
    message(e)
}
