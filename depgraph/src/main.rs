use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = depgraph::cli::Cli::parse();
    lastmile_cli::main_with("depgraph", || depgraph::run(cli))
}
