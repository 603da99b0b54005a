//! `bake-image`: see `bake_image::run`.

use clap::Parser;

fn main() -> std::process::ExitCode {
    lastmile_cli::main_with("bake-image", || bake_image::run(bake_image::cli::Cli::parse()))
}
