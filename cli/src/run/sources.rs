//! Where a run reads a source: a database connection (credentials from the environment at run
//! time, never stored), or files. In a `local` environment with `local_sources: true`, database
//! sources with `sample:` data are served by the project's local servers, seeded from the sample.

use crate::interpolate::resolve_env;
use crate::model::{Source, SourceKind};
use crate::schema::{Column, Kind};
use crate::sql::ident;
use std::path::{Path, PathBuf};
use tokio_postgres::{Client, NoTls};

/// The database servers a source can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Postgres,
    Mysql,
}

/// Connection settings, with the password kept out of every message and `Debug`.
pub struct Conn {
    pub db: Db,
    pub source: String,
    pub host: String,
    pub port: u16,
    pub database: String,
    pub user: String,
    password: String,
}

impl Conn {
    /// The connection a source's secret holds (the JSON `apply` writes for the Glue jobs:
    /// engine, host, port, database, username, password).
    pub fn from_secret(source: &str, secret: &str) -> Result<Conn, String> {
        #[derive(serde::Deserialize)]
        struct Stored {
            engine: String,
            host: String,
            port: u16,
            database: String,
            username: String,
            password: String,
        }
        let v: Stored = serde_json::from_str(secret).map_err(|e| {
            format!("source `{source}`: its secret is not the connection dekit writes: {e}")
        })?;
        Ok(Conn {
            db: if v.engine == "mysql" {
                Db::Mysql
            } else {
                Db::Postgres
            },
            source: source.to_string(),
            host: v.host,
            port: v.port,
            database: v.database,
            user: v.username,
            password: v.password,
        })
    }

    fn clone_settings(&self) -> Conn {
        Conn {
            db: self.db,
            source: self.source.clone(),
            host: self.host.clone(),
            port: self.port,
            database: self.database.clone(),
            user: self.user.clone(),
            password: self.password.clone(),
        }
    }

    /// `postgres at 127.0.0.1:5433/shop as dekit`: what an error names, never the password.
    pub fn describe(&self) -> String {
        format!(
            "source `{}` ({} at {}:{}/{} as {})",
            self.source,
            match self.db {
                Db::Postgres => "postgres",
                Db::Mysql => "mysql",
            },
            self.host,
            self.port,
            self.database,
            self.user
        )
    }

    /// Connect to a MySQL or MariaDB server (the text protocol: values arrive as text, converted
    /// by the same code as every other source's).
    pub async fn mysql(&self) -> Result<mysql_async::Conn, String> {
        let opts = mysql_async::OptsBuilder::default()
            .ip_or_hostname(self.host.clone())
            .tcp_port(self.port)
            .user(Some(self.user.clone()))
            .pass(Some(self.password.clone()))
            .db_name(Some(self.database.clone()))
            .prefer_socket(false);
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            mysql_async::Conn::new(opts),
        )
        .await
        .map_err(|_| format!("{}: cannot connect: timed out after 10 s", self.describe()))?
        .map_err(|e| format!("{}: cannot connect: {}", self.describe(), mysql_error(&e)))
    }
}

/// A MySQL error as one line, its server code when the server sent one.
pub fn mysql_error(e: &mysql_async::Error) -> String {
    match e {
        mysql_async::Error::Server(s) => format!("{} ({})", s.message, s.code),
        other => other.to_string(),
    }
}

/// The local PostgreSQL that `localstack/databases.sh` runs: its port and generated password.
pub fn local_postgres() -> Result<(u16, String), String> {
    local_server(Db::Postgres)
}

/// A local database server's port and generated password.
pub fn local_server_info(db: Db) -> Result<(u16, String), String> {
    local_server(db)
}

fn local_server(db: Db) -> Result<(u16, String), String> {
    let set = crate::settings::get();
    let (port, data, name) = match db {
        Db::Postgres => (set.pg_port, &set.pg_data, "postgres"),
        Db::Mysql => (set.mysql_port, &set.mysql_data, "mariadb"),
    };
    let data = match data {
        Some(d) => d.clone(),
        // Root's servers run as their own users, which cannot enter root's home.
        None if is_root() => PathBuf::from(format!("/var/lib/dekit/{name}-{port}")),
        None => crate::cloud::local::cache_dir().join(format!("{name}-{port}")),
    };
    let pw_file = PathBuf::from(format!("{}.password", data.display()));
    let password = std::fs::read_to_string(&pw_file).map_err(|e| {
        format!(
            "the local {name} server is not set up ({}: {e}); start it with `dekit local start`",
            pw_file.display()
        )
    })?;
    Ok((port, password.trim().to_string()))
}

fn is_root() -> bool {
    crate::settings::get().user.as_deref() == Some("root")
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
    local_conn_to(Db::Postgres, source, database)
}

/// A local database server's connection to `database`.
pub fn local_conn_to(db: Db, source: &str, database: &str) -> Result<Conn, String> {
    let (port, password) = local_server(db)?;
    Ok(Conn {
        db,
        source: source.into(),
        host: "127.0.0.1".into(),
        port,
        database: database.into(),
        user: "dekit".into(),
        password,
    })
}

pub fn conn(name: &str, src: &Source, local_sources: bool) -> Result<Conn, String> {
    let database = src
        .database
        .as_ref()
        .map_or_else(|| name.to_string(), |d| d.value.clone());
    let db = match src.kind.value {
        SourceKind::Mysql => Db::Mysql,
        _ => Db::Postgres,
    };
    if served_locally(local_sources, src) {
        return local_conn_to(db, name, &database);
    }
    let get = |field: &str, v: Option<&crate::yaml::Spanned<String>>| -> Result<String, String> {
        let v = v.ok_or_else(|| format!("source `{name}` declares no `{field}`"))?;
        resolve_env(&v.value).map_err(|e| format!("source `{name}` `{field}`: {e}"))
    };
    Ok(Conn {
        db,
        source: name.into(),
        host: get("host", src.host.as_ref())?,
        port: src
            .port
            .as_ref()
            .map_or(if db == Db::Mysql { 3306 } else { 5432 }, |p| p.value),
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

/// A backquoted MySQL identifier.
pub fn my_ident(s: &str) -> String {
    format!("`{}`", s.replace('`', "``"))
}

/// A single-quoted MySQL literal (backslashes are escapes there).
pub fn my_literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

/// The MySQL type a declared Glue column is seeded as.
fn my_type(kind: Kind) -> String {
    match kind {
        Kind::TinyInt => "tinyint".into(),
        Kind::SmallInt => "smallint".into(),
        Kind::Int => "int".into(),
        Kind::BigInt => "bigint".into(),
        Kind::Float => "float".into(),
        Kind::Double => "double".into(),
        Kind::Decimal(p, s) => format!("decimal({p},{s})"),
        Kind::String => "text".into(),
        Kind::Boolean => "boolean".into(),
        Kind::Date => "date".into(),
        Kind::Timestamp => "datetime(6)".into(),
    }
}

/// Like `seed`, for a MySQL or MariaDB source: rows inserted from the sample CSV.
pub async fn seed_mysql(
    c: &Conn,
    sample_dir: &Path,
    tables: &[(String, Vec<Column>)],
) -> Result<Vec<String>, String> {
    use mysql_async::prelude::Queryable;
    let err = |e: mysql_async::Error| format!("{}: {}", c.describe(), mysql_error(&e));
    let admin = Conn {
        database: "mysql".into(),
        ..c.clone_settings()
    };
    let mut a = admin.mysql().await?;
    a.query_drop(format!(
        "CREATE DATABASE IF NOT EXISTS {}",
        my_ident(&c.database)
    ))
    .await
    .map_err(err)?;
    drop(a);
    let mut db = c.mysql().await?;
    let mut seeded = vec![];
    for (table, cols) in tables {
        let present: Option<u8> = db
            .exec_first(
                "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
                (table,),
            )
            .await
            .map_err(err)?;
        if present.is_some() {
            continue;
        }
        let file = sample_dir.join(format!("{table}.csv"));
        let mut rdr = csv::Reader::from_path(&file).map_err(|e| {
            format!(
                "source `{}`: sample for table `{table}`: {}: {e}",
                c.source,
                file.display()
            )
        })?;
        let columns: Vec<String> = cols
            .iter()
            .map(|c| format!("{} {}", my_ident(&c.name), my_type(c.kind)))
            .collect();
        db.query_drop(format!(
            "CREATE TABLE {} ({})",
            my_ident(table),
            columns.join(", ")
        ))
        .await
        .map_err(err)?;
        let header: Vec<String> = rdr
            .headers()
            .map_err(|e| format!("{}: {e}", file.display()))?
            .iter()
            .map(my_ident)
            .collect();
        let mut rows = vec![];
        for r in rdr.records() {
            let r = r.map_err(|e| format!("{}: {e}", file.display()))?;
            let vals: Vec<String> = r
                .iter()
                .map(|v| {
                    if v.is_empty() {
                        "NULL".into()
                    } else {
                        my_literal(v)
                    }
                })
                .collect();
            rows.push(format!("({})", vals.join(", ")));
        }
        for chunk in rows.chunks(500) {
            db.query_drop(format!(
                "INSERT INTO {} ({}) VALUES {}",
                my_ident(table),
                header.join(", "),
                chunk.join(", ")
            ))
            .await
            .map_err(err)?;
        }
        seeded.push(table.clone());
    }
    Ok(seeded)
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

/// Where a files source keeps a table's file.
pub enum FileAt {
    Local(PathBuf),
    S3 { bucket: String, key: String },
}

impl FileAt {
    pub fn name(&self) -> String {
        match self {
            FileAt::Local(p) => p.display().to_string(),
            FileAt::S3 { bucket, key } => format!("s3://{bucket}/{key}"),
        }
    }

    /// The file's extension: what format it is read as.
    pub fn ext(&self) -> &str {
        let n = match self {
            FileAt::Local(p) => p.to_str().unwrap_or_default(),
            FileAt::S3 { key, .. } => key,
        };
        n.rsplit_once('.').map_or("", |(_, e)| e)
    }
}

/// A files source's file for `table`: `<path>/<table>.<ext>` (`path` relative to the stack file,
/// or `s3://bucket/prefix`; in a local environment the sample when no path is declared), or
/// `path` itself when it names a file.
pub fn table_file(
    stack_dir: &Path,
    name: &str,
    src: &Source,
    table: &str,
    local: bool,
) -> Result<FileAt, String> {
    let dir = match (&src.path, &src.sample) {
        (Some(p), _) => p.value.clone(),
        (None, Some(s)) if local => s.value.clone(),
        _ => return Err(format!("source `{name}` declares no `path`")),
    };
    let ext = match src.format.as_ref().map(|f| f.value) {
        Some(crate::model::DataFormat::Json) => "jsonl",
        Some(crate::model::DataFormat::Parquet) => "parquet",
        _ => "csv",
    };
    if let Some(rest) = dir.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let key = if [".csv", ".jsonl", ".json", ".parquet"]
            .iter()
            .any(|e| prefix.ends_with(e))
        {
            prefix.to_string()
        } else {
            format!(
                "{}{table}.{ext}",
                crate::names::with_slash(prefix).trim_start_matches('/')
            )
        };
        return Ok(FileAt::S3 {
            bucket: bucket.to_string(),
            key,
        });
    }
    let base = stack_dir.join(&dir);
    if base.is_file() {
        return Ok(FileAt::Local(base));
    }
    let file = base.join(format!("{table}.{ext}"));
    if !file.is_file() {
        return Err(format!(
            "source `{name}`: no file for table `{table}`: {} does not exist",
            file.display()
        ));
    }
    Ok(FileAt::Local(file))
}
