//! `deploy-lxc`: a release candidate onto the nodes of an environment: every node gets its own
//! root filesystem over the one image, its own `node.env` and roles; the environment switches
//! generation as a whole, or goes back.
//!
//! Where to start: [`run`] is the command line's thin shell over the commands: [`deploy`]
//! (`apply` and `rollback`, the generation logic), [`plan`], [`status`], [`destroy`]. Below them:
//! [`switch`] (one node's stop, start, check; revert) and [`housekeeping`] (recovery after a
//! kill, pruning); [`document`] (the deployment document from the state); [`context`] (what every
//! step takes: the environment, the engine, the state store); [`backend`] (the engines:
//! [`backend::lxc`] on this host, [`backend::proxmox`] through the Proxmox VE API), [`env`] (the
//! environment file), [`candidate`], [`node`] (what a node gets outside the image), [`health`],
//! [`state`] (generations, the lock), [`image`] (the image checked and unpacked).

pub mod backend;
pub mod candidate;
pub mod cli;
pub mod context;
pub mod deploy;
pub mod destroy;
pub mod document;
pub mod drift;
pub mod env;
pub mod fault;
pub mod health;
pub mod housekeeping;
pub mod image;
pub mod lock;
pub mod node;
pub mod plan;
pub mod pool;
pub mod state;
pub mod status;
pub mod summary;
pub mod switch;

use std::path::Path;

use lastmile_cli::{Exit, Negative, Reporter};
use lastmile_documents::Document;
use lastmile_documents::deployment::DeploymentDocument;

use crate::cli::{Cli, Command, Target};
use crate::context::Context;
use crate::document::Reverted;
use crate::env::Environment;

/// Run `deploy-lxc` from its command line.
pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    lastmile_cli::logging::init("deploy-lxc", &cli.global);
    lastmile_process::interrupt::install("deploy-lxc");
    let reporter = Reporter::new("deploy-lxc", &cli.global);
    let output = cli.global.output.as_deref();
    let quiet = cli.global.quiet;
    let target = cli.command.target();
    let mut env = env::load(&target.env)?;
    env.instance = instance(&env, target.instance.as_deref())?;
    let parallel = match &cli.command {
        Command::Apply { parallel, .. } | Command::Rollback { parallel, .. } => *parallel,
        _ => None,
    };
    let state_dir = env::state_dir(&env, target.state_dir.as_deref())
        .map_err(|m| lastmile_fs::InputError::new(lastmile_fs::Location::file(env.file.clone()), m))?;
    let ctx = Context::new(&env, &state_dir, reporter, parallel)?;
    match &cli.command {
        Command::Plan { candidate, .. } => {
            let candidate = candidate::load(&candidate.candidate, candidate.image.as_deref())?;
            let plan = plan::plan(&ctx, &candidate)?;
            lastmile_cli::emit(output, lastmile_documents::to_string(&plan).as_bytes())?;
            Ok(Exit::Success)
        }
        Command::Apply { candidate, .. } => {
            let candidate = candidate::load(&candidate.candidate, candidate.image.as_deref())?;
            finish(deploy::apply(&ctx, &candidate), output, quiet)
        }
        Command::Rollback { .. } => finish(deploy::rollback(&ctx), output, quiet),
        Command::Status { .. } => report_status(&ctx, &env, output, quiet),
        Command::Destroy { .. } => {
            let doc = destroy::destroy(&ctx)?;
            lastmile_cli::emit(output, doc.to_json().as_bytes())?;
            Ok(Exit::Success)
        }
    }
}

impl Command {
    /// The environment and state folder every command names.
    fn target(&self) -> &Target {
        match self {
            Command::Plan { target, .. }
            | Command::Apply { target, .. }
            | Command::Rollback { target, .. }
            | Command::Status { target }
            | Command::Destroy { target } => target,
        }
    }
}

/// `--instance NAME`, checked: a name, and an environment whose nodes take their addresses from a
/// pool (fixed ones would be shared by every instance).
fn instance(env: &Environment, given: Option<&str>) -> anyhow::Result<Option<String>> {
    let Some(name) = given else {
        return Ok(None);
    };
    if !env::valid_name(name) || name.len() > 40 {
        anyhow::bail!("--instance {name:?}: lower-case letters, digits and -, at most 40");
    }
    if env.pool.is_none() {
        return Err(lastmile_fs::InputError::new(
            lastmile_fs::Location::file(env.file.clone()),
            format!(
                "--instance {name}: {}'s nodes have fixed addresses, which two instances would share; give it [pool] addresses = \"127.77.8.2-127.77.8.250\" and leave the nodes' out",
                env.name
            ),
        )
        .into());
    }
    Ok(Some(name.to_owned()))
}

/// `status`: the document, and exit 1 naming every difference.
fn report_status(
    ctx: &Context,
    env: &Environment,
    output: Option<&Path>,
    quiet: bool,
) -> anyhow::Result<Exit> {
    let (doc, differences) = status::status(ctx)?;
    lastmile_cli::emit(output, doc.to_json().as_bytes())?;
    if !quiet {
        summary::print(&doc);
        if let Some(hint) = ctx.engine.listing_hint() {
            summary::hint(&hint);
        }
    }
    if differences.is_empty() {
        return Ok(Exit::Success);
    }
    Err(Negative(format!(
        "{}: the state and what runs differ:\n  {}",
        env.name,
        differences.join("\n  ")
    ))
    .into())
}

/// Print the document (also after a revert, so a pipeline keeps it) and the summary.
fn finish(
    result: anyhow::Result<DeploymentDocument>,
    output: Option<&Path>,
    quiet: bool,
) -> anyhow::Result<Exit> {
    let doc = match &result {
        Ok(doc) => Some(doc),
        Err(error) => error.downcast_ref::<Reverted>().map(|r| r.0.as_ref()),
    };
    if let Some(doc) = doc {
        lastmile_cli::emit(output, doc.to_json().as_bytes())?;
        if !quiet {
            summary::print(doc);
        }
    }
    result.map(|_| Exit::Success)
}
