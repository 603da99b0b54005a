//! The `lastmile.deployment/v1` document: one candidate deployed (or refused) on one environment.
//! deploy-lxc prints it after `apply`, `rollback` and `status`; aqf-run reads it to know which
//! digest it qualifies, which nodes hold which roles at which address, and how to run a command
//! inside a node.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use lastmile_fs::Sha256;
use serde::{Deserialize, Serialize};

pub const SCHEMA: &str = "lastmile.deployment/v1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentDocument {
    pub schema: String,
    /// The environment's name (`lab`).
    pub environment: String,
    /// The instance of the environment (`deploy-lxc --instance NAME`): one of several copies of
    /// it on the same host, each with its own containers, addresses and state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    pub backend: Backend,
    /// What happened: see [`Outcome`].
    pub outcome: Outcome,
    /// The candidate now serving (after a failed apply: the one serving again; `None` when the
    /// environment runs nothing).
    pub candidate: Option<DeployedCandidate>,
    /// The generation now serving, counted per environment from 1.
    pub generation: Option<u64>,
    /// The candidate that was tried and refused, when the outcome is `reverted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<DeployedCandidate>,
    /// The nodes, sorted by name.
    pub nodes: Vec<DeployedNode>,
    /// The `[config]` values of the generation serving, which every node gets in `node.env`.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// The digest of the configuration the generation serving was made with: the `[config]`
    /// values, each node's name, roles, address, network and limits, and the health rules. What
    /// is qualified and promoted is this and the candidate's digest, together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<Sha256>,
    /// Generations kept for rollback, newest first.
    pub kept: Vec<KeptGeneration>,
    /// Milliseconds spent in each step (`verify`, `unpack`, `prepare`, `switch`, `revert`,
    /// `prune`, `total`).
    pub timings_ms: BTreeMap<String, u64>,
}

/// The engine that runs an environment's containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// LXC containers on this host.
    Lxc,
    /// Containers on a Proxmox VE cluster, through its API.
    Proxmox,
}

impl Backend {
    pub fn word(self) -> &'static str {
        match self {
            Backend::Lxc => "lxc",
            Backend::Proxmox => "proxmox",
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.word())
    }
}

/// What a node's container is doing, or what happened to it in a failed switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeState {
    Running,
    Stopped,
    /// Its new container failed its checks.
    Failed,
    /// Back on the previous generation after a failed switch.
    Reverted,
    /// Its container does not exist.
    Missing,
}

impl NodeState {
    pub fn word(self) -> &'static str {
        match self {
            NodeState::Running => "running",
            NodeState::Stopped => "stopped",
            NodeState::Failed => "failed",
            NodeState::Reverted => "reverted",
            NodeState::Missing => "missing",
        }
    }
}

impl std::fmt::Display for NodeState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.word())
    }
}

/// How a deploy-lxc command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The candidate was switched to on every node and every node is healthy.
    Deployed,
    /// The candidate was already current: nothing was touched.
    Unchanged,
    /// A node failed its checks: every switched node went back to the previous generation.
    Reverted,
    /// `rollback`: the previous kept generation serves again.
    RolledBack,
    /// `status`: what runs, as found.
    Status,
    /// `destroy`: nothing of the environment is left.
    Destroyed,
}

impl Outcome {
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Deployed => "deployed",
            Outcome::Unchanged => "unchanged",
            Outcome::Reverted => "reverted",
            Outcome::RolledBack => "rolled-back",
            Outcome::Status => "status",
            Outcome::Destroyed => "destroyed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployedCandidate {
    /// sha256 of the image file: the candidate's identity, what aqf-run promotes.
    pub digest: Sha256,
    /// The image file deployed (`autobuild-<digest>.tar.gz`).
    pub image: String,
    /// Source repositories and the commits they were built from, from the candidate document.
    pub source_commits: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployedNode {
    pub name: String,
    /// The container serving it (an LXC name, or a Proxmox `NODE/VMID`).
    pub container: String,
    /// The address its services bind and its checks use.
    pub address: Ipv4Addr,
    pub roles: Vec<String>,
    /// The services it runs (those of its roles, and those without roles).
    pub services: Vec<String>,
    pub state: NodeState,
    /// The command prefix that runs a program inside the node (`lxc-attach -P .. -n .. --`).
    pub exec: Vec<String>,
    pub health: Vec<HealthResult>,
    /// Milliseconds between the old container stopping and the new one answering every check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub downtime_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthResult {
    /// The service checked, or `systemd` for the boot itself.
    pub service: String,
    /// `tcp:127.77.0.2:7147`, `http://127.77.0.4:8080/health` or `systemctl is-system-running`.
    pub check: String,
    pub ok: bool,
    pub attempts: u32,
    pub elapsed_ms: u64,
    /// What the last attempt said (the error, or the state).
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeptGeneration {
    pub generation: u64,
    pub digest: Sha256,
}

impl crate::Document for DeploymentDocument {
    const SCHEMA: &'static str = SCHEMA;
    const JSON_SCHEMA: &'static str = include_str!("../../../schemas/deployment.v1.schema.json");

    /// Every name is one the environment file could have held, and every node's `exec` is
    /// what deploy-lxc writes for the backend: aqf-run runs it, and pastes the names into argv.
    fn check(&self) -> Result<(), String> {
        use crate::names::{valid_config_name, valid_name, valid_role, valid_unit_name};
        if self.candidate.is_some() != self.generation.is_some() {
            return Err("a candidate and its generation go together".to_owned());
        }
        if !valid_name(&self.environment) {
            return Err(format!(
                "environment {:?}: lower-case letters, digits and - only",
                self.environment
            ));
        }
        if let Some(key) = self.config.keys().find(|k| !valid_config_name(k)) {
            return Err(format!("config {key:?}: not a variable name deploy-lxc writes"));
        }
        let mut names = std::collections::BTreeSet::new();
        for node in &self.nodes {
            let name = &node.name;
            if !valid_name(name) {
                return Err(format!("node {name:?}: lower-case letters, digits and - only"));
            }
            if !names.insert(name) {
                return Err(format!("node {name} is listed twice"));
            }
            if let Some(role) = node.roles.iter().find(|r| !valid_role(r)) {
                return Err(format!("node {name}: role {role:?} is not a role name"));
            }
            if let Some(service) = node.services.iter().find(|s| !valid_unit_name(s)) {
                return Err(format!("node {name}: service {service:?} is not a unit name"));
            }
            crate::exec::check_exec(self.backend, &node.container, &node.exec)
                .map_err(|why| format!("node {name}: {why}"))?;
        }
        Ok(())
    }
}

impl DeploymentDocument {
    /// The variables a node gets in `/etc/lastmile/node.env` (deploy-lxc writes them there, and
    /// aqf-run gives them to a test about the node), in the order they are written: who it is,
    /// the generation and candidate, where every node and role is, then the `[config]` values.
    /// With no node: the same without the node's own.
    pub fn variables(&self, node: Option<&DeployedNode>) -> Vec<(String, String)> {
        let mut vars = vec![("LASTMILE_ENV".to_owned(), self.environment.clone())];
        if let Some(instance) = &self.instance {
            vars.push(("LASTMILE_INSTANCE".to_owned(), instance.clone()));
        }
        if let Some(node) = node {
            vars.extend([
                ("LASTMILE_NODE".to_owned(), node.name.clone()),
                ("LASTMILE_ROLES".to_owned(), node.roles.join(" ")),
                ("LASTMILE_NODE_ADDR".to_owned(), node.address.to_string()),
            ]);
        }
        if let Some(generation) = self.generation {
            vars.push(("LASTMILE_GENERATION".to_owned(), generation.to_string()));
        }
        if let Some(candidate) = &self.candidate {
            vars.push(("LASTMILE_CANDIDATE".to_owned(), candidate.digest.to_string()));
        }
        if let Some(configuration) = &self.configuration {
            vars.push(("LASTMILE_CONFIGURATION".to_owned(), configuration.to_string()));
        }
        for other in &self.nodes {
            vars.push((
                format!("LASTMILE_ADDR_{}", env_word(&other.name)),
                other.address.to_string(),
            ));
        }
        let mut by_role: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for other in &self.nodes {
            for role in &other.roles {
                by_role.entry(role).or_default().push(other.address.to_string());
            }
        }
        for (role, addresses) in by_role {
            vars.push((format!("LASTMILE_ROLE_{}", env_word(role)), addresses.join(" ")));
        }
        vars.extend(self.config.iter().map(|(k, v)| (k.clone(), v.clone())));
        vars
    }

    /// The nodes holding `role`.
    pub fn nodes_with_role<'a>(&'a self, role: &'a str) -> impl Iterator<Item = &'a DeployedNode> + 'a {
        self.nodes
            .iter()
            .filter(move |n| n.roles.iter().any(|r| r == role))
    }
}

/// A node or role name as part of a variable's name: upper-cased, `-` as `_`
/// (`LASTMILE_ADDR_SIM_1`).
pub fn env_word(name: &str) -> String {
    name.to_ascii_uppercase().replace('-', "_")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Document;

    fn document() -> DeploymentDocument {
        DeploymentDocument {
            schema: SCHEMA.to_owned(),
            environment: "lab".to_owned(),
            instance: None,
            backend: Backend::Lxc,
            outcome: Outcome::Deployed,
            candidate: Some(DeployedCandidate {
                digest: Sha256::of(b"image"),
                image: "autobuild-0123456789ab.tar.gz".to_owned(),
                source_commits: BTreeMap::new(),
            }),
            generation: Some(1),
            refused: None,
            nodes: vec![DeployedNode {
                name: "monctl".to_owned(),
                container: "lastmile-lab-monctl-1".to_owned(),
                address: "127.77.0.2".parse().unwrap(),
                roles: vec!["monctl".to_owned()],
                services: vec!["katproxy".to_owned()],
                state: NodeState::Running,
                exec: "lxc-attach -P /var/lib/lastmile/lab/lxc -n lastmile-lab-monctl-1 --clear-env --set-var PATH=/usr/bin --"
                    .split(' ')
                    .map(str::to_owned)
                    .collect(),
                health: Vec::new(),
                downtime_ms: Some(1200),
            }],
            config: [("KATCP_LOG_LEVEL".to_owned(), "info".to_owned())].into(),
            configuration: Some(Sha256::of(b"configuration")),
            kept: Vec::new(),
            timings_ms: BTreeMap::new(),
        }
    }

    #[test]
    fn round_trips_and_refuses_what_does_not_fit() {
        let doc = document();
        let back = DeploymentDocument::from_json(&doc.to_json(), "d.json").unwrap();
        assert_eq!(back, doc);
        assert_eq!(doc.nodes_with_role("monctl").count(), 1);
        let mut twice = doc.clone();
        twice.nodes.push(twice.nodes[0].clone());
        let err = DeploymentDocument::from_json(&twice.to_json(), "d.json").unwrap_err();
        assert!(err.to_string().contains("listed twice"), "{err}");
        let mut half = doc.clone();
        half.generation = None;
        assert!(DeploymentDocument::from_json(&half.to_json(), "d.json").is_err());
        // A document whose exec runs something else on the host is refused when read.
        let mut hostile = doc.clone();
        hostile.nodes[0].exec = vec!["sh".into(), "-c".into(), "touch /tmp/x".into(), "--".into()];
        let err = DeploymentDocument::from_json(&hostile.to_json(), "d.json").unwrap_err();
        assert!(err.to_string().contains("node monctl: exec"), "{err}");
        let mut named = doc;
        named.nodes[0].name = "x;touch /tmp/y".into();
        let err = DeploymentDocument::from_json(&named.to_json(), "d.json").unwrap_err();
        assert!(err.to_string().contains("lower-case letters"), "{err}");
    }

    #[test]
    fn a_node_is_told_who_it_is_and_where_the_others_are() {
        let mut doc = document();
        let mut sim = doc.nodes[0].clone();
        sim.name = "sim-1".to_owned();
        sim.address = "127.77.0.3".parse().unwrap();
        sim.roles = vec!["monctl".to_owned(), "sim".to_owned()];
        doc.nodes.push(sim);
        let vars = doc.variables(Some(&doc.nodes[1]));
        let names: Vec<&str> = vars.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "LASTMILE_ENV",
                "LASTMILE_NODE",
                "LASTMILE_ROLES",
                "LASTMILE_NODE_ADDR",
                "LASTMILE_GENERATION",
                "LASTMILE_CANDIDATE",
                "LASTMILE_CONFIGURATION",
                "LASTMILE_ADDR_MONCTL",
                "LASTMILE_ADDR_SIM_1",
                "LASTMILE_ROLE_MONCTL",
                "LASTMILE_ROLE_SIM",
                "KATCP_LOG_LEVEL"
            ]
        );
        let value = |name: &str| vars.iter().find(|(k, _)| k == name).unwrap().1.clone();
        assert_eq!(value("LASTMILE_ROLE_MONCTL"), "127.77.0.2 127.77.0.3");
        assert_eq!(value("LASTMILE_ROLES"), "monctl sim");
        assert_eq!(value("LASTMILE_GENERATION"), "1");
        // For the host, the same without a node's own.
        assert!(
            doc.variables(None)
                .iter()
                .all(|(k, _)| !k.starts_with("LASTMILE_NODE"))
        );
    }
}
