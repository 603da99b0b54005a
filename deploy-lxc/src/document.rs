//! The `lastmile.deployment/v1` document a run prints, made from the state; the timings it holds;
//! the document of a reverted deploy, carried by its error.

use std::collections::BTreeMap;
use std::time::Instant;

use lastmile_documents::deployment::{
    DeployedCandidate, DeployedNode, DeploymentDocument, HealthResult, KeptGeneration, NodeState, Outcome,
};

use crate::context::Context;
use crate::state::{Generation, GenerationNode, State};

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

/// A node of a generation as the document shows it.
pub fn node(node: &GenerationNode, state: NodeState, health: Vec<HealthResult>) -> DeployedNode {
    DeployedNode {
        name: node.name.clone(),
        container: node.container.to_string(),
        address: node.address,
        roles: node.roles.clone(),
        services: node.services.clone(),
        state,
        exec: node.exec.clone(),
        health,
        downtime_ms: None,
    }
}

fn candidate(generation: &Generation) -> DeployedCandidate {
    DeployedCandidate {
        digest: generation.digest,
        image: generation.image.clone(),
        source_commits: generation.source_commits.clone(),
    }
}

/// The document after a command: what serves now (the state's current generation), `nodes`,
/// and the candidate refused, if one was.
pub fn document(
    ctx: &Context,
    state: &State,
    outcome: Outcome,
    nodes: Vec<DeployedNode>,
    refused: Option<&Generation>,
    timings_ms: BTreeMap<String, u64>,
) -> DeploymentDocument {
    let current = state.current_generation();
    let (config, configuration) = configuration(ctx, current);
    DeploymentDocument {
        schema: lastmile_documents::deployment::SCHEMA.to_owned(),
        environment: ctx.env.name.clone(),
        instance: ctx.env.instance.clone(),
        backend: ctx.env.backend.kind(),
        outcome,
        candidate: current.map(candidate),
        generation: current.map(|g| g.number),
        refused: refused.map(candidate),
        nodes,
        config,
        configuration,
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

/// The `[config]` values and the configuration digest of the generation serving, as it was made
/// (a state from before they were recorded: the environment file's values, no digest); with
/// none serving, the environment file's values.
fn configuration(
    ctx: &Context,
    current: Option<&Generation>,
) -> (BTreeMap<String, String>, Option<lastmile_fs::Sha256>) {
    match current {
        Some(g) if g.configuration.is_some() => (g.config.clone(), g.configuration),
        Some(_) => (ctx.env.config.clone(), None),
        None => (ctx.env.config.clone(), None),
    }
}

/// The document of `generation` as it will be once it serves: what its nodes are told of
/// themselves and each other (their `node.env`).
pub fn planned(ctx: &Context, generation: &Generation) -> DeploymentDocument {
    DeploymentDocument {
        schema: lastmile_documents::deployment::SCHEMA.to_owned(),
        environment: ctx.env.name.clone(),
        instance: ctx.env.instance.clone(),
        backend: ctx.env.backend.kind(),
        outcome: Outcome::Deployed,
        candidate: Some(candidate(generation)),
        generation: Some(generation.number),
        refused: None,
        nodes: generation
            .nodes
            .iter()
            .map(|n| node(n, NodeState::Running, Vec::new()))
            .collect(),
        config: generation.config.clone(),
        configuration: generation.configuration,
        kept: Vec::new(),
        timings_ms: BTreeMap::new(),
    }
}
