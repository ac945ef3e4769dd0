//! `dekit run`: the pipeline steps of the graph, walked in dependency order with bounded
//! parallelism. Source steps check (and locally seed) their source; ingest steps move data into the
//! lake (`batch`, `stream`); transform steps build models, serve steps views, export steps files
//! (`crate::transform`). Each run leaves a manifest in the lake under `_dekit/runs/`.
//!
//! Quality steps are in the graph and selectable, and are reported as not run: `dekit test` runs
//! them.

pub mod batch;
pub mod convert;
pub mod deployed;
pub mod http;
pub mod mysql_in;
pub mod parquet_in;
pub mod postgres_in;
pub mod produce;
pub mod sources;
pub mod stream;
pub mod write_back;

use crate::cloud::Clients;
use crate::graph::{Graph, NodeKind, StepKind};
use crate::lake::Lake;
use crate::model::LocalEngine;
use crate::records::{Manifest, Status, StepRecord, manifest_key};
use crate::stats::{Progress, StepStats};
use crate::validate::Checked;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// Everything a step needs, shared by the steps running at once.
pub struct Ctx {
    pub checked: Checked,
    pub graph: Graph,
    pub clients: Clients,
    pub lake: Lake,
    /// A `local` environment (samples stand in for undeclared paths).
    pub local: bool,
    pub local_sources: bool,
    pub engine: LocalEngine,
    pub max_bad_rows: u64,
    /// Rebuild every selected model, whatever its fingerprint says (dbt's `--full-refresh`).
    pub full_refresh: bool,
    /// Rows a watermark load reads at most before it commits and answers that more follow (the
    /// deployed step runtime, whose invocations are bounded in time); `None`: all at once.
    pub rows_per_range: Option<u64>,
    /// Database sources connect with what their secrets hold (the deployed step runtime, whose
    /// environment has none of the stack's `${env.*}`); otherwise as the stack declares.
    pub source_secrets: bool,
}

impl Ctx {
    /// What the steps of a run share, from a connected stack: the lake of its environment, the
    /// local engine's settings, and nothing rebuilt unless asked.
    pub fn new(checked: Checked, graph: Graph, clients: Clients, max_bad_rows: u64) -> Ctx {
        let local = checked.loaded.env.target.value == crate::model::Target::Local;
        Ctx {
            lake: Lake::of(&checked.loaded, clients.clone()),
            local,
            local_sources: local && checked.loaded.env.local_sources,
            engine: checked.loaded.engine,
            max_bad_rows,
            full_refresh: false,
            rows_per_range: None,
            source_secrets: false,
            clients,
            graph,
            checked,
        }
    }

    /// Source `name`'s connection. In the deployed runtime, a source with a secret in the graph
    /// (`apply` wrote it) is read from it when connecting, so a password changed by the next
    /// `apply` is used by a warm function too, and a step that connects to nothing reads none.
    pub async fn conn(
        &self,
        name: &str,
        src: &crate::model::Source,
    ) -> Result<sources::Conn, String> {
        let secret = self
            .graph
            .get(&format!("secretsmanager_secret.{name}"))
            .and_then(|n| n.attrs.get("name")?.as_str())
            .filter(|_| self.source_secrets);
        let Some(id) = secret else {
            return sources::conn(name, src, self.local_sources);
        };
        let value = self
            .clients
            .secretsmanager
            .get_secret_value()
            .secret_id(id)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "source `{name}`: reading its connection: {}",
                    crate::cloud::error::from_sdk("GetSecretValue", id, e)
                )
            })?;
        sources::Conn::from_secret(name, value.secret_string().unwrap_or("{}"))
    }

    pub fn names(&self) -> crate::names::Names<'_> {
        crate::names::Names::new(&self.checked.loaded)
    }

    pub fn catalog(&self) -> crate::transform::session::Catalog<'_> {
        crate::transform::session::Catalog {
            checked: &self.checked,
            graph: &self.graph,
            clients: &self.clients,
        }
    }
}

pub struct Options {
    pub select: Vec<String>,
    pub parallelism: usize,
    pub resume: Option<String>,
}

/// What a running step has done so far.
pub struct Running<'a> {
    pub step: &'a str,
    pub rows: u64,
    pub bytes: u64,
    pub secs: f64,
}

/// Report of a step's start, progress and end, for the terminal.
pub trait Reporter: Send + Sync {
    /// The run has its id (before any step starts).
    fn run_started(&self, _run_id: &str) {}
    fn started(&self, step: &str);
    /// The steps running now, every `tick()`.
    fn progress(&self, running: &[Running]);
    fn finished(&self, r: &StepRecord);
    /// How often `progress` is called.
    fn tick(&self) -> std::time::Duration {
        std::time::Duration::from_secs(5)
    }
}

/// A reporter that also tells lineage (OpenLineage events) of the run and each step.
pub struct WithLineage<'a> {
    pub inner: &'a dyn Reporter,
    pub lineage: Option<&'a crate::lineage::RunLineage>,
}

impl Reporter for WithLineage<'_> {
    fn run_started(&self, run_id: &str) {
        self.inner.run_started(run_id);
        if let Some(l) = self.lineage {
            l.run_started(run_id);
        }
    }
    fn started(&self, step: &str) {
        self.inner.started(step);
        if let Some(l) = self.lineage {
            l.step_started(step);
        }
    }
    fn progress(&self, running: &[Running]) {
        self.inner.progress(running);
    }
    fn finished(&self, r: &StepRecord) {
        self.inner.finished(r);
        if let Some(l) = self.lineage {
            l.step_finished(r);
        }
    }
    fn tick(&self) -> std::time::Duration {
        self.inner.tick()
    }
}

/// Walk the selected steps. Returns the manifest (also written to the lake).
// Long: the executor's walk: resume, select, launch, record, manifest; to split next.
pub async fn run(ctx: Ctx, opts: Options, reporter: &dyn Reporter) -> Result<Manifest, String> {
    let ctx = Arc::new(ctx);
    let steps = crate::graph::steps::step_graph(&ctx.graph);
    let mut chosen = crate::graph::steps::select(&steps, &opts.select)?;
    if let Some(prev) = &opts.resume {
        let done = crate::records::succeeded_in(&ctx.lake, prev).await?;
        chosen.retain(|s| !done.contains(s));
    }
    let started = crate::clock::now();
    let run_id = crate::clock::run_id();
    reporter.run_started(&run_id);
    let git = crate::state::git_info(&ctx.checked.loaded.src.dir());

    let mut records: BTreeMap<String, StepRecord> = BTreeMap::new();
    let mut running = tokio::task::JoinSet::new();
    let mut in_flight: BTreeMap<String, (Instant, Arc<Progress>)> = BTreeMap::new();
    let mut ticker = tokio::time::interval(reporter.tick());
    ticker.tick().await;
    loop {
        // Start what is ready: its selected dependencies all finished, none failed.
        let ready: Vec<String> = chosen
            .iter()
            .filter(|s| !records.contains_key(*s) && !in_flight.contains_key(*s))
            .filter(|s| {
                steps[*s]
                    .iter()
                    .filter(|d| chosen.contains(*d))
                    .all(|d| records.contains_key(d))
            })
            .cloned()
            .collect();
        for s in ready {
            let blocked = steps[&s]
                .iter()
                .filter(|d| chosen.contains(*d))
                .find(|d| matches!(records[*d].status, Status::Failed | Status::Skipped));
            if let Some(d) = blocked {
                let r = StepRecord {
                    step: s.clone(),
                    kind: kind_of(&ctx.graph, &s),
                    status: Status::Skipped,
                    stats: StepStats::default(),
                    duration_ms: 0,
                    error: Some(format!("`{d}` did not succeed")),
                };
                reporter.finished(&r);
                records.insert(s, r);
                continue;
            }
            if running.len() >= opts.parallelism.max(1) {
                break;
            }
            let progress = Arc::new(Progress::default());
            in_flight.insert(s.clone(), (Instant::now(), progress.clone()));
            if !matches!(
                ctx.graph.get(&s).map(|n| n.kind),
                Some(NodeKind::Step(StepKind::Quality))
            ) {
                reporter.started(&s);
            }
            let c = ctx.clone();
            let id = run_id.clone();
            running.spawn(async move {
                let t = Instant::now();
                let result = execute(&c, &s, &id, &progress).await;
                (s, t.elapsed(), result)
            });
        }
        if running.is_empty() {
            if chosen.iter().all(|s| records.contains_key(s)) {
                break;
            }
            continue;
        }
        tokio::select! {
            done = running.join_next() => {
                let Some(done) = done else { continue };
                let (s, took, result) = done.map_err(|e| format!("a step panicked: {e}"))?;
                in_flight.remove(&s);
                let (status, stats, error) = match result {
                    Ok(Some(stats)) => (Status::Succeeded, stats, None),
                    Ok(None) => (Status::NotRun, StepStats::default(), None),
                    Err(e) => (Status::Failed, StepStats::default(), Some(e)),
                };
                let r = StepRecord {
                    kind: kind_of(&ctx.graph, &s),
                    step: s.clone(),
                    status,
                    stats,
                    duration_ms: took.as_millis() as u64,
                    error,
                };
                reporter.finished(&r);
                records.insert(s, r);
            }
            _ = ticker.tick() => {
                let now: Vec<Running> = in_flight
                    .iter()
                    .map(|(s, (t, p))| {
                        let (rows, bytes) = p.counts();
                        Running {
                            step: s,
                            rows,
                            bytes,
                            secs: t.elapsed().as_secs_f64(),
                        }
                    })
                    .collect();
                reporter.progress(&now);
            }
        }
    }
    let order = crate::graph::steps::ordered(&steps, &chosen);
    let manifest = Manifest {
        run_id: run_id.clone(),
        stack: ctx.checked.loaded.stack.stack.value.clone(),
        environment: ctx.checked.loaded.env_name.clone(),
        git_commit: git.as_ref().map(|g| g.commit.clone()),
        git_dirty: git.as_ref().map(|g| g.dirty),
        started_at: started.to_rfc3339(),
        finished_at: crate::clock::now().to_rfc3339(),
        selectors: opts.select.clone(),
        resumed_from: opts.resume.clone(),
        steps: order.iter().filter_map(|s| records.remove(s)).collect(),
    };
    ctx.lake
        .put_json(&manifest_key(&run_id), &manifest)
        .await
        .map_err(|e| format!("writing the run manifest: {e}"))?;
    publish(&ctx, &manifest, started).await;
    Ok(manifest)
}

/// The run's outcome as CloudWatch metrics, for alarms on failed runs. A failure to publish is
/// said on stderr: the run itself did what it did.
async fn publish(ctx: &Ctx, m: &Manifest, started: chrono::DateTime<chrono::Utc>) {
    use aws_sdk_cloudwatch::types::StandardUnit;
    let failed = m
        .steps
        .iter()
        .filter(|s| s.status == Status::Failed)
        .count() as f64;
    let rows: u64 = m
        .steps
        .iter()
        .filter(|s| s.kind == "ingest")
        .map(|s| s.stats.rows)
        .sum();
    let secs = (crate::clock::now() - started).num_milliseconds() as f64 / 1000.0;
    let values = [
        ("FailedSteps", failed, StandardUnit::Count),
        (
            "RunSucceeded",
            if m.ok() { 1.0 } else { 0.0 },
            StandardUnit::Count,
        ),
        ("RowsMoved", rows as f64, StandardUnit::Count),
        ("RunSeconds", secs, StandardUnit::Seconds),
    ];
    if let Err(e) = crate::metrics::publish(&ctx.clients, &m.stack, &m.environment, &values).await {
        eprintln!("warning: the run's metrics were not published: {e}");
    }
}

fn kind_of(g: &Graph, step: &str) -> String {
    match g.get(step).map(|n| n.kind) {
        Some(NodeKind::Step(k)) => k.as_str().to_string(),
        _ => "step".into(),
    }
}

/// One step: `Ok(None)` for kinds `run` does not execute (quality: `dekit test`).
async fn execute(
    ctx: &Ctx,
    step: &str,
    run_id: &str,
    progress: &Progress,
) -> Result<Option<StepStats>, String> {
    use crate::transform::engine::SqlEngine;
    use crate::transform::export;
    let node = ctx
        .graph
        .get(step)
        .ok_or_else(|| format!("no step `{step}`"))?;
    let cat = ctx.catalog();
    let name = node.name.as_str();
    match node.kind {
        NodeKind::Step(StepKind::Transform) => SqlEngine::for_model(&ctx.checked, name)
            .build(cat, &ctx.lake, name, run_id, ctx.full_refresh, progress)
            .await
            .map(Some),
        NodeKind::Step(StepKind::Serve) => SqlEngine::of(&ctx.checked)
            .replace_view(cat, name)
            .await
            .map(Some),
        NodeKind::Step(StepKind::Export) => {
            let to_database = ctx
                .checked
                .loaded
                .stack
                .serving
                .exports
                .get(name)
                .is_some_and(|e| e.to.is_some());
            if to_database {
                write_back::run(ctx, name, run_id, progress).await.map(Some)
            } else {
                export::run(cat, &ctx.lake, name, run_id, progress)
                    .await
                    .map(Some)
            }
        }
        NodeKind::Step(StepKind::Source) => source_step(ctx, &node.name).await.map(Some),
        NodeKind::Step(StepKind::Ingest) => {
            let s = &ctx.checked.loaded.stack;
            if s.ingest.batch.get(&node.name).is_some() {
                batch::run(ctx, &node.name, progress).await.map(Some)
            } else {
                stream::run(ctx, &node.name, progress).await.map(Some)
            }
        }
        _ => Ok(None),
    }
}

/// A source step: the source answers (a database accepts the connection; files exist). A local
/// database source is seeded from its sample first.
async fn source_step(ctx: &Ctx, name: &str) -> Result<StepStats, String> {
    use sources::Db;
    let s = &ctx.checked.loaded.stack;
    let src = s
        .sources
        .get(name)
        .ok_or_else(|| format!("no source `{name}`"))?;
    let db = match src.kind.value {
        crate::model::SourceKind::Postgres => Db::Postgres,
        crate::model::SourceKind::Mysql => Db::Mysql,
        _ => return Ok(StepStats::default()),
    };
    let mut stats = StepStats::default();
    let conn = ctx.conn(name, src).await?;
    if let Some(sample) = src
        .sample
        .as_ref()
        .filter(|_| sources::served_locally(ctx.local_sources, src))
    {
        let sample = ctx.checked.loaded.src.dir().join(&sample.value);
        let tables = source_tables(ctx, name)?;
        let (seeded, server) = match db {
            Db::Postgres => (sources::seed(&conn, &sample, &tables).await?, "PostgreSQL"),
            Db::Mysql => (
                sources::seed_mysql(&conn, &sample, &tables).await?,
                "MariaDB",
            ),
        };
        if !seeded.is_empty() {
            stats.notes.push(format!(
                "{name}: seeded {} on the local {server} from {}",
                seeded.join(", "),
                sample.display()
            ));
        }
    }
    match db {
        Db::Postgres => {
            sources::connect(&conn, None)
                .await?
                .simple_query("SELECT 1")
                .await
                .map_err(|e| format!("{}: {}", conn.describe(), sources::pg_error(&e)))?;
        }
        Db::Mysql => {
            use mysql_async::prelude::Queryable;
            let mut my = conn.mysql().await?;
            my.query_drop("SELECT 1")
                .await
                .map_err(|e| format!("{}: {}", conn.describe(), sources::mysql_error(&e)))?;
            let _ = my.disconnect().await;
        }
    }
    Ok(stats)
}

/// The source tables loads read from `name`, with the columns of the catalog tables they fill.
fn source_tables(
    ctx: &Ctx,
    name: &str,
) -> Result<Vec<(String, Vec<crate::schema::Column>)>, String> {
    let s = &ctx.checked.loaded.stack;
    let mut out = vec![];
    for (bname, b) in s.ingest.batch.iter() {
        if b.source.value != name {
            continue;
        }
        for (tname, t) in s
            .tables
            .iter()
            .filter(|(_, t)| t.from.as_ref().is_some_and(|f| f.value == bname.value))
        {
            let cols = crate::schema::of_table(tname, t)?;
            let source_table = t
                .source_table
                .as_ref()
                .map_or_else(|| tname.value.clone(), |x| x.value.clone());
            out.push((source_table, cols));
        }
    }
    Ok(out)
}
