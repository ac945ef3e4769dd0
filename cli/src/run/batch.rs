//! A batch load (`ingest.batch`): each table declared `from:` it, read from its source, written to
//! the raw zone as Parquet under `ingest_date=YYYY-MM-DD/`, its partition registered in Glue.
//!
//! Exactly one copy, whatever happens:
//! - object keys derive from the data: `<load id>-<part>.parquet`, the load id a hash of table,
//!   partition and watermark range (or the file's content), so a re-run of the same load writes
//!   the same keys;
//! - before writing, the load is recorded as pending in `_dekit/state/ingest/...`; a run that
//!   finds a pending load (a crash, a failed step) deletes its objects first;
//! - the watermark advances only after every object is written.

use super::Ctx;
use super::convert::{self, Mark, Part, Spec, Summary};
use super::postgres_in::Wire;
use super::sources;
use crate::lake::Lake;
use crate::model::{DataFormat, SourceKind, Table};
use crate::records::{Last, LoadState, Pending, load_state_key};
use crate::schema::Column;
use crate::stats::{Progress, StepStats};
use std::io::Read;

/// One table of the load, resolved from the stack and the graph.
struct TableLoad<'a> {
    batch: &'a str,
    name: &'a str,
    table: &'a Table,
    source_table: String,
    cols: Vec<Column>,
    /// The table's location key, ending in `/`.
    location: String,
    partitioned: bool,
    error_prefix: String,
}

pub async fn run(ctx: &Ctx, name: &str, progress: &Progress) -> Result<StepStats, String> {
    let s = &ctx.checked.loaded.stack;
    let batch = s
        .ingest
        .batch
        .get(name)
        .ok_or_else(|| format!("no batch `{name}`"))?;
    if batch.format != DataFormat::Parquet {
        return Err(format!(
            "batch `{name}`: `dekit run` writes Parquet; format `{}` is not supported yet",
            batch.format.as_str()
        ));
    }
    let src_name = batch.source.value.as_str();
    let src = s
        .sources
        .get(src_name)
        .ok_or_else(|| format!("no source `{src_name}`"))?;
    let zone_prefix = ctx.names().zone_prefix(&batch.zone);
    let mut stats = StepStats::default();
    for (tname, table) in s
        .tables
        .iter()
        .filter(|(_, t)| t.from.as_ref().is_some_and(|f| f.value == name))
    {
        let load = table_load(ctx, name, tname, table, &zone_prefix)?;
        let t = load_table(ctx, &load, src_name, src, progress).await?;
        stats.add(&t);
    }
    Ok(stats)
}

fn table_load<'a>(
    ctx: &Ctx,
    batch: &'a str,
    name: &'a str,
    table: &'a Table,
    zone_prefix: &str,
) -> Result<TableLoad<'a>, String> {
    let cols = crate::schema::of_table(name, table)?;
    let mut partitioned = false;
    for (p, _) in table.partitions.iter() {
        if p.value == "ingest_date" {
            partitioned = true;
        } else {
            return Err(format!(
                "table `{name}`: batch loads fill the partition `ingest_date` only, not `{}`",
                p.value
            ));
        }
    }
    let t = ctx
        .graph
        .catalog_table(name)
        .ok_or_else(|| format!("table `{name}` is not in the graph"))?;
    let location = t
        .prefix_in(&ctx.lake.bucket)
        .ok_or_else(|| format!("table `{name}` is not in the lake: {}", t.location()))?
        .to_string();
    Ok(TableLoad {
        batch,
        name,
        table,
        source_table: table
            .source_table
            .as_ref()
            .map_or_else(|| name.to_string(), |t| t.value.clone()),
        cols,
        location,
        partitioned,
        error_prefix: format!("{zone_prefix}errors/{batch}/{name}/"),
    })
}

fn state_key(l: &TableLoad) -> String {
    load_state_key(l.batch, l.name)
}

#[derive(Clone, Copy, PartialEq)]
enum FileFormat {
    Csv,
    Json,
    Parquet,
}

enum Opening {
    Local(std::path::PathBuf),
    S3 { bucket: String, key: String },
}

/// Where the rows come from, opened: a reader of CSV or JSON lines, fed by a file or a database.
enum Input {
    File {
        at: Opening,
        format: FileFormat,
        fingerprint: String,
    },
    Postgres {
        /// Columns matched by case only.
        notes: Vec<String>,
        /// The declared columns' names in the table.
        names: Vec<String>,
        client: tokio_postgres::Client,
        sql: String,
        /// How each selected column arrives in the binary COPY.
        wires: Vec<Wire>,
        /// The range's upper end, fixed before reading so a re-run reads the same rows.
        high: Option<String>,
        /// The range stops short of the source's newest mark (a bounded range): more follow.
        more: bool,
    },
    Http {
        api: super::http::Api,
        table: String,
    },
    Mysql {
        notes: Vec<String>,
        names: Vec<String>,
        conn: mysql_async::Conn,
        sql: String,
        high: Option<String>,
        more: bool,
    },
}

// Long: the load transaction: pending record, parts, commit, watermark; to split next into begin/commit.
async fn load_table(
    ctx: &Ctx,
    l: &TableLoad<'_>,
    src_name: &str,
    src: &crate::model::Source,
    progress: &Progress,
) -> Result<StepStats, String> {
    let lake = &ctx.lake;
    let mut state: LoadState = lake
        .get_json(&state_key(l))
        .await
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
    // A load that did not finish: its objects go before anything else is written.
    let unfinished = state.pending.is_some();
    if let Some(p) = state.pending.take() {
        for key in lake.list(&p.objects).await.map_err(|e| e.to_string())? {
            lake.delete(&key).await.map_err(|e| e.to_string())?;
        }
        lake.put_json(&state_key(l), &state)
            .await
            .map_err(|e| e.to_string())?;
    }
    let wm = match &l.table.watermark {
        Some(w) => {
            let i = l
                .cols
                .iter()
                .position(|c| c.name.eq_ignore_ascii_case(&w.value))
                .ok_or_else(|| {
                    format!(
                        "table `{}`: watermark `{}` is not a column",
                        l.name, w.value
                    )
                })?;
            let lo = state
                .watermark
                .as_deref()
                .and_then(|t| Mark::parse(l.cols[i].kind, t));
            Some((i, lo))
        }
        None => None,
    };
    let source_label = format!("{src_name}.{}", l.source_table);
    let input = open(ctx, l, src_name, src, &wm, &state).await?;
    let Some(mut input) = input else {
        // Nothing new: no object is written.
        return Ok(StepStats {
            notes: vec![format!("{}: no new rows", l.name)],
            ..StepStats::default()
        });
    };
    let more = matches!(
        input,
        Input::Postgres { more: true, .. } | Input::Mysql { more: true, .. }
    );
    let ingest_date = crate::clock::now().format("%Y-%m-%d").to_string();
    let partition = if l.partitioned {
        format!("ingest_date={ingest_date}/")
    } else {
        String::new()
    };
    let range = match &input {
        // A whole file is the day's copy of its table, as a database's full reload is: a changed
        // file replaces the day's earlier load of it. With a watermark each version adds rows.
        Input::File { .. } if wm.is_none() => "file..full".to_string(),
        Input::File { fingerprint, .. } => format!("file:{fingerprint}"),
        Input::Http { .. } => format!("{}..full", state.watermark.as_deref().unwrap_or("")),
        Input::Postgres { high, .. } | Input::Mysql { high, .. } => format!(
            "{}..{}",
            state.watermark.as_deref().unwrap_or(""),
            high.as_deref().unwrap_or("full")
        ),
    };
    let load_id = crate::hash::sha256(&format!("{}/{}/{partition}/{range}", l.batch, l.name))[..16]
        .to_string();
    let objects = format!("{}{partition}{load_id}-", l.location);
    state.pending = Some(Pending {
        load_id: load_id.clone(),
        objects: objects.clone(),
    });
    lake.put_json(&state_key(l), &state)
        .await
        .map_err(|e| e.to_string())?;

    let (case_notes, names) = match &mut input {
        Input::Postgres { notes, names, .. } | Input::Mysql { notes, names, .. } => {
            (std::mem::take(notes), std::mem::take(names))
        }
        _ => (vec![], vec![]),
    };
    let from_db = matches!(input, Input::Postgres { .. } | Input::Mysql { .. });
    let spec = Spec {
        source: source_label.clone(),
        cols: l.cols.clone(),
        watermark: wm,
        null: from_db.then_some("\\N"),
        by_key: from_db,
        names,
    };
    // Parts already in the lake, unchanged, of this same load (a full reload of the same day).
    let same: Vec<String> = match &state.last {
        Some(last) if last.load_id == load_id && !unfinished => last.hashes.clone(),
        _ => vec![],
    };
    let Uploaded {
        mut summary,
        written,
        hashes,
        fingerprint,
        high,
    } = convert_and_upload(lake, input, spec, &objects, &same, l.name, progress).await?;
    summary.notes.extend(case_notes);
    let new_objects = written
        .iter()
        .zip(&hashes)
        .enumerate()
        .filter(|(i, _)| same.get(*i) != Some(&hashes[*i]))
        .count();

    // Parts a previous attempt of this same load wrote beyond this one's count.
    for key in lake.list(&objects).await.map_err(|e| e.to_string())? {
        if !written.contains(&key) {
            lake.delete(&key).await.map_err(|e| e.to_string())?;
        }
    }
    let bad = summary.bad.len() as u64;
    let error_key = format!("{}{partition}{load_id}.jsonl", l.error_prefix);
    if bad > 0 {
        let mut body = vec![];
        for b in &summary.bad {
            serde_json::to_writer(&mut body, b).expect("bad rows serialize");
            body.push(b'\n');
        }
        lake.put(&error_key, body)
            .await
            .map_err(|e| e.to_string())?;
    } else if state
        .last
        .as_ref()
        .is_some_and(|l| l.load_id == load_id && l.bad > 0)
    {
        // The load this one replaces kept bad rows; this one has none.
        lake.delete(&error_key).await.map_err(|e| e.to_string())?;
    }
    if bad > ctx.max_bad_rows {
        let first = &summary.bad[0];
        return Err(format!(
            "table `{}`: {bad} bad row{} from {} (first: {}: {}); all are in {}; nothing was committed (allow some with --max-bad-rows)",
            l.name,
            if bad == 1 { "" } else { "s" },
            first.source,
            first.at,
            first.error,
            lake.url(&error_key)
        ));
    }
    if l.partitioned && !written.is_empty() {
        register_partition(ctx, l, &ingest_date, &partition).await?;
    }
    state.pending = None;
    if let Some(h) = high.or(summary.high.as_ref().map(|(_, t)| t.clone())) {
        state.watermark = Some(h);
    }
    if fingerprint.is_some() {
        state.fingerprint = fingerprint;
    }
    state.last = Some(Last {
        load_id,
        ingest_date: l.partitioned.then_some(ingest_date),
        rows: summary.rows,
        parts: written.len(),
        objects: objects.clone(),
        bad,
        hashes,
    });
    lake.put_json(&state_key(l), &state)
        .await
        .map_err(|e| e.to_string())?;
    let mut notes = summary.notes.clone();
    if bad > 0 {
        notes.push(format!(
            "{}: {bad} bad rows in {}",
            l.name,
            lake.url(&error_key)
        ));
    }
    Ok(StepStats {
        rows: summary.rows,
        bytes: summary.bytes_in,
        objects: new_objects as u64,
        bad,
        notes,
        by_table: [(l.name.to_string(), summary.rows)].into(),
        more,
    })
}

/// Open the table's input, or `None` when it holds nothing new since the last load.
// Long: one arm per source kind (file, PostgreSQL, MySQL, HTTP); to split next into one opener per kind.
async fn open(
    ctx: &Ctx,
    l: &TableLoad<'_>,
    src_name: &str,
    src: &crate::model::Source,
    wm: &Option<(usize, Option<Mark>)>,
    state: &LoadState,
) -> Result<Option<Input>, String> {
    match src.kind.value {
        SourceKind::Files => {
            let at = sources::table_file(
                &ctx.checked.loaded.src.dir(),
                src_name,
                src,
                &l.source_table,
                ctx.local,
            )?;
            let format = match at.ext() {
                "jsonl" | "json" => FileFormat::Json,
                "parquet" => FileFormat::Parquet,
                _ => FileFormat::Csv,
            };
            let (fingerprint, at) = match at {
                sources::FileAt::Local(path) => (file_hash(&path)?, Opening::Local(path)),
                sources::FileAt::S3 { bucket, key } => {
                    // S3's ETag and size stand for the content: no download to tell it changed.
                    let url = format!("s3://{bucket}/{key}");
                    let head = ctx
                        .clients
                        .s3
                        .head_object()
                        .bucket(&bucket)
                        .key(&key)
                        .send()
                        .await
                        .map_err(|e| {
                            let e = crate::cloud::error::from_sdk("HeadObject", &url, e);
                            if crate::resources::is_not_found(&e) {
                                format!("source `{src_name}`: no file for table `{}`: {url} does not exist", l.source_table)
                            } else {
                                e.to_string()
                            }
                        })?;
                    (
                        format!(
                            "{}:{}",
                            head.e_tag().unwrap_or_default(),
                            head.content_length().unwrap_or_default()
                        ),
                        Opening::S3 { bucket, key },
                    )
                }
            };
            if state.fingerprint.as_deref() == Some(&fingerprint) {
                return Ok(None);
            }
            Ok(Some(Input::File {
                at,
                format,
                fingerprint,
            }))
        }
        SourceKind::Postgres => {
            let conn = ctx.conn(src_name, src).await?;
            let client = sources::connect(&conn, None).await?;
            let real = client
                .query(
                    "SELECT column_name::text FROM information_schema.columns WHERE table_schema = current_schema() AND lower(table_name) = lower($1) ORDER BY ordinal_position",
                    &[&l.source_table],
                )
                .await
                .map_err(|e| format!("{}: {}", conn.describe(), sources::pg_error(&e)))?;
            let real: Vec<String> = real.iter().map(|r| r.get::<_, String>(0)).collect();
            if real.is_empty() {
                return Err(format!(
                    "{}: table `{}` does not exist (or this user cannot see it)",
                    conn.describe(),
                    l.source_table
                ));
            }
            let table_name: String = client
                .query_one(
                    "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() AND lower(table_name) = lower($1)",
                    &[&l.source_table],
                )
                .await
                .map_err(|e| format!("{}: {}", conn.describe(), sources::pg_error(&e)))?
                .get(0);
            // Declared columns by their real (maybe camelCase) names.
            let notes = match_real_columns(&conn, &table_name, &l.cols, &real)?;
            let names = real_names(&l.cols, &real);
            let select: Vec<String> = names.iter().map(|n| crate::sql::ident(n)).collect();
            let from = crate::sql::ident(&table_name);
            let (filter, high, order, more) = match wm {
                Some((i, _)) => {
                    let col = &select[*i];
                    let lo = above(col, state.watermark.as_deref(), crate::sql::literal);
                    let high: Option<String> = client
                        .query_one(&format!("SELECT max({col})::text FROM {from}{lo}"), &[])
                        .await
                        .map_err(|e| format!("{}: {}", conn.describe(), sources::pg_error(&e)))?
                        .get(0);
                    let Some(high) = high else { return Ok(None) };
                    let (high, more) = match ctx.rows_per_range {
                        Some(n) => {
                            let bound: Option<String> = client
                                .query_one(&bounded_high(col, &from, &lo, n, "::text"), &[])
                                .await
                                .map_err(|e| {
                                    format!("{}: {}", conn.describe(), sources::pg_error(&e))
                                })?
                                .get(0);
                            bounded(high, bound)
                        }
                        None => (high, false),
                    };
                    let (filter, order) = up_to(col, &lo, &high, crate::sql::literal);
                    (filter, Some(high), order, more)
                }
                None => (String::new(), None, String::new(), false),
            };
            // Each column's type, to read it in its binary form where that is exact.
            let probe = client
                .prepare(&format!("SELECT {} FROM {from}", select.join(", ")))
                .await
                .map_err(|e| format!("{}: {}", conn.describe(), sources::pg_error(&e)))?;
            let (exprs, wires): (Vec<String>, Vec<Wire>) = select
                .iter()
                .zip(probe.columns())
                .zip(&l.cols)
                .map(|((s, c), col)| super::postgres_in::select(s, c.type_(), col.kind))
                .unzip();
            let sql = format!(
                "COPY (SELECT {} FROM {from}{filter}{order}) TO STDOUT (FORMAT binary)",
                exprs.join(", ")
            );
            Ok(Some(Input::Postgres {
                notes,
                names,
                client,
                sql,
                wires,
                high,
                more,
            }))
        }
        SourceKind::Mysql => {
            use mysql_async::prelude::Queryable;
            let conn = ctx.conn(src_name, src).await?;
            let mut my = conn.mysql().await?;
            let err = |e: mysql_async::Error| {
                format!("{}: {}", conn.describe(), sources::mysql_error(&e))
            };
            let table_name: Option<String> = my
                .exec_first(
                    "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND LOWER(TABLE_NAME) = LOWER(?)",
                    (&l.source_table,),
                )
                .await
                .map_err(err)?;
            let Some(table_name) = table_name else {
                return Err(format!(
                    "{}: table `{}` does not exist (or this user cannot see it)",
                    conn.describe(),
                    l.source_table
                ));
            };
            let real: Vec<String> = my
                .exec(
                    "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
                    (&table_name,),
                )
                .await
                .map_err(err)?;
            let notes = match_real_columns(&conn, &table_name, &l.cols, &real)?;
            let names = real_names(&l.cols, &real);
            let select: Vec<String> = names.iter().map(|n| sources::my_ident(n)).collect();
            let from = sources::my_ident(&table_name);
            let (filter, high, order, more) = match wm {
                Some((i, _)) => {
                    let col = &select[*i];
                    let lo = above(col, state.watermark.as_deref(), sources::my_literal);
                    let high: Option<Option<String>> = my
                        .query_first(format!("SELECT CAST(MAX({col}) AS CHAR) FROM {from}{lo}"))
                        .await
                        .map_err(err)?;
                    let Some(high) = high.flatten() else {
                        return Ok(None);
                    };
                    let (high, more) = match ctx.rows_per_range {
                        Some(n) => {
                            let bound: Option<Option<String>> = my
                                .query_first(bounded_high(col, &from, &lo, n, ""))
                                .await
                                .map_err(err)?;
                            bounded(high, bound.flatten())
                        }
                        None => (high, false),
                    };
                    let (filter, order) = up_to(col, &lo, &high, sources::my_literal);
                    (filter, Some(high), order, more)
                }
                None => (String::new(), None, String::new(), false),
            };
            let sql = format!("SELECT {} FROM {from}{filter}{order}", select.join(", "));
            Ok(Some(Input::Mysql {
                notes,
                names,
                conn: my,
                sql,
                high,
                more,
            }))
        }
        SourceKind::HttpApi => Ok(Some(Input::Http {
            api: super::http::Api::of_source(src_name, src)?,
            table: l.source_table.clone(),
        })),
        other => Err(format!(
            "source `{src_name}`: batch loads from `{}` sources are not supported yet",
            other.as_str()
        )),
    }
}

/// ` WHERE col > <last mark>`, or nothing on a first load.
fn above(col: &str, last: Option<&str>, literal: fn(&str) -> String) -> String {
    last.map(|w| format!(" WHERE {col} > {}", literal(w)))
        .unwrap_or_default()
}

/// The rows of a watermark load: above the last mark (`above`), up to the source's maximum read
/// before loading, in watermark order, so a re-run reads the same rows in the same order.
fn up_to(col: &str, above: &str, high: &str, literal: fn(&str) -> String) -> (String, String) {
    let and = if above.is_empty() { " WHERE" } else { " AND" };
    (
        format!("{above}{and} {col} <= {}", literal(high)),
        format!(" ORDER BY {col}"),
    )
}

/// The mark of the `n`th row above the last mark, in mark order: a bounded range ends there
/// (`cast` makes it text: `::text` on PostgreSQL; MySQL's `CAST(... AS CHAR)` is added here).
fn bounded_high(col: &str, from: &str, above: &str, n: u64, cast: &str) -> String {
    // NULL marks are never loaded by mark (and MySQL sorts them first).
    let filter = if above.is_empty() {
        format!(" WHERE {col} IS NOT NULL")
    } else {
        above.to_string()
    };
    let inner = format!("SELECT {col} AS c FROM {from}{filter} ORDER BY {col} LIMIT {n}");
    if cast.is_empty() {
        format!("SELECT CAST(MAX(c) AS CHAR) FROM ({inner}) s")
    } else {
        format!("SELECT max(c){cast} FROM ({inner}) s")
    }
}

/// A bounded range's end and whether more follow: every row up to the bound's mark (ties
/// included, so no mark is split between ranges), short of the source's newest mark `high`.
fn bounded(high: String, bound: Option<String>) -> (String, bool) {
    match bound {
        Some(b) if b != high => (b, true),
        _ => (high, false),
    }
}

/// A declared column the source table lacks fails the load, naming what the table has.
/// Each declared column's name among the table's `real` columns (its own where missing).
fn real_names(cols: &[Column], real: &[String]) -> Vec<String> {
    cols.iter()
        .map(|c| {
            real.iter()
                .find(|r| r.eq_ignore_ascii_case(&c.name))
                .cloned()
                .unwrap_or_else(|| c.name.clone())
        })
        .collect()
}

/// Every declared column in the table's `real` columns, or an error naming those missing; the
/// note for names matched by case only (`customerNumber → customernumber`), once per load.
fn match_real_columns(
    conn: &sources::Conn,
    table: &str,
    cols: &[Column],
    real: &[String],
) -> Result<Vec<String>, String> {
    let missing: Vec<String> = cols
        .iter()
        .filter(|c| !real.iter().any(|r| r.eq_ignore_ascii_case(&c.name)))
        .map(|c| format!("`{}`", c.name))
        .collect();
    if missing.is_empty() {
        let names: Vec<&str> = real.iter().map(String::as_str).collect();
        let source = format!("{}.{table}", conn.source);
        return Ok(convert::match_columns(&source, cols, &names)?.1);
    }
    Err(format!(
        "{}: table `{table}` has no column{} {} (it has: {})",
        conn.describe(),
        if missing.len() > 1 { "s" } else { "" },
        missing.join(", "),
        real.join(", ")
    ))
}

fn file_hash(path: &std::path::Path) -> Result<String, String> {
    use sha2::Digest;
    let mut f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// The rows of an opened input: a byte stream (CSV or JSON lines) or a Parquet file.
enum Feed {
    Bytes {
        reader: Box<dyn Read + Send>,
        json: bool,
    },
    Parquet(std::fs::File),
    /// MySQL's rows, in chunks.
    Mysql(super::mysql_in::Chunks),
    /// PostgreSQL's binary COPY.
    Postgres {
        reader: Box<dyn Read + Send>,
        wires: Vec<Wire>,
    },
}

/// An opened input, and what the load records about it.
struct Opened {
    feed: Feed,
    fingerprint: Option<String>,
    high: Option<String>,
    /// The task feeding a byte stream from a database, whose error explains an early end.
    feeder: Option<tokio::task::JoinHandle<Result<(), String>>>,
}

async fn open_reader(input: Input, clients: &crate::cloud::Clients) -> Result<Opened, String> {
    let bytes = |reader: Box<dyn Read + Send>, json: bool| Feed::Bytes { reader, json };
    match input {
        Input::File {
            at,
            format,
            fingerprint,
        } => {
            let feed = match (at, format) {
                (Opening::Local(path), FileFormat::Parquet) => Feed::Parquet(
                    std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?,
                ),
                (Opening::Local(path), _) => bytes(
                    Box::new(
                        std::fs::File::open(&path)
                            .map_err(|e| format!("{}: {e}", path.display()))?,
                    ),
                    format == FileFormat::Json,
                ),
                (Opening::S3 { bucket, key }, FileFormat::Parquet) => {
                    Feed::Parquet(download(&clients.s3, &bucket, &key).await?)
                }
                (Opening::S3 { bucket, key }, format) => {
                    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, String>>(8);
                    let s3 = clients.s3.clone();
                    let feeder = tokio::spawn(async move { s3_bytes(s3, bucket, key, tx).await });
                    return Ok(Opened {
                        feed: bytes(Box::new(ChannelReader::new(rx)), format == FileFormat::Json),
                        fingerprint: Some(fingerprint),
                        high: None,
                        feeder: Some(feeder),
                    });
                }
            };
            Ok(Opened {
                feed,
                fingerprint: Some(fingerprint),
                high: None,
                feeder: None,
            })
        }
        Input::Postgres {
            client,
            sql,
            wires,
            high,
            ..
        } => {
            let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, String>>(16);
            let feeder = tokio::spawn(copy_out(client, sql, tx));
            Ok(Opened {
                feed: Feed::Postgres {
                    reader: Box::new(ChannelReader::new(rx)),
                    wires,
                },
                fingerprint: None,
                high,
                feeder: Some(feeder),
            })
        }
        Input::Http { api, table } => {
            let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, String>>(4);
            let feeder = tokio::spawn(async move { api.table(&table, tx).await });
            Ok(Opened {
                feed: bytes(Box::new(ChannelReader::new(rx)), true),
                fingerprint: None,
                high: None,
                feeder: Some(feeder),
            })
        }
        Input::Mysql {
            conn, sql, high, ..
        } => {
            let (tx, rx) = tokio::sync::mpsc::channel(4);
            let feeder = tokio::spawn(super::mysql_in::send(conn, sql, tx));
            Ok(Opened {
                feed: Feed::Mysql(rx),
                fingerprint: None,
                high,
                feeder: Some(feeder),
            })
        }
    }
}

/// PostgreSQL's COPY stream in chunks of about `COPY_CHUNK` bytes: the server sends one message
/// per row, and a hand-over to the decoding thread per row cost more than decoding it.
async fn copy_out(
    client: tokio_postgres::Client,
    sql: String,
    tx: tokio::sync::mpsc::Sender<Result<bytes::Bytes, String>>,
) -> Result<(), String> {
    use futures_util::StreamExt;
    const COPY_CHUNK: usize = 256 << 10;
    let stream = client
        .copy_out(&sql)
        .await
        .map_err(|e| sources::pg_error(&e))?;
    let mut stream = Box::pin(stream);
    let mut buf = bytes::BytesMut::with_capacity(COPY_CHUNK);
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(b) => {
                buf.extend_from_slice(&b);
                if buf.len() >= COPY_CHUNK && tx.send(Ok(buf.split().freeze())).await.is_err() {
                    return Ok(());
                }
            }
            Err(e) => {
                let _ = tx.send(Err(sources::pg_error(&e))).await;
                return Ok(());
            }
        }
    }
    if !buf.is_empty() {
        let _ = tx.send(Ok(buf.freeze())).await;
    }
    Ok(())
}

/// An S3 object saved to a temporary file (a Parquet file's footer is at its end), unlinked while
/// open so nothing is left behind whatever happens next.
async fn download(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<std::fs::File, String> {
    let url = format!("s3://{bucket}/{key}");
    let obj = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| crate::cloud::error::from_sdk("GetObject", &url, e).to_string())?;
    let mut body = obj.body;
    let tmp = std::env::temp_dir().join(format!(
        "dekit-{}-{}.parquet",
        std::process::id(),
        crate::hash::sha256(&url)
    ));
    let mut f = std::fs::File::create(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    while let Some(chunk) = body
        .try_next()
        .await
        .map_err(|e| format!("reading {url}: {e}"))?
    {
        std::io::Write::write_all(&mut f, &chunk).map_err(|e| format!("{}: {e}", tmp.display()))?;
    }
    drop(f);
    let f = std::fs::File::open(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    let _ = std::fs::remove_file(&tmp);
    Ok(f)
}

/// An S3 object's bytes as they arrive.
async fn s3_bytes(
    s3: aws_sdk_s3::Client,
    bucket: String,
    key: String,
    tx: tokio::sync::mpsc::Sender<Result<bytes::Bytes, String>>,
) -> Result<(), String> {
    let url = format!("s3://{bucket}/{key}");
    let obj = s3
        .get_object()
        .bucket(&bucket)
        .key(&key)
        .send()
        .await
        .map_err(|e| crate::cloud::error::from_sdk("GetObject", &url, e).to_string())?;
    let mut body = obj.body;
    while let Some(chunk) = body
        .try_next()
        .await
        .map_err(|e| format!("reading {url}: {e}"))?
    {
        if tx.send(Ok(chunk)).await.is_err() {
            break;
        }
    }
    Ok(())
}

/// What a load wrote: its summary, each part's key and content hash.
struct Uploaded {
    summary: Summary,
    written: Vec<String>,
    hashes: Vec<String>,
    fingerprint: Option<String>,
    high: Option<String>,
}

/// Parts uploaded at once: the local cloud and S3 take several PUTs in parallel.
const UPLOADS: usize = 3;

/// Read, convert and upload at once: the converter runs on a blocking thread, parts go to the
/// lake as they are cut, at most one queued and `UPLOADS` going up, so memory stays bounded.
async fn convert_and_upload(
    lake: &Lake,
    input: Input,
    spec: Spec,
    objects: &str,
    same: &[String],
    table: &str,
    progress: &Progress,
) -> Result<Uploaded, String> {
    use futures_util::StreamExt;
    let (part_tx, part_rx) = tokio::sync::mpsc::channel::<Part>(1);
    let Opened {
        feed,
        fingerprint,
        high,
        feeder,
    } = open_reader(input, &lake.clients).await?;
    let source = spec.source.clone();
    let convert = tokio::task::spawn_blocking(move || {
        let mut emit = |p: Part| {
            part_tx
                .blocking_send(p)
                .map_err(|_| "the upload stopped".to_string())
        };
        match feed {
            Feed::Parquet(file) => super::parquet_in::load(file, &spec, &mut emit),
            Feed::Postgres { reader, wires } => {
                super::postgres_in::load(reader, &spec, &wires, &mut emit)
            }
            Feed::Mysql(chunks) => super::mysql_in::load(chunks, &spec, &mut emit),
            Feed::Bytes { reader, json: true } => convert::json_lines(reader, &spec, &mut emit),
            Feed::Bytes {
                reader,
                json: false,
            } => convert::csv(reader, &spec, &mut emit),
        }
    });
    // Parts go up while the next ones are encoded, a few at a time; they are listed in order.
    let parts =
        futures_util::stream::unfold(
            part_rx,
            |mut rx| async move { rx.recv().await.map(|p| (p, rx)) },
        );
    let uploads = parts
        .map(|part| async move {
            let key = format!("{objects}{:05}.parquet", part.index);
            let hash = crate::hash::sha256_bytes(&part.bytes);
            let (rows, bytes) = (part.rows as u64, part.bytes.len() as u64);
            if same.get(part.index) != Some(&hash) {
                lake.put(&key, part.bytes)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            progress.add(rows, bytes);
            Ok::<_, String>((part.index, key, hash))
        })
        .buffer_unordered(UPLOADS);
    let mut uploads = Box::pin(uploads);
    let mut done = vec![];
    let mut upload_err = None;
    while let Some(r) = uploads.next().await {
        match r {
            Ok(d) => done.push(d),
            Err(e) => {
                upload_err = Some(e);
                break;
            }
        }
        crate::failpoint::failpoint(&format!("batch.after_part@{table}"));
    }
    // Dropping the stream stops the converter (its parts have nowhere to go) on an error.
    drop(uploads);
    done.sort_unstable_by_key(|(i, _, _)| *i);
    let (written, hashes) = done.into_iter().map(|(_, k, h)| (k, h)).unzip();
    let summary = convert
        .await
        .map_err(|e| format!("the converter stopped: {e}"))?;
    if let Some(e) = upload_err {
        return Err(e);
    }
    if let Some(f) = feeder {
        f.await
            .map_err(|e| format!("the reader stopped: {e}"))?
            .map_err(|e| format!("{source}: {e}"))?;
    }
    Ok(Uploaded {
        summary: summary?,
        written,
        hashes,
        fingerprint,
        high,
    })
}

/// `Read` over chunks arriving from an async task (PostgreSQL's COPY stream).
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<Result<bytes::Bytes, String>>,
    buf: bytes::Bytes,
}

impl ChannelReader {
    fn new(rx: tokio::sync::mpsc::Receiver<Result<bytes::Bytes, String>>) -> Self {
        ChannelReader {
            rx,
            buf: bytes::Bytes::new(),
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.buf.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.buf = b,
                Some(Err(e)) => return Err(std::io::Error::other(e)),
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf[..n]);
        let _ = self.buf.split_to(n);
        Ok(n)
    }
}

/// Add the load's `ingest_date` partition to the Glue table (an existing one is fine).
async fn register_partition(
    ctx: &Ctx,
    l: &TableLoad<'_>,
    date: &str,
    partition: &str,
) -> Result<(), String> {
    use aws_sdk_glue::types::{PartitionInput, SerDeInfo, StorageDescriptor};
    let t = ctx
        .graph
        .catalog_table(l.name)
        .ok_or_else(|| format!("table `{}` is not in the graph", l.name))?;
    let st = t.storage();
    let columns = t
        .columns()
        .iter()
        .map(|c| {
            aws_sdk_glue::types::Column::builder()
                .name(c.name)
                .r#type(c.r#type)
                .build()
                .expect("name is set")
        })
        .collect::<Vec<_>>();
    let sd = StorageDescriptor::builder()
        .set_columns(Some(columns))
        .location(ctx.lake.url(&format!("{}{partition}", l.location)))
        .input_format(st.input_format)
        .output_format(st.output_format)
        .serde_info(SerDeInfo::builder().serialization_library(st.serde).build())
        .build();
    let input = PartitionInput::builder()
        .values(date)
        .storage_descriptor(sd)
        .build();
    let db = t.database();
    let out = ctx
        .clients
        .glue
        .batch_create_partition()
        .database_name(db)
        .table_name(l.name)
        .partition_input_list(input)
        .send()
        .await
        .map_err(|e| {
            crate::cloud::error::from_sdk("BatchCreatePartition", &format!("{db}.{}", l.name), e)
                .to_string()
        })?;
    for e in out.errors() {
        let code = e
            .error_detail()
            .and_then(|d| d.error_code())
            .unwrap_or_default();
        if code != "AlreadyExistsException" {
            return Err(format!(
                "BatchCreatePartition {db}.{} ingest_date={date}: {code}: {}",
                l.name,
                e.error_detail()
                    .and_then(|d| d.error_message())
                    .unwrap_or_default()
            ));
        }
    }
    Ok(())
}
