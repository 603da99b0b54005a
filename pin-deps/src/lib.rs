//! `pin-deps`: resolve loose requirements with PubGrub into the pinned, hashed requirement set
//! that defines a release candidate.

pub mod cli;

mod explain;
mod output;
mod provider;
mod pylock;
mod sdist_build;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::Path;
use std::str::FromStr;

use anyhow::{Context, bail};
use lastmile_core::exit::Exit;
use lastmile_core::finder::{Finder, IndexStrategy, Sources, find_links_dir};
use lastmile_core::graph::GraphDocument;
use lastmile_core::requirements_file::RequirementsFile;
use lastmile_core::target::Target;
use lastmile_core::{PackageName, Requirement, Version};
use pep508_rs::VersionOrUrl;
use pubgrub::PubGrubError;

use crate::cli::Cli;
use crate::provider::{Pkg, Provider, Range, RootRequirement, Selection};

/// Run `pin-deps`.
pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    lastmile_core::logging::init("pin-deps", cli.verbose, cli.quiet);
    let target = match &cli.target_rootfs {
        Some(root) => Target::from_rootfs(root)?,
        None => Target::new(&cli.python_version, &cli.python_platform)?,
    };
    tracing::info!("resolving for {target}");

    let mut files = RequirementsFile::default();
    let mut roots = Vec::new();
    for input in &cli.inputs {
        if is_project_file(input) {
            roots.extend(project_roots(input, &cli)?);
            continue;
        }
        let file = if input == Path::new("-") {
            let text = lastmile_core::input::read_stdin().context("reading requirements from stdin")?;
            RequirementsFile::parse(&text, lastmile_core::input::STDIN_NAME)?
        } else {
            RequirementsFile::read(input)?
        };
        for r in &file.requirements {
            roots.push(RootRequirement {
                requirement: r.requirement.clone(),
                origin: r.location.to_string(),
                via: format!("-r {}", r.file),
            });
        }
        merge(&mut files, file);
    }
    if let Some(graph) = &cli.from_graph {
        roots.extend(graph_roots(graph, &cli.package)?);
    }
    if roots.is_empty() {
        bail!("nothing to pin: name requirements files or --from-graph (see --help)");
    }
    let finder = Finder::new(sources(&cli, &files)?, &target)?;
    finder.prefetch(roots.iter().map(|r| r.requirement.name.clone()));

    // Direct references are passed through as written and reported; they are not resolved.
    let mut passthrough = Vec::new();
    roots.retain(|root| match &root.requirement.version_or_url {
        Some(VersionOrUrl::Url(_)) => {
            tracing::warn!(
                "{}: {} is a direct reference; it is passed through unpinned and unhashed",
                root.origin,
                root.requirement.name
            );
            passthrough.push((root.requirement.to_string(), root.via.clone()));
            false
        }
        _ => true,
    });

    let mut constraints: HashMap<PackageName, Range> = HashMap::new();
    let mut explicit_pre = BTreeSet::new();
    let mut constrain = |requirement: &Requirement| {
        if let Some(VersionOrUrl::VersionSpecifier(specifiers)) = &requirement.version_or_url {
            let range = Range::from(specifiers.clone());
            let entry = constraints
                .entry(requirement.name.clone())
                .or_insert_with(Range::full);
            *entry = entry.intersection(&range);
        }
    };
    for constraint in &files.constraints {
        constrain(&constraint.requirement);
    }
    let mut preferences: HashMap<PackageName, Version> = HashMap::new();
    if let Some(path) = &cli.output
        && !cli.upgrade
        && let Ok(text) = std::fs::read_to_string(path)
    {
        preferences.extend(output::existing_pins(&text));
    }
    for spec in &cli.upgrade_package {
        let requirement =
            Requirement::from_str(spec).map_err(|e| anyhow::anyhow!("--upgrade-package {spec:?}: {e}"))?;
        preferences.remove(&requirement.name);
        constrain(&requirement);
    }
    for requirement in roots
        .iter()
        .map(|r| &r.requirement)
        .chain(files.constraints.iter().map(|c| &c.requirement))
    {
        if let Some(VersionOrUrl::VersionSpecifier(specifiers)) = &requirement.version_or_url
            && specifiers.iter().any(|s| s.version().any_prerelease())
        {
            explicit_pre.insert(requirement.name.clone());
        }
    }
    // PEP 592: a yanked version is chosen only when a requirement pins it exactly.
    let mut exact: HashMap<PackageName, Version> = HashMap::new();
    for requirement in roots
        .iter()
        .map(|r| &r.requirement)
        .chain(files.constraints.iter().map(|c| &c.requirement))
    {
        if let Some(VersionOrUrl::VersionSpecifier(specifiers)) = &requirement.version_or_url
            && let [only] = specifiers.iter().collect::<Vec<_>>().as_slice()
            && matches!(
                only.operator(),
                pep508_rs::pep440_rs::Operator::Equal | pep508_rs::pep440_rs::Operator::ExactEqual
            )
        {
            exact.insert(requirement.name.clone(), only.version().clone());
        }
    }
    let prerelease = if files.pre {
        cli::Prerelease::Allow
    } else {
        cli.prerelease
    };
    let mut provider = Provider::new(
        &finder,
        &target,
        roots,
        constraints,
        prerelease,
        explicit_pre,
        cli.resolution,
        preferences,
    );
    provider.exact = exact;
    provider.build_sdists = cli.build_sdists.clone();

    let progress = Progress::start(&finder, cli.quiet);
    let result = pubgrub::resolve(&provider, Pkg::Root, Version::new([0]));
    progress.finish();
    for warning in provider.take_warnings().into_iter().chain(finder.take_warnings()) {
        tracing::warn!("{warning}");
    }
    let counters = &finder.client().counters;
    tracing::info!(
        "{} requests ({} retried), {} answers from the cache ({} revalidated), {} KiB received",
        counters.requests.load(std::sync::atomic::Ordering::Relaxed),
        counters.retries.load(std::sync::atomic::Ordering::Relaxed),
        counters.cache_hits.load(std::sync::atomic::Ordering::Relaxed),
        counters.revalidated.load(std::sync::atomic::Ordering::Relaxed),
        counters.bytes.load(std::sync::atomic::Ordering::Relaxed) / 1024,
    );
    let solution = match result {
        Ok(solution) => solution,
        Err(PubGrubError::NoSolution(tree)) => {
            if let Some(error) = provider.take_errors().into_iter().next() {
                bail!("{error}");
            }
            let text = explain::explain(&provider, &tree);
            let _ = writeln!(std::io::stderr().lock(), "pin-deps: {text}");
            return Ok(Exit::Negative);
        }
        Err(
            PubGrubError::ErrorChoosingVersion { source, .. }
            | PubGrubError::ErrorRetrievingDependencies { source, .. },
        ) => {
            bail!("{source}")
        }
        Err(other) => bail!("resolution failed: {other}"),
    };
    if let Some(error) = provider.take_errors().into_iter().next() {
        bail!("{error}");
    }

    let mut selection: Selection = BTreeMap::new();
    for (pkg, version) in solution.iter() {
        match pkg {
            Pkg::Name(name) => {
                selection
                    .entry(name.clone())
                    .or_insert_with(|| (version.clone(), BTreeSet::new()))
                    .0 = version.clone();
            }
            Pkg::Extra(name, extra) => {
                selection
                    .entry(name.clone())
                    .or_insert_with(|| (version.clone(), BTreeSet::new()))
                    .1
                    .insert(extra.clone());
            }
            _ => {}
        }
    }
    for (name, (version, _)) in &selection {
        if let Some(reason) = finder.yanked(name, version) {
            let reason = if reason.is_empty() {
                String::new()
            } else {
                format!(" ({reason})")
            };
            tracing::warn!(
                "{name}=={version} is yanked{reason}; it is pinned because a requirement names it exactly"
            );
        }
    }
    let via = annotations(&provider, &solution, &files);
    let args: Vec<String> = std::env::args().collect();
    let command = output::command_line(&args);
    let hash_cache = if cli.no_cache {
        None
    } else {
        cli.cache_dir
            .clone()
            .or_else(lastmile_core::finder::HashCache::default_root)
            .map(|d| lastmile_core::finder::HashCache::new(&d))
    };
    let pinned = output::Pinned {
        selection: &selection,
        via: &via,
        passthrough: &passthrough,
        finder: &finder,
        target: &target,
        command,
        hash_cache,
    };
    let text = match cli.format {
        cli::Format::Txt => output::write(&pinned, &cli)?,
        cli::Format::Json | cli::Format::Pylock => {
            let requirements = provider.roots.iter().map(|r| r.requirement.to_string()).collect();
            let deps = dependencies(&provider, &solution);
            let lock = output::lock(&pinned, requirements, &deps, &cli)?;
            if cli.format == cli::Format::Json {
                lastmile_core::document::to_string(&lock)
            } else {
                crate::pylock::to_toml(&lock, &target)
            }
        }
    };
    match &cli.output {
        Some(path) => lastmile_core::fs::write_atomic(path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?,
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(Exit::Success)
}

/// A spinner with request counts while resolving, on a terminal only.
struct Progress {
    bar: indicatif::ProgressBar,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ticker: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    fn start(finder: &Finder, quiet: bool) -> Self {
        use std::io::IsTerminal;
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        if quiet || !std::io::stderr().is_terminal() {
            return Self {
                bar: indicatif::ProgressBar::hidden(),
                stop,
                ticker: None,
            };
        }
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template("pin-deps: {spinner} resolving: {msg} {elapsed}")
                .expect("a valid progress template"),
        );
        let ticker = {
            let (bar, stop, finder) = (bar.clone(), stop.clone(), finder.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let counters = &finder.client().counters;
                    bar.set_message(format!(
                        "{} requests, {} from the cache, {} KiB",
                        counters.requests.load(Ordering::Relaxed),
                        counters.cache_hits.load(Ordering::Relaxed),
                        counters.bytes.load(Ordering::Relaxed) / 1024
                    ));
                    bar.tick();
                    std::thread::park_timeout(std::time::Duration::from_millis(100));
                }
            })
        };
        Self {
            bar,
            stop,
            ticker: Some(ticker),
        }
    }

    fn finish(mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(ticker) = self.ticker.take() {
            ticker.thread().unpark();
            let _ = ticker.join();
        }
        self.bar.finish_and_clear();
    }
}

/// The package sources from the command line, the requirements files and pip's environment
/// variables, in pip's order of precedence.
fn sources(cli: &Cli, files: &RequirementsFile) -> anyhow::Result<Sources> {
    let env_list = |name: &str| -> Vec<String> {
        std::env::var(name)
            .map(|v| v.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default()
    };
    let no_index = cli.no_index || files.no_index;
    let mut indexes = Vec::new();
    if !no_index {
        let first = cli
            .index_url
            .clone()
            .or_else(|| files.index_url.clone())
            .or_else(|| std::env::var("PIP_INDEX_URL").ok().filter(|v| !v.is_empty()))
            .unwrap_or_else(|| lastmile_core::finder::PYPI.to_owned());
        indexes.push(first);
        indexes.extend(cli.extra_index_url.iter().cloned());
        indexes.extend(files.extra_index_urls.iter().cloned());
        if cli.extra_index_url.is_empty() {
            indexes.extend(env_list("PIP_EXTRA_INDEX_URL"));
        }
    }
    let mut find_links = Vec::new();
    let env_links = if cli.find_links.is_empty() {
        env_list("PIP_FIND_LINKS")
    } else {
        Vec::new()
    };
    for value in cli.find_links.iter().chain(&files.find_links).chain(&env_links) {
        match find_links_dir(value) {
            Some(dir) => find_links.push(dir),
            None => bail!(
                "--find-links {}: only folders and file:// URLs are supported; give an HTML index with --extra-index-url",
                lastmile_core::http::redact(value)
            ),
        }
    }
    if find_links.is_empty() && indexes.is_empty() {
        bail!("no package source: --no-index leaves only --find-links, and none was given");
    }
    let exclude_newer = match &cli.exclude_newer {
        None => None,
        Some(text) => Some(parse_time(text)?),
    };
    let cache_dir = if cli.no_cache {
        None
    } else {
        cli.cache_dir
            .clone()
            .or_else(lastmile_core::finder::HashCache::default_root)
    };
    if cli.offline && cache_dir.is_none() {
        bail!("--offline needs a cache: drop --no-cache, or give --cache-dir");
    }
    if !(cli.timeout > 0.0 && cli.timeout.is_finite()) {
        bail!("--timeout {}: give a positive number of seconds", cli.timeout);
    }
    Ok(Sources {
        find_links,
        indexes,
        strategy: match cli.index_strategy {
            cli::IndexStrategy::UnsafeBestMatch => IndexStrategy::UnsafeBestMatch,
            cli::IndexStrategy::FirstIndex => IndexStrategy::FirstIndex,
        },
        exclude_newer,
        http: lastmile_core::http::HttpOptions {
            cache_dir,
            offline: cli.offline,
            timeout: std::time::Duration::from_secs_f64(cli.timeout),
            retries: cli.retries,
            ..Default::default()
        },
        concurrency: cli.concurrency.max(1),
    })
}

/// An RFC 3339 time, or a date (midnight UTC at its end is not assumed: the start of the day).
fn parse_time(text: &str) -> anyhow::Result<jiff::Timestamp> {
    if let Ok(time) = text.parse::<jiff::Timestamp>() {
        return Ok(time);
    }
    let date: jiff::civil::Date = text.parse().map_err(|_| {
        anyhow::anyhow!(
            "--exclude-newer {text:?}: give an RFC 3339 time (2024-05-01T12:00:00Z) or a date (2024-05-01)"
        )
    })?;
    Ok(date.to_zoned(jiff::tz::TimeZone::UTC)?.timestamp())
}

fn is_project_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| lastmile_core::project::PROJECT_FILES.contains(&n))
}

/// The dependencies a project declares (those of the requested extras too), read by core the
/// way depgraph reads them. Annotated `# via NAME (FILE)` as pip-compile does.
fn project_roots(path: &Path, cli: &Cli) -> anyhow::Result<Vec<RootRequirement>> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let options = lastmile_core::project::ReadOptions::default();
    let project = match lastmile_core::project::read_project(dir, &options)? {
        Ok(project) => project,
        Err(warnings) => bail!("{}: {}", path.display(), warnings.join("; ")),
    };
    for warning in &project.warnings {
        tracing::warn!("{warning}");
    }
    for extra in &cli.extra {
        let wanted =
            pep508_rs::ExtraName::from_str(extra).map_err(|e| anyhow::anyhow!("--extra {extra:?}: {e}"))?;
        if !project
            .extras
            .iter()
            .any(|e| pep508_rs::ExtraName::from_str(e).is_ok_and(|e| e == wanted))
        {
            bail!(
                "--extra {extra}: {} has no such extra (it has: {})",
                project.name,
                project.extras.join(", ")
            );
        }
    }
    let wanted = |extra: &str| {
        cli.all_extras
            || cli
                .extra
                .iter()
                .any(|e| pep508_rs::ExtraName::from_str(e).ok() == pep508_rs::ExtraName::from_str(extra).ok())
    };
    let file = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut roots = Vec::new();
    for raw in &project.dependencies {
        if raw.extra.as_deref().is_some_and(|e| !wanted(e)) {
            continue;
        }
        let requirement = lastmile_core::requirement::parse_requirement(&raw.text, &raw.location)?;
        roots.push(RootRequirement {
            requirement,
            origin: raw.location.to_string(),
            via: format!("{} ({file})", project.name),
        });
    }
    Ok(roots)
}

fn merge(into: &mut RequirementsFile, file: RequirementsFile) {
    into.constraints.extend(file.constraints);
    into.index_url = into.index_url.take().or(file.index_url);
    into.extra_index_urls.extend(file.extra_index_urls);
    into.find_links.extend(file.find_links);
    into.no_index |= file.no_index;
    into.pre |= file.pre;
}

/// The leaves of a graph document (or the named packages) as unpinned requirements: "the latest
/// built versions of the leaves".
fn graph_roots(path: &Path, packages: &[String]) -> anyhow::Result<Vec<RootRequirement>> {
    let (text, name) =
        lastmile_core::input::read_path_or_stdin(path).with_context(|| path.display().to_string())?;
    let doc = GraphDocument::from_json(&text, &name)?;
    let names: Vec<PackageName> = if packages.is_empty() {
        doc.leaves.clone()
    } else {
        packages
            .iter()
            .map(|p| {
                let parsed = PackageName::from_str(p).map_err(|e| anyhow::anyhow!("--package {p:?}: {e}"))?;
                if doc.node(&parsed).is_none() {
                    bail!("--package {p}: no package named {parsed} in {name}");
                }
                Ok(parsed)
            })
            .collect::<anyhow::Result<_>>()?
    };
    if names.is_empty() {
        bail!("{name}: the graph has no leaves to pin");
    }
    names
        .into_iter()
        .map(|n| {
            Ok(RootRequirement {
                requirement: Requirement::from_str(n.as_ref())?,
                origin: format!("{name} (leaf {n})"),
                via: format!("-r {name}"),
            })
        })
        .collect()
}

/// What each selected package depends on in the resolution (its extras' dependencies included).
fn dependencies(
    provider: &Provider,
    solution: &pubgrub::SelectedDependencies<Pkg, Version>,
) -> BTreeMap<PackageName, BTreeSet<PackageName>> {
    let mut out: BTreeMap<PackageName, BTreeSet<PackageName>> = BTreeMap::new();
    for (pkg, version) in solution.iter() {
        let Some(parent) = pkg.name() else { continue };
        let entry = out.entry(parent.clone()).or_default();
        for (child, _) in provider.edges_of(pkg, version) {
            if &child != parent && solution.get(&Pkg::Name(child.clone())).is_some() {
                entry.insert(child);
            }
        }
    }
    out
}

/// Who asked for each selected package: parents, `-r FILE` for the roots, `-c FILE` for constraints.
fn annotations(
    provider: &Provider,
    solution: &pubgrub::SelectedDependencies<Pkg, Version>,
    files: &RequirementsFile,
) -> BTreeMap<PackageName, BTreeSet<String>> {
    let mut via: BTreeMap<PackageName, BTreeSet<String>> = BTreeMap::new();
    for root in &provider.roots {
        if root.requirement.marker.evaluate(&provider.env, &[]) {
            via.entry(root.requirement.name.clone())
                .or_default()
                .insert(root.via.clone());
        }
    }
    for constraint in &files.constraints {
        if solution
            .get(&Pkg::Name(constraint.requirement.name.clone()))
            .is_some()
        {
            via.entry(constraint.requirement.name.clone())
                .or_default()
                .insert(format!("-c {}", constraint.file));
        }
    }
    for (pkg, version) in solution.iter() {
        let Some(parent) = pkg.name() else { continue };
        for (child, _) in provider.edges_of(pkg, version) {
            if &child != parent && solution.get(&Pkg::Name(child.clone())).is_some() {
                via.entry(child).or_default().insert(parent.to_string());
            }
        }
    }
    via
}
