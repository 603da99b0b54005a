//! The environment file (`--env FILE`): the nodes of one environment, their roles, addresses,
//! limits and networks, the values every node is given, and how health is checked.
//!
//! ```toml
//! name = "lab"
//! backend = "lxc"
//! keep = 2
//!
//! [config]
//! KATCP_LOG_LEVEL = "info"
//!
//! [health]
//! timeout = "60s"
//! retries = 3
//!
//! [nodes.monctl]
//! roles = ["monctl"]
//! address = "127.77.0.2"
//! network = "none"
//! memory = "512M"
//! cpus = 1
//! ```

mod proxmox;
mod raw;
mod values;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lastmile_fs::{InputError, Sha256};
use lastmile_settings::SettingsFile;
use serde::Deserialize;

pub use values::{Network, Pool};

/// A checked environment file.
#[derive(Debug, Clone)]
pub struct Environment {
    /// The file, as given (for messages).
    pub file: String,
    pub name: String,
    /// `state_dir`: where its state lives, as the file says (relative to the file's folder once
    /// [`load`]ed). `--state-dir` and `LASTMILE_STATE_DIR` may only repeat it.
    pub state_dir: Option<PathBuf>,
    pub backend: Backend,
    /// Old generations kept for rollback.
    pub keep: usize,
    /// Values given to every node in `node.env`.
    pub config: BTreeMap<String, String>,
    pub health: HealthSettings,
    /// Sorted by name.
    pub nodes: Vec<Node>,
    /// sha256 of everything above that shapes a node (not `keep`): a deploy of the current
    /// candidate with the same digest changes nothing.
    pub digest: Sha256,
    /// sha256 of the configuration a candidate is qualified with: the `[config]` values, each
    /// node's name, roles, address, network and limits, and the health rules. Not the plumbing
    /// (the engine's settings, where state lives, how many generations are kept): what the
    /// deployment document, the report and a promotion carry next to the candidate's digest.
    pub configuration: Sha256,
    /// `[pool] addresses`: where nodes without an address of their own take theirs from, per
    /// instance.
    pub pool: Option<Pool>,
    /// `--instance NAME`: this copy of the environment, with its own state, containers and (from
    /// the pool) addresses.
    pub instance: Option<String>,
}

impl Environment {
    /// What the state and the containers are named by: the environment's name, or
    /// `NAME.INSTANCE` for an instance (a `.` is in no environment name, so the two never meet).
    pub fn key(&self) -> String {
        match &self.instance {
            Some(instance) => format!("{}.{instance}", self.name),
            None => self.name.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    Lxc(LxcSettings),
    Proxmox(ProxmoxSettings),
}

impl Backend {
    /// Which engine, as the state and the deployment document record it.
    pub fn kind(&self) -> lastmile_documents::deployment::Backend {
        match self {
            Backend::Lxc(_) => lastmile_documents::deployment::Backend::Lxc,
            Backend::Proxmox(_) => lastmile_documents::deployment::Backend::Proxmox,
        }
    }

    pub fn name(&self) -> &'static str {
        self.kind().word()
    }
}

/// `[lxc]`: where the containers live on this host.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct LxcSettings {
    /// Prefix of every container name (`lastmile-lab-monctl-3`).
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// How a node gets its own root filesystem from the image: `overlay` (default; a copy where
    /// the kernel has no overlayfs) or `copy`.
    #[serde(default)]
    pub rootfs: RootfsKind,
}

impl Default for LxcSettings {
    fn default() -> Self {
        Self {
            prefix: default_prefix(),
            rootfs: RootfsKind::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RootfsKind {
    #[default]
    Overlay,
    Copy,
}

fn default_prefix() -> String {
    "lastmile-".to_owned()
}

/// `[proxmox]`: the cluster's API and where containers go.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProxmoxSettings {
    /// `https://pve.example.org:8006` (the API is under `/api2/json`).
    pub url: String,
    /// Allow a plain `http://` URL (the token then crosses the network in clear).
    #[serde(default)]
    pub insecure_http: bool,
    /// `USER@REALM!TOKENID`; the secret comes from the environment variable named by
    /// `token_secret_env` (never from this file).
    pub token: String,
    #[serde(default = "default_secret_env")]
    pub token_secret_env: String,
    /// The storage holding templates (`content=vztmpl`).
    #[serde(default = "default_template_storage")]
    pub template_storage: String,
    /// The storage for the containers' root disks.
    #[serde(default = "default_rootfs_storage")]
    pub rootfs_storage: String,
    /// Root disk size in GiB.
    #[serde(default = "default_disk")]
    pub disk_gb: u32,
    /// The Proxmox nodes containers may go on; a node without `host` goes on these in turn.
    pub hosts: Vec<String>,
    /// The command prefix that runs a program inside a container, `{host}` and `{vmid}`
    /// replaced: what aqf-run uses.
    #[serde(default = "default_exec")]
    pub exec: String,
    /// The first VMID deploy-lxc may use; it takes `vmid_base + generation * 100 + node index`.
    #[serde(default = "default_vmid_base")]
    pub vmid_base: u32,
}

fn default_secret_env() -> String {
    "PROXMOX_TOKEN_SECRET".to_owned()
}
fn default_template_storage() -> String {
    "local".to_owned()
}
fn default_rootfs_storage() -> String {
    "local-lvm".to_owned()
}
fn default_disk() -> u32 {
    4
}
fn default_exec() -> String {
    "ssh root@{host} pct exec {vmid} --".to_owned()
}
fn default_vmid_base() -> u32 {
    10_000
}

/// `[health]`: how long a node may take to boot and pass every check, and how often a failing
/// service is restarted before the node counts as failed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HealthSettings {
    pub timeout: Duration,
    pub retries: u32,
    pub interval: Duration,
}

/// One node of the environment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Node {
    pub name: String,
    pub roles: Vec<String>,
    pub address: Ipv4Addr,
    pub network: Network,
    /// Bytes.
    pub memory: Option<u64>,
    pub cpus: Option<u32>,
    /// The Proxmox node it goes on.
    pub host: Option<String>,
    /// Its address comes from the environment's pool (the instance's claim), not the file.
    pub pooled: bool,
}

impl Node {
    /// `LASTMILE_ADDR_<NODE>`: the name upper-cased, `-` as `_`.
    pub fn env_name(&self) -> String {
        env_word(&self.name)
    }
}

pub use lastmile_documents::deployment::env_word;

/// Read and check an environment file.
pub fn load(path: &Path) -> Result<Environment, InputError> {
    let mut env = raw::read(&lastmile_settings::load(path)?)?;
    if let Some(dir) = &env.state_dir
        && dir.is_relative()
    {
        env.state_dir = Some(path.parent().unwrap_or(Path::new(".")).join(dir));
    }
    Ok(env)
}

/// Where the state lives when neither the environment file nor `--state-dir` says.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/lastmile";

/// The state folder: the one `--state-dir` (or `LASTMILE_STATE_DIR`) gives, the environment
/// file's, or the default. Given both, they must be the same folder: one environment's state
/// lives in one place, or `status` would report nothing about containers that run.
pub fn state_dir(env: &Environment, given: Option<&Path>) -> Result<PathBuf, String> {
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    match (given, &env.state_dir) {
        (Some(given), Some(own)) if absolute(given) != absolute(own) => Err(format!(
            "state_dir is {}, but --state-dir (or LASTMILE_STATE_DIR) says {}: one environment's state lives in one place",
            own.display(),
            given.display()
        )),
        (Some(given), _) => Ok(given.to_path_buf()),
        (None, Some(own)) => Ok(own.clone()),
        (None, None) => Ok(PathBuf::from(DEFAULT_STATE_DIR)),
    }
}

/// Check an environment file's text; every error names the file, line and key.
pub fn parse(text: &str, file: &str) -> Result<Environment, InputError> {
    raw::read(&SettingsFile::new(file, text))
}

pub use lastmile_documents::names::valid_name;

#[cfg(test)]
mod tests;
