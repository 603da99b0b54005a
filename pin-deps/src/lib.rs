//! `pin-deps`: resolve loose requirements with PubGrub into the pinned, hashed requirement set
//! that defines a release candidate.
//!
//! [`pin`] runs the steps in order: read the inputs ([`inputs`]), collect the package sources
//! ([`sources`]), resolve ([`resolve`], over the PubGrub [`provider`]), and write the result
//! ([`output`], [`pylock`]); a failed resolution is explained in words ([`explain`]). [`run`] is
//! the command line's thin shell over it.

pub mod cli;
pub mod options;

mod build;
mod declared;
mod diff;
mod explain;
mod inputs;
mod oslock;
mod output;
mod provider;
mod pylock;
mod resolve;
mod sources;

use std::io::Write;

use lastmile_cli::{Exit, Reporter};
use lastmile_index::{Finder, HashCache};
use lastmile_python::Target;

use crate::cli::Cli;
use crate::options::{Format, Options, TargetChoice};

/// Run `pin-deps` from its command line.
pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    lastmile_cli::logging::init("pin-deps", &cli.global);
    let reporter = Reporter::new("pin-deps", &cli.global);
    let output = cli.global.output.clone();
    match &cli.command {
        Some(cli::Command::Diff { old, new, labels }) => {
            return diff_command(old, new, labels, output.as_deref());
        }
        Some(cli::Command::OsLock {
            spec,
            offline,
            cache_dir,
            upgrade,
            upgrade_package,
        }) => {
            let http = lastmile_index::http::HttpOptions {
                cache_dir: cache_dir.clone().or_else(HashCache::default_root),
                offline: *offline,
                ..lastmile_index::http::HttpOptions::default()
            };
            let previous = previous_os_lock(output.as_deref())?;
            let keep = previous
                .iter()
                .flat_map(|p| &p.packages)
                .filter(|p| !*upgrade && !upgrade_package.contains(&p.name))
                .map(|p| (p.name.clone(), p.version.clone()))
                .collect();
            return match oslock::lock(spec, &keep, http, &reporter)? {
                Ok(lock) => {
                    if let Some(previous) = &previous {
                        report_moves(previous, &lock)?;
                    }
                    lastmile_cli::emit(output.as_deref(), lastmile_documents::to_string(&lock).as_bytes())?;
                    Ok(Exit::Success)
                }
                Err(explanation) => {
                    let _ = writeln!(std::io::stderr().lock(), "pin-deps: {explanation}");
                    Ok(Exit::Negative)
                }
            };
        }
        None => {}
    }
    match pin(&cli.into_options()?, &reporter)? {
        Pinned::Text(text) => {
            lastmile_cli::emit(output.as_deref(), text.as_bytes())?;
            Ok(Exit::Success)
        }
        Pinned::NoSolution(explanation) => {
            let _ = writeln!(std::io::stderr().lock(), "pin-deps: {explanation}");
            Ok(Exit::Negative)
        }
    }
}

/// The lock already in the `-o` file, if there is one.
fn previous_os_lock(
    output: Option<&std::path::Path>,
) -> anyhow::Result<Option<lastmile_documents::oslock::OsLock>> {
    use anyhow::Context;
    use lastmile_documents::Document;
    let Some(path) = output.filter(|p| p.exists()) else {
        return Ok(None);
    };
    let text = lastmile_fs::read_text(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(Some(lastmile_documents::oslock::OsLock::from_json(
        &text,
        &path.display().to_string(),
    )?))
}

/// What a re-lock moved, on stderr.
fn report_moves(
    previous: &lastmile_documents::oslock::OsLock,
    lock: &lastmile_documents::oslock::OsLock,
) -> anyhow::Result<()> {
    let moves = oslock::changes(previous, lock);
    let mut err = std::io::stderr().lock();
    if moves.is_empty() {
        writeln!(err, "pin-deps: os-lock: no package moved")?;
    } else {
        writeln!(err, "pin-deps: os-lock: {} change(s):", moves.len())?;
        for line in moves {
            writeln!(err, "  {line}")?;
        }
    }
    Ok(())
}

/// `pin-deps diff`: the differences on stdout, exit 1 when there are any.
fn diff_command(
    old: &std::path::Path,
    new: &std::path::Path,
    labels: &[String],
    output: Option<&std::path::Path>,
) -> anyhow::Result<Exit> {
    let read = |path: &std::path::Path| -> anyhow::Result<diff::Pins> {
        let text = lastmile_fs::read_text(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Ok(diff::Pins::read(&text))
    };
    let (a, b) = match labels {
        [a, b] => (a.clone(), b.clone()),
        _ => (old.display().to_string(), new.display().to_string()),
    };
    let text = diff::diff(&read(old)?, &read(new)?, (&a, &b));
    lastmile_cli::emit(output, text.as_bytes())?;
    Ok(if text.is_empty() {
        Exit::Success
    } else {
        Exit::Negative
    })
}

/// What pinning produced.
#[derive(Debug)]
pub enum Pinned {
    /// The output, in the format asked for.
    Text(String),
    /// No set of versions satisfies the requirements: why, in plain words.
    NoSolution(String),
}

/// Pin the requirements `options` name.
pub fn pin(options: &Options, reporter: &Reporter) -> anyhow::Result<Pinned> {
    let target = match &options.target {
        TargetChoice::Rootfs(root) => Target::from_rootfs(root)?,
        TargetChoice::Named { python, platform } => Target::new(python, platform)?,
    };
    tracing::info!("resolving for {target}");
    let inputs = inputs::read(&options.inputs)?;
    let mut sources = sources::collect(&options.sources, &inputs.files)?;
    sources.internal.add_names(&inputs.in_house);
    // Only a lock (every file of each pin) or `--hashes all` needs the files the target cannot
    // install.
    sources.keep_all_files =
        options.output.format != Format::Txt || options.output.hashes == Some(options::Hashes::All);
    // Without a cache, downloads go to a folder of this run's own, removed when it ends.
    let scratch = match &sources.http.cache_dir {
        Some(_) => None,
        None => Some(tempfile::Builder::new().prefix("pin-deps-").tempdir()?),
    };
    if let Some(scratch) = &scratch {
        sources.http.cache_dir = Some(scratch.path().to_path_buf());
    }
    let cache = sources.http.cache_dir.clone().expect("a cache folder");
    let finder = Finder::new(sources, &target)?;
    let resolution = match resolve::resolve(&finder, &target, inputs, &options.resolve, &cache, reporter)? {
        resolve::Outcome::Resolved(resolution) => resolution,
        resolve::Outcome::NoSolution(explanation) => return Ok(Pinned::NoSolution(explanation)),
    };
    warn_public_over_local(&finder, &resolution);
    let pinned = output::Pinned {
        resolution: &resolution,
        finder: &finder,
        target: &target,
        hash_cache: options.sources.http.cache_dir.as_deref().map(HashCache::new),
    };
    Ok(Pinned::Text(output::render(&pinned, &options.output)?))
}

/// A package the find-links folders hold that was pinned from an index instead: most often an
/// in-house package whose public namesake is newer (dependency confusion). Said, never silent.
fn warn_public_over_local(finder: &Finder, resolution: &resolve::Resolution) {
    for (name, (version, _)) in &resolution.selection {
        if finder.in_house(name) {
            continue;
        }
        let local = finder.local_versions(name);
        if local.is_empty() || local.contains(version) {
            continue;
        }
        let origins: std::collections::BTreeSet<String> = finder
            .files(name, version)
            .iter()
            .map(|f| f.origin.to_string())
            .collect();
        let local: Vec<String> = local.iter().map(ToString::to_string).collect();
        tracing::warn!(
            "{name} {version} comes from {}, though the find-links folders hold {name} {}; if {name} is in-house, say --internal {name} (or pin --from-graph) so only in-house sources supply it",
            origins.into_iter().collect::<Vec<_>>().join(", "),
            local.join(", ")
        );
    }
}
