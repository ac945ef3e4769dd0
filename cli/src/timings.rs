//! `--timings FILE`: a Chrome-trace JSON (chrome://tracing, Perfetto, speedscope) of every AWS API
//! call and every wait of a plan, apply or destroy, like `cargo --timings`, so a user sees where
//! the time goes and which resources sit on the critical path.
//!
//! API calls are recorded by an SDK interceptor on every client; the resource a call is made for
//! comes from a task-local the engine sets around each resource's work. Each resource gets its own
//! row (thread id) in the viewer. Recording is off unless `enable` was called.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
    FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

tokio::task_local! {
    /// The resource (or step) whose work the current task does.
    pub static RESOURCE: String;
}

struct Trace {
    start: Instant,
    events: Mutex<Vec<Value>>,
    rows: Mutex<BTreeMap<String, usize>>,
}

static TRACE: OnceLock<Trace> = OnceLock::new();

/// Start recording (once per process).
pub fn enable() {
    let _ = TRACE.get_or_init(|| Trace {
        start: Instant::now(),
        events: Mutex::new(vec![]),
        rows: Mutex::new(BTreeMap::new()),
    });
}

pub fn enabled() -> bool {
    TRACE.get().is_some()
}

fn current() -> String {
    RESOURCE
        .try_with(Clone::clone)
        .unwrap_or_else(|_| "dekit".to_string())
}

/// Record a finished span `name` of category `cat` (api, wait, resource) that began at `began`.
pub fn span(cat: &str, name: &str, began: Instant, args: Value) {
    let Some(t) = TRACE.get() else { return };
    let resource = current();
    let tid = {
        let mut rows = t.rows.lock().expect("trace rows");
        let n = rows.len() + 1;
        *rows.entry(resource.clone()).or_insert(n)
    };
    let mut args = args;
    args["resource"] = json!(resource);
    let ts = began.saturating_duration_since(t.start).as_secs_f64() * 1e6;
    let dur = began.elapsed().as_secs_f64() * 1e6;
    t.events.lock().expect("trace events").push(json!({
        "name": name, "cat": cat, "ph": "X", "pid": 1, "tid": tid,
        "ts": (ts * 1000.0).round() / 1000.0, "dur": (dur * 1000.0).round() / 1000.0, "args": args,
    }));
}

/// Write the trace: the events, and one metadata event naming each row after its resource.
pub fn write(path: &std::path::Path) -> Result<(), String> {
    let Some(t) = TRACE.get() else {
        return Ok(());
    };
    let mut events: Vec<Value> = t.events.lock().expect("trace events").clone();
    for (resource, tid) in t.rows.lock().expect("trace rows").iter() {
        events.push(json!({
            "name": "thread_name", "ph": "M", "pid": 1, "tid": tid, "args": { "name": resource },
        }));
    }
    let doc = json!({ "traceEvents": events, "displayTimeUnit": "ms" });
    std::fs::write(path, serde_json::to_vec(&doc).expect("trace serializes"))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[derive(Debug, Clone)]
struct Began(Instant);
impl Storable for Began {
    type Storer = StoreReplace<Self>;
}

/// HTTP attempts of one call so far: the SDK retries throttling itself, inside one span.
#[derive(Debug, Clone)]
struct Attempts(u32);
impl Storable for Attempts {
    type Storer = StoreReplace<Self>;
}

/// The interceptor every SDK client carries: one span per API call, retries included and
/// counted (`attempts`).
#[derive(Debug)]
pub struct ApiCalls;

impl Intercept for ApiCalls {
    fn name(&self) -> &'static str {
        "dekit-timings"
    }

    fn read_before_execution(
        &self,
        _: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if enabled() {
            cfg.interceptor_state().store_put(Began(Instant::now()));
        }
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if enabled() {
            let n = cfg.load::<Attempts>().map_or(0, |a| a.0);
            cfg.interceptor_state().store_put(Attempts(n + 1));
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(Began(began)) = cfg.load::<Began>().cloned() else {
            return Ok(());
        };
        let (service, op) = cfg
            .load::<Metadata>()
            .map(|m| (m.service().to_string(), m.name().to_string()))
            .unwrap_or_default();
        let ok = context.output_or_error().is_some_and(|r| r.is_ok());
        let attempts = cfg.load::<Attempts>().map_or(1, |a| a.0);
        span(
            "api",
            &format!("{service}.{op}"),
            began,
            json!({ "ok": ok, "attempts": attempts }),
        );
        Ok(())
    }
}
