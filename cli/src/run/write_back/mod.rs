//! Database exports (`serving.exports` with `to:`): a model's rows written back into a table of a
//! PostgreSQL or MySQL source — reverse ETL (an `http_api` source: `http`). The rows are staged in a temporary table and applied
//! in one transaction (`upsert`: insert new keys and update changed rows; `replace`: the table
//! becomes exactly the rows; `upsert_delete`: upsert, and delete keys that left the model), so a
//! reader sees the table before or after, never half of it. The target table is created when
//! absent (types mapped from the model's), or checked against the model when present: a column
//! missing or of another kind is an error naming it. A row the target refuses (a value too long,
//! a constraint) is retried alone and, refused again, goes to the error prefix with its key and
//! the database's error, like a bad row of a load. The sync state in the lake
//! (`_dekit/state/exports/<name>.json`) holds a fingerprint of what was written: a rerun with the
//! same rows sends no statement that changes a row.

mod http;

use super::Ctx;
use super::sources::{self, Db, pg_error};
use crate::model::{Export, ExportMode};
use crate::records::{SyncState, export_state_key};
use crate::stats::{Progress, StepStats};
use datafusion::arrow::array::{Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Schema};

/// A column of the rows: name, the target's SQL type for it, and its kind for comparisons.
struct Column {
    name: String,
    sql_type: String,
    kind: &'static str,
}

/// The target's type for an Arrow type, and the kind that an existing column must match.
fn map_type(db: Db, t: &DataType, key: bool) -> Option<(String, &'static str)> {
    let pg = db == Db::Postgres;
    let (sql, kind) = match t {
        DataType::Boolean => ("boolean".to_string(), "boolean"),
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => ("smallint".into(), "integer"),
        DataType::Int32 | DataType::UInt16 => {
            (if pg { "integer" } else { "int" }.into(), "integer")
        }
        DataType::Int64 | DataType::UInt32 => ("bigint".into(), "integer"),
        DataType::UInt64 => ("numeric(20,0)".into(), "decimal"),
        DataType::Float32 => (if pg { "real" } else { "float" }.into(), "float"),
        DataType::Float64 => (
            if pg { "double precision" } else { "double" }.into(),
            "float",
        ),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => {
            (format!("numeric({p},{s})"), "decimal")
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            // MySQL cannot key on TEXT; a key column is a bounded VARCHAR there.
            let text = if pg {
                "text"
            } else if key {
                "varchar(255)"
            } else {
                "text"
            };
            (text.to_string(), "text")
        }
        DataType::Date32 | DataType::Date64 => ("date".into(), "date"),
        DataType::Timestamp(_, None) => (
            if pg { "timestamp" } else { "datetime(6)" }.into(),
            "timestamp",
        ),
        DataType::Timestamp(_, Some(_)) => (
            if pg { "timestamptz" } else { "datetime(6)" }.into(),
            "timestamp",
        ),
        _ => return None,
    };
    Some((sql, kind))
}

/// The kind of a column as the database's catalog describes it.
fn kind_of_sql(data_type: &str) -> &'static str {
    let t = data_type.to_ascii_lowercase();
    if t.contains("bool") || t == "tinyint" {
        "boolean"
    } else if t.contains("int") {
        "integer"
    } else if t.contains("numeric") || t.contains("decimal") {
        "decimal"
    } else if t.contains("double") || t.contains("real") || t.contains("float") {
        "float"
    } else if t.contains("char") || t.contains("text") {
        "text"
    } else if t.contains("timestamp") || t.contains("datetime") {
        "timestamp"
    } else if t == "date" {
        "date"
    } else {
        "other"
    }
}

/// Whether a model column of `model` kind can be written into a target column of `target` kind.
fn fits(model: &str, target: &str) -> bool {
    model == target
        || matches!(
            (model, target),
            ("integer", "decimal" | "float") | ("decimal", "float") | ("boolean", "integer")
        )
}

/// The rows as text, one `Vec` per row, `None` for NULL; timestamps as databases read them.
fn render(batches: &[RecordBatch]) -> Result<Vec<Vec<Option<String>>>, String> {
    use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
    let opts = FormatOptions::default()
        .with_timestamp_format(Some("%Y-%m-%d %H:%M:%S%.f"))
        .with_timestamp_tz_format(Some("%Y-%m-%d %H:%M:%S%.f%:z"));
    let mut rows = vec![];
    for b in batches {
        let formatters = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts).map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        for i in 0..b.num_rows() {
            rows.push(
                b.columns()
                    .iter()
                    .zip(&formatters)
                    .map(|(c, f)| (!c.is_null(i)).then(|| f.value(i).to_string()))
                    .collect(),
            );
        }
    }
    Ok(rows)
}

/// What a run of the apply did.
#[derive(Default)]
struct Applied {
    inserted: u64,
    updated: u64,
    deleted: u64,
    read_back: u64,
    /// (key, the database's error).
    rejected: Vec<(String, String)>,
    /// False when more rows were refused than allowed: nothing was committed.
    committed: bool,
}

// Long: one export: read the rows, compare with the last sync, stage and apply, record.
pub async fn run(
    ctx: &Ctx,
    name: &str,
    run_id: &str,
    progress: &Progress,
) -> Result<StepStats, String> {
    let s = &ctx.checked.loaded.stack;
    let e = s
        .serving
        .exports
        .get(name)
        .ok_or_else(|| format!("no export `{name}`"))?;
    let to =
        e.to.as_ref()
            .ok_or_else(|| format!("export `{name}` has no `to:`"))?;
    let src = s
        .sources
        .get(&to.value)
        .ok_or_else(|| format!("export `{name}`: no source `{}`", to.value))?;
    let db = match src.kind.value {
        crate::model::SourceKind::Mysql => Db::Mysql,
        _ => Db::Postgres,
    };
    let mode = e.mode.as_ref().map(|m| m.value).unwrap_or_default();
    let keys: Vec<String> = e.key.iter().map(|k| k.value.to_ascii_lowercase()).collect();

    // The rows, in key order: the same rows give the same fingerprint.
    let cat = ctx.catalog();
    let session = crate::transform::session::new(cat)?;
    crate::transform::session::register_all(&session, cat, [e.from.value.as_str()]).await?;
    let df = session
        .table(e.from.value.to_ascii_lowercase().as_str())
        .await
        .map_err(|err| format!("export `{name}`: {err}"))?;
    let schema: Schema = df.schema().as_arrow().clone();
    for k in &keys {
        if schema.field_with_name(k).is_err() {
            return Err(format!(
                "export `{name}`: key column `{k}` is not a column of `{}`",
                e.from.value
            ));
        }
    }
    let order: Vec<_> = keys
        .iter()
        .map(|k| datafusion::prelude::col(crate::sql::ident(k)).sort(true, true))
        .collect();
    let batches = df
        .sort(order)
        .map_err(|err| err.to_string())?
        .collect()
        .await
        .map_err(|err| format!("export `{name}`: {err}"))?;
    if src.kind.value == crate::model::SourceKind::HttpApi {
        let to_api = http::Export {
            name,
            e,
            source: &to.value,
            src,
            keys: &keys,
            run_id,
        };
        return http::run(ctx, &to_api, &batches, progress).await;
    }
    let columns = schema
        .fields()
        .iter()
        .map(|f| {
            let key = keys.contains(f.name());
            map_type(db, f.data_type(), key)
                .map(|(sql_type, kind)| Column {
                    name: f.name().clone(),
                    sql_type,
                    kind,
                })
                .ok_or_else(|| {
                    format!(
                        "export `{name}`: column `{}` is {}, which a database export cannot write",
                        f.name(),
                        f.data_type()
                    )
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let rows = render(&batches)?;
    // One row per key, or the target's row would be written twice in one statement.
    let key_at: Vec<usize> = keys
        .iter()
        .filter_map(|k| columns.iter().position(|c| &c.name == k))
        .collect();
    let key_of = |r: &[Option<String>]| key_at.iter().map(|i| r[*i].clone()).collect::<Vec<_>>();
    if let Some(w) = rows.windows(2).find(|w| key_of(&w[0]) == key_of(&w[1])) {
        let shown: Vec<String> = keys
            .iter()
            .zip(key_of(&w[0]))
            .map(|(k, v)| format!("{k} = {}", v.as_deref().unwrap_or("NULL")))
            .collect();
        return Err(format!(
            "export `{name}`: the key ({}) is not unique in `{}`: {} appears more than once",
            keys.join(", "),
            e.from.value,
            shown.join(", ")
        ));
    }

    let target = e.target(name).unwrap_or_default();
    let fingerprint = {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(format!("{target}\n{}\n{}\n", mode.as_str(), keys.join(",")));
        for c in &columns {
            h.update(format!("{} {}\n", c.name, c.sql_type));
        }
        for r in &rows {
            h.update(serde_json::to_vec(r).unwrap_or_default());
            h.update(b"\n");
        }
        hex::encode(h.finalize())
    };
    let key = export_state_key(name);
    let last: Option<SyncState> = ctx.lake.get_json(&key).await.map_err(|e| e.to_string())?;
    if let Some(last) = last.filter(|l| l.fingerprint == fingerprint) {
        return Ok(StepStats {
            notes: vec![format!(
                "{name}: {} rows unchanged since run {}: nothing written to {target}",
                rows.len(),
                last.run_id
            )],
            ..Default::default()
        });
    }

    let conn = ctx.conn(&to.value, src).await?;
    let table = e
        .table
        .as_ref()
        .map(|t| t.value.as_str())
        .unwrap_or_default();
    let plan = Plan {
        name,
        table,
        columns: &columns,
        keys: &keys,
        mode,
        rows: &rows,
        max_bad: ctx.max_bad_rows,
    };
    let applied = match db {
        Db::Postgres => postgres(&conn, &plan).await?,
        Db::Mysql => mysql(&conn, &plan).await?,
    };
    progress.add(rows.len() as u64, 0);

    let mut notes = vec![format!(
        "{name}: {} rows of {} into {target} ({}): {} inserted, {} updated, {} deleted, {} rejected",
        rows.len(),
        e.from.value,
        mode.as_str(),
        applied.inserted,
        applied.updated,
        applied.deleted,
        applied.rejected.len()
    )];
    if !applied.rejected.is_empty() {
        let errors = reject(ctx, name, e, run_id, &target, &applied.rejected).await?;
        if !applied.committed {
            return Err(format!(
                "export `{name}`: {} rows refused by {target} (more than --max-bad-rows {}), so nothing was written; the rows, their keys and the database's errors: {errors}",
                applied.rejected.len(),
                ctx.max_bad_rows
            ));
        }
        notes.push(format!(
            "{name}: {} rows refused by {target}: {errors}",
            applied.rejected.len()
        ));
    }
    let state = SyncState {
        fingerprint,
        target: target.clone(),
        mode: mode.as_str().into(),
        run_id: run_id.into(),
        at: crate::clock::now().to_rfc3339(),
        rows: rows.len() as u64,
        inserted: applied.inserted,
        updated: applied.updated,
        deleted: applied.deleted,
        rejected: applied.rejected.len() as u64,
        read_back: applied.read_back,
    };
    // Written after the commit: a crash between them applies the same rows again, which changes
    // nothing (upserts of equal rows are skipped by the database).
    ctx.lake
        .put_json(&key, &state)
        .await
        .map_err(|e| e.to_string())?;
    Ok(StepStats {
        rows: applied.inserted + applied.updated + applied.deleted,
        bad: applied.rejected.len() as u64,
        notes,
        ..Default::default()
    })
}

/// Refused rows to `<zone of the model>errors/exports/<name>/<run id>.jsonl`.
pub(super) async fn reject(
    ctx: &Ctx,
    name: &str,
    e: &Export,
    run_id: &str,
    target: &str,
    rejected: &[(String, String)],
) -> Result<String, String> {
    let s = &ctx.checked.loaded.stack;
    let zone = s
        .transforms
        .get(&e.from.value)
        .map(|t| t.zone.value.clone())
        .or_else(|| s.tables.get(&e.from.value).map(|t| t.zone.value.clone()))
        .unwrap_or_else(|| "raw".into());
    let prefix = crate::names::Names::new(&ctx.checked.loaded).zone_prefix(&zone);
    let key = format!("{prefix}errors/exports/{name}/{run_id}.jsonl");
    let mut body = String::new();
    for (k, err) in rejected {
        body.push_str(
            &serde_json::json!({ "export": name, "target": target, "key": k, "error": err })
                .to_string(),
        );
        body.push('\n');
    }
    ctx.lake
        .put(&key, body.into_bytes())
        .await
        .map_err(|e| e.to_string())?;
    Ok(ctx.lake.url(&key))
}

/// What to write, shared by both databases.
struct Plan<'a> {
    name: &'a str,
    table: &'a str,
    columns: &'a [Column],
    keys: &'a [String],
    mode: ExportMode,
    rows: &'a [Vec<Option<String>>],
    /// Refused rows allowed before the export commits nothing (`--max-bad-rows`).
    max_bad: u64,
}

impl Plan<'_> {
    /// `"name" type, ...`: the columns as a table definition, quoted by `quote`.
    fn defs(&self, quote: impl Fn(&str) -> String) -> String {
        self.columns
            .iter()
            .map(|c| format!("{} {}", quote(&c.name), c.sql_type))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The column list, each quoted and after `prefix` (`s.`).
    fn names(&self, prefix: &str, quote: impl Fn(&str) -> String) -> String {
        self.columns
            .iter()
            .map(|c| format!("{prefix}{}", quote(&c.name)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn key_of(&self, row: &[Option<String>]) -> String {
        self.keys
            .iter()
            .filter_map(|k| {
                let i = self.columns.iter().position(|c| &c.name == k)?;
                Some(format!("{k} = {}", row[i].as_deref().unwrap_or("NULL")))
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The target's columns against the model's: each model column present, of a kind that fits.
    fn check_target(&self, existing: &[(String, String)]) -> Result<(), String> {
        for c in self.columns {
            match existing
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(&c.name))
            {
                None => {
                    return Err(format!(
                        "export `{}`: the table `{}` has no column `{}` (the model's {}); add it, or leave it out of the model",
                        self.name, self.table, c.name, c.sql_type
                    ));
                }
                Some((_, t)) if !fits(c.kind, kind_of_sql(t)) => {
                    return Err(format!(
                        "export `{}`: column `{}` is {} in the model but {t} in the table `{}`",
                        self.name, c.name, c.sql_type, self.table
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
}

fn pg_table(table: &str) -> (String, String, String) {
    let (schema, t) = table.split_once('.').unwrap_or(("public", table));
    (
        schema.to_string(),
        t.to_string(),
        format!("{}.{}", crate::sql::ident(schema), crate::sql::ident(t)),
    )
}

/// COPY's text format, each row after its number: tab-separated, `\N` for NULL, backslash escapes.
fn copy_text(rows: &[Vec<Option<String>>]) -> Vec<u8> {
    let mut out = String::new();
    for (n, r) in rows.iter().enumerate() {
        out.push_str(&n.to_string());
        for v in r {
            out.push('\t');
            match v {
                None => out.push_str("\\N"),
                Some(v) => {
                    for ch in v.chars() {
                        match ch {
                            '\\' => out.push_str("\\\\"),
                            '\t' => out.push_str("\\t"),
                            '\n' => out.push_str("\\n"),
                            '\r' => out.push_str("\\r"),
                            c => out.push(c),
                        }
                    }
                }
            }
        }
        out.push('\n');
    }
    out.into_bytes()
}

// Long: the PostgreSQL transaction: target, stage, apply (or row by row), read back, commit.
async fn postgres(conn: &sources::Conn, p: &Plan<'_>) -> Result<Applied, String> {
    use futures_util::SinkExt;
    let ctx =
        |e: tokio_postgres::Error| format!("export `{}`: {}: {}", p.name, p.table, pg_error(&e));
    let (schema, bare, target) = pg_table(p.table);
    let mut client = sources::connect(conn, None).await?;
    let existing: Vec<(String, String)> = client
        .query(
            "SELECT column_name::text, data_type::text FROM information_schema.columns \
             WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
            &[&schema, &bare],
        )
        .await
        .map_err(ctx)?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let cols = |prefix: &str| p.names(prefix, crate::sql::ident);
    let defs = p.defs(crate::sql::ident);
    let keys = p
        .keys
        .iter()
        .map(|k| crate::sql::ident(k))
        .collect::<Vec<_>>();
    let tx = client.transaction().await.map_err(ctx)?;
    if existing.is_empty() {
        tx.batch_execute(&format!(
            "CREATE TABLE {target} ({defs}, PRIMARY KEY ({}))",
            keys.join(", ")
        ))
        .await
        .map_err(ctx)?;
    } else {
        p.check_target(&existing)?;
    }
    // `dekit_row`: the row's place in `p.rows`, to retry one row alone.
    tx.batch_execute(&format!(
        "CREATE TEMP TABLE dekit_stage (dekit_row bigint, {defs}) ON COMMIT DROP"
    ))
    .await
    .map_err(ctx)?;
    let sink = tx
        .copy_in(&format!(
            "COPY dekit_stage (dekit_row, {}) FROM STDIN",
            cols("")
        ))
        .await
        .map_err(ctx)?;
    let mut sink = std::pin::pin!(sink);
    sink.send(bytes::Bytes::from(copy_text(p.rows)))
        .await
        .map_err(ctx)?;
    sink.as_mut().finish().await.map_err(ctx)?;

    let on_keys = |a: &str, b: &str| {
        keys.iter()
            .map(|k| format!("{a}.{k} = {b}.{k}"))
            .collect::<Vec<_>>()
            .join(" AND ")
    };
    let non_keys: Vec<String> = p
        .columns
        .iter()
        .filter(|c| !p.keys.contains(&c.name))
        .map(|c| crate::sql::ident(&c.name))
        .collect();
    let upsert = |filter: &str| {
        let update = if non_keys.is_empty() {
            "DO NOTHING".to_string()
        } else {
            format!(
                "DO UPDATE SET {} WHERE ({}) IS DISTINCT FROM ({})",
                non_keys
                    .iter()
                    .map(|c| format!("{c} = EXCLUDED.{c}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                non_keys
                    .iter()
                    .map(|c| format!("t.{c}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                non_keys
                    .iter()
                    .map(|c| format!("EXCLUDED.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        format!(
            // Counted in the server: one row back, not one per row written.
            "WITH w AS (INSERT INTO {target} AS t ({}) SELECT {} FROM dekit_stage s {filter} ON CONFLICT ({}) {update} RETURNING (xmax = 0) AS new) \
             SELECT count(*) FILTER (WHERE new), count(*) FILTER (WHERE NOT new) FROM w",
            cols(""),
            cols("s."),
            keys.join(", ")
        )
    };
    let mut a = Applied::default();
    if p.mode == ExportMode::Replace {
        a.deleted = tx
            .execute(&format!("DELETE FROM {target}"), &[])
            .await
            .map_err(ctx)?;
    }
    tx.batch_execute("SAVEPOINT dekit_all").await.map_err(ctx)?;
    let counted = |rows: &[tokio_postgres::Row], a: &mut Applied| {
        for r in rows {
            a.inserted += r.get::<_, i64>(0) as u64;
            a.updated += r.get::<_, i64>(1) as u64;
        }
    };
    match tx.query(&upsert(""), &[]).await {
        Ok(rows) => counted(&rows, &mut a),
        Err(all) => {
            // One refused row fails the whole statement: find it, row by row.
            tx.batch_execute("ROLLBACK TO SAVEPOINT dekit_all")
                .await
                .map_err(ctx)?;
            let mut bad_constraint = Some(pg_error(&all));
            tx.batch_execute("CREATE INDEX ON dekit_stage (dekit_row)")
                .await
                .map_err(ctx)?;
            for (i, row) in p.rows.iter().enumerate() {
                let one = upsert(&format!("WHERE s.dekit_row = {i}"));
                tx.batch_execute("SAVEPOINT dekit_row").await.map_err(ctx)?;
                match tx.query(&one, &[]).await {
                    Ok(rows) => {
                        counted(&rows, &mut a);
                        bad_constraint = None;
                    }
                    Err(e) => {
                        tx.batch_execute("ROLLBACK TO SAVEPOINT dekit_row")
                            .await
                            .map_err(ctx)?;
                        a.rejected.push((p.key_of(row), pg_error(&e)));
                    }
                }
            }
            // Every row refused the same way: the statement, not the rows (no unique key on
            // the key columns, say).
            if let Some(e) = bad_constraint.filter(|_| !p.rows.is_empty()) {
                return Err(format!(
                    "export `{}`: {}: {e}{}",
                    p.name,
                    p.table,
                    if e.contains("42P10") {
                        format!(
                            "; the table needs a primary key or unique index on ({})",
                            p.keys.join(", ")
                        )
                    } else {
                        String::new()
                    }
                ));
            }
        }
    }
    if p.mode == ExportMode::UpsertDelete {
        a.deleted = tx
            .execute(
                &format!(
                    "DELETE FROM {target} t WHERE NOT EXISTS (SELECT 1 FROM dekit_stage s WHERE {})",
                    on_keys("s", "t")
                ),
                &[],
            )
            .await
            .map_err(ctx)?;
    }
    let back: i64 = tx
        .query_one(
            &format!(
                "SELECT count(*) FROM {target} t WHERE EXISTS (SELECT 1 FROM dekit_stage s WHERE {})",
                on_keys("s", "t")
            ),
            &[],
        )
        .await
        .map_err(ctx)?
        .get(0);
    a.read_back = back as u64;
    if a.rejected.len() as u64 > p.max_bad {
        // Dropped, the transaction rolls back: the target is as it was.
        return Ok(a);
    }
    tx.commit().await.map_err(ctx)?;
    a.committed = true;
    Ok(a)
}

// Long: the MySQL transaction, as for PostgreSQL; DDL first (MySQL commits around it).
async fn mysql(conn: &sources::Conn, p: &Plan<'_>) -> Result<Applied, String> {
    use mysql_async::prelude::Queryable;
    let err = |e: mysql_async::Error| {
        format!(
            "export `{}`: {}: {}",
            p.name,
            p.table,
            sources::mysql_error(&e)
        )
    };
    let id = sources::my_ident;
    let target = id(p.table);
    let mut c = conn.mysql().await?;
    let existing: Vec<(String, String)> = c
        .exec(
            "SELECT column_name, data_type FROM information_schema.columns \
             WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position",
            (p.table,),
        )
        .await
        .map_err(err)?;
    let defs = p.defs(id);
    let keys: Vec<String> = p.keys.iter().map(|k| id(k)).collect();
    if existing.is_empty() {
        c.query_drop(format!(
            "CREATE TABLE {target} ({defs}, PRIMARY KEY ({}))",
            keys.join(", ")
        ))
        .await
        .map_err(err)?;
    } else {
        p.check_target(&existing)?;
    }
    let cols = p.names("", id);
    c.query_drop("DROP TEMPORARY TABLE IF EXISTS dekit_stage")
        .await
        .map_err(err)?;
    c.query_drop(format!("CREATE TEMPORARY TABLE dekit_stage ({defs})"))
        .await
        .map_err(err)?;
    // Staged in statements of 500 rows (placeholders, so values need no quoting).
    for chunk in p.rows.chunks(500) {
        let one = format!("({})", vec!["?"; p.columns.len()].join(", "));
        let sql = format!(
            "INSERT INTO dekit_stage ({cols}) VALUES {}",
            vec![one; chunk.len()].join(", ")
        );
        let params: Vec<mysql_async::Value> = chunk
            .iter()
            .flatten()
            .map(|v| match v {
                None => mysql_async::Value::NULL,
                Some(s) => mysql_async::Value::Bytes(s.clone().into_bytes()),
            })
            .collect();
        c.exec_drop(sql, params).await.map_err(err)?;
    }
    let on_keys = p
        .keys
        .iter()
        .map(|k| format!("t.{k} = s.{k}", k = id(k)))
        .collect::<Vec<_>>()
        .join(" AND ");
    let non_keys: Vec<String> = p
        .columns
        .iter()
        .filter(|col| !p.keys.contains(&col.name))
        .map(|col| id(&col.name))
        .collect();
    let update = if non_keys.is_empty() {
        format!("{k} = {k}", k = keys[0])
    } else {
        non_keys
            .iter()
            .map(|k| format!("{k} = VALUES({k})"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let upsert = |filter: &str| {
        format!(
            "INSERT INTO {target} ({cols}) SELECT {cols} FROM dekit_stage {filter} ON DUPLICATE KEY UPDATE {update}"
        )
    };
    let mut a = Applied::default();
    let mut tx = c
        .start_transaction(mysql_async::TxOpts::default())
        .await
        .map_err(err)?;
    if p.mode == ExportMode::Replace {
        tx.query_drop(format!("DELETE FROM {target}"))
            .await
            .map_err(err)?;
        a.deleted = tx.affected_rows();
    }
    // New keys, counted before: MySQL reports 1 per insert and 2 per changed row.
    let new: Option<u64> = tx
        .query_first(format!(
            "SELECT count(*) FROM dekit_stage s WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE {on_keys})"
        ))
        .await
        .map_err(err)?;
    let new = new.unwrap_or(0);
    tx.query_drop("SAVEPOINT dekit_all").await.map_err(err)?;
    match tx.query_drop(upsert("")).await {
        Ok(()) => {
            let affected = tx.affected_rows();
            a.inserted = new;
            a.updated = affected.saturating_sub(new) / 2;
        }
        Err(all) => {
            tx.query_drop("ROLLBACK TO SAVEPOINT dekit_all")
                .await
                .map_err(err)?;
            let keys_only: Vec<&String> = p.keys.iter().collect();
            let mut refused_all = Some(sources::mysql_error(&all));
            for row in p.rows {
                let mut filter = vec![];
                let mut params: Vec<mysql_async::Value> = vec![];
                for k in &keys_only {
                    let i = p
                        .columns
                        .iter()
                        .position(|col| &col.name == *k)
                        .unwrap_or(0);
                    filter.push(format!("{} = ?", id(k)));
                    params.push(match &row[i] {
                        None => mysql_async::Value::NULL,
                        Some(s) => mysql_async::Value::Bytes(s.clone().into_bytes()),
                    });
                }
                let was_new: Option<u64> = tx
                    .exec_first(
                        format!(
                            "SELECT count(*) FROM {target} WHERE {}",
                            filter.join(" AND ")
                        ),
                        params.clone(),
                    )
                    .await
                    .map_err(err)?;
                tx.query_drop("SAVEPOINT dekit_row").await.map_err(err)?;
                let one = upsert(&format!("WHERE {}", filter.join(" AND ")));
                match tx.exec_drop(one, params).await {
                    Ok(()) => {
                        refused_all = None;
                        match (was_new == Some(0), tx.affected_rows()) {
                            (true, n) if n > 0 => a.inserted += 1,
                            (false, 2) => a.updated += 1,
                            _ => {}
                        }
                    }
                    Err(e) => {
                        tx.query_drop("ROLLBACK TO SAVEPOINT dekit_row")
                            .await
                            .map_err(err)?;
                        a.rejected.push((p.key_of(row), sources::mysql_error(&e)));
                    }
                }
            }
            if let Some(e) = refused_all.filter(|_| !p.rows.is_empty()) {
                return Err(format!("export `{}`: {}: {e}", p.name, p.table));
            }
        }
    }
    if p.mode == ExportMode::UpsertDelete {
        tx.query_drop(format!(
            "DELETE t FROM {target} t LEFT JOIN dekit_stage s ON {on_keys} WHERE s.{k} IS NULL",
            k = keys[0]
        ))
        .await
        .map_err(err)?;
        a.deleted = tx.affected_rows();
    }
    let back: Option<u64> = tx
        .query_first(format!(
            "SELECT count(*) FROM {target} t JOIN dekit_stage s ON {on_keys}"
        ))
        .await
        .map_err(err)?;
    a.read_back = back.unwrap_or(0);
    if a.rejected.len() as u64 > p.max_bad {
        tx.rollback().await.map_err(err)?;
        return Ok(a);
    }
    tx.commit().await.map_err(err)?;
    a.committed = true;
    Ok(a)
}
