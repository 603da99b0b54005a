//! `apply` and `rollback`: the generation logic both engines share. A new generation is
//! recorded (with the switch in progress) before its first container is made, so a run stopped
//! at any point is found by the next one, which puts the last good generation back
//! ([`recover`]) before doing anything else.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use anyhow::{Context as _, bail};
use lastmile_cli::Negative;
use lastmile_documents::candidate::CandidateDocument;
use lastmile_documents::deployment::{DeployedCandidate, DeploymentDocument, KeptGeneration, Outcome};
use lastmile_fs::Sha256;

use crate::Context;
use crate::backend::Running;
use crate::state::{Generation, GenerationNode, State, Transition};
use crate::switch::{NodeOutcome, restore, revert, switch};

/// A candidate to deploy: the document and the image file it names.
pub struct Candidate {
    pub document: CandidateDocument,
    pub image: std::path::PathBuf,
    pub digest: Sha256,
}

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

/// Deploy `candidate`: the whole environment switches to it, or stays on what it ran.
pub fn apply(ctx: &Context, candidate: &Candidate) -> anyhow::Result<DeploymentDocument> {
    let started = Instant::now();
    let mut timings = Timings::default();
    for warning in crate::node::mismatches(ctx.env, &candidate.document) {
        tracing::warn!("{warning}");
    }
    timings.time("verify", || {
        crate::store::verify(&candidate.image, &candidate.digest)
    })?;
    let _lock = ctx.store.lock()?;
    let mut state = load(ctx)?;
    recover(ctx, &mut state)?;

    if let Some(current) = state.current_generation()
        && current.digest == candidate.digest
        && current.settings == ctx.env.digest
        && all_running(ctx, current)
    {
        tracing::warn!(
            "{} already runs candidate {} (generation {}); nothing to do",
            ctx.env.name,
            candidate.digest.short(12),
            current.number
        );
        let nodes = current
            .nodes
            .iter()
            .map(|n| document_node(ctx, n, "running", Vec::new()))
            .collect();
        return Ok(document(
            ctx,
            &state,
            Outcome::Unchanged,
            nodes,
            None,
            timings.into_map(started),
        ));
    }

    timings.time("unpack", || {
        ctx.engine
            .provide_image(&candidate.image, &candidate.digest, &ctx.reporter)
    })?;
    let number = state.next_generation;
    let generation = new_generation(ctx, candidate, number);
    state.next_generation += 1;
    state.generations.push(generation.clone());
    state.transition = Some(Transition {
        kind: "apply".to_owned(),
        from: state.current,
        to: number,
    });
    ctx.store.save(&state)?;
    fault("recorded");

    let prepared = timings.time("prepare", || prepare(ctx, candidate, &generation));
    if let Err(error) = prepared {
        discard(ctx, &mut state, number)?;
        return Err(error.context(format!("preparing generation {number} of {}", ctx.env.name)));
    }
    fault("prepared");
    let from = state.current_generation().cloned();
    let outcomes = timings.time("switch", || switch(ctx, from.as_ref(), &generation));
    fault("switched");
    finish(
        ctx,
        &mut state,
        from.as_ref(),
        &generation,
        outcomes,
        Outcome::Deployed,
        timings,
        started,
    )
}

/// Go back to the newest kept generation older than the current one.
pub fn rollback(ctx: &Context) -> anyhow::Result<DeploymentDocument> {
    let started = Instant::now();
    let timings = Timings::default();
    let _lock = ctx.store.lock()?;
    let mut state = load(ctx)?;
    recover(ctx, &mut state)?;
    let Some(current) = state.current_generation().cloned() else {
        bail!("{} runs nothing: there is nothing to roll back", ctx.env.name);
    };
    let Some(target) = state
        .kept()
        .into_iter()
        .find(|g| g.number < current.number)
        .cloned()
    else {
        bail!(
            "{} keeps no generation older than the current one ({}); keep = {} in {}",
            ctx.env.name,
            current.number,
            ctx.env.keep,
            ctx.env.file
        );
    };
    state.transition = Some(Transition {
        kind: "rollback".to_owned(),
        from: Some(current.number),
        to: target.number,
    });
    ctx.store.save(&state)?;
    let mut timings = timings;
    let outcomes = timings.time("switch", || switch(ctx, Some(&current), &target));
    finish(
        ctx,
        &mut state,
        Some(&current),
        &target,
        outcomes,
        Outcome::RolledBack,
        timings,
        started,
    )
}

/// Record a switch that worked, or revert one that did not.
#[allow(clippy::too_many_arguments)]
fn finish(
    ctx: &Context,
    state: &mut State,
    from: Option<&Generation>,
    to: &Generation,
    outcomes: Vec<NodeOutcome>,
    success: Outcome,
    mut timings: Timings,
    started: Instant,
) -> anyhow::Result<DeploymentDocument> {
    let healthy = outcomes.len() == to.nodes.len() && outcomes.iter().all(|o| o.healthy);
    if healthy && !lastmile_process::interrupt::interrupted() {
        // Nodes the new generation no longer has stop with the old one.
        if let Some(from) = from {
            for node in from
                .nodes
                .iter()
                .filter(|n| !to.nodes.iter().any(|t| t.name == n.name))
            {
                ctx.engine.stop(&node.container)?;
            }
        }
        state.current = Some(to.number);
        state.transition = None;
        ctx.store.save(state)?;
        timings.time("prune", || prune(ctx, state))?;
        let nodes = outcomes.iter().map(|o| o.document("running")).collect();
        return Ok(document(
            ctx,
            state,
            success,
            nodes,
            None,
            timings.into_map(started),
        ));
    }
    lastmile_process::interrupt::check()?;
    let failures: Vec<String> = outcomes
        .iter()
        .filter(|o| !o.healthy)
        .map(NodeOutcome::failure)
        .collect();
    let restored = timings.time("revert", || revert(ctx, &outcomes, from));
    let refused = DeployedCandidate {
        digest: to.digest,
        image: to.image.clone(),
        source_commits: to.source_commits.clone(),
    };
    state.transition = None;
    if success == Outcome::Deployed {
        discard(ctx, state, to.number)?;
    } else {
        ctx.store.save(state)?;
    }
    let mut nodes: Vec<_> = outcomes
        .iter()
        .filter(|o| !o.healthy)
        .map(|o| o.document("failed"))
        .collect();
    let failed_names: BTreeSet<String> = nodes.iter().map(|n| n.name.clone()).collect();
    nodes.extend(
        restored
            .iter()
            .filter(|r| !failed_names.contains(&r.node.name))
            .map(|r| r.document(if r.healthy { "reverted" } else { "failed" })),
    );
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    let doc = document(
        ctx,
        state,
        Outcome::Reverted,
        nodes,
        Some(refused),
        timings.into_map(started),
    );
    let back = match from {
        Some(from) if restored.iter().all(|r| r.healthy) => {
            format!(
                "generation {} ({}) serves again on every node",
                from.number,
                from.digest.short(12)
            )
        }
        Some(from) => format!(
            "generation {} is back but not healthy: {}",
            from.number,
            restored
                .iter()
                .filter(|r| !r.healthy)
                .map(NodeOutcome::failure)
                .collect::<Vec<_>>()
                .join("; ")
        ),
        None => "nothing runs (it was the first deploy)".to_owned(),
    };
    Err(anyhow::Error::new(Negative(format!(
        "{}\ngeneration {} ({}) was not switched to: {back}",
        failures.join("\n"),
        to.number,
        to.digest.short(12)
    )))
    .context(Reverted(Box::new(doc))))
}

/// The document of a reverted deploy, carried by its error so the caller prints it too.
#[derive(Debug)]
pub struct Reverted(pub Box<DeploymentDocument>);

impl std::fmt::Display for Reverted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "deploying to {} failed", self.0.environment)
    }
}

fn new_generation(ctx: &Context, candidate: &Candidate, number: u64) -> Generation {
    let nodes = ctx
        .env
        .nodes
        .iter()
        .enumerate()
        .map(|(index, node)| {
            let container = ctx.engine.container_name(node, index, number);
            let services = crate::node::services(&candidate.document, node);
            GenerationNode {
                name: node.name.clone(),
                exec: ctx.engine.exec_prefix(&container),
                container,
                address: node.address.to_string(),
                roles: node.roles.clone(),
                checks: crate::health::checks(&candidate.document, &services),
                services: services.into_iter().map(str::to_owned).collect(),
                isolated: node.network == crate::env::Network::Empty,
            }
        })
        .collect();
    Generation {
        number,
        digest: candidate.digest,
        image: candidate.image.display().to_string(),
        settings: ctx.env.digest,
        source_commits: candidate.document.source_commits.clone(),
        nodes,
    }
}

fn prepare(ctx: &Context, candidate: &Candidate, generation: &Generation) -> anyhow::Result<()> {
    let bar = ctx.reporter.items("preparing", ctx.env.nodes.len() as u64);
    std::thread::scope(|scope| {
        let handles: Vec<_> = ctx
            .env
            .nodes
            .iter()
            .zip(&generation.nodes)
            .map(|(node, planned)| {
                let bar = bar.clone();
                scope.spawn(move || {
                    let files = crate::node::files(
                        ctx.env,
                        node,
                        generation.number,
                        &candidate.document,
                        &candidate.digest.to_string(),
                    );
                    let made = ctx
                        .engine
                        .create(
                            node,
                            &planned.container,
                            generation.number,
                            &candidate.digest,
                            &files,
                        )
                        .with_context(|| format!("node {}", node.name));
                    bar.inc(1);
                    made
                })
            })
            .collect();
        handles
            .into_iter()
            .try_for_each(|h| h.join().expect("a prepare thread does not panic"))
    })?;
    bar.finish_and_clear();
    lastmile_process::interrupt::check()?;
    Ok(())
}

/// Remove a generation that never became current, with its containers.
fn discard(ctx: &Context, state: &mut State, number: u64) -> anyhow::Result<()> {
    if let Some(generation) = state.generation(number).cloned() {
        for node in &generation.nodes {
            ctx.engine.destroy(&node.container)?;
        }
    }
    state.generations.retain(|g| g.number != number);
    if state.transition.as_ref().is_some_and(|t| t.to == number) {
        state.transition = None;
    }
    ctx.store.save(state)
}

/// Finish what a stopped run left: the generation it was switching to is stopped (and removed,
/// if it was new), the one it came from runs and is checked again, and containers no generation
/// names are removed.
pub fn recover(ctx: &Context, state: &mut State) -> anyhow::Result<()> {
    if let Some(transition) = state.transition.clone() {
        tracing::warn!(
            "the last {} of {} (to generation {}) did not finish; putting generation {} back first",
            transition.kind,
            ctx.env.name,
            transition.to,
            transition
                .from
                .map_or_else(|| "none".to_owned(), |n| n.to_string())
        );
        if let Some(to) = state.generation(transition.to).cloned() {
            for node in &to.nodes {
                ctx.engine.stop(&node.container)?;
            }
        }
        if transition.kind == "apply" {
            discard(ctx, state, transition.to)?;
        }
        state.transition = None;
        state.current = transition.from;
        ctx.store.save(state)?;
        if let Some(current) = state.current_generation().cloned() {
            for outcome in restore(ctx, &current) {
                if !outcome.healthy {
                    tracing::warn!("after recovery, {}", outcome.failure());
                }
            }
        }
    }
    let named: BTreeSet<&str> = state
        .generations
        .iter()
        .flat_map(|g| g.nodes.iter().map(|n| n.container.as_str()))
        .collect();
    for container in ctx.engine.containers()? {
        if !named.contains(container.as_str()) {
            tracing::info!("removing {container}, left by a stopped run");
            ctx.engine.destroy(&container)?;
        }
    }
    Ok(())
}

/// Keep the current generation and `keep` others (the newest); remove the rest and the images
/// nothing uses any more.
fn prune(ctx: &Context, state: &mut State) -> anyhow::Result<()> {
    let kept: BTreeSet<u64> = state.kept().iter().take(ctx.env.keep).map(|g| g.number).collect();
    let gone: Vec<Generation> = state
        .generations
        .iter()
        .filter(|g| Some(g.number) != state.current && !kept.contains(&g.number))
        .cloned()
        .collect();
    for generation in &gone {
        for node in &generation.nodes {
            ctx.engine.destroy(&node.container)?;
        }
        state.generations.retain(|g| g.number != generation.number);
        ctx.store.save(state)?;
    }
    prune_images(ctx)
}

/// Remove images that no generation of any environment in the state folder uses.
pub fn prune_images(ctx: &Context) -> anyhow::Result<()> {
    let used: BTreeSet<Sha256> = crate::state::Store::all(&ctx.state_dir)?
        .iter()
        .flat_map(|s| s.generations.iter().map(|g| g.digest))
        .collect();
    ctx.engine.prune_images(&used)
}

pub fn load(ctx: &Context) -> anyhow::Result<State> {
    let state = ctx
        .store
        .load()?
        .unwrap_or_else(|| State::new(&ctx.env.name, ctx.env.backend.name()));
    if state.backend != ctx.env.backend.name() {
        bail!(
            "{} was deployed with backend {}; {} now says {} (destroy it first)",
            ctx.env.name,
            state.backend,
            ctx.env.file,
            ctx.env.backend.name()
        );
    }
    Ok(state)
}

fn all_running(ctx: &Context, generation: &Generation) -> bool {
    generation
        .nodes
        .iter()
        .all(|n| matches!(ctx.engine.running(&n.container), Ok(Running::Running)))
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
