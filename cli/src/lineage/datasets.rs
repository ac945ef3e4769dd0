//! What each pipeline step reads and writes, named as OpenLineage names datasets: Glue tables
//! `arn:aws:glue:{region}:{account}` / `table/{database}/{table}`, S3 `s3://{bucket}` / `{key}`,
//! PostgreSQL `postgres://{host}:{port}` / `{database}.{schema}.{table}`, MySQL
//! `mysql://{host}:{port}` / `{database}.{table}`, local files `file` / `{path}`; Kinesis streams
//! as their ARN's prefix and `stream/{name}`.

use crate::graph::{Graph, NodeKind, StepKind};
use crate::load::Loaded;
use crate::model::{DataFormat, Source, SourceKind};
use crate::names::Names;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    pub namespace: String,
    pub name: String,
    /// Declared columns (name, type); empty where dekit declares none (models, views).
    pub fields: Vec<(String, String)>,
    /// The stack's table, model or view it is, for statistics by table.
    pub relation: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct StepIo {
    pub inputs: Vec<Dataset>,
    pub outputs: Vec<Dataset>,
}

/// A table, model or view of the stack as its Glue catalog entry.
pub fn relation(l: &Loaded, name: &str) -> Dataset {
    let fields = l
        .stack
        .tables
        .get(name)
        .map(|t| {
            t.columns
                .iter()
                .chain(t.partitions.iter())
                .map(|(c, ty)| (c.value.clone(), ty.value.clone()))
                .collect()
        })
        .unwrap_or_default();
    Dataset {
        namespace: format!("arn:aws:glue:{}:{}", l.region(), l.account()),
        name: format!("table/{}/{name}", Names::new(l).database()),
        fields,
        relation: Some(name.to_string()),
    }
}

/// Every step of the graph: its inputs and outputs.
pub fn of_steps(l: &Loaded, g: &Graph) -> BTreeMap<String, StepIo> {
    let mut out = BTreeMap::new();
    for n in &g.nodes {
        let NodeKind::Step(kind) = n.kind else {
            continue;
        };
        let io = match kind {
            StepKind::Ingest => ingest(l, &n.name),
            StepKind::Transform | StepKind::Serve => StepIo {
                inputs: n.depends_on.iter().filter_map(|d| read(l, d)).collect(),
                outputs: vec![relation(l, &n.name)],
            },
            StepKind::Export => export(l, &n.name),
            StepKind::Quality => StepIo {
                inputs: vec![relation(l, &n.name)],
                outputs: vec![],
            },
            StepKind::Source => StepIo::default(),
        };
        out.insert(n.address.clone(), io);
    }
    out
}

/// A dependency that is data a model reads: a table, or another model or view.
fn read(l: &Loaded, dep: &str) -> Option<Dataset> {
    let (kind, name) = dep.split_once('.')?;
    matches!(kind, "glue_table" | "transform" | "serve").then(|| relation(l, name))
}

fn tables_from<'a>(l: &'a Loaded, from: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    l.stack
        .tables
        .iter()
        .filter(move |(_, t)| t.from.as_ref().is_some_and(|f| f.value == from))
        .map(|(n, _)| n.value.as_str())
}

fn ingest(l: &Loaded, name: &str) -> StepIo {
    let outputs: Vec<Dataset> = tables_from(l, name).map(|t| relation(l, t)).collect();
    if l.stack.ingest.streams.get(name).is_some() {
        let stream = Dataset {
            namespace: format!("arn:aws:kinesis:{}:{}", l.region(), l.account()),
            name: format!("stream/{}", Names::new(l).stream(name)),
            fields: vec![],
            relation: None,
        };
        return StepIo {
            inputs: vec![stream],
            outputs,
        };
    }
    let Some(batch) = l.stack.ingest.batch.get(name) else {
        return StepIo::default();
    };
    let source_name = batch.source.value.as_str();
    let inputs = match l.stack.sources.get(source_name) {
        Some(src) => tables_from(l, name)
            .map(|t| {
                let in_source = l
                    .stack
                    .tables
                    .get(t)
                    .and_then(|tt| tt.source_table.as_ref())
                    .map_or(t, |s| s.value.as_str());
                source_table(l, source_name, src, in_source)
            })
            .collect(),
        None => vec![],
    };
    StepIo { inputs, outputs }
}

/// A table of a source, where the source keeps it.
fn source_table(l: &Loaded, name: &str, src: &Source, table: &str) -> Dataset {
    let dataset = |namespace: String, path: String| Dataset {
        namespace,
        name: path,
        fields: vec![],
        relation: None,
    };
    let resolved = |v: Option<&crate::yaml::Spanned<String>>| {
        v.and_then(|v| crate::interpolate::resolve_env(&v.value).ok())
    };
    match src.kind.value {
        SourceKind::Postgres | SourceKind::Mysql => {
            let pg = src.kind.value == SourceKind::Postgres;
            let local = l.env.local_sources && src.sample.is_some();
            let s = crate::settings::get();
            let (host, port) = if local {
                let port = if pg { s.pg_port } else { s.mysql_port };
                ("127.0.0.1".to_string(), port)
            } else {
                let default = if pg { 5432 } else { 3306 };
                (
                    resolved(src.host.as_ref()).unwrap_or_else(|| name.to_string()),
                    src.port.as_ref().map_or(default, |p| p.value),
                )
            };
            let db = src.database.as_ref().map_or(name, |d| d.value.as_str());
            if pg {
                let qualified = if table.contains('.') {
                    table.to_string()
                } else {
                    format!("public.{table}")
                };
                dataset(
                    format!("postgres://{host}:{port}"),
                    format!("{db}.{qualified}"),
                )
            } else {
                dataset(format!("mysql://{host}:{port}"), format!("{db}.{table}"))
            }
        }
        SourceKind::Files => {
            let ext = match src.format.as_ref().map(|f| f.value) {
                Some(DataFormat::Json) => "jsonl",
                Some(DataFormat::Parquet) => "parquet",
                _ => "csv",
            };
            let path = src.path.as_ref().map_or(".", |p| p.value.as_str());
            let file = format!("{}/{table}.{ext}", path.trim_end_matches('/'));
            match file.strip_prefix("s3://").and_then(|r| r.split_once('/')) {
                Some((bucket, key)) => dataset(format!("s3://{bucket}"), key.to_string()),
                None => {
                    let at = l.src.dir().join(&file);
                    let abs = std::path::absolute(&at).unwrap_or(at);
                    dataset("file".into(), abs.to_string_lossy().into_owned())
                }
            }
        }
        SourceKind::HttpApi => {
            let base = resolved(src.url.as_ref())
                .and_then(|u| url::Url::parse(&u).ok())
                .filter(|u| u.host_str().is_some());
            match base {
                Some(u) => {
                    let authority = match u.port() {
                        Some(p) => format!("{}:{p}", u.host_str().unwrap_or_default()),
                        None => u.host_str().unwrap_or_default().to_string(),
                    };
                    dataset(
                        format!("{}://{authority}", u.scheme()),
                        format!("{}/{table}", u.path().trim_end_matches('/')),
                    )
                }
                None => dataset(format!("http_api://{name}"), format!("/{table}")),
            }
        }
        SourceKind::Events => dataset(format!("events://{name}"), table.to_string()),
    }
}

fn export(l: &Loaded, name: &str) -> StepIo {
    let Some(e) = l.stack.serving.exports.get(name) else {
        return StepIo::default();
    };
    // Rows written back into a database source's table, or sent to an HTTP API's path.
    if let Some(to) = &e.to
        && let Some(src) = l.stack.sources.get(&to.value)
    {
        let at = match (&e.table, &e.path) {
            (Some(t), _) => t.value.clone(),
            (None, Some(p)) => p.value.trim_matches('/').to_string(),
            (None, None) => name.to_string(),
        };
        return StepIo {
            inputs: vec![relation(l, &e.from.value)],
            outputs: vec![source_table(l, &to.value, src, &at)],
        };
    }
    let names = Names::new(l);
    let prefix = names.export_prefix(name, e);
    StepIo {
        inputs: vec![relation(l, &e.from.value)],
        outputs: vec![Dataset {
            namespace: format!("s3://{}", names.lake_bucket()),
            name: prefix.trim_end_matches('/').to_string(),
            fields: vec![],
            relation: None,
        }],
    }
}
