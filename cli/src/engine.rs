//! The engine: refresh live state, then walk the resource DAG, applying changes with bounded
//! parallelism. Failures skip only their dependents; independent branches finish; every success is
//! recorded in state at once; Ctrl-C stops launching, lets in-flight calls finish, saves, exits.

use crate::cloud::{Clients, CloudError};
use crate::graph::refs;
use crate::graph::walk::Walker;
use crate::graph::{Graph, ResourceKind};
use crate::plan::{Action, Change, Existing, Plan};
use crate::resources::{Attrs, provider};
use crate::state::{Backend, State, StateError, StateResource};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// Live state of everything the graph wants or the state remembers.
pub struct Refreshed {
    pub existing: BTreeMap<String, Existing>,
    /// Attributes changed outside dekit: (address, attribute, recorded, live).
    pub drift: Vec<(String, String, Value, Value)>,
}

/// Read every resource of the graph and of the state, `parallelism` at a time.
pub async fn refresh(
    clients: &Clients,
    graph: &Graph,
    state: &State,
    parallelism: usize,
) -> Result<Refreshed, Vec<(String, CloudError)>> {
    refresh_with(clients, graph, state, parallelism, Depth::Full).await
}

/// How much a refresh reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// Every attribute of every resource that exists (plan, apply: drift and diffs need them).
    Full,
    /// Only whether it exists, where a list answers that: a destroy needs no more, and takes
    /// the recorded (or desired) attributes for the delete.
    Existence,
}

pub async fn refresh_with(
    clients: &Clients,
    graph: &Graph,
    state: &State,
    parallelism: usize,
    depth: Depth,
) -> Result<Refreshed, Vec<(String, CloudError)>> {
    let mut wanted: BTreeMap<String, (ResourceKind, Attrs)> = BTreeMap::new();
    for (addr, r) in &state.resources {
        wanted.insert(addr.clone(), (r.kind, r.attrs.clone()));
    }
    for n in graph.resources() {
        if let crate::graph::NodeKind::Resource(kind) = n.kind {
            // Identity comes from the desired attributes (names), which also finds resources a crashed
            // apply created before recording them; but a recorded resource whose identity changed
            // (a rename) is read under its old identity, so the plan replaces it instead of
            // creating the new one beside an orphan.
            let renamed = state.resources.get(&n.address).is_some_and(|r| {
                provider(kind).replace_on().iter().any(|k| {
                    n.attrs
                        .get(*k)
                        .is_some_and(|v| !refs::contains_ref(v) && r.attrs.get(*k) != Some(v))
                })
            });
            if !renamed {
                wanted.insert(n.address.clone(), (kind, n.attrs.clone()));
            }
        }
    }
    // Each kind on its own: one call first where the API has one — a batch read of everything
    // (`read_many`), else a list of what exists, so what does not exist needs no read — then its
    // reads, without waiting for the other kinds' lists.
    let mut by_kind: BTreeMap<ResourceKind, Vec<(String, Attrs)>> = BTreeMap::new();
    for (addr, (kind, attrs)) in wanted {
        by_kind.entry(kind).or_default().push((addr, attrs));
    }
    // Reads are cheap and idempotent: overlap more of them than writes.
    let sem = Arc::new(Semaphore::new(parallelism.max(1) * 3));
    let mut kinds = JoinSet::new();
    for (kind, members) in by_kind {
        let (c, sem) = (clients.clone(), sem.clone());
        // All recorded: they most likely exist, and a list would only delay their reads (a
        // no-op plan); some new: a list spares reading what is not there yet.
        let all_recorded = members.iter().all(|(a, _)| state.resources.contains_key(a));
        let list = depth == Depth::Existence || !all_recorded;
        kinds.spawn(refresh_kind(c, kind, members, depth, list, sem));
    }
    let mut existing = BTreeMap::new();
    let mut errors = vec![];
    while let Some(r) = kinds.join_next().await {
        let (found, failed) = r.expect("refresh task");
        existing.extend(found);
        errors.extend(failed);
    }
    if !errors.is_empty() {
        errors.sort_by(|a, b| a.0.cmp(&b.0));
        return Err(errors);
    }
    let mut drift = vec![];
    for (addr, rec) in &state.resources {
        let Some(live) = existing.get(addr) else {
            continue;
        };
        for (k, v) in &rec.attrs {
            if let Some(l) = live.attrs.get(k)
                && !crate::state::same_attr(k, Some(l), Some(v))
            {
                drift.push((addr.clone(), k.clone(), v.clone(), l.clone()));
            }
        }
    }
    Ok(Refreshed { existing, drift })
}

/// Refresh one kind's resources: what exists, with its live attributes, and what failed.
async fn refresh_kind(
    c: Clients,
    kind: ResourceKind,
    members: Vec<(String, Attrs)>,
    depth: Depth,
    list: bool,
    sem: Arc<Semaphore>,
) -> (Vec<(String, Existing)>, Vec<(String, CloudError)>) {
    let (mut found, mut failed) = (vec![], vec![]);
    if depth == Depth::Full {
        let desired: Vec<Attrs> = members.iter().map(|m| m.1.clone()).collect();
        let batch = {
            let _permit = sem.acquire().await;
            retry(|| provider(kind).read_many(&c, &desired)).await
        };
        match batch {
            Ok(Some(lives)) => {
                for ((addr, _), live) in members.into_iter().zip(lives) {
                    if let Some(attrs) = live {
                        found.push((addr, Existing { kind, attrs }));
                    }
                }
                return (found, failed);
            }
            Ok(None) => {}
            Err(e) => return (found, vec![(kind.as_str().to_string(), e)]),
        }
    }
    let listed = if list {
        let names: Vec<String> = members
            .iter()
            .filter_map(|m| m.1.get("name").and_then(Value::as_str).map(str::to_string))
            .collect();
        match retry(|| provider(kind).existing(&c, &names)).await {
            Ok(l) => l,
            Err(e) => return (found, vec![(kind.as_str().to_string(), e)]),
        }
    } else {
        None
    };
    let mut reads = JoinSet::new();
    for (addr, attrs) in members {
        let name = attrs.get("name").and_then(Value::as_str);
        if let (Some(l), Some(n)) = (&listed, name)
            && !l.contains(n)
        {
            continue;
        }
        if depth == Depth::Existence && listed.is_some() {
            found.push((addr, Existing { kind, attrs }));
            continue;
        }
        let (c, sem) = (c.clone(), sem.clone());
        reads.spawn(crate::timings::RESOURCE.scope(addr.clone(), async move {
            let _permit = sem.acquire_owned().await;
            let began = std::time::Instant::now();
            let live = retry(|| provider(kind).read(&c, &attrs)).await;
            crate::timings::span("resource", "refresh", began, serde_json::json!({}));
            (addr, live)
        }));
    }
    while let Some(r) = reads.join_next().await {
        match r.expect("refresh read") {
            (addr, Ok(Some(attrs))) => found.push((addr, Existing { kind, attrs })),
            (_, Ok(None)) => {}
            (addr, Err(e)) => failed.push((addr, e)),
        }
    }
    (found, failed)
}

/// Retry throttling and eventual-consistency errors with jittered exponential backoff.
pub async fn retry<T, F, Fut>(mut f: F) -> Result<T, CloudError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, CloudError>>,
{
    let mut delay = Duration::from_millis(200);
    for attempt in 1.. {
        match f().await {
            Err(e) if attempt < 8 && (e.is_retryable() || propagating(&e)) => {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .subsec_nanos();
                let jitter = Duration::from_millis(
                    u64::from(nanos % 1000) * delay.as_millis() as u64 / 1000,
                );
                let began = std::time::Instant::now();
                tokio::time::sleep(delay / 2 + jitter).await;
                let args = serde_json::json!({ "code": e.code, "attempt": attempt });
                crate::timings::span("wait", "backoff", began, args);
                delay = (delay * 2).min(Duration::from_secs(8));
            }
            other => return other,
        }
    }
    unreachable!()
}

/// A resource that refers to a just-created role or stream may be refused until it propagates;
/// one in a transitional state (a stream CREATING, UPDATING or DELETING) refuses changes until it
/// settles. Both are waited out for a bounded time, never reported as failures at once.
fn propagating(e: &CloudError) -> bool {
    let m = e.message.to_lowercase();
    (e.code == "InvalidArgumentException" || e.code == "InvalidInputException")
        && (m.contains("role") || m.contains("assume") || m.contains("not authorized"))
        || (e.code == "LimitExceededException" && m.contains("concurrently"))
        || e.code == "ResourceInUseException" && !m.contains("already exists")
}

#[derive(Debug, Default)]
pub struct Outcome {
    pub done: Vec<String>,
    pub failed: Vec<(String, CloudError)>,
    pub skipped: Vec<String>,
    pub interrupted: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    State(#[from] StateError),
}

/// Compare the desired attributes with what AWS reports after a write.
fn verify(address: &str, desired: &Attrs, live: Option<&Attrs>) -> Result<(), CloudError> {
    let Some(live) = live else {
        return Err(CloudError::new(
            "ReadAfterWrite",
            address,
            "NotFound",
            "the resource cannot be read back after it was written",
        ));
    };
    for (k, want) in desired {
        let have = live.get(k).unwrap_or(&Value::Null);
        if have != want {
            return Err(CloudError::new(
                "ReadAfterWrite",
                address,
                "AttributeMismatch",
                format!("attribute `{k}` was not applied: wanted {want}, AWS has {have}"),
            ));
        }
    }
    Ok(())
}

async fn execute(c: Clients, change: Change, walk: Walk) -> Result<Option<Attrs>, CloudError> {
    let force_delete_data = walk.force_delete_data;
    let p = (walk.providers)(change.kind);
    let address = change.address.clone();
    match change.action {
        Action::Create | Action::Replace | Action::Update => {
            let desired = change.after.clone().expect("after");
            if change.action == Action::Replace {
                let before = change.before.clone().expect("before");
                retry(|| p.delete(&c, &before, force_delete_data)).await?;
            }
            let observed = if change.action == Action::Update {
                let live = change.before.clone().expect("before");
                retry(|| p.update(&c, &desired, &live)).await?;
                None
            } else {
                retry(|| p.create_observed(&c, &desired)).await?
            };
            // AWS is eventually consistent: a read just after a create may not find it yet.
            let mut live = match observed {
                Some(live) => Some(live),
                None => retry(|| p.read(&c, &desired)).await?,
            };
            for _ in 0..25 {
                if live.is_some() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
                live = retry(|| p.read(&c, &desired)).await?;
            }
            verify(&address, &desired, live.as_ref())?;
            Ok(Some(with_outputs(
                change.kind,
                &walk,
                &desired,
                live.as_ref(),
            )))
        }
        Action::Delete => {
            let before = change.before.clone().expect("before");
            retry(|| p.delete(&c, &before, force_delete_data)).await?;
            Ok(None)
        }
        Action::NoOp => Ok(change.after),
    }
}

/// How to walk: concurrency and whether data may be deleted.
#[derive(Debug, Clone, Copy)]
pub struct Walk {
    pub parallelism: usize,
    pub force_delete_data: bool,
    /// Provider lookup; `resources::provider` outside of unit tests of the walk itself.
    pub providers: fn(ResourceKind) -> &'static dyn crate::resources::Provider,
}

impl Walk {
    pub fn new(parallelism: usize, force_delete_data: bool) -> Walk {
        Walk {
            parallelism,
            force_delete_data,
            providers: provider,
        }
    }
}

/// Progress of an apply or destroy, as it happens. The commands word it; the engine only reports.
pub trait Reporter: Sync {
    fn on_adopted(&self, _address: &str) {}
    fn on_done(&self, _address: &str, _action: Action) {}
    fn on_failed(&self, _address: &str, _error: &CloudError) {}
    fn on_skipped(&self, _address: &str) {}
    fn on_interrupt(&self) {}
}

/// Rough relative duration of writing one resource of a kind: streams and delivery streams wait
/// for ACTIVE, the rest are single calls. Used to start the critical path first.
fn cost(kind: ResourceKind) -> u64 {
    match kind {
        ResourceKind::KinesisStream => 20,
        ResourceKind::FirehoseDeliveryStream => 15,
        ResourceKind::IamRole => 3,
        _ => 1,
    }
}

/// A reporter that says nothing (unit tests, library callers).
pub struct Silent;
impl Reporter for Silent {}

/// What is recorded for a resource: the desired attributes plus its outputs as AWS reported them.
fn with_outputs(kind: ResourceKind, walk: &Walk, desired: &Attrs, live: Option<&Attrs>) -> Attrs {
    let mut rec = desired.clone();
    for k in (walk.providers)(kind).outputs() {
        if let Some(v) = live.and_then(|l| l.get(*k)) {
            rec.insert((*k).to_string(), v.clone());
        }
    }
    rec
}

/// Run a plan's changes. Creates/updates follow dependencies; deletes run after, dependents first.
/// References in the desired attributes are resolved from what the state records, just before the
/// resource is written, so they carry the referenced resource's outputs as AWS returned them.
// Long: ordering, adoption and the walk share the change set; to split next into pure steps then the loop.
pub async fn apply(
    clients: &Clients,
    graph: &Graph,
    plan: &Plan,
    state: &mut State,
    backend: &Backend,
    walk: Walk,
    reporter: &dyn Reporter,
) -> Result<Outcome, ApplyError> {
    let changes: BTreeMap<String, Change> = plan
        .changes
        .iter()
        .filter(|c| c.action != Action::NoOp)
        .map(|c| (c.address.clone(), c.clone()))
        .collect();
    // Dependencies among the changes: forward for create/update, reversed for deletes.
    let deps: BTreeMap<String, BTreeSet<String>> = changes
        .keys()
        .map(|a| {
            let d = graph
                .get(a)
                .map(|n| n.depends_on.clone())
                .or_else(|| state.resources.get(a).map(|r| r.depends_on.clone()));
            (a.clone(), d.unwrap_or_default())
        })
        .collect();
    let deps_of = |addr: &str| deps.get(addr).cloned().unwrap_or_default();
    let mut waits: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (addr, c) in &changes {
        let mut w = BTreeSet::new();
        if c.action == Action::Delete {
            // Delete X only after everything that depends on X is deleted.
            for (other, oc) in &changes {
                if oc.action == Action::Delete && deps_of(other).contains(addr) {
                    w.insert(other.clone());
                }
            }
        } else {
            w.extend(
                deps_of(addr)
                    .into_iter()
                    .filter(|d| changes.get(d).is_some_and(|dc| dc.action != Action::Delete)),
            );
        }
        waits.insert(addr.clone(), w);
    }
    // Resources that exist as desired but are missing from state (a crashed apply created them
    // before recording them) are adopted, so they are never orphaned. Recorded ones whose outputs
    // are not yet recorded (state from an older dekit) gain them.
    let mut saved_needed = false;
    for c in plan.changes.iter().filter(|c| c.action == Action::NoOp) {
        let Some(after) = &c.after else { continue };
        let rec = with_outputs(c.kind, &walk, after, c.before.as_ref());
        match state.resources.get_mut(&c.address) {
            None => {
                let depends_on = graph
                    .get(&c.address)
                    .map(|n| n.depends_on.clone())
                    .unwrap_or_default();
                state.resources.insert(
                    c.address.clone(),
                    StateResource {
                        kind: c.kind,
                        attrs: rec,
                        depends_on,
                    },
                );
                reporter.on_adopted(&c.address);
                saved_needed = true;
            }
            Some(r) if r.attrs != rec => {
                r.attrs = rec;
                saved_needed = true;
            }
            Some(_) => {}
        }
    }
    if saved_needed {
        backend.save(state).await?;
    }
    let mut outcome = Outcome::default();
    let kinds: BTreeMap<String, ResourceKind> =
        changes.iter().map(|(a, c)| (a.clone(), c.kind)).collect();
    let mut walker = Walker::new(waits, walk.parallelism)
        .prioritize(|a| kinds.get(a).map_or(1, |k| cost(*k)))
        .grouped(|a| kinds.get(a).map_or("", |k| k.as_str()).to_string())
        .stop_on_ctrl_c();
    let mut set: JoinSet<(String, Result<Option<Attrs>, CloudError>)> = JoinSet::new();
    loop {
        for addr in walker.ready() {
            let mut change = changes[&addr].clone();
            if let Some(after) = change.after.as_mut() {
                let recorded = |a: &str, attr: &str| {
                    state
                        .resources
                        .get(a)
                        .and_then(|r| r.attrs.get(attr).cloned())
                };
                refs::resolve_attrs(after, &recorded);
            }
            let c = clients.clone();
            set.spawn(crate::timings::RESOURCE.scope(addr.clone(), async move {
                let began = std::time::Instant::now();
                let action = format!("{:?}", change.action).to_lowercase();
                let result = execute(c, change, walk).await;
                let args = serde_json::json!({ "ok": result.is_ok() });
                crate::timings::span("resource", &action, began, args);
                (addr, result)
            }));
        }
        if !walker.is_running() {
            break;
        }
        let Some(joined) = set.join_next().await else {
            break;
        };
        if walker.newly_interrupted() {
            reporter.on_interrupt();
            outcome.interrupted = true;
        }
        let (addr, result) = joined.expect("apply task");
        let change = &changes[&addr];
        let ok = result.is_ok();
        match result {
            Ok(Some(attrs)) => {
                state.resources.insert(
                    addr.clone(),
                    StateResource {
                        kind: change.kind,
                        attrs,
                        depends_on: deps_of(&addr),
                    },
                );
                backend.save(state).await?;
                reporter.on_done(&addr, change.action);
                outcome.done.push(addr.clone());
            }
            Ok(None) => {
                state.resources.remove(&addr);
                backend.save(state).await?;
                reporter.on_done(&addr, change.action);
                outcome.done.push(addr.clone());
            }
            Err(e) => {
                reporter.on_failed(&addr, &e);
                outcome.failed.push((addr.clone(), e));
            }
        }
        for skipped in walker.finish(&addr, ok) {
            reporter.on_skipped(&skipped);
            outcome.skipped.push(skipped);
        }
    }
    outcome.skipped.extend(walker.not_started());
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::verify;
    use serde_json::json;

    fn attrs(v: serde_json::Value) -> crate::resources::Attrs {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn read_after_write_names_resource_and_attribute() {
        let desired = attrs(
            json!({ "name": "lake", "lifecycle_rules": [{ "id": "zone-raw", "expire_days": 365 }] }),
        );
        // LocalStack's CloudFormation once dropped lifecycle rules while reporting success.
        let live = attrs(json!({ "name": "lake", "lifecycle_rules": [] }));
        let e = verify("s3_bucket.lake", &desired, Some(&live)).unwrap_err();
        assert_eq!(
            (e.resource.as_str(), e.code.as_str()),
            ("s3_bucket.lake", "AttributeMismatch")
        );
        assert!(e.message.contains("`lifecycle_rules`"), "{e}");
        assert!(
            verify("s3_bucket.lake", &desired, None).is_err(),
            "a resource that cannot be read back is an error"
        );
        assert!(verify("s3_bucket.lake", &desired, Some(&desired)).is_ok());
    }

    /// A provider that keeps resources in memory and fails to create anything named `broken`.
    struct Fake;
    static CREATED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

    impl crate::resources::Provider for Fake {
        fn read<'a>(
            &'a self,
            _: &'a crate::cloud::Clients,
            d: &'a crate::resources::Attrs,
        ) -> crate::resources::Fut<'a, Option<crate::resources::Attrs>> {
            Box::pin(async move {
                Ok(CREATED
                    .lock()
                    .unwrap()
                    .contains(&d["name"].as_str().unwrap().to_string())
                    .then(|| d.clone()))
            })
        }
        fn create<'a>(
            &'a self,
            _: &'a crate::cloud::Clients,
            d: &'a crate::resources::Attrs,
        ) -> crate::resources::Fut<'a, ()> {
            Box::pin(async move {
                let name = d["name"].as_str().unwrap().to_string();
                if name == "broken" {
                    return Err(crate::cloud::CloudError::new(
                        "CreateBucket",
                        &name,
                        "AccessDenied",
                        "no",
                    ));
                }
                CREATED.lock().unwrap().push(name);
                Ok(())
            })
        }
        fn update<'a>(
            &'a self,
            _: &'a crate::cloud::Clients,
            _: &'a crate::resources::Attrs,
            _: &'a crate::resources::Attrs,
        ) -> crate::resources::Fut<'a, ()> {
            Box::pin(async { Ok(()) })
        }
        fn delete<'a>(
            &'a self,
            _: &'a crate::cloud::Clients,
            _: &'a crate::resources::Attrs,
            _: bool,
        ) -> crate::resources::Fut<'a, ()> {
            Box::pin(async { Ok(()) })
        }
    }

    fn fake(_: crate::graph::ResourceKind) -> &'static dyn crate::resources::Provider {
        &Fake
    }

    #[test]
    fn a_failure_skips_only_its_dependents() {
        use crate::graph::{Graph, Node, NodeKind, ResourceKind};
        let node = |addr: &str, name: &str, deps: &[&str]| Node {
            address: addr.into(),
            kind: NodeKind::Resource(ResourceKind::S3Bucket),
            name: name.into(),
            attrs: attrs(json!({ "name": name })),
            depends_on: deps.iter().map(|d| d.to_string()).collect(),
        };
        // a (fails) <- b <- d, and an independent c.
        let graph = Graph {
            stack: "t".into(),
            environment: "local".into(),
            nodes: vec![
                node("s3_bucket.a", "broken", &[]),
                node("s3_bucket.b", "b", &["s3_bucket.a"]),
                node("s3_bucket.c", "c", &[]),
                node("s3_bucket.d", "d", &["s3_bucket.b"]),
            ],
        };
        let plan = crate::plan::diff(&graph, &Default::default()).unwrap();
        let dir = std::env::temp_dir().join(format!("dekit-walk-{}", std::process::id()));
        let backend = crate::state::Backend::Local(crate::state::LocalBackend {
            path: dir.join("state.json"),
        });
        let mut state = crate::state::State::new("t", "local");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let outcome = rt.block_on(async {
            let clients =
                crate::cloud::Clients::connect(&crate::cloud::Target::local_default()).await;
            let walk = super::Walk {
                parallelism: 2,
                force_delete_data: false,
                providers: fake,
            };
            super::apply(
                &clients,
                &graph,
                &plan,
                &mut state,
                &backend,
                walk,
                &super::Silent,
            )
            .await
            .unwrap()
        });
        assert_eq!(outcome.done, ["s3_bucket.c"]);
        assert_eq!(outcome.failed.len(), 1);
        assert_eq!(
            (
                outcome.failed[0].0.as_str(),
                outcome.failed[0].1.code.as_str()
            ),
            ("s3_bucket.a", "AccessDenied")
        );
        let mut skipped = outcome.skipped.clone();
        skipped.sort();
        assert_eq!(skipped, ["s3_bucket.b", "s3_bucket.d"]);
        assert_eq!(
            state.resources.keys().collect::<Vec<_>>(),
            ["s3_bucket.c"],
            "what succeeded is recorded"
        );
        let saved: crate::state::State =
            serde_json::from_str(&std::fs::read_to_string(dir.join("state.json")).unwrap())
                .unwrap();
        assert_eq!(saved, state);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
