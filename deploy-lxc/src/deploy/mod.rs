//! `apply` and `rollback`: the generation logic both engines share. A new generation is
//! recorded (with the switch in progress) before its first container is made, so a run stopped
//! at any point is found by the next one, which puts the last good generation back
//! ([`crate::housekeeping::recover`]) before doing anything else.

mod finish;
mod prepare;

use std::time::Instant;

use anyhow::bail;
use lastmile_documents::deployment::{DeploymentDocument, NodeState, Outcome};

use crate::candidate::Candidate;
use crate::context::Context;
use crate::document::{Timings, document, node};
use crate::fault::fault;
use crate::housekeeping::{all_running, discard, recover};
use crate::state::{Generation, State, Transition, TransitionKind};
use crate::switch::switch;

use finish::finish;

/// Deploy `candidate`: the whole environment switches to it, or stays on what it ran.
pub fn apply(ctx: &Context, candidate: &Candidate) -> anyhow::Result<DeploymentDocument> {
    let started = Instant::now();
    let mut timings = Timings::default();
    for warning in crate::node::mismatches(ctx.env, &candidate.document) {
        tracing::warn!("{warning}");
    }
    timings.time("verify", || {
        crate::image::verify(&candidate.image, &candidate.digest)
    })?;
    let _lock = ctx.store.lock()?;
    let mut state = ctx.load_state()?;
    recover(ctx, &mut state)?;
    if let Some(current) = state
        .current_generation()
        .filter(|current| serves(ctx, current, candidate))
    {
        return Ok(unchanged(ctx, &state, current, timings, started));
    }
    timings.time("unpack", || {
        ctx.engine
            .provide_image(&candidate.image, &candidate.digest, &ctx.reporter)
    })?;
    let claimed = crate::pool::claim(&crate::pool::dir(), ctx.env, &state, &ctx.state_dir)?;
    let number = state.next_generation;
    let generation = prepare::new_generation(ctx, candidate, number, &claimed);
    state.next_generation += 1;
    state.generations.push(generation.clone());
    state.transition = Some(Transition {
        kind: TransitionKind::Apply,
        from: state.current,
        to: number,
    });
    ctx.store.save(&state)?;
    fault("recorded");

    for warning in ctx.engine.preflight(generation.nodes.len()) {
        tracing::warn!("{warning}");
    }
    let prepared = timings.time("prepare", || prepare::prepare(ctx, candidate, &generation));
    if let Err(error) = prepared {
        discard(ctx, &mut state, number)?;
        return Err(error.context(format!("preparing generation {number} of {}", ctx.env.name)));
    }
    fault("prepared");
    let from = state.current_generation().cloned();
    let outcomes = timings.time("switch", || switch(ctx, from.as_ref(), &generation));
    fault("switched");
    let switched = finish::Switched {
        from: from.as_ref(),
        to: &generation,
        outcomes,
        success: Outcome::Deployed,
    };
    finish(ctx, &mut state, switched, timings, started)
}

/// Whether `current` is the candidate with these settings, running on every node.
fn serves(ctx: &Context, current: &Generation, candidate: &Candidate) -> bool {
    current.digest == candidate.digest && current.settings == ctx.env.digest && all_running(ctx, current)
}

/// The document of a deploy that changes nothing.
fn unchanged(
    ctx: &Context,
    state: &State,
    current: &Generation,
    timings: Timings,
    started: Instant,
) -> DeploymentDocument {
    tracing::warn!(
        "{} already runs candidate {} (generation {}); nothing to do",
        ctx.env.name,
        current.digest.short(12),
        current.number
    );
    let nodes = current
        .nodes
        .iter()
        .map(|n| node(n, NodeState::Running, Vec::new()))
        .collect();
    document(
        ctx,
        state,
        Outcome::Unchanged,
        nodes,
        None,
        timings.into_map(started),
    )
}

/// Go back to the newest kept generation older than the current one.
pub fn rollback(ctx: &Context) -> anyhow::Result<DeploymentDocument> {
    let started = Instant::now();
    let mut timings = Timings::default();
    let _lock = ctx.store.lock()?;
    let mut state = ctx.load_state()?;
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
        kind: TransitionKind::Rollback,
        from: Some(current.number),
        to: target.number,
    });
    ctx.store.save(&state)?;
    let outcomes = timings.time("switch", || switch(ctx, Some(&current), &target));
    let switched = finish::Switched {
        from: Some(&current),
        to: &target,
        outcomes,
        success: Outcome::RolledBack,
    };
    finish(ctx, &mut state, switched, timings, started)
}
