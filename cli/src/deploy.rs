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
                clients: clients.clone(),
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

pub async fn open(checked: Checked, start_local: bool) -> Result<Deployment, String> {
    let target = Target::from_env(&checked.loaded);
    local::ensure_up(&target, start_local || checked.loaded.env.start_local).await?;
    let clients = Clients::connect(&target).await;
    if let Target::Aws {
        account: Some(want),
        ..
    } = &target
    {
        // Never touch an account the stack does not name, whatever the credentials reach.
        let me = clients
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| {
                crate::cloud::error::from_sdk("GetCallerIdentity", "credentials", e).to_string()
            })?;
        let have = me.account().unwrap_or_default();
        if have != want {
            return Err(format!(
                "the credentials are for account {have}, but environment `{}` deploys to account {want}; refusing",
                checked.loaded.env_name
            ));
        }
    }
    let backend = backend(&checked, &clients);
    let state = backend
        .load(&checked.loaded.stack.stack.value, &checked.loaded.env_name)
        .await
        .map_err(|e| e.to_string())?;
    let graph = compile::compile(&checked);
    Ok(Deployment {
        checked,
        graph,
        clients,
        backend,
        state,
    })
}

impl Deployment {
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
                .map_err(|errs| {
                    errs.iter()
                        .map(|(a, e)| format!("refreshing {a}: {e}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                })?;
        let mut p = plan::diff(&self.graph, &refreshed.existing).map_err(|e| e.to_string())?;
        p.drift = refreshed.drift;
        self.annotate(&mut p).await;
        Ok(p)
    }

    /// A plan deleting everything in state.
    pub async fn destroy_plan(&self) -> Plan {
        let mut p = Plan {
            stack: self.graph.stack.clone(),
            environment: self.graph.environment.clone(),
            changes: self
                .state
                .resources
                .iter()
                .map(|(a, r)| plan::Change {
                    address: a.clone(),
                    kind: r.kind,
                    action: Action::Delete,
                    before: Some(r.attrs.clone()),
                    after: None,
                    forces_replacement: vec![],
                    data_impact: None,
                })
                .collect(),
            drift: vec![],
        };
        self.annotate(&mut p).await;
        p
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
