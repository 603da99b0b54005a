//! Switching an environment from one generation to another, node by node: stop the old
//! container, start the new one, wait until it serves. If any node fails, every node already
//! switched goes back, and is checked healthy again.

use std::collections::BTreeMap;
use std::time::Instant;

use lastmile_documents::deployment::{DeployedNode, HealthResult, NodeState};

use crate::backend::Running;
use crate::context::Context;
use crate::fault::fault;
use crate::health::Checker;
use crate::state::{Generation, GenerationNode};

/// How one node's switch went.
#[derive(Debug, Clone)]
pub struct NodeOutcome {
    pub node: GenerationNode,
    pub healthy: bool,
    pub health: Vec<HealthResult>,
    pub downtime_ms: Option<u64>,
    /// Whether its new container was started (and so must be stopped on a revert).
    pub started: bool,
    pub error: Option<String>,
}

impl NodeOutcome {
    /// Nothing done yet on `node`.
    fn new(node: &GenerationNode) -> Self {
        Self {
            node: node.clone(),
            healthy: false,
            health: Vec::new(),
            downtime_ms: None,
            started: false,
            error: None,
        }
    }

    pub fn document(&self, state: NodeState) -> DeployedNode {
        DeployedNode {
            downtime_ms: self.downtime_ms,
            ..crate::document::node(&self.node, state, self.health.clone())
        }
    }

    /// Wait until the node's new container serves (systemd booted, every check passing).
    fn check(&mut self, ctx: &Context) {
        let checker = Checker {
            settings: &ctx.env.health,
            can_exec: ctx.engine.can_exec(),
        };
        let container = &self.node.container;
        // A container that stopped while booting will not boot: said at once, with its console.
        let gone = || match ctx.engine.running(container) {
            Ok(Running::Running) | Err(_) => None,
            Ok(other) => Some(format!(
                "its container {container} is {} (it stopped while booting){}",
                other.state(),
                ctx.engine
                    .console_tail(container)
                    .map(|tail| format!("; its console ended:\n{tail}"))
                    .unwrap_or_default()
            )),
        };
        let (healthy, health) = checker.wait(&self.node, &gone);
        self.healthy = healthy;
        self.health = health;
    }

    /// Why it failed, for the message on stderr.
    pub fn failure(&self) -> String {
        if let Some(error) = &self.error {
            return format!("node {}: {error}", self.node.name);
        }
        let failed: Vec<String> = self
            .health
            .iter()
            .filter(|h| !h.ok)
            .map(|h| {
                format!(
                    "{} ({}) after {} attempts: {}",
                    h.service, h.check, h.attempts, h.detail
                )
            })
            .collect();
        format!("node {} failed its checks: {}", self.node.name, failed.join("; "))
    }
}

/// Switch every node of `to` on, `from`'s counterpart off first, at most `ctx.parallel` at once.
/// Stops at the first batch with a failure; the outcomes say which nodes were started.
pub fn switch(ctx: &Context, from: Option<&Generation>, to: &Generation) -> Vec<NodeOutcome> {
    let old: BTreeMap<&str, &GenerationNode> = from
        .map(|g| g.nodes.iter().map(|n| (n.name.as_str(), n)).collect())
        .unwrap_or_default();
    let bar = ctx.reporter.items("switching", to.nodes.len() as u64);
    let mut outcomes = Vec::new();
    for batch in to.nodes.chunks(ctx.parallel.max(1)) {
        let done: Vec<NodeOutcome> = std::thread::scope(|scope| {
            let handles: Vec<_> = batch
                .iter()
                .map(|node| {
                    let old = old.get(node.name.as_str()).copied();
                    scope.spawn(move || switch_node(ctx, old, node))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a switch thread does not panic"))
                .collect()
        });
        bar.inc(done.len() as u64);
        fault("switched-one");
        let failed = done.iter().any(|o| !o.healthy);
        outcomes.extend(done);
        if failed || lastmile_process::interrupt::interrupted() {
            break;
        }
    }
    bar.finish_and_clear();
    outcomes
}

fn switch_node(ctx: &Context, old: Option<&GenerationNode>, node: &GenerationNode) -> NodeOutcome {
    let mut outcome = NodeOutcome::new(node);
    let down = Instant::now();
    if let Some(old) = old
        && let Err(e) = ctx.engine.stop(&old.container)
    {
        outcome.error = Some(format!("stopping {}: {e:#}", old.container));
        return outcome;
    }
    if let Err(e) = ctx.engine.start(&node.container) {
        outcome.started = true;
        outcome.error = Some(format!("{e:#}"));
        return outcome;
    }
    outcome.started = true;
    outcome.check(ctx);
    if outcome.healthy && old.is_some() {
        outcome.downtime_ms = Some(down.elapsed().as_millis() as u64);
    }
    outcome
}

/// Put `back` in place again after a failed switch to `tried`: stop every started container of
/// `tried`, start `back`'s (all of them: a node stopped for the switch must serve again) and
/// check them. Returns the outcomes of `back`'s nodes.
pub fn revert(ctx: &Context, tried: &[NodeOutcome], back: Option<&Generation>) -> Vec<NodeOutcome> {
    for outcome in tried.iter().filter(|o| o.started) {
        if let Err(e) = ctx.engine.stop(&outcome.node.container) {
            tracing::error!("stopping {}: {e:#}", outcome.node.container);
        }
    }
    let Some(back) = back else { return Vec::new() };
    restore(ctx, back)
}

/// Make sure every node of `generation` runs and serves (after a revert, or when a stopped
/// run is found): start what is not running, check everything.
pub fn restore(ctx: &Context, generation: &Generation) -> Vec<NodeOutcome> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = generation
            .nodes
            .iter()
            .map(|node| {
                scope.spawn(move || {
                    let mut outcome = NodeOutcome::new(node);
                    let running = ctx.engine.running(&node.container);
                    if !matches!(running, Ok(Running::Running))
                        && let Err(e) = ctx.engine.start(&node.container)
                    {
                        outcome.error = Some(format!("{e:#}"));
                        return outcome;
                    }
                    outcome.check(ctx);
                    outcome
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a restore thread does not panic"))
            .collect()
    })
}
