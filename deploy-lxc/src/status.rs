//! `status`: what the state says and what really runs, and where they differ.

use std::collections::BTreeSet;
use std::time::Instant;

use lastmile_documents::deployment::{DeploymentDocument, Outcome};

use crate::backend::{ContainerId, Running};
use crate::context::Context;
use crate::document::{Timings, document, node};
use crate::health::Checker;
use crate::state::State;

/// The document of what runs, and every difference from the state.
pub fn status(ctx: &Context) -> anyhow::Result<(DeploymentDocument, Vec<String>)> {
    let started = Instant::now();
    let state = ctx.load_state()?;
    let mut differences: Vec<String> = state
        .transition
        .iter()
        .map(|t| {
            format!(
                "an {} to generation {} did not finish (the next apply, rollback or destroy recovers)",
                t.kind, t.to
            )
        })
        .collect();
    let checker = Checker {
        settings: &ctx.env.health,
        can_exec: ctx.engine.can_exec(),
    };
    let mut nodes = Vec::new();
    let current = state.current_generation();
    let planned = current.map(|g| crate::document::planned(ctx, g));
    for generation_node in current.iter().flat_map(|g| &g.nodes) {
        let running = ctx.engine.running(&generation_node.container)?;
        let health = if running == Running::Running {
            checker.once(generation_node)
        } else {
            differences.push(format!(
                "{}: {} should be running, is {}",
                generation_node.name,
                generation_node.container,
                running.state()
            ));
            Vec::new()
        };
        for failed in health.iter().filter(|h| !h.ok) {
            differences.push(format!(
                "{}: {} fails its check {}: {}",
                generation_node.name, failed.service, failed.check, failed.detail
            ));
        }
        if let (Some(generation), Some(planned)) = (current, &planned)
            && running == Running::Running
        {
            differences.extend(drift(ctx, generation, generation_node, planned)?);
        }
        nodes.push(node(generation_node, running.state(), health));
    }
    differences.extend(strays(ctx, &state)?);
    differences.extend(elsewhere(ctx));
    let mut timings = Timings::default();
    timings.time("status", || ());
    let doc = document(
        ctx,
        &state,
        Outcome::Status,
        nodes,
        None,
        timings.into_map(started),
    );
    Ok((doc, differences))
}

/// This environment's containers running under another state folder: `status` never says
/// "nothing" about containers it can see.
fn elsewhere(ctx: &Context) -> Vec<String> {
    let stems: Vec<String> = ctx
        .env
        .nodes
        .iter()
        .enumerate()
        .map(|(index, node)| {
            let name = ctx.engine.container_id(node, index, 0).to_string();
            name.strip_suffix('0').unwrap_or(&name).to_owned()
        })
        .collect();
    ctx.engine
        .running_elsewhere(&stems)
        .into_iter()
        .map(|(name, lxcpath)| {
            let state_dir = lxcpath.parent().unwrap_or(&lxcpath);
            format!(
                "{name} of this environment runs under {} (another state folder): give --state-dir {} (or state_dir in the environment file)",
                lxcpath.display(),
                state_dir.display()
            )
        })
        .collect()
}

/// Containers of the environment the state does not name, or that run outside the current
/// generation.
fn strays(ctx: &Context, state: &State) -> anyhow::Result<Vec<String>> {
    let current: BTreeSet<&ContainerId> = state
        .current_generation()
        .map(|g| g.nodes.iter().map(|n| &n.container).collect())
        .unwrap_or_default();
    let named = state.containers();
    let mut differences = Vec::new();
    for container in ctx.engine.containers()? {
        let running = ctx.engine.running(&container)?;
        if !named.contains(&container) {
            differences.push(format!(
                "{container} ({}) is in no generation of the state",
                running.state()
            ));
        } else if !current.contains(&container) && running == Running::Running {
            differences.push(format!("{container} runs but is not in the current generation"));
        }
    }
    Ok(differences)
}

/// How a running node differs from what its generation made (its image, `node.env`, roles, the
/// image's files), when the engine can read it.
fn drift(
    ctx: &Context,
    generation: &crate::state::Generation,
    node: &crate::state::GenerationNode,
    planned: &lastmile_documents::deployment::DeploymentDocument,
) -> anyhow::Result<Vec<String>> {
    let Some(seen) = ctx.engine.inspect(&node.container)? else {
        return Ok(Vec::new());
    };
    let Some(described) = planned.nodes.iter().find(|n| n.name == node.name) else {
        return Ok(Vec::new());
    };
    // A generation made before its configuration was recorded cannot say what node.env it wrote.
    let expected = generation.configuration.map(|_| {
        lastmile_documents::node_env::write(
            &planned.environment,
            &node.name,
            &planned.variables(Some(described)),
        )
    });
    let said = crate::drift::differences(generation, node, expected.as_deref(), &seen);
    Ok(said)
}
