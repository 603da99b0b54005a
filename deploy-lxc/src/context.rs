//! One run's environment, engine, state store and options: what every step takes.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use lastmile_cli::Reporter;

use crate::backend::Engine;
use crate::env::{Backend, Environment};
use crate::state::{State, Store};

/// One run's environment, engine, state and options.
pub struct Context<'a> {
    pub env: &'a Environment,
    pub engine: Box<dyn Engine + 'a>,
    pub store: Store,
    pub state_dir: PathBuf,
    pub reporter: Reporter,
    /// Nodes switched at once.
    pub parallel: usize,
}

impl<'a> Context<'a> {
    pub fn new(
        env: &'a Environment,
        state_dir: &Path,
        reporter: Reporter,
        parallel: Option<usize>,
    ) -> anyhow::Result<Self> {
        // Absolute: the paths go into LXC configs, read from another working folder.
        let state_dir = &std::path::absolute(state_dir)
            .with_context(|| format!("--state-dir {}", state_dir.display()))?;
        let engine: Box<dyn Engine> = match &env.backend {
            Backend::Lxc(settings) => {
                Box::new(crate::backend::lxc::Lxc::new(state_dir, &env.key(), settings)?)
            }
            Backend::Proxmox(settings) => {
                Box::new(crate::backend::proxmox::Proxmox::new(env, settings, state_dir)?)
            }
        };
        Ok(Self {
            env,
            engine,
            store: Store::new(state_dir, &env.key())?,
            state_dir: state_dir.to_owned(),
            reporter,
            parallel: parallel.filter(|&n| n > 0).unwrap_or(env.nodes.len()),
        })
    }

    /// The environment's state (a new one if nothing was deployed), made with this backend.
    pub fn load_state(&self) -> anyhow::Result<State> {
        let backend = self.env.backend.kind();
        let state = self
            .store
            .load()?
            .unwrap_or_else(|| State::new(&self.env.key(), backend));
        if state.backend != backend {
            bail!(
                "{} was deployed with backend {}; {} now says {backend} (destroy it first)",
                self.env.name,
                state.backend,
                self.env.file,
            );
        }
        Ok(state)
    }
}
