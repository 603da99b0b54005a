//! `kind = "command"`: a shell command on this host or inside the node, its exit status and
//! output checked.

use std::process::Command;
use std::time::{Duration, Instant};

use lastmile_documents::deployment::DeployedNode;
use lastmile_documents::report::Outcome;
use lastmile_probe::Ran;

use crate::context::{Context, Tried};
use crate::suite::{CommandTest, On};

pub fn run(
    ctx: &Context,
    test: &CommandTest,
    node: Option<&DeployedNode>,
    limit: Duration,
    started: Instant,
) -> Tried {
    let script = ctx.substitute_shell(&test.run, node);
    let ran = match (test.on, node) {
        (On::Node, Some(node)) => ctx.node(node).exec(&["sh", "-c", &script], None, limit),
        (On::Node, None) => {
            return Tried::new(
                Outcome::Error,
                "on = \"node\" in a group that targets no node",
                started,
            );
        }
        (On::Host, node) => {
            let mut command = Command::new("sh");
            command.arg("-c").arg(&script).envs(ctx.variables(node));
            lastmile_probe::run(&mut command, None, limit)
        }
    };
    match ran {
        Ok(ran) => Tried::from_ran(&ran, started, || problems(test, &ran)),
        Err(e) => Tried::new(Outcome::Error, e.to_string(), started),
    }
}

/// What differs from what the test expects.
fn problems(test: &CommandTest, ran: &Ran) -> Vec<String> {
    let mut problems = Vec::new();
    if ran.code != Some(i32::from(test.exit)) {
        problems.push(format!(
            "exit status {} (expected {})",
            ran.code.unwrap_or(-1),
            test.exit
        ));
    }
    if let Some(pattern) = &test.stdout
        && !pattern.0.is_match(&ran.stdout)
    {
        problems.push(format!("stdout does not match /{pattern}/"));
    }
    if let Some(pattern) = &test.stderr
        && !pattern.0.is_match(&ran.stderr)
    {
        problems.push(format!("stderr does not match /{pattern}/"));
    }
    problems
}
