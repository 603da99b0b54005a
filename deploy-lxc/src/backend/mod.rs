//! The engines that run containers: [`lxc`] on this host, [`proxmox`] on a cluster through its
//! API. Both give deploy-lxc the same few verbs; the generation logic above them is shared.

pub mod lxc;
pub mod proxmox;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use lastmile_documents::deployment::NodeState;
use lastmile_fs::Sha256;
use serde::{Deserialize, Serialize};

use crate::env::Node;

/// What a container is doing, as its engine says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Running {
    Running,
    Stopped,
    Missing,
}

impl Running {
    /// As a deployment document says it.
    pub fn state(self) -> NodeState {
        match self {
            Running::Running => NodeState::Running,
            Running::Stopped => NodeState::Stopped,
            Running::Missing => NodeState::Missing,
        }
    }
}

/// A container as its engine names it: parsed once, when the state is read, never split again.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ContainerId {
    /// An LXC container on this host, by name.
    Lxc(String),
    /// A Proxmox VE container: its VMID on a node of the cluster, written `HOST/VMID`.
    Proxmox { host: String, vmid: u32 },
}

impl std::fmt::Display for ContainerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ContainerId::Lxc(name) => f.write_str(name),
            ContainerId::Proxmox { host, vmid } => write!(f, "{host}/{vmid}"),
        }
    }
}

/// A container name that is neither an LXC name nor `HOST/VMID`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?}: not a container (an LXC name, or a Proxmox HOST/VMID)")]
pub struct ContainerIdError(String);

impl std::str::FromStr for ContainerId {
    type Err = ContainerIdError;

    fn from_str(text: &str) -> Result<Self, ContainerIdError> {
        let error = || ContainerIdError(text.to_owned());
        let word =
            |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        match text.split_once('/') {
            Some((host, vmid)) if word(host) => {
                let vmid: u32 = vmid.parse().map_err(|_| error())?;
                Ok(ContainerId::Proxmox {
                    host: host.to_owned(),
                    vmid,
                })
            }
            None if word(text) => Ok(ContainerId::Lxc(text.to_owned())),
            _ => Err(error()),
        }
    }
}

impl Serialize for ContainerId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ContainerId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
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

/// What a node holds, as its engine can read it without entering it: for `status`, which names
/// every difference from its generation (drift).
#[derive(Debug, Clone, Default)]
pub struct Inspection {
    /// The image its root filesystem is made from, when the engine can tell.
    pub image: Option<Sha256>,
    /// Its `/etc/lastmile/node.env`; `None` when it has none.
    pub node_env: Option<String>,
    /// The roles whose target is enabled in it.
    pub enabled_roles: BTreeSet<String>,
    /// The roles whose target its image has.
    pub image_roles: BTreeSet<String>,
    /// Files of the image changed, added or removed in the node; `None` when the engine cannot
    /// tell (a node on a copy of the image).
    pub changed: Option<Vec<Changed>>,
}

/// A file of the image changed in a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    /// Inside the node (`/opt/lastmile/venv/...`).
    pub path: String,
    /// `changed`, `added` or `removed`.
    pub kind: &'static str,
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
    /// The container a node of a generation gets.
    fn container_id(&self, node: &Node, index: usize, generation: u64) -> ContainerId;
    /// Create (not start) the container of `node` in `generation`, with its own files.
    fn create(
        &self,
        node: &Node,
        container: &ContainerId,
        generation: u64,
        digest: &Sha256,
        files: &NodeFiles,
    ) -> anyhow::Result<()>;
    fn start(&self, container: &ContainerId) -> anyhow::Result<()>;
    fn stop(&self, container: &ContainerId) -> anyhow::Result<()>;
    /// Stop if needed and remove the container and everything made for it.
    fn destroy(&self, container: &ContainerId) -> anyhow::Result<()>;
    fn running(&self, container: &ContainerId) -> anyhow::Result<Running>;
    /// The command prefix that runs a program inside the container.
    fn exec_prefix(&self, container: &ContainerId) -> Vec<String>;
    /// Whether [`Engine::exec_prefix`] works from this host (for boot waits and checks inside).
    fn can_exec(&self) -> bool;
    /// Every container of this environment the engine holds (for leftovers and `status`).
    fn containers(&self) -> anyhow::Result<Vec<ContainerId>>;
    /// Containers running on this host under another state folder whose names start with one of
    /// `stems` (this environment's nodes): `(name, where)`. Only the LXC engine can see these.
    fn running_elsewhere(&self, _stems: &[String]) -> Vec<(String, PathBuf)> {
        Vec::new()
    }
    /// How a person lists the engine's containers by hand, when that is not the obvious way.
    fn listing_hint(&self) -> Option<String> {
        None
    }
    /// What on this host will keep `starting` more containers from booting, as warnings.
    fn preflight(&self, _starting: usize) -> Vec<String> {
        Vec::new()
    }
    /// The last lines its console printed, for a container that stopped while booting.
    fn console_tail(&self, _container: &ContainerId) -> Option<String> {
        None
    }
    /// What the container holds, for drift; `None` when this engine cannot read it.
    fn inspect(&self, _container: &ContainerId) -> anyhow::Result<Option<Inspection>> {
        Ok(None)
    }
    /// Remove images no generation of any environment uses any more.
    fn prune_images(&self, used: &BTreeSet<Sha256>) -> anyhow::Result<()>;
    /// The exact operations `plan` lists for creating and switching (for the API engine, its
    /// calls).
    fn describe_create(
        &self,
        node: &Node,
        container: &ContainerId,
        generation: u64,
        digest: &Sha256,
    ) -> Vec<String>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_ids_are_parsed_once() {
        let lxc: ContainerId = "lastmile-lab-monctl-3".parse().unwrap();
        assert_eq!(lxc, ContainerId::Lxc("lastmile-lab-monctl-3".into()));
        let pve: ContainerId = "pve1/10301".parse().unwrap();
        assert_eq!(
            pve,
            ContainerId::Proxmox {
                host: "pve1".into(),
                vmid: 10301
            }
        );
        assert_eq!(pve.to_string(), "pve1/10301");
        for bad in ["", "pve1/", "/100", "pve1/x", "a b", "pve1/../../access/acl"] {
            assert!(bad.parse::<ContainerId>().is_err(), "{bad}");
        }
    }
}
