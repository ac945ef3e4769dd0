//! Everything a command needs to act on a deployed stack: the checked stack, its graph, the cloud
//! clients for its environment, and its state backend.

use crate::cloud::{Clients, Target, local};
use crate::graph::{Graph, compile};
use crate::plan::{self, Action, Plan};
use crate::resources::provider;
use crate::state::{Backend, LocalBackend, State};
use crate::validate::Checked;

pub struct Deployment {
    pub checked: Checked,
    pub graph: Graph,
    pub clients: Clients,
    pub backend: Backend,
    pub state: State,
}

/// Where the environment's state lives: `state:` (`s3://bucket/key`, or a path relative to the
/// stack file), default `.dekit/<env>.state.json` beside the stack file.
pub fn backend(checked: &Checked, clients: &Clients) -> Backend {
    let l = &checked.loaded;
    match l.env.state.as_ref().map(|s| s.value.as_str()) {
        Some(s) if s.starts_with("s3://") => {
            let (bucket, key) = s["s3://".len()..].split_once('/').unwrap_or_default();
            Backend::S3 {
                clients: Box::new(clients.clone()),
                bucket: bucket.into(),
                key: key.into(),
            }
        }
        Some(p) => Backend::Local(LocalBackend {
            path: l.src.dir().join(p),
        }),
        None => Backend::Local(LocalBackend {
            path: l
                .src
                .dir()
                .join(format!(".dekit/{}.state.json", l.env_name)),
        }),
    }
}

/// The one way every command that touches a deployed stack opens it: the stack compiles, the
/// local cloud is up (for `local` environments), the credentials are for the declared account
/// (for `aws` ones), and the state is loaded.
pub async fn open(checked: Checked, start_local: bool) -> Result<Deployment, String> {
    let (checked, graph, clients) = connect(checked, start_local).await?;
    let backend = backend(&checked, &clients);
    let state = backend
        .load(&checked.loaded.stack.stack.value, &checked.loaded.env_name)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Deployment {
        checked,
        graph,
        clients,
        backend,
        state,
    })
}

/// `open` without the state: the graph and clients for a stack in the account it names (what
/// the deployed pipeline's step runtime needs; it reads and writes the lake, not the state).
pub async fn connect(
    mut checked: Checked,
    start_local: bool,
) -> Result<(Checked, Graph, Clients), String> {
    let target = Target::from_env(&checked.loaded);
    let start = start_local || checked.loaded.env.start_local;
    if let Some(engine) = local::ensure_up(&target, start).await? {
        // The graph is compiled for the engine that runs (what its Firehose can read, say).
        checked.loaded.engine = engine;
    }
    let target = Target::from_env(&checked.loaded);
    let graph = compile::compile(&checked).map_err(|e| e.to_string())?;
    let clients = Clients::connect(&target).await;
    if let Target::Aws {
        account: Some(want),
        profile,
        ..
    } = &target
    {
        // Never touch an account the stack does not name, whatever the credentials reach.
        let env = &checked.loaded.env_name;
        let me = clients
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| {
                let e = crate::cloud::error::from_sdk("GetCallerIdentity", "credentials", e);
                crate::cloud::credentials::explain(
                    &e,
                    env,
                    profile.as_deref(),
                    crate::settings::get(),
                )
            })?;
        let have = me.account().unwrap_or_default();
        if have != want {
            let using =
                crate::cloud::credentials::chosen(profile.as_deref(), crate::settings::get())
                    .map_or(String::new(), |p| format!(" (profile `{p}`)"));
            return Err(format!(
                "the credentials{using} are for account {have}, but environment `{env}` deploys to account {want}; refusing.\n  Use credentials for account {want}: set the environment's `profile:` to one for it, or AWS_PROFILE (`aws sts get-caller-identity` shows which account a profile reaches)."
            ));
        }
    }
    Ok((checked, graph, clients))
}

/// Why a refresh failed. When the cloud cannot be reached at all, that is one cause: say it once.
fn refresh_failed(errs: Vec<(String, crate::cloud::CloudError)>) -> String {
    let unreachable = errs.iter().all(|(_, e)| e.code == "ConnectionFailed");
    match errs.first() {
        Some((_, first)) if unreachable && errs.len() > 1 => format!(
            "cannot reach the cloud: {} resources could not be read; the first: {first}",
            errs.len()
        ),
        _ => errs
            .iter()
            .map(|(a, e)| format!("refreshing {a}: {e}"))
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

impl Deployment {
    /// Run `work` holding the state lock, released whatever happens.
    pub async fn locked<R>(
        &mut self,
        operation: &str,
        work: impl AsyncFnOnce(&mut Deployment) -> Result<R, String>,
    ) -> Result<R, String> {
        let lock = self.lock(operation).await?;
        let result = work(self).await;
        if let Err(e) = self.backend.unlock(&lock.id).await {
            eprintln!("warning: could not release the state lock: {e}");
        }
        result
    }

    /// Addresses `--target` may name: the graph's and the state's. An unknown one is an error.
    pub fn check_targets(&self, targets: &[String]) -> Result<(), String> {
        for t in targets {
            if self.graph.get(t).is_none() && !self.state.resources.contains_key(t) {
                return Err(format!(
                    "--target {t}: no such resource in the stack or state (see `dekit state list` or `dekit graph`)"
                ));
            }
        }
        Ok(())
    }

    /// Refuse to destroy a stack where a recorded or declared resource has `prevent_destroy`.
    pub fn guard_prevent_destroy(&self) -> Result<(), String> {
        let flagged = |a: &serde_json::Map<String, serde_json::Value>| {
            a.get("prevent_destroy") == Some(&serde_json::Value::Bool(true))
        };
        let guarded: Vec<&str> = self
            .state
            .resources
            .iter()
            .filter(|(addr, r)| {
                flagged(&r.attrs) || self.graph.get(addr).is_some_and(|n| flagged(&n.attrs))
            })
            .map(|(a, _)| a.as_str())
            .collect();
        if guarded.is_empty() {
            return Ok(());
        }
        Err(format!(
            "refusing to destroy: {} {} `prevent_destroy: true`; remove it from the stack first",
            guarded.join(", "),
            if guarded.len() == 1 { "has" } else { "have" }
        ))
    }

    /// Lock the state, then re-read it: another run may have written it before we got the lock.
    pub async fn lock(&mut self, operation: &str) -> Result<crate::state::LockInfo, String> {
        let lock = self
            .backend
            .lock(operation)
            .await
            .map_err(|e| e.to_string())?;
        match self
            .backend
            .load(
                &self.checked.loaded.stack.stack.value,
                &self.checked.loaded.env_name,
            )
            .await
        {
            Ok(s) => {
                self.state = s;
                Ok(lock)
            }
            Err(e) => {
                let _ = self.backend.unlock(&lock.id).await;
                Err(e.to_string())
            }
        }
    }

    /// Refresh live state and diff it against the graph. Destructive changes get a data-impact note.
    pub async fn plan(&self, parallelism: usize) -> Result<Plan, String> {
        let refreshed =
            crate::engine::refresh(&self.clients, &self.graph, &self.state, parallelism)
                .await
                .map_err(refresh_failed)?;
        let mut p = plan::diff(&self.graph, &refreshed.existing).map_err(|e| e.to_string())?;
        p.drift = refreshed.drift;
        self.annotate(&mut p).await;
        Ok(p)
    }

    /// A plan deleting everything that exists of the stack: what the state records, and what a
    /// killed apply created before recording it (found by reading every resource of the graph).
    /// A recorded resource that is already gone is simply dropped from state.
    pub async fn destroy_plan(&self, parallelism: usize) -> Result<Plan, String> {
        let depth = crate::engine::Depth::Existence;
        let refreshed = crate::engine::refresh_with(
            &self.clients,
            &self.graph,
            &self.state,
            parallelism,
            depth,
        )
        .await
        .map_err(refresh_failed)?;
        let mut p = Plan {
            stack: self.graph.stack.clone(),
            environment: self.graph.environment.clone(),
            changes: refreshed
                .existing
                .into_iter()
                .map(|(a, e)| plan::Change {
                    address: a,
                    kind: e.kind,
                    action: Action::Delete,
                    before: Some(e.attrs),
                    after: None,
                    forces_replacement: vec![],
                    data_impact: None,
                })
                .collect(),
            drift: vec![],
        };
        self.annotate(&mut p).await;
        Ok(p)
    }

    /// Forget recorded resources that no longer exist (after a destroy found them gone).
    pub fn forget_missing(&mut self, plan: &Plan) -> bool {
        let before = self.state.resources.len();
        self.state
            .resources
            .retain(|a, _| plan.changes.iter().any(|c| &c.address == a));
        before != self.state.resources.len()
    }

    async fn annotate(&self, p: &mut Plan) {
        for c in p
            .changes
            .iter_mut()
            .filter(|c| matches!(c.action, Action::Delete | Action::Replace))
        {
            if let Some(before) = &c.before
                && let Ok(note) = provider(c.kind).data_note(&self.clients, before).await
            {
                c.data_impact = note;
            }
        }
    }
}
