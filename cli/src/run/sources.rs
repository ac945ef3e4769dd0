//! Where a run reads a source: a database connection (credentials from the environment at run
//! time, never stored), or files. In a `local` environment with `local_sources: true`, database
//! sources with `sample:` data are served by the project's local servers, seeded from the sample.

use super::columns::{Column, Kind};
use crate::interpolate::resolve_env;
use crate::model::{Source, SourceKind};
use std::path::{Path, PathBuf};
use tokio_postgres::{Client, NoTls};

/// Connection settings, with the password kept out of every message and `Debug`.
pub struct Conn {
    pub source: String,
    pub host: String,
    pub port: u16,
    pub database: String,
    pub user: String,
    password: String,
}

impl Conn {
    /// `postgres at 127.0.0.1:5433/shop as dekit`: what an error names, never the password.
    pub fn describe(&self) -> String {
        format!(
            "source `{}` (postgres at {}:{}/{} as {})",
            self.source, self.host, self.port, self.database, self.user
        )
    }
}

/// The local PostgreSQL that `localstack/databases.sh` runs: its port and generated password.
pub fn local_postgres() -> Result<(u16, String), String> {
    let port: u16 = std::env::var("DEKIT_PG_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(5433);
    let data = match std::env::var_os("DEKIT_PG_DATA") {
        Some(d) => PathBuf::from(d),
        // Root's server runs as `postgres`, which cannot enter root's home.
        None if is_root() => PathBuf::from(format!("/var/lib/dekit/postgres-{port}")),
        None => crate::cloud::local::cache_dir().join(format!("postgres-{port}")),
    };
    let pw_file = PathBuf::from(format!("{}.password", data.display()));
    let password = std::fs::read_to_string(&pw_file).map_err(|e| {
        format!(
            "the local PostgreSQL is not set up ({}: {e}); start it with `dekit local start`",
            pw_file.display()
        )
    })?;
    Ok((port, password.trim().to_string()))
}

fn is_root() -> bool {
    std::env::var("USER").is_ok_and(|u| u == "root")
        || std::fs::metadata("/proc/self")
            .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
            .unwrap_or(false)
}

/// Whether this run serves `src` from the local database servers.
pub fn served_locally(local_sources: bool, src: &Source) -> bool {
    local_sources && src.kind.value.is_database() && src.sample.is_some()
}

/// The local PostgreSQL's connection to `database`.
pub fn local_conn(source: &str, database: &str) -> Result<Conn, String> {
    let (port, password) = local_postgres()?;
    Ok(Conn {
        source: source.into(),
        host: "127.0.0.1".into(),
        port,
        database: database.into(),
        user: "dekit".into(),
        password,
    })
}

/// Connection settings given in full (tests, tools).
pub fn conn_to(
    source: &str,
    host: &str,
    port: u16,
    database: &str,
    user: &str,
    password: &str,
) -> Conn {
    Conn {
        source: source.into(),
        host: host.into(),
        port,
        database: database.into(),
        user: user.into(),
        password: password.into(),
    }
}

pub fn conn(name: &str, src: &Source, local_sources: bool) -> Result<Conn, String> {
    let database = src
        .database
        .as_ref()
        .map_or_else(|| name.to_string(), |d| d.value.clone());
    if served_locally(local_sources, src) {
        return local_conn(name, &database);
    }
    let get = |field: &str, v: Option<&crate::yaml::Spanned<String>>| -> Result<String, String> {
        let v = v.ok_or_else(|| format!("source `{name}` declares no `{field}`"))?;
        resolve_env(&v.value).map_err(|e| format!("source `{name}` `{field}`: {e}"))
    };
    Ok(Conn {
        source: name.into(),
        host: get("host", src.host.as_ref())?,
        port: src.port.as_ref().map_or(5432, |p| p.value),
        database,
        user: get("user", src.user.as_ref())?,
        password: get("password", src.password.as_ref())?,
    })
}

pub async fn connect(c: &Conn, database: Option<&str>) -> Result<Client, String> {
    let mut cfg = tokio_postgres::Config::new();
    cfg.host(&c.host)
        .port(c.port)
        .user(&c.user)
        .password(&c.password)
        .dbname(database.unwrap_or(&c.database))
        .application_name("dekit")
        .connect_timeout(std::time::Duration::from_secs(10));
    let (client, connection) = cfg
        .connect(NoTls)
        .await
        .map_err(|e| format!("{}: cannot connect: {}", c.describe(), pg_error(&e)))?;
    tokio::spawn(async move {
        // The connection ends when the client is dropped; an error then has nobody to tell.
        let _ = connection.await;
    });
    Ok(client)
}

/// A PostgreSQL error as one line: the server's message when it sent one, else the cause chain.
pub fn pg_error(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} ({})", db.message(), db.code().code());
    }
    let mut msg = e.to_string();
    let mut cur = std::error::Error::source(e);
    while let Some(s) = cur {
        msg.push_str(&format!(": {s}"));
        cur = s.source();
    }
    msg
}

/// A double-quoted SQL identifier.
pub fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// A single-quoted SQL literal.
pub fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The PostgreSQL type a declared Glue column is seeded as.
fn pg_type(kind: Kind) -> String {
    match kind {
        Kind::TinyInt | Kind::SmallInt => "smallint".into(),
        Kind::Int => "integer".into(),
        Kind::BigInt => "bigint".into(),
        Kind::Float => "real".into(),
        Kind::Double => "double precision".into(),
        Kind::Decimal(p, s) => format!("numeric({p},{s})"),
        Kind::String => "text".into(),
        Kind::Boolean => "boolean".into(),
        Kind::Date => "date".into(),
        Kind::Timestamp => "timestamp".into(),
    }
}

/// Make the source's database on the local server and load each table's sample CSV
/// (`<sample>/<table>.csv`) into it, once: a table that exists is left as it is, so rows a test or
/// a user added stay.
pub async fn seed(
    c: &Conn,
    sample_dir: &Path,
    tables: &[(String, Vec<Column>)],
) -> Result<Vec<String>, String> {
    let admin = connect(c, Some("postgres")).await?;
    let exists = admin
        .query_opt(
            "SELECT 1 FROM pg_database WHERE datname = $1",
            &[&c.database],
        )
        .await
        .map_err(|e| format!("{}: {}", c.describe(), pg_error(&e)))?;
    if exists.is_none() {
        admin
            .batch_execute(&format!("CREATE DATABASE {}", ident(&c.database)))
            .await
            .map_err(|e| format!("{}: creating the database: {}", c.describe(), pg_error(&e)))?;
    }
    drop(admin);
    let db = connect(c, None).await?;
    let mut seeded = vec![];
    for (table, cols) in tables {
        let present = db
            .query_opt(
                "SELECT 1 FROM information_schema.tables WHERE table_schema = 'public' AND table_name = $1",
                &[table],
            )
            .await
            .map_err(|e| format!("{}: {}", c.describe(), pg_error(&e)))?;
        if present.is_some() {
            continue;
        }
        let file = sample_dir.join(format!("{table}.csv"));
        let data = std::fs::read(&file).map_err(|e| {
            format!(
                "source `{}`: sample for table `{table}`: {}: {e}",
                c.source,
                file.display()
            )
        })?;
        let columns: Vec<String> = cols
            .iter()
            .map(|c| format!("{} {}", ident(&c.name), pg_type(c.kind)))
            .collect();
        let tx_sql = format!("CREATE TABLE {} ({})", ident(table), columns.join(", "));
        db.batch_execute(&tx_sql)
            .await
            .map_err(|e| format!("{}: creating `{table}`: {}", c.describe(), pg_error(&e)))?;
        let header = first_line(&data);
        let copy = format!(
            "COPY {} ({}) FROM STDIN WITH (FORMAT csv, HEADER true)",
            ident(table),
            header
                .split(',')
                .map(|h| ident(h.trim()))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let sink = db
            .copy_in::<_, bytes::Bytes>(&copy)
            .await
            .map_err(|e| format!("{}: loading `{table}`: {}", c.describe(), pg_error(&e)))?;
        use futures_util::SinkExt;
        let mut sink = Box::pin(sink);
        sink.send(bytes::Bytes::from(data))
            .await
            .map_err(|e| format!("{}: loading `{table}`: {}", c.describe(), pg_error(&e)))?;
        sink.as_mut().finish().await.map_err(|e| {
            format!(
                "{}: loading `{table}` from {}: {}",
                c.describe(),
                file.display(),
                pg_error(&e)
            )
        })?;
        seeded.push(table.clone());
    }
    Ok(seeded)
}

fn first_line(data: &[u8]) -> String {
    let end = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    String::from_utf8_lossy(&data[..end])
        .trim_start_matches('\u{feff}')
        .trim_end_matches('\r')
        .to_string()
}

/// A files source's file for `table`: `<path>/<table>.<ext>` (the path relative to the stack
/// file; in a local environment the sample when no path is declared).
pub fn table_file(
    stack_dir: &Path,
    name: &str,
    src: &Source,
    table: &str,
    local: bool,
) -> Result<PathBuf, String> {
    let dir = match (&src.path, &src.sample) {
        (Some(p), _) => p.value.clone(),
        (None, Some(s)) if local => s.value.clone(),
        _ => return Err(format!("source `{name}` declares no `path`")),
    };
    if dir.starts_with("s3://") {
        return Err(format!(
            "source `{name}`: reading files from S3 ({dir}) is not supported by `dekit run` yet; copy them to a local path"
        ));
    }
    let base = stack_dir.join(&dir);
    let ext = match src.format.as_ref().map(|f| f.value) {
        Some(crate::model::DataFormat::Json) => "jsonl",
        Some(crate::model::DataFormat::Parquet) => "parquet",
        _ => "csv",
    };
    if base.is_file() {
        return Ok(base);
    }
    let file = base.join(format!("{table}.{ext}"));
    if !file.is_file() {
        return Err(format!(
            "source `{name}`: no file for table `{table}`: {} does not exist",
            file.display()
        ));
    }
    Ok(file)
}

pub fn kind_name(k: SourceKind) -> &'static str {
    match k {
        SourceKind::Postgres => "postgres",
        SourceKind::Mysql => "mysql",
        SourceKind::Files => "files",
        SourceKind::HttpApi => "http_api",
        SourceKind::Events => "events",
    }
}
