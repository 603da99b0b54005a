//! `apply` and `rollback`: the generation logic both engines share. A new generation is
//! recorded (with the switch in progress) before its first container is made, so a run stopped
//! at any point is found by the next one, which puts the last good generation back
//! ([`recover`]) before doing anything else.

use std::collections::BTreeSet;
use std::time::Instant;

use anyhow::{Context as _, bail};
use lastmile_cli::Negative;
use lastmile_documents::candidate::CandidateDocument;
use lastmile_documents::deployment::{DeployedCandidate, DeploymentDocument, Outcome};
use lastmile_fs::Sha256;

use crate::Context;
use crate::state::{Generation, GenerationNode, State, Transition};
use crate::switch::{NodeOutcome, revert, switch};

mod housekeeping;
mod report;

use housekeeping::{all_running, discard, prune};
pub use housekeeping::{load, prune_images, recover};
pub use report::{Reverted, Timings, document, document_node, fault};

/// A candidate to deploy: the document and the image file it names.
pub struct Candidate {
    pub document: CandidateDocument,
    pub image: std::path::PathBuf,
    pub digest: Sha256,
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
