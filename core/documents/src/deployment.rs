//! The `lastmile.deployment/v1` document: one candidate deployed (or refused) on one environment.
//! deploy-lxc prints it after `apply`, `rollback` and `status`; aqf-run reads it to know which
//! digest it qualifies, which nodes hold which roles at which address, and how to run a command
//! inside a node.

use std::collections::BTreeMap;

use lastmile_fs::Sha256;
use serde::{Deserialize, Serialize};

pub const SCHEMA: &str = "lastmile.deployment/v1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentDocument {
    pub schema: String,
    /// The environment's name (`lab`).
    pub environment: String,
    /// `lxc` or `proxmox`.
    pub backend: String,
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
    /// Generations kept for rollback, newest first.
    pub kept: Vec<KeptGeneration>,
    /// Milliseconds spent in each step (`verify`, `unpack`, `prepare`, `switch`, `revert`,
    /// `prune`, `total`).
    pub timings_ms: BTreeMap<String, u64>,
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
    pub address: String,
    pub roles: Vec<String>,
    /// The services it runs (those of its roles, and those without roles).
    pub services: Vec<String>,
    /// `running`, `stopped`, `failed`, `reverted` (back on the previous generation) or
    /// `missing`.
    pub state: String,
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

    fn check(&self) -> Result<(), String> {
        if self.candidate.is_some() != self.generation.is_some() {
            return Err("a candidate and its generation go together".to_owned());
        }
        let mut names = std::collections::BTreeSet::new();
        for node in &self.nodes {
            if !names.insert(&node.name) {
                return Err(format!("node {} is listed twice", node.name));
            }
            if node.exec.is_empty() {
                return Err(format!("node {} has no exec command", node.name));
            }
        }
        Ok(())
    }
}

impl DeploymentDocument {
    /// The nodes holding `role`.
    pub fn nodes_with_role<'a>(&'a self, role: &'a str) -> impl Iterator<Item = &'a DeployedNode> + 'a {
        self.nodes
            .iter()
            .filter(move |n| n.roles.iter().any(|r| r == role))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Document;

    fn document() -> DeploymentDocument {
        DeploymentDocument {
            schema: SCHEMA.to_owned(),
            environment: "lab".to_owned(),
            backend: "lxc".to_owned(),
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
                address: "127.77.0.2".to_owned(),
                roles: vec!["monctl".to_owned()],
                services: vec!["katproxy".to_owned()],
                state: "running".to_owned(),
                exec: vec!["lxc-attach".to_owned(), "--".to_owned()],
                health: Vec::new(),
                downtime_ms: Some(1200),
            }],
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
        let mut half = doc;
        half.generation = None;
        assert!(DeploymentDocument::from_json(&half.to_json(), "d.json").is_err());
    }
}
