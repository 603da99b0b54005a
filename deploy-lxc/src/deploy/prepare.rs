//! A new generation: its record (a container per node, what each runs and how it is checked),
//! then every node's container made while the old generation still serves.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use anyhow::Context as _;

use crate::candidate::Candidate;
use crate::context::Context;
use crate::state::{Generation, GenerationNode};

/// The record of generation `number` of `candidate`; a pooled node at the address its instance
/// claimed.
pub(super) fn new_generation(
    ctx: &Context,
    candidate: &Candidate,
    number: u64,
    claimed: &BTreeMap<String, Ipv4Addr>,
) -> Generation {
    let nodes = ctx
        .env
        .nodes
        .iter()
        .enumerate()
        .map(|(index, node)| {
            let container = ctx.engine.container_id(node, index, number);
            let services = crate::node::services(&candidate.document, node);
            GenerationNode {
                name: node.name.clone(),
                exec: ctx.engine.exec_prefix(&container),
                container,
                address: claimed.get(&node.name).copied().unwrap_or(node.address),
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
        configuration: Some(ctx.env.configuration),
        config: ctx.env.config.clone(),
        source_commits: candidate.document.source_commits.clone(),
        nodes,
    }
}

/// Make every node's container of `generation`, in parallel, with its own files.
pub(super) fn prepare(ctx: &Context, candidate: &Candidate, generation: &Generation) -> anyhow::Result<()> {
    let planned = crate::document::planned(ctx, generation);
    let bar = ctx.reporter.items("preparing", ctx.env.nodes.len() as u64);
    std::thread::scope(|scope| {
        let handles: Vec<_> = ctx
            .env
            .nodes
            .iter()
            .zip(&generation.nodes)
            .zip(&planned.nodes)
            .map(|((node, made), described)| {
                let bar = bar.clone();
                let planned = &planned;
                scope.spawn(move || {
                    let files = crate::node::files(planned, described, &candidate.document);
                    let created = ctx
                        .engine
                        .create(
                            node,
                            &made.container,
                            generation.number,
                            &candidate.digest,
                            &files,
                        )
                        .with_context(|| format!("node {}", node.name));
                    bar.inc(1);
                    created
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
