//! State: what dekit created, as a versioned JSON document (resources with their attributes and
//! dependencies, serial, lineage, and the git commit it was applied from).
//!
//! Writes are atomic (temp file, fsync, rename), so a crash leaves the old or the new state, never
//! a torn one. Each resource is recorded as soon as it exists, so a crash loses nothing.

use crate::resources::kind::ResourceKind;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

pub const VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GitInfo {
    pub commit: String,
    pub dirty: bool,
    /// The branch checked out; none on a detached HEAD (CI checkouts often are).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
}

/// Tag keys that record where an apply came from: set on what the apply creates or updates,
/// ignored when comparing (a new commit alone changes nothing).
pub const GIT_TAGS: [&str; 3] = ["dekit:git-commit", "dekit:git-branch", "dekit:git-dirty"];

/// Whether a recorded or desired attribute and a live one are the same, for a plan and for
/// drift: tags compare without the git stamps (`GIT_TAGS`), which are dekit's own record of the
/// apply that last touched a resource, never a change nor drift.
pub fn same_attr(name: &str, a: Option<&serde_json::Value>, b: Option<&serde_json::Value>) -> bool {
    if name != "tags" {
        return a == b;
    }
    let own = |t: Option<&serde_json::Value>| {
        t.map(|t| match t {
            serde_json::Value::Object(m) => serde_json::Value::Object(
                m.iter()
                    .filter(|(k, _)| !GIT_TAGS.contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
            other => other.clone(),
        })
    };
    own(a) == own(b)
}

impl GitInfo {
    /// The tags, values limited to what every AWS service accepts in a tag value.
    pub fn tags(&self) -> Vec<(&'static str, String)> {
        let clean = |v: &str| -> String {
            v.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || " _.:/=+-@".contains(c) {
                        c
                    } else {
                        '-'
                    }
                })
                .take(256)
                .collect()
        };
        vec![
            (GIT_TAGS[0], self.commit.clone()),
            (
                GIT_TAGS[1],
                clean(self.branch.as_deref().unwrap_or("(detached)")),
            ),
            (GIT_TAGS[2], self.dirty.to_string()),
        ]
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StateResource {
    pub kind: ResourceKind,
    pub attrs: Map<String, Value>,
    #[serde(default)]
    pub depends_on: BTreeSet<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct State {
    pub version: u32,
    /// Incremented on every write; a saved plan records it and refuses to apply after a change.
    pub serial: u64,
    /// Identifies one state's history; a saved plan refuses another lineage.
    pub lineage: String,
    pub stack: String,
    pub environment: String,
    pub git: Option<GitInfo>,
    pub resources: BTreeMap<String, StateResource>,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read state {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("state {path} is not valid dekit state: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("state {path} has version {found}; this dekit reads version {VERSION}")]
    Version { path: PathBuf, found: u32 },
    #[error("cannot write state {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("state {path} belongs to stack `{found}`, not `{expected}`")]
    OtherStack {
        path: PathBuf,
        found: String,
        expected: String,
    },
}

impl State {
    pub fn new(stack: &str, environment: &str) -> State {
        let seed = format!(
            "{stack}/{environment}/{}/{:?}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
        );
        State {
            version: VERSION,
            serial: 0,
            lineage: crate::hash::sha256(&seed)[..32].to_string(),
            stack: stack.into(),
            environment: environment.into(),
            git: None,
            resources: BTreeMap::new(),
        }
    }
}

/// A local state file.
#[derive(Debug, Clone)]
pub struct LocalBackend {
    pub path: PathBuf,
}

impl LocalBackend {
    pub fn load(&self, stack: &str, env: &str) -> Result<State, StateError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(State::new(stack, env));
            }
            Err(source) => {
                return Err(StateError::Read {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        let v: Value = serde_json::from_str(&text).map_err(|source| StateError::Parse {
            path: self.path.clone(),
            source,
        })?;
        let found = v["version"].as_u64().unwrap_or(0) as u32;
        if found != VERSION {
            return Err(StateError::Version {
                path: self.path.clone(),
                found,
            });
        }
        let state: State = serde_json::from_value(v).map_err(|source| StateError::Parse {
            path: self.path.clone(),
            source,
        })?;
        if state.stack != stack {
            return Err(StateError::OtherStack {
                path: self.path.clone(),
                found: state.stack,
                expected: stack.into(),
            });
        }
        Ok(state)
    }

    /// Write atomically and bump the serial.
    pub fn save(&self, state: &mut State) -> Result<(), StateError> {
        state.serial += 1;
        let err = |source| StateError::Write {
            path: self.path.clone(),
            source,
        };
        let dir = self
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(err)?;
        let tmp = dir.join(format!(
            ".{}.{}.tmp",
            self.path
                .file_name()
                .and_then(|f| f.to_str())
                .unwrap_or("state"),
            std::process::id()
        ));
        let text = serde_json::to_string_pretty(state).expect("state serializes");
        let mut f = std::fs::File::create(&tmp).map_err(err)?;
        f.write_all(text.as_bytes()).map_err(err)?;
        f.sync_all().map_err(err)?;
        std::fs::rename(&tmp, &self.path).map_err(err)?;
        // Persist the rename itself.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

/// The commit and dirty flag of the git work tree holding `dir`, if any.
pub fn git_info(dir: &Path) -> Option<GitInfo> {
    let repo = git2::Repository::discover(dir).ok()?;
    let commit = repo.head().ok()?.peel_to_commit().ok()?.id().to_string();
    let mut opts = git2::StatusOptions::new();
    opts.include_untracked(false);
    let dirty = repo
        .statuses(Some(&mut opts))
        .map(|s| !s.is_empty())
        .unwrap_or(true);
    let branch = repo
        .head()
        .ok()
        .filter(|h| h.is_branch())
        .and_then(|h| h.shorthand().ok().map(str::to_string));
    Some(GitInfo {
        commit,
        dirty,
        branch,
    })
}

/// Who holds a state lock, stored in the lock object itself.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LockInfo {
    pub id: String,
    pub who: String,
    pub host: String,
    pub pid: u32,
    pub operation: String,
    pub created: String,
}

impl LockInfo {
    pub fn new(operation: &str) -> LockInfo {
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "unknown-host".into());
        let user = crate::settings::get()
            .user
            .clone()
            .unwrap_or_else(|| "unknown".into());
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        LockInfo {
            id: crate::hash::sha256(&format!("{host}/{}/{now:?}", std::process::id()))[..16]
                .to_string(),
            who: format!("{user}@{host}"),
            host,
            pid: std::process::id(),
            operation: operation.into(),
            created: format!("{} (unix seconds)", now.as_secs()),
        }
    }

    fn describe(&self) -> String {
        format!(
            "{} since {} for `{}` (lock id {})",
            self.who, self.created, self.operation, self.id
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("state is locked by {}\n  if that run is gone, release it with `dekit force-unlock STACK_FILE {}`", .0.describe(), .0.id)]
    Held(LockInfo),
    #[error("no lock with id {0} is held")]
    NotHeld(String),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Cloud(#[from] crate::cloud::CloudError),
}

/// Where state lives: a local file, or an S3 object (locked with a conditional write).
#[derive(Debug, Clone)]
pub enum Backend {
    Local(LocalBackend),
    S3 {
        // Boxed: the clients are many times the size of a local backend.
        clients: Box<crate::cloud::Clients>,
        bucket: String,
        key: String,
    },
}

impl Backend {
    pub fn describe(&self) -> String {
        match self {
            Backend::Local(l) => l.path.display().to_string(),
            Backend::S3 { bucket, key, .. } => format!("s3://{bucket}/{key}"),
        }
    }

    pub async fn load(&self, stack: &str, env: &str) -> Result<State, StateError> {
        match self {
            Backend::Local(l) => l.load(stack, env),
            Backend::S3 {
                clients,
                bucket,
                key,
            } => {
                let path = PathBuf::from(self.describe());
                let out = clients.s3.get_object().bucket(bucket).key(key).send().await;
                let body = match out {
                    Ok(o) => o
                        .body
                        .collect()
                        .await
                        .map_err(|e| StateError::Read {
                            path: path.clone(),
                            source: std::io::Error::other(e.to_string()),
                        })?
                        .into_bytes(),
                    Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
                        return Ok(State::new(stack, env));
                    }
                    Err(e) => {
                        return Err(StateError::Read {
                            path,
                            source: std::io::Error::other(
                                crate::cloud::error::from_sdk("GetObject", &self.describe(), e)
                                    .to_string(),
                            ),
                        });
                    }
                };
                let state: State =
                    serde_json::from_slice(&body).map_err(|source| StateError::Parse {
                        path: path.clone(),
                        source,
                    })?;
                if state.version != VERSION {
                    return Err(StateError::Version {
                        path,
                        found: state.version,
                    });
                }
                Ok(state)
            }
        }
    }

    pub async fn save(&self, state: &mut State) -> Result<(), StateError> {
        match self {
            Backend::Local(l) => l.save(state),
            Backend::S3 {
                clients,
                bucket,
                key,
            } => {
                state.serial += 1;
                let body = serde_json::to_vec_pretty(state).expect("state serializes");
                // A PUT replaces the object atomically: readers see the old or the new state.
                clients
                    .s3
                    .put_object()
                    .bucket(bucket)
                    .key(key)
                    .body(body.into())
                    .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::Aes256)
                    .send()
                    .await
                    .map_err(|e| StateError::Write {
                        path: PathBuf::from(self.describe()),
                        source: std::io::Error::other(
                            crate::cloud::error::from_sdk("PutObject", &self.describe(), e)
                                .to_string(),
                        ),
                    })?;
                Ok(())
            }
        }
    }

    fn lock_path(&self) -> String {
        match self {
            Backend::Local(l) => format!("{}.lock", l.path.display()),
            Backend::S3 { key, .. } => format!("{key}.lock"),
        }
    }

    async fn read_lock(&self) -> Result<Option<LockInfo>, LockError> {
        match self {
            Backend::Local(_) => match std::fs::read_to_string(self.lock_path()) {
                Ok(t) => Ok(serde_json::from_str(&t).ok()),
                Err(_) => Ok(None),
            },
            Backend::S3 {
                clients, bucket, ..
            } => {
                match clients
                    .s3
                    .get_object()
                    .bucket(bucket)
                    .key(self.lock_path())
                    .send()
                    .await
                {
                    Ok(o) => {
                        let b = o
                            .body
                            .collect()
                            .await
                            .map(|b| b.into_bytes())
                            .unwrap_or_default();
                        Ok(serde_json::from_slice(&b).ok())
                    }
                    Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
                    Err(e) => {
                        Err(crate::cloud::error::from_sdk("GetObject", &self.lock_path(), e).into())
                    }
                }
            }
        }
    }

    /// Take the lock, or fail naming its holder. A local lock whose process is gone (same host)
    /// is stale and taken over; an S3 lock is only released by its holder or `force-unlock`.
    pub async fn lock(&self, operation: &str) -> Result<LockInfo, LockError> {
        let info = LockInfo::new(operation);
        let body = serde_json::to_vec_pretty(&info).expect("lock serializes");
        match self {
            Backend::Local(l) => {
                if let Some(dir) = l.path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|source| StateError::Write {
                        path: dir.to_path_buf(),
                        source,
                    })?;
                }
                for _ in 0..2 {
                    match std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .open(self.lock_path())
                    {
                        Ok(mut f) => {
                            f.write_all(&body).map_err(|source| StateError::Write {
                                path: self.lock_path().into(),
                                source,
                            })?;
                            return Ok(info);
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                            let holder = self.read_lock().await?;
                            match holder {
                                Some(h)
                                    if h.host == info.host
                                        && !Path::new(&format!("/proc/{}", h.pid)).exists() =>
                                {
                                    let _ = std::fs::remove_file(self.lock_path());
                                }
                                Some(h) => return Err(LockError::Held(h)),
                                None => {
                                    let _ = std::fs::remove_file(self.lock_path());
                                }
                            }
                        }
                        Err(source) => {
                            return Err(StateError::Write {
                                path: self.lock_path().into(),
                                source,
                            }
                            .into());
                        }
                    }
                }
                Err(LockError::NotHeld(info.id))
            }
            Backend::S3 {
                clients, bucket, ..
            } => {
                let put = clients
                    .s3
                    .put_object()
                    .bucket(bucket)
                    .key(self.lock_path())
                    .if_none_match("*")
                    .body(body.into())
                    .send()
                    .await;
                match put {
                    Ok(_) => Ok(info),
                    Err(e) => {
                        let err = crate::cloud::error::from_sdk("PutObject", &self.lock_path(), e);
                        if err.code == "PreconditionFailed"
                            || err.code == "ConditionalRequestConflict"
                        {
                            match self.read_lock().await? {
                                Some(h) => Err(LockError::Held(h)),
                                None => Err(err.into()),
                            }
                        } else {
                            Err(err.into())
                        }
                    }
                }
            }
        }
    }

    /// Release a lock this run (or `force-unlock`) names by id.
    pub async fn unlock(&self, id: &str) -> Result<(), LockError> {
        match self.read_lock().await? {
            Some(h) if h.id == id => {}
            _ => return Err(LockError::NotHeld(id.to_string())),
        }
        match self {
            Backend::Local(_) => {
                std::fs::remove_file(self.lock_path()).map_err(|source| StateError::Write {
                    path: self.lock_path().into(),
                    source,
                })?;
            }
            Backend::S3 {
                clients, bucket, ..
            } => {
                clients
                    .s3
                    .delete_object()
                    .bucket(bucket)
                    .key(self.lock_path())
                    .send()
                    .await
                    .map_err(|e| {
                        crate::cloud::error::from_sdk("DeleteObject", &self.lock_path(), e)
                    })?;
            }
        }
        Ok(())
    }
}
