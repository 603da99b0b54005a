//! The environment file as written, read by serde with the place of every value, and the checks
//! that make it an [`Environment`]: each step one function, each error at the line of its key.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use lastmile_fs::{InputError, Sha256};
use lastmile_settings::{SettingsFile, Spanned};
use serde::Deserialize;

use super::values::{ConfigValue, Network, Pool, Size};
use super::{Backend, Environment, HealthSettings, LxcSettings, Node, ProxmoxSettings, env_word, valid_name};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnvironment {
    name: Spanned<String>,
    backend: Spanned<BackendKind>,
    #[serde(default = "default_keep")]
    keep: usize,
    /// Where the environment's state, images and containers live (relative to this file).
    state_dir: Option<Spanned<String>>,
    #[serde(default)]
    config: BTreeMap<String, Spanned<ConfigValue>>,
    #[serde(default)]
    health: RawHealth,
    lxc: Option<Spanned<LxcSettings>>,
    proxmox: Option<Spanned<ProxmoxSettings>>,
    /// Where nodes without an address take theirs from, per instance.
    pool: Option<Spanned<RawPool>>,
    #[serde(default)]
    nodes: BTreeMap<String, Spanned<RawNode>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPool {
    addresses: Spanned<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum BackendKind {
    Lxc,
    Proxmox,
}

fn default_keep() -> usize {
    2
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHealth {
    #[serde(default = "default_timeout")]
    timeout: Spanned<lastmile_settings::Duration>,
    #[serde(default = "default_retries")]
    retries: u32,
    #[serde(default = "default_interval")]
    interval: lastmile_settings::Duration,
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

fn default_timeout() -> Spanned<lastmile_settings::Duration> {
    Spanned::new(
        0..0,
        lastmile_settings::Duration(std::time::Duration::from_secs(60)),
    )
}
fn default_retries() -> u32 {
    1
}
fn default_interval() -> lastmile_settings::Duration {
    lastmile_settings::Duration(std::time::Duration::from_millis(250))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    roles: Option<Spanned<Vec<String>>>,
    address: Option<Spanned<Ipv4Addr>>,
    network: Option<Spanned<Network>>,
    memory: Option<Spanned<Size>>,
    cpus: Option<Spanned<u32>>,
    host: Option<Spanned<String>>,
}

/// Read and check an environment file.
pub(super) fn read(file: &SettingsFile) -> Result<Environment, InputError> {
    let raw: RawEnvironment = file.parse()?;
    if !valid_name(raw.name.get_ref()) {
        return Err(file.error_at(
            &raw.name,
            format!(
                "name: {:?}: an environment name holds lower-case letters, digits and - (it is part of container names)",
                raw.name.get_ref()
            ),
        ));
    }
    let backend = backend(file, &raw)?;
    let config = config(file, &raw.config)?;
    let pool = pool(file, &raw, &backend)?;
    let nodes = nodes(file, &raw, &backend, pool.as_ref())?;
    if raw.health.timeout.get_ref().0.is_zero() {
        return Err(file.error_at(&raw.health.timeout, "health.timeout: more than 0s"));
    }
    let health = HealthSettings {
        timeout: raw.health.timeout.get_ref().0,
        retries: raw.health.retries,
        interval: raw.health.interval.0,
    };
    if let Some(dir) = &raw.state_dir
        && dir.get_ref().trim().is_empty()
    {
        return Err(file.error_at(dir, "state_dir: a folder"));
    }
    let name = raw.name.into_inner();
    let configuration = configuration_digest(&config, &health, &nodes, pool.as_ref());
    let digest = shape_digest(&name, &backend, &config, &health, &nodes);
    Ok(Environment {
        file: file.name().to_owned(),
        name,
        state_dir: raw.state_dir.map(|d| std::path::PathBuf::from(d.into_inner())),
        backend,
        keep: raw.keep,
        config,
        health,
        nodes,
        digest,
        configuration,
        pool,
        instance: None,
    })
}

/// `[pool] addresses`: a loopback range, for LXC nodes on the host's network.
fn pool(file: &SettingsFile, raw: &RawEnvironment, backend: &Backend) -> Result<Option<Pool>, InputError> {
    let Some(spanned) = &raw.pool else {
        return Ok(None);
    };
    let addresses = &spanned.get_ref().addresses;
    if matches!(backend, Backend::Proxmox(_)) {
        return Err(file.error_at(
            spanned,
            "[pool] is for backend = \"lxc\": instances of an environment run on one host",
        ));
    }
    let pool = Pool::parse(addresses.get_ref())
        .map_err(|e| file.error_at(addresses, format!("pool.addresses: {}", e.0)))?;
    let pooled = raw
        .nodes
        .values()
        .filter(|n| {
            n.get_ref()
                .network
                .as_ref()
                .is_none_or(|n| *n.get_ref() == Network::None)
        })
        .count() as u64;
    if pool.size() < pooled {
        return Err(file.error_at(
            addresses,
            format!(
                "pool.addresses: {} holds {} addresses, fewer than the {pooled} nodes that take one",
                pool,
                pool.size()
            ),
        ));
    }
    Ok(Some(pool))
}

/// The engine's table: `[lxc]` (optional) or `[proxmox]` (required), never the other's.
fn backend(file: &SettingsFile, raw: &RawEnvironment) -> Result<Backend, InputError> {
    match raw.backend.get_ref() {
        BackendKind::Lxc => {
            if let Some(proxmox) = &raw.proxmox {
                return Err(file.error_at(proxmox, "[proxmox] is for backend = \"proxmox\""));
            }
            let lxc = raw.lxc.as_ref().map(|l| l.get_ref().clone()).unwrap_or_default();
            let valid = lxc
                .prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !valid {
                let at = raw.lxc.as_ref().map_or(raw.backend.span(), Spanned::span);
                return Err(file.error(at, "lxc.prefix: letters, digits, - and _ only"));
            }
            Ok(Backend::Lxc(lxc))
        }
        BackendKind::Proxmox => {
            if let Some(lxc) = &raw.lxc {
                return Err(file.error_at(lxc, "[lxc] is for backend = \"lxc\""));
            }
            let Some(proxmox) = &raw.proxmox else {
                return Err(file.error_at(
                    &raw.backend,
                    "backend = \"proxmox\" needs a [proxmox] table (url, token, hosts)",
                ));
            };
            super::proxmox::check(proxmox.get_ref())
                .map_err(|m| file.error_at(proxmox, format!("proxmox: {m}")))?;
            Ok(Backend::Proxmox(proxmox.get_ref().clone()))
        }
    }
}

/// `[config]`: names a shell and systemd both read, none of deploy-lxc's own `LASTMILE_*`.
fn config(
    file: &SettingsFile,
    raw: &BTreeMap<String, Spanned<ConfigValue>>,
) -> Result<BTreeMap<String, String>, InputError> {
    let mut config = BTreeMap::new();
    for (key, value) in raw {
        if !lastmile_documents::names::valid_config_name(key) {
            return Err(file.error_at(
                value,
                format!(
                    "config.{key}: a name of letters, digits and _ not starting with a digit, and not LASTMILE_ (those are deploy-lxc's)"
                ),
            ));
        }
        config.insert(key.clone(), value.get_ref().0.clone());
    }
    Ok(config)
}

/// `[nodes.NAME]`, sorted by name: each checked alone, then against the others.
fn nodes(
    file: &SettingsFile,
    raw: &RawEnvironment,
    backend: &Backend,
    pool: Option<&Pool>,
) -> Result<Vec<Node>, InputError> {
    if raw.nodes.is_empty() {
        return Err(file.error_in_file("no [nodes.NAME] table: an environment has at least one node"));
    }
    let mut nodes = Vec::new();
    let mut addresses: BTreeMap<Ipv4Addr, &str> = BTreeMap::new();
    let mut env_names: BTreeMap<String, &str> = BTreeMap::new();
    // Until an instance claims its own, pooled nodes show the pool's first addresses.
    let mut provisional = pool.into_iter().flat_map(Pool::addresses);
    for (name, spanned) in &raw.nodes {
        let mut node = node(file, name, spanned, backend, pool)?;
        if node.pooled {
            node.address = provisional
                .next()
                .expect("the pool holds an address for every node");
        }
        let here = |value_span, message: String| file.error(value_span, format!("nodes.{name}{message}"));
        if let Some(address) = spanned.get_ref().address.as_ref()
            && let Some(other) = addresses.insert(node.address, name)
        {
            return Err(here(
                address.span(),
                format!(".address: {} is already node {other}'s address", node.address),
            ));
        }
        if let Some(other) = env_names.insert(env_word(name), name) {
            return Err(here(
                spanned.span(),
                format!(
                    ": LASTMILE_ADDR_{} would name both {other} and {name}",
                    env_word(name)
                ),
            ));
        }
        nodes.push(node);
    }
    Ok(nodes)
}

/// One node's own rules: its name, roles, network for its address, limits and host.
fn node(
    file: &SettingsFile,
    name: &str,
    spanned: &Spanned<RawNode>,
    backend: &Backend,
    pool: Option<&Pool>,
) -> Result<Node, InputError> {
    let raw = spanned.get_ref();
    let error = |span, key: &str, message: String| file.error(span, format!("nodes.{name}{key}: {message}"));
    if !valid_name(name) {
        return Err(error(
            spanned.span(),
            "",
            "a node name holds lower-case letters, digits and -".into(),
        ));
    }
    let no_roles = Vec::new();
    let roles = raw.roles.as_ref().map_or(&no_roles, |r| r.get_ref());
    if let Some(role) = roles
        .iter()
        .find(|r| !lastmile_documents::candidate::valid_role(r))
    {
        return Err(error(
            raw.roles.as_ref().map_or(spanned.span(), Spanned::span),
            ".roles",
            format!("{role:?}: a role holds lower-case letters, digits, - and _"),
        ));
    }
    let network = raw
        .network
        .as_ref()
        .map(|n| n.get_ref().clone())
        .unwrap_or_default();
    let (address, pooled) = address(file, name, spanned, &network, pool)?;
    let network_span = raw
        .network
        .as_ref()
        .map(Spanned::span)
        .or(raw.address.as_ref().map(Spanned::span))
        .unwrap_or(spanned.span());
    // (A pooled node's address comes from the pool, which holds loopback addresses only.)
    if !pooled {
        network
            .check(address)
            .map_err(|m| error(network_span, ".network", m.0))?;
    }
    if let Some(cpus) = &raw.cpus
        && *cpus.get_ref() == 0
    {
        return Err(error(cpus.span(), ".cpus", "at least 1".into()));
    }
    if let Some(memory) = &raw.memory
        && memory.get_ref().0 < 16 << 20
    {
        return Err(error(memory.span(), ".memory", "at least 16M".into()));
    }
    if let (Backend::Proxmox(proxmox), Some(host)) = (backend, &raw.host)
        && !proxmox.hosts.contains(host.get_ref())
    {
        return Err(error(
            host.span(),
            ".host",
            format!("{:?} is not one of proxmox.hosts", host.get_ref()),
        ));
    }
    let mut roles = roles.clone();
    roles.sort();
    roles.dedup();
    Ok(Node {
        name: name.to_owned(),
        roles,
        address,
        pooled,
        network,
        memory: raw.memory.as_ref().map(|m| m.get_ref().0),
        cpus: raw.cpus.as_ref().map(|c| *c.get_ref()),
        host: raw.host.as_ref().map(|h| h.get_ref().clone()),
    })
}

/// sha256 of everything that shapes a node (not `keep`).
/// A node's address and whether it comes from the pool: a node on the host's network takes one
/// from `[pool]` when the file has one (and may not then fix its own), an isolated node has
/// 127.0.0.1, any other gives its own.
fn address(
    file: &SettingsFile,
    name: &str,
    spanned: &Spanned<RawNode>,
    network: &Network,
    pool: Option<&Pool>,
) -> Result<(Ipv4Addr, bool), InputError> {
    let given = spanned.get_ref().address.as_ref();
    match (given, network, pool) {
        (Some(address), Network::None, Some(_)) => Err(file.error_at(
            address,
            format!(
                "nodes.{name}.address: with [pool], a node on the host's network takes its address from the pool (two instances of the environment would share a fixed one); remove it"
            ),
        )),
        (None, Network::None, Some(_)) => Ok((Ipv4Addr::UNSPECIFIED, true)),
        (_, Network::Veth { .. }, Some(_)) => Err(file.error_at(
            spanned,
            format!(
                "nodes.{name}.network: [pool] is for nodes on the host's network (network = \"none\"); a veth node cannot be instantiated twice"
            ),
        )),
        (Some(address), _, _) => Ok((*address.get_ref(), false)),
        (None, Network::Empty, _) => Ok((Ipv4Addr::LOCALHOST, false)),
        (None, _, _) => Err(file.error_at(
            spanned,
            format!(
                "nodes.{name}.address: missing: give the node its address, or give the environment [pool] addresses = \"127.77.8.2-127.77.8.250\" to take them from"
            ),
        )),
    }
}

/// The configuration a candidate is qualified with (see [`Environment::configuration`]).
/// A pooled node's address is the instance's, not the configuration's: the pool is.
fn configuration_digest(
    config: &BTreeMap<String, String>,
    health: &HealthSettings,
    nodes: &[Node],
    pool: Option<&Pool>,
) -> Sha256 {
    let nodes: Vec<serde_json::Value> = nodes
        .iter()
        .map(|n| {
            serde_json::json!({
                "name": n.name, "roles": n.roles,
                "address": if n.pooled { None } else { Some(n.address) },
                "network": n.network, "memory": n.memory, "cpus": n.cpus,
            })
        })
        .collect();
    let mut shape = serde_json::json!({ "config": config, "health": health, "nodes": nodes });
    if let Some(pool) = pool {
        shape["pool"] = serde_json::Value::String(pool.to_string());
    }
    Sha256::of(shape.to_string())
}

fn shape_digest(
    name: &str,
    backend: &Backend,
    config: &BTreeMap<String, String>,
    health: &HealthSettings,
    nodes: &[Node],
) -> Sha256 {
    let shape = serde_json::json!({
        "name": name, "backend": backend.name(), "config": config, "health": health, "nodes": nodes,
        "lxc": match backend { Backend::Lxc(l) => serde_json::to_value(l).ok(), Backend::Proxmox(_) => None },
        "proxmox": match backend { Backend::Proxmox(p) => serde_json::to_value(p).ok(), Backend::Lxc(_) => None },
    });
    Sha256::of(shape.to_string())
}
