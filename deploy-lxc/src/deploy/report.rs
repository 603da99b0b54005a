//! The deployment document a run prints, the timings it holds, and the fault points the tests
//! kill a run at.

use std::collections::BTreeMap;
use std::time::Instant;

use lastmile_documents::deployment::{DeployedCandidate, DeploymentDocument, KeptGeneration, Outcome};

use crate::Context;
use crate::state::{GenerationNode, State};

/// For the tests that kill a deploy half-way: with `LASTMILE_FAULT=STEP` in its environment,
/// deploy-lxc kills itself with SIGKILL when it reaches STEP (`recorded`, `prepared`,
/// `switched-one`, `switched`), as `kill -9` or a power cut would: no destructor runs.
pub fn fault(step: &str) {
    if std::env::var_os("LASTMILE_FAULT").is_some_and(|s| s == step) {
        let _ = rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
    }
}

/// Timings of the steps, in milliseconds.
#[derive(Default)]
pub struct Timings(BTreeMap<String, u64>);

impl Timings {
    pub fn time<T>(&mut self, step: &str, work: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let value = work();
        *self.0.entry(step.to_owned()).or_default() += started.elapsed().as_millis() as u64;
        value
    }

    pub fn into_map(self, total: Instant) -> BTreeMap<String, u64> {
        let mut map = self.0;
        map.insert("total".to_owned(), total.elapsed().as_millis() as u64);
        map
    }
}

/// The document of a reverted deploy, carried by its error so the caller prints it too.
#[derive(Debug)]
pub struct Reverted(pub Box<DeploymentDocument>);

impl std::fmt::Display for Reverted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "deploying to {} failed", self.0.environment)
    }
}

pub fn document_node(
    _ctx: &Context,
    node: &GenerationNode,
    state: &str,
    health: Vec<lastmile_documents::deployment::HealthResult>,
) -> lastmile_documents::deployment::DeployedNode {
    lastmile_documents::deployment::DeployedNode {
        name: node.name.clone(),
        container: node.container.clone(),
        address: node.address.clone(),
        roles: node.roles.clone(),
        services: node.services.clone(),
        state: state.to_owned(),
        exec: node.exec.clone(),
        health,
        downtime_ms: None,
    }
}

pub fn document(
    ctx: &Context,
    state: &State,
    outcome: Outcome,
    nodes: Vec<lastmile_documents::deployment::DeployedNode>,
    refused: Option<DeployedCandidate>,
    timings_ms: BTreeMap<String, u64>,
) -> DeploymentDocument {
    let current = state.current_generation();
    DeploymentDocument {
        schema: lastmile_documents::deployment::SCHEMA.to_owned(),
        environment: ctx.env.name.clone(),
        backend: ctx.env.backend.name().to_owned(),
        outcome,
        candidate: current.map(|g| DeployedCandidate {
            digest: g.digest,
            image: g.image.clone(),
            source_commits: g.source_commits.clone(),
        }),
        generation: current.map(|g| g.number),
        refused,
        nodes,
        kept: state
            .kept()
            .iter()
            .map(|g| KeptGeneration {
                generation: g.number,
                digest: g.digest,
            })
            .collect(),
        timings_ms,
    }
}
