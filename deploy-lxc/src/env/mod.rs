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

mod values;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use lastmile_documents::settings::{from_toml, locate};
use lastmile_fs::{InputError, Sha256};
use serde::Deserialize;

pub use values::Network;
pub(crate) use values::{Size, Span};

/// A checked environment file.
#[derive(Debug, Clone)]
pub struct Environment {
    /// The file, as given (for messages).
    pub file: String,
    pub name: String,
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
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    Lxc(LxcSettings),
    Proxmox(ProxmoxSettings),
}

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Lxc(_) => "lxc",
            Backend::Proxmox(_) => "proxmox",
        }
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
}

impl Node {
    /// `LASTMILE_ADDR_<NODE>`: the name upper-cased, `-` as `_`.
    pub fn env_name(&self) -> String {
        env_word(&self.name)
    }
}

/// A name as part of an environment variable's name.
pub fn env_word(name: &str) -> String {
    name.to_ascii_uppercase().replace('-', "_")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnvironment {
    name: String,
    backend: String,
    #[serde(default = "default_keep")]
    keep: usize,
    #[serde(default)]
    config: BTreeMap<String, values::ConfigValue>,
    #[serde(default)]
    health: RawHealth,
    #[serde(default)]
    lxc: Option<LxcSettings>,
    #[serde(default)]
    proxmox: Option<ProxmoxSettings>,
    nodes: BTreeMap<String, RawNode>,
}

fn default_keep() -> usize {
    2
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHealth {
    #[serde(default = "default_timeout")]
    timeout: Span,
    #[serde(default = "default_retries")]
    retries: u32,
    #[serde(default = "default_interval")]
    interval: Span,
}

impl Default for RawHealth {
    fn default() -> Self {
        Self {
            timeout: default_timeout(),
            retries: default_retries(),
            interval: default_interval(),
        }
    }
}

fn default_timeout() -> Span {
    Span(Duration::from_secs(60))
}
fn default_retries() -> u32 {
    1
}
fn default_interval() -> Span {
    Span(Duration::from_millis(250))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    #[serde(default)]
    roles: Vec<String>,
    address: Ipv4Addr,
    #[serde(default)]
    network: Network,
    memory: Option<Size>,
    cpus: Option<u32>,
    host: Option<String>,
}

/// Read and check an environment file.
pub fn load(path: &Path) -> anyhow::Result<Environment> {
    let file = path.display().to_string();
    let text = lastmile_fs::read_text(path).map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
    Ok(parse(&text, &file)?)
}

/// Check an environment file's text; every error names the file, line and key.
pub fn parse(text: &str, file: &str) -> Result<Environment, InputError> {
    let raw: RawEnvironment = from_toml(text, file)?;
    let at = |table: &str, key: Option<&str>, message: String| {
        InputError::new(locate(text, file, table, key), message)
    };
    if !valid_name(&raw.name) {
        return Err(at(
            "",
            Some("name"),
            format!(
                "name: {:?}: an environment name holds lower-case letters, digits and - (it is part of container names)",
                raw.name
            ),
        ));
    }
    let backend = match raw.backend.as_str() {
        "lxc" => {
            if raw.proxmox.is_some() {
                return Err(at(
                    "proxmox",
                    None,
                    "[proxmox] is for backend = \"proxmox\"".into(),
                ));
            }
            let lxc = raw.lxc.unwrap_or_default();
            if !lxc
                .prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(at(
                    "lxc",
                    Some("prefix"),
                    "lxc.prefix: letters, digits, - and _ only".into(),
                ));
            }
            Backend::Lxc(lxc)
        }
        "proxmox" => {
            let Some(proxmox) = raw.proxmox else {
                return Err(at(
                    "",
                    Some("backend"),
                    "backend = \"proxmox\" needs a [proxmox] table (url, token, hosts)".into(),
                ));
            };
            check_proxmox(&proxmox).map_err(|m| at("proxmox", None, format!("proxmox: {m}")))?;
            Backend::Proxmox(proxmox)
        }
        other => {
            return Err(at(
                "",
                Some("backend"),
                format!("backend: {other:?}: expected \"lxc\" or \"proxmox\""),
            ));
        }
    };
    let mut config = BTreeMap::new();
    for (key, value) in raw.config {
        let valid = key
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid || key.starts_with("LASTMILE_") {
            return Err(at(
                "config",
                Some(&key),
                format!(
                    "config.{key}: a name of letters, digits and _ not starting with a digit, and not LASTMILE_ (those are deploy-lxc's)"
                ),
            ));
        }
        config.insert(key, value.0);
    }
    if raw.nodes.is_empty() {
        return Err(at(
            "",
            None,
            "no [nodes.NAME] table: an environment has at least one node".into(),
        ));
    }
    let mut nodes = Vec::new();
    let mut addresses: BTreeMap<Ipv4Addr, String> = BTreeMap::new();
    let mut env_names: BTreeMap<String, String> = BTreeMap::new();
    for (name, raw_node) in raw.nodes {
        let table = format!("nodes.{name}");
        let here = |key: Option<&str>, message: String| {
            at(
                &table,
                key,
                format!(
                    "{table}{}: {message}",
                    key.map(|k| format!(".{k}")).unwrap_or_default()
                ),
            )
        };
        if !valid_name(&name) {
            return Err(here(
                None,
                "a node name holds lower-case letters, digits and -".into(),
            ));
        }
        for role in &raw_node.roles {
            if !lastmile_documents::candidate::valid_role(role) {
                return Err(here(
                    Some("roles"),
                    format!("{role:?}: a role holds lower-case letters, digits, - and _"),
                ));
            }
        }
        raw_node
            .network
            .check(raw_node.address)
            .map_err(|m| here(Some("network"), m))?;
        if let Some(other) = addresses.insert(raw_node.address, name.clone()) {
            return Err(here(
                Some("address"),
                format!("{} is already node {other}'s address", raw_node.address),
            ));
        }
        if let Some(other) = env_names.insert(env_word(&name), name.clone()) {
            return Err(here(
                None,
                format!(
                    "LASTMILE_ADDR_{} would name both {other} and {name}",
                    env_word(&name)
                ),
            ));
        }
        if raw_node.cpus == Some(0) {
            return Err(here(Some("cpus"), "at least 1".into()));
        }
        if let Some(memory) = &raw_node.memory
            && memory.0 < 16 << 20
        {
            return Err(here(Some("memory"), "at least 16M".into()));
        }
        if let Backend::Proxmox(proxmox) = &backend
            && let Some(host) = &raw_node.host
            && !proxmox.hosts.contains(host)
        {
            return Err(here(
                Some("host"),
                format!("{host:?} is not one of proxmox.hosts"),
            ));
        }
        let mut roles = raw_node.roles;
        roles.sort();
        roles.dedup();
        nodes.push(Node {
            name,
            roles,
            address: raw_node.address,
            network: raw_node.network,
            memory: raw_node.memory.map(|m| m.0),
            cpus: raw_node.cpus,
            host: raw_node.host,
        });
    }
    let health = HealthSettings {
        timeout: raw.health.timeout.0,
        retries: raw.health.retries,
        interval: raw.health.interval.0,
    };
    if health.timeout.is_zero() {
        return Err(at(
            "health",
            Some("timeout"),
            "health.timeout: more than 0s".into(),
        ));
    }
    let shape = serde_json::json!({
        "name": raw.name, "backend": backend.name(), "config": config, "health": health, "nodes": nodes,
        "lxc": match &backend { Backend::Lxc(l) => serde_json::to_value(l).ok(), Backend::Proxmox(_) => None },
        "proxmox": match &backend { Backend::Proxmox(p) => serde_json::to_value(p).ok(), Backend::Lxc(_) => None },
    });
    Ok(Environment {
        file: file.to_owned(),
        name: raw.name,
        backend,
        keep: raw.keep,
        config,
        health,
        nodes,
        digest: Sha256::of(shape.to_string()),
    })
}

fn check_proxmox(settings: &ProxmoxSettings) -> Result<(), String> {
    let url = url::Url::parse(&settings.url).map_err(|e| format!("url {:?}: {e}", settings.url))?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(format!("url {:?}: expected https://HOST:8006", settings.url));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("url: no credentials in the URL; give token and token_secret_env".into());
    }
    // The token is never echoed: a secret pasted into it must not reach a log.
    let valid = settings.token.split_once('!').is_some_and(|(user, id)| {
        user.contains('@') && !id.is_empty() && !settings.token.contains(['=', ' ', ':'])
    });
    if !valid {
        return Err(format!(
            "token: expected USER@REALM!TOKENID (the secret goes in ${}, not here)",
            settings.token_secret_env
        ));
    }
    if settings.hosts.is_empty() {
        return Err("hosts: name at least one Proxmox node".into());
    }
    if !settings.exec.contains("{vmid}") {
        return Err("exec: the command must name {vmid}".into());
    }
    if settings.vmid_base < 100 {
        return Err("vmid_base: Proxmox VMIDs start at 100".into());
    }
    Ok(())
}

/// Environment and node names: part of container names and of variables.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests;
