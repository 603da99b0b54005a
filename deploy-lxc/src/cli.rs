//! Command-line interface of `deploy-lxc`; clap stops here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const EXAMPLES: &str = "\
Examples:
  deploy-lxc plan  --env examples/cam/lab.toml candidate.json
  bake-image pinned.txt --base base/ -f dist/ | deploy-lxc apply --env examples/cam/lab.toml -
  deploy-lxc apply --env lab.toml images/autobuild-3fa9c2d17b04.tar.gz -o deployment.json
  deploy-lxc status   --env lab.toml
  deploy-lxc rollback --env lab.toml
  deploy-lxc destroy  --env lab.toml
  deploy-lxc apply --env lab.toml --instance ci-42 candidate.json   # a build's own copy of lab
  deploy-lxc destroy --env lab.toml --instance ci-42                 # gone, addresses given back

The candidate is a lastmile.candidate/v1 document (a file, or - for stdin) or the image itself.
State, the unpacked images and the containers live under --state-dir (LASTMILE_STATE_DIR,
default /var/lib/lastmile); one deploy of an environment runs at a time.

Exit codes: 0 deployed (or unchanged, rolled back, consistent), 1 a node failed its checks and
the previous generation serves again (or status found a difference), 2 bad input or error,
130 interrupted (the next run puts the last good generation back).";

/// Install a release candidate on the nodes of an environment (real LXC containers on this
/// host, or a Proxmox VE cluster), health-check every node, switch atomically, roll back.
///
/// Prints a lastmile.deployment/v1 document on stdout (or into -o FILE): the candidate serving,
/// its generation, each node's container, address, roles, health and downtime.
#[derive(Debug, Parser)]
#[command(name = "deploy-lxc", version = lastmile_cli::VERSION, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub global: lastmile_cli::GlobalArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Say what apply would create, start, stop and remove, touching nothing.
    Plan {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        candidate: CandidateArgs,
    },
    /// Deploy a candidate: prepare every node while the old generation serves, switch, check;
    /// if any node fails, every node goes back to the old generation.
    Apply {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        candidate: CandidateArgs,
        /// Nodes switched at once (default: all).
        #[arg(long, value_name = "N")]
        parallel: Option<usize>,
    },
    /// Go back to the previous kept generation, with health checks.
    Rollback {
        #[command(flatten)]
        target: Target,
        /// Nodes switched at once (default: all).
        #[arg(long, value_name = "N")]
        parallel: Option<usize>,
    },
    /// What the state says and what really runs; exit 1 where they differ.
    Status {
        #[command(flatten)]
        target: Target,
    },
    /// Stop and remove every container of the environment, its state and unused images.
    Destroy {
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Debug, Args)]
pub struct Target {
    /// The environment file (TOML): name, backend, nodes, config, health, keep.
    #[arg(long = "env", value_name = "FILE")]
    pub env: PathBuf,
    /// Where state, unpacked images and containers live (default: the environment file's
    /// state_dir, else /var/lib/lastmile; given both, they must agree).
    #[arg(long, value_name = "DIR", env = "LASTMILE_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// One instance of the environment (a CI build's own): its own state, containers and
    /// addresses, claimed from the file's [pool] so that two instances never share one; destroy
    /// it to give them back. Lower-case letters, digits and -.
    #[arg(long, value_name = "NAME")]
    pub instance: Option<String>,
}

#[derive(Debug, Args)]
pub struct CandidateArgs {
    /// candidate.json (lastmile.candidate/v1), - for stdin, or the autobuild-<digest>.tar.gz.
    #[arg(value_name = "CANDIDATE", default_value = "-")]
    pub candidate: PathBuf,
    /// The image file, when it is not where the candidate document says.
    #[arg(long, value_name = "FILE")]
    pub image: Option<PathBuf>,
}
