//! `aqf-run`: see `aqf_run::run`.

use clap::Parser;

fn main() -> std::process::ExitCode {
    lastmile_cli::main_with("aqf-run", || aqf_run::run(aqf_run::cli::Cli::parse()))
}
