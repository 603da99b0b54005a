//! An environment's state: its generations (which candidate, which containers), which one is
//! current, and the switch in progress if a run was stopped half-way. One JSON file per
//! environment, always replaced atomically, read and written only under the environment's lock.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use lastmile_documents::candidate::Health;
use lastmile_documents::deployment::Backend;
use lastmile_fs::Sha256;
use serde::{Deserialize, Serialize};

use crate::backend::ContainerId;
use crate::lock::{Lock, lock_file};

pub const SCHEMA: &str = "lastmile.deploy-state/v1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub schema: String,
    pub environment: String,
    pub backend: Backend,
    pub next_generation: u64,
    pub current: Option<u64>,
    /// Every generation whose containers exist, oldest first.
    pub generations: Vec<Generation>,
    /// Set from before the first container of a switch is made until the switch is recorded:
    /// a run that finds it knows the last one was stopped half-way.
    pub transition: Option<Transition>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Generation {
    pub number: u64,
    pub digest: Sha256,
    pub image: String,
    /// The environment file's digest when it was made.
    pub settings: Sha256,
    /// The configuration it was made with ([`crate::env::Environment::configuration`]) and its
    /// `[config]` values; absent in a state written before they were recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<Sha256>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, String>,
    pub source_commits: BTreeMap<String, String>,
    pub nodes: Vec<GenerationNode>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerationNode {
    pub name: String,
    pub container: ContainerId,
    pub address: Ipv4Addr,
    pub roles: Vec<String>,
    pub services: Vec<String>,
    /// The check that tells each service is serving (`tcp:7147`, `http://...`, `active`).
    pub checks: BTreeMap<String, Health>,
    pub exec: Vec<String>,
    /// Whether checks run inside the node (its network is `empty`).
    pub isolated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transition {
    pub kind: TransitionKind,
    pub from: Option<u64>,
    pub to: u64,
}

/// What a switch in progress is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransitionKind {
    /// To a new generation: on recovery it is stopped and removed.
    Apply,
    /// Back to a kept generation: on recovery it is stopped and kept.
    Rollback,
}

impl std::fmt::Display for TransitionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TransitionKind::Apply => "apply",
            TransitionKind::Rollback => "rollback",
        })
    }
}

impl State {
    pub fn new(environment: &str, backend: Backend) -> Self {
        Self {
            schema: SCHEMA.to_owned(),
            environment: environment.to_owned(),
            backend,
            next_generation: 1,
            current: None,
            generations: Vec::new(),
            transition: None,
        }
    }

    pub fn generation(&self, number: u64) -> Option<&Generation> {
        self.generations.iter().find(|g| g.number == number)
    }

    pub fn current_generation(&self) -> Option<&Generation> {
        self.current.and_then(|n| self.generation(n))
    }

    /// The containers of every generation the state names.
    pub fn containers(&self) -> BTreeSet<&ContainerId> {
        self.generations
            .iter()
            .flat_map(|g| g.nodes.iter().map(|n| &n.container))
            .collect()
    }

    /// Kept generations (not current), newest first.
    pub fn kept(&self) -> Vec<&Generation> {
        let mut kept: Vec<&Generation> = self
            .generations
            .iter()
            .filter(|g| {
                Some(g.number) != self.current && self.transition.as_ref().is_none_or(|t| t.to != g.number)
            })
            .collect();
        kept.sort_by_key(|g| std::cmp::Reverse(g.number));
        kept
    }
}

/// Where an environment's state lives.
pub struct Store {
    dir: PathBuf,
    environment: String,
}

impl Store {
    pub fn new(state_dir: &Path, environment: &str) -> anyhow::Result<Self> {
        // Made on the first write, so `plan` and `status` leave no trace.
        let dir = state_dir.join("environments");
        Ok(Self {
            dir,
            environment: environment.to_owned(),
        })
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(format!("{}.json", self.environment))
    }

    /// Take the environment's lock: a second deploy-lxc of the same environment is refused
    /// while this one runs (the lock goes with the process, also when it is killed).
    pub fn lock(&self) -> anyhow::Result<Lock> {
        self.make_dir()?;
        lock_file(
            &self.dir.join(format!("{}.lock", self.environment)),
            &format!("environment {}", self.environment),
        )
    }

    /// The state, or `None` when nothing was ever deployed.
    pub fn load(&self) -> anyhow::Result<Option<State>> {
        let path = self.path();
        let text = match lastmile_fs::read_text(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let state: State = lastmile_documents::read(&text, SCHEMA, &path.display().to_string())?;
        if state.environment != self.environment {
            bail!(
                "{}: holds environment {}, not {}",
                path.display(),
                state.environment,
                self.environment
            );
        }
        Ok(Some(state))
    }

    fn make_dir(&self) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.dir).with_context(|| format!("creating {}", self.dir.display()))
    }

    pub fn save(&self, state: &State) -> anyhow::Result<()> {
        self.make_dir()?;
        let path = self.path();
        lastmile_fs::write_atomic(&path, lastmile_documents::to_string(state).as_bytes())
            .with_context(|| format!("writing {}", path.display()))
    }

    pub fn remove(&self) -> anyhow::Result<()> {
        match std::fs::remove_file(self.path()) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// Every environment's state in this folder (for pruning the shared image store).
    pub fn all(state_dir: &Path) -> anyhow::Result<Vec<State>> {
        let mut states = Vec::new();
        let dir = state_dir.join("environments");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(states);
        };
        for entry in entries {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "json") {
                let text = lastmile_fs::read_text(&path)?;
                states.push(lastmile_documents::read(
                    &text,
                    SCHEMA,
                    &path.display().to_string(),
                )?);
            }
        }
        Ok(states)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_state_reads_back_and_a_second_lock_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path(), "lab").unwrap();
        assert_eq!(store.load().unwrap(), None);
        let mut state = State::new("lab", Backend::Lxc);
        state.current = Some(1);
        store.save(&state).unwrap();
        assert_eq!(store.load().unwrap(), Some(state));
        let held = store.lock().unwrap();
        let err = store.lock().unwrap_err().to_string();
        assert!(err.contains(&format!("pid {}", std::process::id())), "{err}");
        drop(held);
        store.lock().unwrap();
        assert_eq!(Store::all(dir.path()).unwrap().len(), 1);
    }
}
