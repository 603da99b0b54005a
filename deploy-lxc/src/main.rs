//! `deploy-lxc`: see `deploy_lxc::run`.

use clap::Parser;

fn main() -> std::process::ExitCode {
    lastmile_cli::main_with("deploy-lxc", || deploy_lxc::run(deploy_lxc::cli::Cli::parse()))
}
