//! The local engine's session: DataFusion over the lake's bucket (object_store's S3 store pointed
//! at the same endpoint and credentials as the SDK clients), Trino's functions added, and the
//! stack's relations registered by name as a model's SQL names them — tables at their declared
//! location and format, models where the catalog says they are, views from their SQL.

use super::catalog::Snapshot;
use super::functions;
use crate::cloud::Clients;
use crate::graph::Graph;
use crate::schema::Kind;
use crate::validate::Checked;
use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::TableProvider;
use datafusion::datasource::file_format::csv::CsvFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::prelude::{SessionConfig, SessionContext};
use object_store::aws::{AmazonS3Builder, AwsCredential};
use object_store::client::CredentialProvider;
use std::collections::BTreeSet;
use std::sync::Arc;

/// What registering a relation needs: the checked stack, its graph and the clients.
#[derive(Clone, Copy)]
pub struct Catalog<'a> {
    pub checked: &'a Checked,
    pub graph: &'a Graph,
    pub clients: &'a Clients,
}

impl Catalog<'_> {
    pub fn database(&self) -> String {
        crate::names::Names::new(&self.checked.loaded).database()
    }

    pub fn bucket(&self) -> String {
        crate::names::Names::new(&self.checked.loaded).lake_bucket()
    }
}

/// The local engine as dekit configures it, with no store registered: dekit's functions, spans
/// for errors, one partition per core.
pub fn engine() -> SessionContext {
    let mut config = SessionConfig::new().with_information_schema(true);
    // Spans let planning errors point at the model's line and column.
    config.options_mut().sql_parser.collect_spans = true;
    let ctx = SessionContext::new_with_config(config);
    for f in functions::all() {
        ctx.register_udf(f);
    }
    ctx
}

/// A session over the lake, with dekit's functions.
pub fn new(cat: Catalog<'_>) -> Result<SessionContext, String> {
    let ctx = engine();
    let bucket = cat.bucket();
    let store = store(cat.clients, &bucket)?;
    let url = url::Url::parse(&format!("s3://{bucket}"))
        .map_err(|e| format!("bucket `{bucket}`: {e}"))?;
    ctx.register_object_store(&url, Arc::new(store));
    Ok(ctx)
}

fn store(clients: &Clients, bucket: &str) -> Result<object_store::aws::AmazonS3, String> {
    let mut b = AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_region(clients.target.region());
    if let Some(e) = clients.target.endpoint("s3") {
        b = b
            .with_endpoint(e)
            .with_allow_http(true)
            .with_virtual_hosted_style_request(false);
    }
    if let Some(p) = clients.credentials.clone() {
        b = b.with_credentials(Arc::new(SdkCredentials(p)));
    }
    b.build()
        .map_err(|e| format!("S3 store for `{bucket}`: {e}"))
}

/// The SDK's credential chain (profiles, SSO, roles) for object_store, which has no profiles.
#[derive(Debug)]
struct SdkCredentials(aws_sdk_s3::config::SharedCredentialsProvider);

#[async_trait]
impl CredentialProvider for SdkCredentials {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        use aws_sdk_s3::config::ProvideCredentials;
        let c = self
            .0
            .provide_credentials()
            .await
            .map_err(|e| object_store::Error::Generic {
                store: "S3",
                source: Box::new(e),
            })?;
        Ok(Arc::new(AwsCredential {
            key_id: c.access_key_id().to_string(),
            secret_key: c.secret_access_key().to_string(),
            token: c.session_token().map(str::to_string),
        }))
    }
}

/// Register `names` and, for views, what they read in turn; the models among them where the
/// catalog says they are now.
pub async fn register_all(
    ctx: &SessionContext,
    cat: Catalog<'_>,
    names: impl IntoIterator<Item = &str>,
) -> Result<(), String> {
    let names: Vec<String> = names.into_iter().map(str::to_ascii_lowercase).collect();
    let models = models_read(cat, &names);
    let glue = Snapshot::of(cat.clients, &cat.database(), &models).await?;
    let mut seen = BTreeSet::new();
    for n in &names {
        register(ctx, cat, &glue, n, &mut seen).await?;
    }
    Ok(())
}

/// The models `names` read, through views, as the catalog must know them.
fn models_read(cat: Catalog<'_>, names: &[String]) -> BTreeSet<String> {
    let s = &cat.checked.loaded.stack;
    let mut models = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut todo: Vec<String> = names.to_vec();
    while let Some(n) = todo.pop() {
        if !seen.insert(n.clone()) {
            continue;
        }
        let view = s.serving.views.get(&n).is_some()
            || s.transforms
                .get(&n)
                .is_some_and(|t| t.materialized == crate::model::Materialized::View);
        if view {
            if let Some(m) = cat.checked.models.get(n.as_str()) {
                todo.extend(m.reads.iter().map(|r| r.to_ascii_lowercase()));
            }
        } else if s.transforms.get(&n).is_some() {
            models.insert(n);
        }
    }
    models
}

/// Every relation of the stack: tables, the models the catalog `glue` holds, views over them.
/// What could not be registered comes back as `name: why` (the rest stays queryable).
pub async fn register_stack(
    ctx: &SessionContext,
    cat: Catalog<'_>,
    glue: &Snapshot,
) -> Result<Vec<String>, String> {
    let s = &cat.checked.loaded.stack;
    let mut names: Vec<String> = s.tables.iter().map(|(n, _)| n.value.clone()).collect();
    names.extend(
        s.transforms
            .iter()
            .map(|(n, _)| n.value.clone())
            .filter(|n| glue.tables.contains_key(&n.to_ascii_lowercase())),
    );
    names.extend(s.serving.views.iter().map(|(n, _)| n.value.clone()));
    let mut seen = BTreeSet::new();
    let mut skipped = vec![];
    for n in &names {
        if let Err(e) = Box::pin(register(ctx, cat, glue, n, &mut seen)).await {
            // A view over a model not built yet: the rest stays queryable.
            skipped.push(format!("{n}: {e}"));
        }
    }
    Ok(skipped)
}

async fn register(
    ctx: &SessionContext,
    cat: Catalog<'_>,
    glue: &Snapshot,
    name: &str,
    seen: &mut BTreeSet<String>,
) -> Result<(), String> {
    let name = name.to_ascii_lowercase();
    if !seen.insert(name.clone()) {
        return Ok(());
    }
    let s = &cat.checked.loaded.stack;
    if s.tables.get(&name).is_some() {
        let table = raw_table(ctx, cat, &name).await?;
        return ctx
            .register_table(name.as_str(), table)
            .map(|_| ())
            .map_err(|e| e.to_string());
    }
    if s.transforms.get(&name).is_some() {
        if let Some(t) = s.transforms.get(&name)
            && t.materialized == crate::model::Materialized::View
        {
            return register_view(ctx, cat, glue, &name, seen).await;
        }
        let table = model_table(ctx, glue, &name).await?;
        return ctx
            .register_table(name.as_str(), table)
            .map(|_| ())
            .map_err(|e| e.to_string());
    }
    if s.serving.views.get(&name).is_some() {
        return register_view(ctx, cat, glue, &name, seen).await;
    }
    Err(format!(
        "`{name}` is not a table, model or view of this stack"
    ))
}

async fn register_view(
    ctx: &SessionContext,
    cat: Catalog<'_>,
    glue: &Snapshot,
    name: &str,
    seen: &mut BTreeSet<String>,
) -> Result<(), String> {
    let model = cat
        .checked
        .models
        .get(name)
        .ok_or_else(|| format!("no SQL for view `{name}`"))?;
    for r in &model.reads {
        Box::pin(register(ctx, cat, glue, r, seen)).await?;
    }
    let df = ctx
        .sql(&model.sql)
        .await
        .map_err(|e| super::errors::at_model(&model.path, &model.sql, &e))?;
    ctx.register_table(name, df.into_view())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// A declared table: its location, format and columns from the graph (as `apply` created it).
async fn raw_table(
    ctx: &SessionContext,
    cat: Catalog<'_>,
    name: &str,
) -> Result<Arc<dyn TableProvider>, String> {
    let table = cat
        .graph
        .catalog_table(name)
        .ok_or_else(|| format!("no catalog table for `{name}` in the graph"))?;
    let location = table.location();
    let fields = table
        .columns()
        .iter()
        .map(|c| {
            let n = c.name.to_ascii_lowercase();
            Kind::parse(c.r#type)
                .map(|k| Field::new(n.clone(), k.arrow(), true))
                .map_err(|e| format!("table `{name}` column `{n}`: {e}"))
        })
        .collect::<Result<Vec<Field>, String>>()?;
    let schema = Arc::new(Schema::new(fields));
    let partitions: Vec<(String, DataType)> = table
        .partition_keys()
        .iter()
        .map(|c| (c.name.to_ascii_lowercase(), DataType::Utf8))
        .collect();
    if table.format() == "json" {
        return json_table(cat, name, location, schema).await;
    }
    let opts = match table.format() {
        "parquet" => {
            ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet")
        }
        "csv" => ListingOptions::new(Arc::new(CsvFormat::default().with_has_header(true)))
            .with_file_extension(""),
        other => {
            return Err(format!(
                "table `{name}`: format `{other}` cannot be read locally"
            ));
        }
    }
    .with_table_partition_cols(partitions);
    listing(ctx, location, opts, Some(schema))
        .await
        .map(|t| t as Arc<dyn TableProvider>)
}

/// A table of JSON records as Firehose or the landing wrote them: every object under the
/// location, gzip or not (told by its first bytes: emulators ignore the declared compression),
/// records one per line or, from a Firehose without a delimiter, back to back. A record that does
/// not fit the declared columns fails the read, naming its object and record number.
async fn json_table(
    cat: Catalog<'_>,
    name: &str,
    location: &str,
    schema: Arc<Schema>,
) -> Result<Arc<dyn TableProvider>, String> {
    use futures_util::{StreamExt, TryStreamExt};
    let lake = crate::lake::Lake {
        clients: cat.clients.clone(),
        bucket: cat.bucket(),
    };
    let prefix = location
        .strip_prefix(&format!("s3://{}/", lake.bucket))
        .ok_or_else(|| format!("table `{name}`: {location} is not in the lake"))?;
    let keys = lake.list(prefix).await.map_err(|e| e.to_string())?;
    let bodies: Vec<(String, Vec<u8>)> = futures_util::stream::iter(keys)
        .map(|k| {
            let lake = lake.clone();
            async move {
                let body = lake
                    .get(&k)
                    .await
                    .map_err(|e| e.to_string())?
                    .unwrap_or_default();
                Ok::<_, String>((k, body))
            }
        })
        .buffered(16)
        .try_collect()
        .await?;
    let mut batches = vec![];
    for (key, body) in bodies {
        let lines = json_lines(&body).map_err(|e| format!("{}: {e}", lake.url(&key)))?;
        batches.extend(decode(&schema, &lines).map_err(|e| format!("{}: {e}", lake.url(&key)))?);
    }
    let t = datafusion::datasource::MemTable::try_new(schema, vec![batches])
        .map_err(|e| format!("table `{name}`: {e}"))?;
    Ok(Arc::new(t))
}

/// The object's records as JSON lines (gunzipped when gzip).
fn json_lines(body: &[u8]) -> Result<Vec<u8>, String> {
    let raw;
    let text: &[u8] = if body.starts_with(&[0x1f, 0x8b]) {
        let mut out = vec![];
        std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(body), &mut out)
            .map_err(|e| format!("gunzip: {e}"))?;
        raw = out;
        &raw
    } else {
        body
    };
    let mut out = Vec::with_capacity(text.len() + 64);
    let mut it = serde_json::Deserializer::from_slice(text).into_iter::<serde::de::IgnoredAny>();
    let mut start = 0;
    let mut n = 0;
    while let Some(r) = it.next() {
        n += 1;
        r.map_err(|e| format!("record {n}: not JSON: {e}"))?;
        let end = it.byte_offset();
        out.extend_from_slice(text[start..end].trim_ascii());
        out.push(b'\n');
        start = end;
    }
    Ok(out)
}

fn decode(schema: &Arc<Schema>, lines: &[u8]) -> Result<Vec<RecordBatch>, String> {
    use datafusion::arrow::json::ReaderBuilder;
    let read = |bytes: &[u8]| -> Result<Vec<RecordBatch>, datafusion::arrow::error::ArrowError> {
        ReaderBuilder::new(schema.clone())
            .build(std::io::Cursor::new(bytes))?
            .collect()
    };
    read(lines).map_err(|e| {
        // Name the first record that does not decode on its own.
        let bad = lines
            .split(|b| *b == b'\n')
            .position(|l| !l.is_empty() && read(l).is_err());
        match bad {
            Some(i) => format!("record {}: {e}", i + 1),
            None => e.to_string(),
        }
    })
}

/// A model built before: where the catalog table points (its current version).
async fn model_table(
    ctx: &SessionContext,
    glue: &Snapshot,
    name: &str,
) -> Result<Arc<dyn TableProvider>, String> {
    let t = glue.tables.get(name).ok_or_else(|| {
        format!("model `{name}` has not been built yet: `dekit run` it first (`--select +{name}`)")
    })?;
    let location = t
        .storage_descriptor()
        .and_then(|sd| sd.location())
        .ok_or_else(|| format!("catalog table `{name}` has no location"))?;
    let keys: Vec<String> = t
        .partition_keys()
        .iter()
        .map(|c| c.name().to_ascii_lowercase())
        .collect();
    let opts =
        || ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    if keys.is_empty() {
        return listing(ctx, location, opts(), None)
            .await
            .map(|t| t as Arc<dyn TableProvider>);
    }
    // Partitions may live under different versions (incremental builds): read each where the
    // catalog says it is, its values as columns.
    let parts = glue
        .partitions
        .get(name)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut union: Option<datafusion::prelude::DataFrame> = None;
    for (values, loc) in parts {
        let table = listing(ctx, loc, opts(), None).await?;
        let mut df = ctx.read_table(table).map_err(|e| e.to_string())?;
        for (k, v) in keys.iter().zip(values) {
            df = df
                .with_column(k, datafusion::prelude::lit(v.as_str()))
                .map_err(|e| e.to_string())?;
        }
        union = Some(match union {
            None => df,
            Some(u) => u.union(df).map_err(|e| e.to_string())?,
        });
    }
    match union {
        Some(u) => Ok(u.into_view()),
        None => listing(ctx, location, opts(), None)
            .await
            .map(|t| t as Arc<dyn TableProvider>),
    }
}

async fn listing(
    ctx: &SessionContext,
    location: &str,
    opts: ListingOptions,
    schema: Option<Arc<Schema>>,
) -> Result<Arc<ListingTable>, String> {
    let url = ListingTableUrl::parse(location).map_err(|e| format!("{location}: {e}"))?;
    let config = ListingTableConfig::new(url).with_listing_options(opts);
    let config = match schema {
        Some(s) => config.with_schema(s),
        None => config
            .infer_schema(&ctx.state())
            .await
            .map_err(|e| format!("reading the schema at {location}: {e}"))?,
    };
    ListingTable::try_new(config)
        .map(Arc::new)
        .map_err(|e| format!("{location}: {e}"))
}
