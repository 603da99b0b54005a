//! `plan`, `status` and `destroy`.

use std::collections::BTreeSet;
use std::time::Instant;

use lastmile_documents::deployment::{DeploymentDocument, Outcome};
use serde::Serialize;

use crate::Context;
use crate::backend::Running;
use crate::deploy::{Candidate, Timings, document, document_node, load};
use crate::health::Checker;

/// What `apply` would do, touching nothing.
#[derive(Debug, Serialize)]
pub struct Plan {
    pub schema: &'static str,
    pub environment: String,
    pub backend: String,
    pub candidate: String,
    /// Whether `apply` would change nothing.
    pub unchanged: bool,
    pub generation: u64,
    pub steps: Vec<String>,
}

pub fn plan(ctx: &Context, candidate: &Candidate) -> anyhow::Result<Plan> {
    let state = load(ctx)?;
    let digest = candidate.digest;
    let mut steps = Vec::new();
    let current = state.current_generation();
    let unchanged = current.is_some_and(|c| {
        c.digest == digest
            && c.settings == ctx.env.digest
            && c.nodes
                .iter()
                .all(|n| matches!(ctx.engine.running(&n.container), Ok(Running::Running)))
    });
    let number = state.next_generation;
    if let Some(transition) = &state.transition {
        steps.push(format!(
            "recover: the last {} (to generation {}) did not finish; stop it and start generation {} again",
            transition.kind,
            transition.to,
            transition
                .from
                .map_or_else(|| "none".to_owned(), |n| n.to_string())
        ));
    }
    if !unchanged {
        steps.push(format!(
            "verify {} against sha256 {digest}",
            candidate.image.display()
        ));
        for (index, node) in ctx.env.nodes.iter().enumerate() {
            let container = ctx.engine.container_name(node, index, number);
            steps.extend(ctx.engine.describe_create(node, &container, &digest));
        }
        for (index, node) in ctx.env.nodes.iter().enumerate() {
            let container = ctx.engine.container_name(node, index, number);
            let old = current.and_then(|g| g.nodes.iter().find(|n| n.name == node.name));
            if let Some(old) = old {
                steps.push(format!(
                    "stop {} (generation {})",
                    old.container,
                    current.map_or(0, |g| g.number)
                ));
            }
            let services = crate::node::services(&candidate.document, node);
            let checks = crate::health::checks(&candidate.document, &services);
            steps.push(format!(
                "start {container}, wait for systemd, check {}",
                if checks.is_empty() {
                    "nothing (no service on this node)".to_owned()
                } else {
                    checks
                        .iter()
                        .map(|(s, c)| format!("{s} ({c})"))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ));
        }
        let mut kept: Vec<u64> = state.generations.iter().map(|g| g.number).collect();
        kept.sort_unstable_by(|a, b| b.cmp(a));
        for old in kept.iter().skip(ctx.env.keep) {
            steps.push(format!(
                "remove generation {old} (more than keep = {} old ones)",
                ctx.env.keep
            ));
        }
    }
    Ok(Plan {
        schema: "lastmile.deploy-plan/v1",
        environment: ctx.env.name.clone(),
        backend: ctx.env.backend.name().to_owned(),
        candidate: digest.to_string(),
        unchanged,
        generation: if unchanged {
            current.map_or(number, |c| c.number)
        } else {
            number
        },
        steps,
    })
}

/// What the state says and what really runs; `Ok(false)` when they differ.
pub fn status(ctx: &Context) -> anyhow::Result<(DeploymentDocument, Vec<String>)> {
    let started = Instant::now();
    let state = load(ctx)?;
    let mut differences = Vec::new();
    if let Some(transition) = &state.transition {
        differences.push(format!(
            "an {} to generation {} did not finish (the next apply, rollback or destroy recovers)",
            transition.kind, transition.to
        ));
    }
    let checker = Checker {
        settings: &ctx.env.health,
        can_exec: ctx.engine.can_exec(),
    };
    let mut nodes = Vec::new();
    let current = state.current_generation();
    if let Some(current) = current {
        for node in &current.nodes {
            let running = ctx.engine.running(&node.container)?;
            let health = if running == Running::Running {
                checker.once(node)
            } else {
                differences.push(format!(
                    "{}: {} should be running, is {}",
                    node.name,
                    node.container,
                    running.word()
                ));
                Vec::new()
            };
            for failed in health.iter().filter(|h| !h.ok) {
                differences.push(format!(
                    "{}: {} fails its check {}: {}",
                    node.name, failed.service, failed.check, failed.detail
                ));
            }
            nodes.push(document_node(ctx, node, running.word(), health));
        }
    }
    let current_containers: BTreeSet<&str> = current
        .map(|g| g.nodes.iter().map(|n| n.container.as_str()).collect())
        .unwrap_or_default();
    let named = state.containers();
    for container in ctx.engine.containers()? {
        let running = ctx.engine.running(&container)?;
        if !named.contains(container.as_str()) {
            differences.push(format!(
                "{container} ({}) is in no generation of the state",
                running.word()
            ));
        } else if !current_containers.contains(container.as_str()) && running == Running::Running {
            differences.push(format!("{container} runs but is not in the current generation"));
        }
    }
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

/// Remove every container, node folder and the state of the environment.
pub fn destroy(ctx: &Context) -> anyhow::Result<DeploymentDocument> {
    let started = Instant::now();
    let _lock = ctx.store.lock()?;
    let mut state = load(ctx)?;
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
    crate::deploy::prune_images(ctx)?;
    Ok(document(
        ctx,
        &state,
        Outcome::Destroyed,
        Vec::new(),
        None,
        timings.into_map(started),
    ))
}
