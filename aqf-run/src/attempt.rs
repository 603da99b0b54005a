//! One attempt of one test: dispatched by its kind to a command ([`crate::command`]), a pytest
//! run ([`crate::pytest`]) or a built-in check of a node ([`crate::builtin`]), each with its time
//! limit.

use std::time::Instant;

use lastmile_documents::report::Outcome;

use crate::context::{Context, Tried};
use crate::plan::Instance;
use crate::suite::Kind;

/// Run one attempt of `instance`.
pub fn attempt(ctx: &Context, instance: &Instance) -> Tried {
    let started = Instant::now();
    let limit = instance.test.timeout;
    match (&instance.test.kind, instance.node) {
        (Kind::Command(test), node) => crate::command::run(ctx, test, node, limit, started),
        (Kind::Pytest(test), node) => crate::pytest::run(ctx, instance, test, node, started),
        (kind, None) => Tried::new(
            Outcome::Error,
            format!("a {} check needs a group that targets nodes", kind.word()),
            started,
        ),
        (kind, Some(node)) => crate::builtin::run(ctx, kind, node, limit, started),
    }
}
