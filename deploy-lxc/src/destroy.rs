//! `destroy`: every container, node folder and the state of the environment removed, and the
//! images no environment uses any more.

use std::time::Instant;

use lastmile_documents::deployment::{DeploymentDocument, Outcome};

use crate::context::Context;
use crate::document::{Timings, document};

/// Remove everything of the environment.
pub fn destroy(ctx: &Context) -> anyhow::Result<DeploymentDocument> {
    let started = Instant::now();
    let _lock = ctx.store.lock()?;
    let mut state = ctx.load_state()?;
    let mut timings = Timings::default();
    timings.time("destroy", || -> anyhow::Result<()> {
        for generation in &state.generations {
            for node in &generation.nodes {
                ctx.engine.destroy(&node.container)?;
            }
        }
        for container in ctx.engine.containers()? {
            ctx.engine.destroy(&container)?;
        }
        Ok(())
    })?;
    state.generations.clear();
    state.current = None;
    state.transition = None;
    ctx.store.remove()?;
    let released = crate::pool::release(&crate::pool::dir(), ctx.env, &ctx.state_dir)?;
    if released > 0 {
        tracing::info!("{released} addresses given back to the pool");
    }
    crate::housekeeping::prune_images(ctx)?;
    Ok(document(
        ctx,
        &state,
        Outcome::Destroyed,
        Vec::new(),
        None,
        timings.into_map(started),
    ))
}
