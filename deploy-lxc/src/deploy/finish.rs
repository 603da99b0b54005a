//! The end of a switch: recorded when every node is healthy, else reverted everywhere.

use std::collections::BTreeSet;
use std::time::Instant;

use lastmile_cli::Negative;
use lastmile_documents::deployment::{DeploymentDocument, NodeState, Outcome};

use crate::context::Context;
use crate::document::{Reverted, Timings, document};
use crate::housekeeping::{discard, prune};
use crate::state::{Generation, State};
use crate::switch::{NodeOutcome, revert};

/// A switch that ran, from one generation to another.
pub(super) struct Switched<'a> {
    pub(super) from: Option<&'a Generation>,
    pub(super) to: &'a Generation,
    pub(super) outcomes: Vec<NodeOutcome>,
    /// The outcome if it worked (`deployed`, `rolled-back`).
    pub(super) success: Outcome,
}

/// Record a switch that worked, or revert one that did not.
pub(super) fn finish(
    ctx: &Context,
    state: &mut State,
    switched: Switched,
    mut timings: Timings,
    started: Instant,
) -> anyhow::Result<DeploymentDocument> {
    let healthy =
        switched.outcomes.len() == switched.to.nodes.len() && switched.outcomes.iter().all(|o| o.healthy);
    if healthy && !lastmile_process::interrupt::interrupted() {
        return record(ctx, state, &switched, timings, started);
    }
    lastmile_process::interrupt::check()?;
    let Switched {
        from,
        to,
        outcomes,
        success,
    } = switched;
    let failures: Vec<String> = outcomes
        .iter()
        .filter(|o| !o.healthy)
        .map(NodeOutcome::failure)
        .collect();
    let restored = timings.time("revert", || revert(ctx, &outcomes, from));
    state.transition = None;
    if success == Outcome::Deployed {
        discard(ctx, state, to.number)?;
    } else {
        ctx.store.save(state)?;
    }
    let nodes = reverted_nodes(&outcomes, &restored);
    let doc = document(
        ctx,
        state,
        Outcome::Reverted,
        nodes,
        Some(to),
        timings.into_map(started),
    );
    Err(anyhow::Error::new(Negative(format!(
        "{}\ngeneration {} ({}) was not switched to: {}",
        failures.join("\n"),
        to.number,
        to.digest.short(12),
        back(from, &restored)
    )))
    .context(Reverted(Box::new(doc))))
}

/// Every node healthy: the nodes the new generation no longer has stop, it becomes current,
/// old generations beyond `keep` go.
fn record(
    ctx: &Context,
    state: &mut State,
    switched: &Switched,
    mut timings: Timings,
    started: Instant,
) -> anyhow::Result<DeploymentDocument> {
    let to = switched.to;
    if let Some(from) = switched.from {
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
    let nodes = switched
        .outcomes
        .iter()
        .map(|o| o.document(NodeState::Running))
        .collect();
    Ok(document(
        ctx,
        state,
        switched.success,
        nodes,
        None,
        timings.into_map(started),
    ))
}

/// The failed nodes, then the others as they are back on the old generation.
fn reverted_nodes(
    outcomes: &[NodeOutcome],
    restored: &[NodeOutcome],
) -> Vec<lastmile_documents::deployment::DeployedNode> {
    let mut nodes: Vec<_> = outcomes
        .iter()
        .filter(|o| !o.healthy)
        .map(|o| o.document(NodeState::Failed))
        .collect();
    let failed: BTreeSet<String> = nodes.iter().map(|n| n.name.clone()).collect();
    nodes.extend(
        restored
            .iter()
            .filter(|r| !failed.contains(&r.node.name))
            .map(|r| {
                r.document(if r.healthy {
                    NodeState::Reverted
                } else {
                    NodeState::Failed
                })
            }),
    );
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    nodes
}

/// What serves after the revert, in words.
fn back(from: Option<&Generation>, restored: &[NodeOutcome]) -> String {
    match from {
        Some(from) if restored.iter().all(|r| r.healthy) => format!(
            "generation {} ({}) serves again on every node",
            from.number,
            from.digest.short(12)
        ),
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
    }
}
