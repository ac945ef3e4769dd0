//! OpenLineage events from `dekit run` and `dekit test`, so Marquez, DataHub, OpenMetadata or
//! Amazon DataZone see what dekit read and wrote: a START and a COMPLETE or FAIL per step (job
//! `<step address>` in the namespace `<stack>.<environment>`), each under its run's parent job
//! (`run` or `test`), with datasets named per OpenLineage's conventions (`datasets`) and facets
//! (`events`). Where they go: the stack's `observe.lineage` (an HTTP endpoint, a JSON-lines file),
//! else `OPENLINEAGE_URL`. Events are sent in order by one background task; a transport that fails
//! is a warning at the end, never a failed run.

pub mod datasets;
pub mod events;

use crate::graph::Graph;
use crate::load::Loaded;
use crate::records::{Manifest, Status, StepRecord};
use datasets::StepIo;
use events::{Io, Job, Run};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

/// Where events go, resolved.
#[derive(Debug, Clone)]
pub struct Config {
    /// `<url>/api/v1/lineage`.
    pub endpoint: Option<String>,
    pub api_key: Option<String>,
    pub file: Option<PathBuf>,
    pub namespace: String,
}

/// The stack's `observe.lineage`, else `OPENLINEAGE_URL`; `None` when neither says anything. A
/// setting that cannot be resolved (an unset `${env.NAME}`) is a warning and no lineage.
pub fn config(l: &Loaded) -> Option<Config> {
    let s = crate::settings::get();
    let default_ns = format!("{}.{}", l.stack.stack.value, l.env_name);
    let endpoint = |base: &str| format!("{}/api/v1/lineage", base.trim_end_matches('/'));
    let Some(lin) = &l.stack.observe.lineage else {
        return s.openlineage_url.as_ref().map(|u| Config {
            endpoint: Some(endpoint(u)),
            api_key: s.openlineage_api_key.clone(),
            file: None,
            namespace: s.openlineage_namespace.clone().unwrap_or(default_ns),
        });
    };
    let resolve = |v: &Option<crate::yaml::Spanned<String>>, what: &str| match v {
        None => Ok(None),
        Some(v) => crate::interpolate::resolve_env(&v.value)
            .map(Some)
            .map_err(|e| format!("observe.lineage.{what}: {e}")),
    };
    let resolved = (|| {
        Ok::<_, String>(Config {
            endpoint: resolve(&lin.url, "url")?.map(|u| endpoint(&u)),
            api_key: resolve(&lin.api_key, "api_key")?,
            file: resolve(&lin.file, "file")?.map(|f| l.src.dir().join(f)),
            namespace: resolve(&lin.namespace, "namespace")?.unwrap_or(default_ns),
        })
    })();
    match resolved {
        Ok(c) => Some(c),
        Err(e) => {
            eprintln!("warning: lineage: {e}; no lineage events are sent");
            None
        }
    }
}

/// Sends events, in order, from a background task.
pub struct Emitter {
    tx: tokio::sync::mpsc::UnboundedSender<Value>,
    task: tokio::task::JoinHandle<Delivered>,
    to: String,
}

#[derive(Default)]
struct Delivered {
    total: usize,
    failed: usize,
    first_error: Option<String>,
}

/// After this many failures in a row the endpoint is given up for the rest of the command, so a
/// receiver that is down costs seconds, not a timeout per event.
const GIVE_UP_AFTER: usize = 3;

impl Emitter {
    /// Start the sending task (on the command's runtime).
    pub fn start(c: Config) -> Emitter {
        let to = [
            c.endpoint.clone(),
            c.file.as_ref().map(|f| f.display().to_string()),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" and ");
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(deliver(c, rx));
        Emitter { tx, task, to }
    }

    pub fn emit(&self, event: Value) {
        // The task ends only after `close`; a send cannot fail before.
        let _ = self.tx.send(event);
    }

    /// Wait (at most a minute) for what was emitted to be delivered; say what was not.
    pub async fn close(self) {
        drop(self.tx);
        let done = tokio::time::timeout(std::time::Duration::from_secs(60), self.task).await;
        let d = match done {
            Ok(Ok(d)) => d,
            Ok(Err(e)) => Delivered {
                failed: 1,
                first_error: Some(e.to_string()),
                ..Delivered::default()
            },
            Err(_) => Delivered {
                failed: 1,
                first_error: Some("still sending after 60 s".into()),
                ..Delivered::default()
            },
        };
        if d.failed > 0 {
            eprintln!(
                "warning: lineage: {} of {} events were not delivered to {}: {}",
                d.failed,
                d.total.max(d.failed),
                self.to,
                d.first_error.unwrap_or_default()
            );
        }
    }
}

async fn deliver(c: Config, mut rx: tokio::sync::mpsc::UnboundedReceiver<Value>) -> Delivered {
    let mut d = Delivered::default();
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build();
    let mut in_a_row = 0;
    let fail = |d: &mut Delivered, e: String| {
        d.failed += 1;
        d.first_error.get_or_insert(e);
    };
    while let Some(event) = rx.recv().await {
        d.total += 1;
        let line = event.to_string();
        if let Some(path) = &c.file
            && let Err(e) = append(path, &line)
        {
            fail(&mut d, format!("{}: {e}", path.display()));
            continue;
        }
        let Some(url) = &c.endpoint else { continue };
        if in_a_row >= GIVE_UP_AFTER {
            fail(&mut d, String::new());
            continue;
        }
        let sent = match &client {
            Ok(http) => {
                let mut req = http
                    .post(url)
                    .header("content-type", "application/json")
                    .body(line);
                if let Some(k) = &c.api_key {
                    req = req.bearer_auth(k);
                }
                match req.send().await {
                    Ok(r) if r.status().is_success() => Ok(()),
                    Ok(r) => Err(format!("HTTP {}", r.status())),
                    Err(e) => Err(e.to_string()),
                }
            }
            Err(e) => Err(e.to_string()),
        };
        match sent {
            Ok(()) => in_a_row = 0,
            Err(e) => {
                in_a_row += 1;
                fail(&mut d, e);
            }
        }
    }
    d
}

fn append(path: &std::path::Path, line: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    writeln!(f, "{line}")
}

fn now() -> String {
    crate::clock::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The events of one `dekit run`.
pub struct RunLineage {
    emitter: Emitter,
    namespace: String,
    io: BTreeMap<String, StepIo>,
    /// dekit's run id, once the run has one.
    run_id: Mutex<Option<String>>,
}

impl RunLineage {
    /// `None` when lineage is not configured.
    pub fn start(l: &Loaded, g: &Graph) -> Option<RunLineage> {
        let c = config(l)?;
        Some(RunLineage {
            namespace: c.namespace.clone(),
            emitter: Emitter::start(c),
            io: datasets::of_steps(l, g),
            run_id: Mutex::new(None),
        })
    }

    fn job(&self, name: &str) -> Job {
        Job {
            namespace: self.namespace.clone(),
            name: name.to_string(),
        }
    }

    fn parent(&self) -> Option<(String, Job)> {
        let id = self.run_id.lock().expect("not poisoned").clone()?;
        Some((events::uuid(&id), self.job("run")))
    }

    fn step_run(&self, step: &str) -> Option<Run> {
        let id = self.run_id.lock().expect("not poisoned").clone()?;
        Some(Run {
            id: events::uuid(&format!("{id}/{step}")),
            job: self.job(step),
            parent: self.parent(),
            job_type: "TASK",
        })
    }

    pub fn run_started(&self, run_id: &str) {
        *self.run_id.lock().expect("not poisoned") = Some(run_id.to_string());
        let run = Run {
            id: events::uuid(run_id),
            job: self.job("run"),
            parent: None,
            job_type: "DAG",
        };
        self.emitter
            .emit(events::event("START", &now(), &run, &Io::default(), None));
    }

    pub fn step_started(&self, step: &str) {
        let (Some(run), Some(io)) = (self.step_run(step), self.io.get(step)) else {
            return;
        };
        let io = Io {
            inputs: &io.inputs,
            outputs: &io.outputs,
            ..Io::default()
        };
        self.emitter
            .emit(events::event("START", &now(), &run, &io, None));
    }

    /// COMPLETE with output statistics, or FAIL with the error; nothing for a step that never
    /// started (skipped, or a quality step `run` leaves to `dekit test`).
    pub fn step_finished(&self, r: &StepRecord) {
        let kind = match r.status {
            Status::Succeeded => "COMPLETE",
            Status::Failed => "FAIL",
            Status::Skipped | Status::NotRun => return,
        };
        let (Some(run), Some(io)) = (self.step_run(&r.step), self.io.get(&r.step)) else {
            return;
        };
        let mut stats: Vec<events::Written> = r
            .stats
            .by_table
            .iter()
            .map(|(t, rows)| events::Written {
                relation: Some(t.clone()),
                rows: *rows,
                bytes: None,
                files: None,
            })
            .collect();
        // A view's step writes no rows: no statistics rather than a count of 0.
        if r.status == Status::Succeeded && stats.is_empty() && r.kind != "serve" {
            stats.push(events::Written {
                relation: None,
                rows: r.stats.rows,
                bytes: Some(r.stats.bytes),
                files: Some(r.stats.objects),
            });
        }
        let io = Io {
            inputs: &io.inputs,
            outputs: &io.outputs,
            stats,
            assertions: vec![],
        };
        self.emitter
            .emit(events::event(kind, &now(), &run, &io, r.error.as_deref()));
    }

    /// The run's own COMPLETE or FAIL (or FAIL with `error` when it ended without a manifest),
    /// then wait for delivery.
    pub async fn finish(self, m: Result<&Manifest, &str>) {
        let id = self.run_id.lock().expect("not poisoned").clone();
        if let Some(id) = id {
            let run = Run {
                id: events::uuid(&id),
                job: self.job("run"),
                parent: None,
                job_type: "DAG",
            };
            let (kind, error) = match m {
                Ok(m) if m.ok() => ("COMPLETE", None),
                Ok(m) => {
                    let failed: Vec<&str> = m
                        .steps
                        .iter()
                        .filter(|s| s.status == Status::Failed)
                        .map(|s| s.step.as_str())
                        .collect();
                    ("FAIL", Some(format!("failed steps: {}", failed.join(", "))))
                }
                Err(e) => ("FAIL", Some(e.to_string())),
            };
            self.emitter.emit(events::event(
                kind,
                &now(),
                &run,
                &Io::default(),
                error.as_deref(),
            ));
        }
        self.emitter.close().await;
    }
}

/// Data-quality assertions on one relation: (check, column, passed).
pub type Assertions = Vec<(String, Option<String>, bool)>;

/// The events of one `dekit test`: per relation tested, a START and a COMPLETE (every check at
/// severity error passed) or FAIL of the job `quality.<relation>`, its input carrying the
/// assertions; all under the parent job `test`.
pub async fn tested(
    l: &Loaded,
    test_id: &str,
    started_at: &str,
    by_relation: &[(String, bool, Assertions)],
) {
    let Some(c) = config(l) else { return };
    let ns = c.namespace.clone();
    let emitter = Emitter::start(c);
    let job = |name: &str| Job {
        namespace: ns.clone(),
        name: name.to_string(),
    };
    let parent = Run {
        id: events::uuid(test_id),
        job: job("test"),
        parent: None,
        job_type: "DAG",
    };
    emitter.emit(events::event(
        "START",
        started_at,
        &parent,
        &Io::default(),
        None,
    ));
    let mut all_ok = true;
    for (relation, ok, list) in by_relation {
        let step = format!("quality.{relation}");
        let run = Run {
            id: events::uuid(&format!("{test_id}/{step}")),
            job: job(&step),
            parent: Some((parent.id.clone(), parent.job.clone())),
            job_type: "TASK",
        };
        let inputs = [datasets::relation(l, relation)];
        all_ok &= ok;
        let plain = Io {
            inputs: &inputs,
            ..Io::default()
        };
        emitter.emit(events::event("START", started_at, &run, &plain, None));
        let io = Io {
            inputs: &inputs,
            assertions: vec![(relation.clone(), list.clone())],
            ..Io::default()
        };
        let (kind, error) = if *ok {
            ("COMPLETE", None)
        } else {
            let failed: Vec<&str> = list
                .iter()
                .filter(|(_, _, p)| !p)
                .map(|(c, _, _)| c.as_str())
                .collect();
            (
                "FAIL",
                Some(format!("failed checks: {}", failed.join(", "))),
            )
        };
        emitter.emit(events::event(kind, &now(), &run, &io, error.as_deref()));
    }
    let end = if all_ok { "COMPLETE" } else { "FAIL" };
    emitter.emit(events::event(end, &now(), &parent, &Io::default(), None));
    emitter.close().await;
}
