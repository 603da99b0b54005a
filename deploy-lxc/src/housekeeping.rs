//! Housekeeping around a switch: what a stopped run left is finished first ([`recover`]),
//! generations beyond `keep` and unused images are removed ([`prune`]).

use std::collections::BTreeSet;

use lastmile_fs::Sha256;

use crate::backend::Running;
use crate::context::Context;
use crate::state::{Generation, State, TransitionKind};
use crate::switch::restore;

/// Remove a generation that never became current, with its containers. The state forgets it
/// first: a run stopped in between leaves containers no generation names, which the next run's
/// [`recover`] removes, never a state naming containers that are gone.
pub fn discard(ctx: &Context, state: &mut State, number: u64) -> anyhow::Result<()> {
    let generation = state.generation(number).cloned();
    state.generations.retain(|g| g.number != number);
    if state.transition.as_ref().is_some_and(|t| t.to == number) {
        state.transition = None;
    }
    ctx.store.save(state)?;
    if let Some(generation) = generation {
        for node in &generation.nodes {
            ctx.engine.destroy(&node.container)?;
        }
    }
    Ok(())
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
        if transition.kind == TransitionKind::Apply {
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
    let named = state.containers();
    for container in ctx.engine.containers()? {
        if !named.contains(&container) {
            tracing::info!("removing {container}, left by a stopped run");
            ctx.engine.destroy(&container)?;
        }
    }
    Ok(())
}

/// Keep the current generation and `keep` others (the newest); remove the rest and the images
/// nothing uses any more.
pub fn prune(ctx: &Context, state: &mut State) -> anyhow::Result<()> {
    let kept: BTreeSet<u64> = state.kept().iter().take(ctx.env.keep).map(|g| g.number).collect();
    let gone: Vec<Generation> = state
        .generations
        .iter()
        .filter(|g| Some(g.number) != state.current && !kept.contains(&g.number))
        .cloned()
        .collect();
    // Forgotten first, then destroyed (see [`discard`]).
    for generation in &gone {
        state.generations.retain(|g| g.number != generation.number);
    }
    if !gone.is_empty() {
        ctx.store.save(state)?;
    }
    for generation in &gone {
        for node in &generation.nodes {
            ctx.engine.destroy(&node.container)?;
        }
    }
    prune_images(ctx)
}

/// Remove images that no generation of any environment in the state folder uses. An image one
/// environment is deploying is not in any state yet: the engine keeps it (the LXC store is
/// pruned only when no other deploy-lxc holds it, see [`crate::backend::lxc`]).
pub fn prune_images(ctx: &Context) -> anyhow::Result<()> {
    let used: BTreeSet<Sha256> = crate::state::Store::all(&ctx.state_dir)?
        .iter()
        .flat_map(|s| s.generations.iter().map(|g| g.digest))
        .collect();
    ctx.engine.prune_images(&used)
}

/// Whether every node of `generation` runs.
pub fn all_running(ctx: &Context, generation: &Generation) -> bool {
    generation
        .nodes
        .iter()
        .all(|n| matches!(ctx.engine.running(&n.container), Ok(Running::Running)))
}
