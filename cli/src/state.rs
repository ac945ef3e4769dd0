//! State: what dekit created, as a versioned JSON document (resources with their attributes and
//! dependencies, serial, lineage, and the git commit it was applied from).
//!
//! Writes are atomic (temp file, fsync, rename), so a crash leaves the old or the new state, never
//! a torn one. Each resource is recorded as soon as it exists, so a crash loses nothing.

use crate::graph::ResourceKind;
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
            lineage: crate::graph::compile::sha256(&seed)[..32].to_string(),
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
    Some(GitInfo { commit, dirty })
}
