//! `plan`: what `apply` would create, start, stop and remove, touching nothing.

use lastmile_fs::Sha256;
use serde::Serialize;

use crate::backend::Running;
use crate::candidate::Candidate;
use crate::context::Context;
use crate::state::{Generation, State};

/// What `apply` would do.
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
    let state = ctx.load_state()?;
    let digest = candidate.digest;
    let current = state.current_generation();
    let unchanged = current.is_some_and(|c| {
        c.digest == digest
            && c.settings == ctx.env.digest
            && c.nodes
                .iter()
                .all(|n| matches!(ctx.engine.running(&n.container), Ok(Running::Running)))
    });
    let number = state.next_generation;
    let mut steps: Vec<String> = state
        .transition
        .iter()
        .map(|t| {
            format!(
                "recover: the last {} (to generation {}) did not finish; stop it and start generation {} again",
                t.kind,
                t.to,
                t.from.map_or_else(|| "none".to_owned(), |n| n.to_string())
            )
        })
        .collect();
    if !unchanged {
        steps.push(format!(
            "verify {} against sha256 {digest}",
            candidate.image.display()
        ));
        if let Some(pool) = ctx.env.pool {
            let pooled: Vec<&str> = ctx
                .env
                .nodes
                .iter()
                .filter(|n| n.pooled)
                .map(|n| n.name.as_str())
                .collect();
            steps.push(format!(
                "claim an address from pool {pool} for each of {} (the ones this instance holds, else free ones)",
                pooled.join(", ")
            ));
        }
        steps.extend(creates(ctx, &digest, number));
        steps.extend(switches(ctx, candidate, current, number));
        steps.extend(removals(ctx, &state));
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

fn creates(ctx: &Context, digest: &Sha256, number: u64) -> Vec<String> {
    ctx.env
        .nodes
        .iter()
        .enumerate()
        .flat_map(|(index, node)| {
            let container = ctx.engine.container_id(node, index, number);
            ctx.engine.describe_create(node, &container, number, digest)
        })
        .collect()
}

fn switches(ctx: &Context, candidate: &Candidate, current: Option<&Generation>, number: u64) -> Vec<String> {
    let mut steps = Vec::new();
    for (index, node) in ctx.env.nodes.iter().enumerate() {
        let container = ctx.engine.container_id(node, index, number);
        if let Some((old, generation)) = current.and_then(|g| {
            g.nodes
                .iter()
                .find(|n| n.name == node.name)
                .map(|n| (n, g.number))
        }) {
            steps.push(format!("stop {} (generation {generation})", old.container));
        }
        let services = crate::node::services(&candidate.document, node);
        let checks = crate::health::checks(&candidate.document, &services);
        let checked = if checks.is_empty() {
            "nothing (no service on this node)".to_owned()
        } else {
            checks
                .iter()
                .map(|(s, c)| format!("{s} ({c})"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        steps.push(format!("start {container}, wait for systemd, check {checked}"));
    }
    steps
}

fn removals(ctx: &Context, state: &State) -> Vec<String> {
    let mut kept: Vec<u64> = state.generations.iter().map(|g| g.number).collect();
    kept.sort_unstable_by(|a, b| b.cmp(a));
    kept.iter()
        .skip(ctx.env.keep)
        .map(|old| {
            format!(
                "remove generation {old} (more than keep = {} old ones)",
                ctx.env.keep
            )
        })
        .collect()
}
