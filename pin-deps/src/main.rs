use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = pin_deps::cli::Cli::parse();
    lastmile_cli::main_with("pin-deps", || pin_deps::run(cli))
}
