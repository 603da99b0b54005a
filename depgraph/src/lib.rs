//! `depgraph`: scan Python source trees, environments and wheels into a dependency DAG
//! (`lastmile.graph/v1`), and answer questions about it: what a change affects, pictures,
//! consistency checks, and plain lines for scripts (`list`).

pub mod cli;

mod affected;
mod build;
mod changes;
mod check;
mod discover;
mod index;
mod list;
mod render;
mod scan;
mod versions;

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use lastmile_cli::{Exit, GlobalArgs, Reporter, emit};
use lastmile_documents::Document;
use lastmile_documents::graph::GraphDocument;
use lastmile_project::ReadOptions;

use crate::cli::{Cli, Command, ScanArgs};

/// Run one `depgraph` command.
pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    lastmile_cli::logging::init("depgraph", &cli.global);
    match cli.command {
        None => scan_command(&cli.scan, &cli.global),
        Some(Command::Scan(args)) => scan_command(&args, &cli.global),
        Some(Command::Affected(args)) => {
            let doc = read_graph(args.graph.as_deref())?;
            let (text, exit) = affected::run(&doc, &args)?;
            emit(cli.global.output.as_deref(), text.as_bytes())?;
            Ok(exit)
        }
        Some(Command::Versions(args)) => {
            let doc = read_graph(args.graph.as_deref())?;
            emit(
                cli.global.output.as_deref(),
                versions::run(&doc, &args)?.as_bytes(),
            )?;
            Ok(Exit::Success)
        }
        Some(Command::Render(args)) => {
            let doc = read_graph(args.graph.as_deref())?;
            emit(
                cli.global.output.as_deref(),
                render::render(&doc, &args).as_bytes(),
            )?;
            Ok(Exit::Success)
        }
        Some(Command::List(args)) => {
            let doc = read_graph(args.graph.as_deref())?;
            emit(cli.global.output.as_deref(), list::list(&doc, &args)?.as_bytes())?;
            Ok(Exit::Success)
        }
        Some(Command::Check(args)) => {
            let doc = read_graph(args.graph.as_deref())?;
            let target = lastmile_python::Target::new(&args.python_version, &args.python_platform)?;
            let problems = check::check(&doc, &target);
            emit(
                cli.global.output.as_deref(),
                check::format(&problems, args.json).as_bytes(),
            )?;
            if problems.is_empty() {
                Ok(Exit::Success)
            } else {
                tracing::error!(
                    "{} problem{} found",
                    problems.len(),
                    if problems.len() == 1 { "" } else { "s" }
                );
                Ok(Exit::Negative)
            }
        }
    }
}

fn scan_command(args: &ScanArgs, global: &GlobalArgs) -> anyhow::Result<Exit> {
    let started = std::time::Instant::now();
    let paths = input_paths(&args.paths)?;
    let internal = build::Internal::new(&args.internal)?;
    let items = discover::discover(&paths)?;
    tracing::debug!("found {} items to read in {:?}", items.len(), started.elapsed());
    if items.is_empty() {
        tracing::warn!("no source trees, environments, wheels or sdists found under the given paths");
    }
    let progress = if items.len() < 50 {
        indicatif::ProgressBar::hidden()
    } else {
        Reporter::new("depgraph", global).items("scanning", items.len() as u64)
    };
    let options = ReadOptions {
        exec_setup: args.exec_setup,
        python: args.python.clone(),
    };
    let scanned = scan::read_all(&items, &options, &progress);
    progress.finish_and_clear();
    let scanned = scanned?;
    tracing::debug!("read them by {:?}", started.elapsed());
    let mut distributions = Vec::with_capacity(scanned.len());
    for result in scanned {
        for warning in &result.warnings {
            tracing::warn!("{warning}");
        }
        distributions.extend(result.distribution);
    }
    let doc = build::build(distributions, &internal);
    tracing::debug!("built the graph by {:?}", started.elapsed());
    for duplicate in &doc.duplicates {
        let paths: Vec<_> = duplicate.sources.iter().map(|s| s.path.as_str()).collect();
        tracing::warn!(
            "{} is found more than once ({}); the first is used",
            duplicate.name,
            paths.join(", ")
        );
    }
    // Streamed: a large environment's document is never held whole as text.
    lastmile_cli::emit_with(global.output.as_deref(), |out| {
        lastmile_documents::write(out, &doc)
    })?;
    tracing::debug!("wrote the document by {:?}", started.elapsed());
    if doc.build_order.is_none() {
        for cycle in &doc.cycles {
            let names: Vec<_> = cycle.iter().map(ToString::to_string).collect();
            tracing::error!("dependency cycle: {}", names.join(" -> "));
        }
        tracing::error!("the in-house packages have a dependency cycle, so there is no build order");
        return Ok(Exit::Negative);
    }
    Ok(Exit::Success)
}

/// The paths to scan: the arguments, where `-` stands for a path a line on stdin. With no
/// arguments, paths are read from stdin when it is not a terminal.
fn input_paths(args: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let from_stdin = || -> anyhow::Result<Vec<PathBuf>> {
        let text = lastmile_cli::input::read_stdin().context("reading paths from stdin")?;
        Ok(text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(PathBuf::from)
            .collect())
    };
    let mut paths = Vec::new();
    if args.is_empty() {
        if lastmile_cli::input::stdin_is_terminal() {
            bail!(
                "no paths given (name source trees, environments or wheel folders, or pipe paths in; see --help)"
            );
        }
        paths = from_stdin()?;
    }
    for arg in args {
        if arg == Path::new("-") {
            paths.extend(from_stdin()?);
        } else {
            paths.push(arg.clone());
        }
    }
    if paths.is_empty() {
        bail!("no paths to scan: none on the command line and none on standard input (see --help)");
    }
    Ok(paths)
}

/// Read a graph document from a file, or stdin for `-` or no path.
fn read_graph(path: Option<&Path>) -> anyhow::Result<GraphDocument> {
    let path = path.unwrap_or(Path::new("-"));
    if path == Path::new("-") && lastmile_cli::input::stdin_is_terminal() {
        bail!("no graph document: give a file or pipe one in (depgraph PATH... | depgraph ...)");
    }
    let (text, name) =
        lastmile_cli::input::read_path_or_stdin(path).with_context(|| format!("{}", path.display()))?;
    Ok(GraphDocument::from_json(&text, &name)?)
}
