//! The engines that run containers: [`lxc`] on this host, [`proxmox`] on a cluster through its
//! API. Both give deploy-lxc the same few verbs; the generation logic above them is shared.

pub mod lxc;
pub mod proxmox;

use std::path::Path;

use lastmile_fs::Sha256;

use crate::env::Node;

/// What a container is doing, as its engine says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Running {
    Running,
    Stopped,
    Missing,
}

impl Running {
    pub fn word(self) -> &'static str {
        match self {
            Running::Running => "running",
            Running::Stopped => "stopped",
            Running::Missing => "missing",
        }
    }
}

/// The files deploy-lxc gives one node of one generation, outside the shared image: paths
/// inside the node's root filesystem with their contents, and links with their targets.
#[derive(Debug, Clone, Default)]
pub struct NodeFiles {
    pub files: Vec<(String, String)>,
    pub links: Vec<(String, String)>,
    /// The same values as `node.env`, for engines that can only pass an environment.
    pub environment: Vec<(String, String)>,
}

/// One engine.
pub trait Engine: Sync {
    /// Make the image available to [`Engine::create`] (unpack it into the store, upload it as a
    /// template); nothing when it already is.
    fn provide_image(
        &self,
        image: &Path,
        digest: &Sha256,
        reporter: &lastmile_cli::Reporter,
    ) -> anyhow::Result<()>;
    /// The container name a node of a generation gets.
    fn container_name(&self, node: &Node, index: usize, generation: u64) -> String;
    /// Create (not start) the container of `node` in `generation`, with its own files.
    fn create(
        &self,
        node: &Node,
        container: &str,
        generation: u64,
        digest: &Sha256,
        files: &NodeFiles,
    ) -> anyhow::Result<()>;
    fn start(&self, container: &str) -> anyhow::Result<()>;
    fn stop(&self, container: &str) -> anyhow::Result<()>;
    /// Stop if needed and remove the container and everything made for it.
    fn destroy(&self, container: &str) -> anyhow::Result<()>;
    fn running(&self, container: &str) -> anyhow::Result<Running>;
    /// The command prefix that runs a program inside the container, if the engine can.
    fn exec_prefix(&self, container: &str) -> Vec<String>;
    /// Whether [`Engine::exec_prefix`] works from this host (for boot waits and checks inside).
    fn can_exec(&self) -> bool;
    /// Every container of this environment the engine holds (for leftovers and `status`).
    fn containers(&self) -> anyhow::Result<Vec<String>>;
    /// Remove images no generation of any environment uses any more.
    fn prune_images(&self, used: &std::collections::BTreeSet<Sha256>) -> anyhow::Result<()>;
    /// The exact operations `plan` lists for creating and switching (for the API engine, its
    /// calls).
    fn describe_create(&self, node: &Node, container: &str, digest: &Sha256) -> Vec<String>;
}
