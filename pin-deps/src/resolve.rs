//! Step 3: the resolution. PubGrub over the provider, then the selection with who asked for each
//! package (for `# via`) and what each depends on (for the lock).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use lastmile_index::Finder;
use lastmile_python::{Operator, PackageName, Requirement, Target, Version, VersionOrUrl};
use pubgrub::PubGrubError;

use crate::build::Builder;
use crate::inputs::Inputs;
use crate::options::{Prerelease, ResolveOptions};
use crate::provider::{Pkg, Provider, Range, RootRequirement, Selection};

/// A resolution: the pins and what the output says about them.
#[derive(Debug)]
pub(crate) struct Resolution {
    pub(crate) selection: Selection,
    /// For each package, who asked for it: package names and `-r file` / `-c file`.
    pub(crate) via: BTreeMap<PackageName, BTreeSet<String>>,
    /// What each selected package depends on in the resolution.
    pub(crate) dependencies: BTreeMap<PackageName, BTreeSet<PackageName>>,
    /// The top-level requirements, as written.
    pub(crate) requirements: Vec<String>,
    /// Direct references passed through unresolved: (line, via).
    pub(crate) passthrough: Vec<(String, String)>,
}

/// How a resolution ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    Resolved(Resolution),
    /// No set of versions satisfies the requirements: the facts in plain words.
    NoSolution(String),
}

/// Direct references are passed through as written and reported; they are not resolved. They
/// leave `roots`; returned as (requirement, via).
fn direct_references(roots: &mut Vec<RootRequirement>) -> Vec<(String, String)> {
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
    passthrough
}

/// The ranges the constraints and `--upgrade-package NAME==VER` allow, and the pins of an
/// existing output to keep (those `--upgrade-package` lifts removed).
fn constraints_and_preferences(
    constraint_requirements: &[&Requirement],
    options: &ResolveOptions,
) -> anyhow::Result<(HashMap<PackageName, Range>, HashMap<PackageName, Version>)> {
    let mut constraints: HashMap<PackageName, Range> = HashMap::new();
    for requirement in constraint_requirements {
        constrain(&mut constraints, requirement);
    }
    let mut preferences: HashMap<PackageName, Version> = options.preferences.iter().cloned().collect();
    for spec in &options.upgrade_packages {
        let requirement = lastmile_python::requirement::parse_requirement(
            spec,
            &lastmile_fs::Location::file("--upgrade-package"),
        )?;
        preferences.remove(&requirement.name);
        constrain(&mut constraints, &requirement);
    }
    Ok((constraints, preferences))
}

/// Resolve the inputs' requirements for the target.
pub(crate) fn resolve(
    finder: &Finder,
    target: &Target,
    inputs: Inputs,
    options: &ResolveOptions,
    cache: &Path,
    reporter: &lastmile_cli::Reporter,
) -> anyhow::Result<Outcome> {
    let Inputs { mut roots, files, .. } = inputs;
    finder.prefetch(roots.iter().map(|r| r.requirement.name.clone()));

    let passthrough = direct_references(&mut roots);
    let constraint_requirements = applicable_constraints(&files, target);
    let (constraints, preferences) = constraints_and_preferences(&constraint_requirements, options)?;
    let named: Vec<&Requirement> = roots
        .iter()
        .map(|r| &r.requirement)
        .chain(constraint_requirements.iter().copied())
        .collect();
    let prerelease = if files.pre {
        Prerelease::Allow
    } else {
        options.prerelease
    };
    let (explicit_pre, exact) = (explicit_prereleases(&named), exact_pins(&named));
    let mut provider = Provider::new(
        finder,
        target,
        roots,
        constraints,
        prerelease,
        explicit_pre,
        options.resolution,
        preferences,
    );
    provider.exact = exact;
    let env = target.marker_environment();
    for constraint in files
        .constraints
        .iter()
        .filter(|c| c.requirement.marker.evaluate(&env, &[]))
    {
        provider
            .constraint_origins
            .entry(constraint.requirement.name.clone())
            .or_default()
            .push(constraint.location.to_string());
    }
    provider.builder = options
        .build
        .enabled
        .then(|| Builder::new(finder, target, resolve_wheels_only, options.build.clone(), cache));
    provider.prefer_binary = options.prefer_binary || files.prefer_binary;

    let progress = Progress::start(finder, reporter);
    let result = pubgrub::resolve(&provider, Pkg::Root, Version::new([0]));
    progress.finish();
    for warning in provider.take_warnings().into_iter().chain(finder.take_warnings()) {
        tracing::warn!("{warning}");
    }
    log_counters(finder);
    let solution = match result {
        Ok(solution) => solution,
        Err(PubGrubError::NoSolution(tree)) => {
            if let Some(error) = provider.take_errors().into_iter().next() {
                return Err(error.into());
            }
            return Ok(Outcome::NoSolution(crate::explain::explain(&provider, &tree)));
        }
        Err(
            PubGrubError::ErrorChoosingVersion { source, .. }
            | PubGrubError::ErrorRetrievingDependencies { source, .. },
        ) => return Err(source.into()),
        Err(other) => anyhow::bail!("resolution failed: {other}"),
    };
    if let Some(error) = provider.take_errors().into_iter().next() {
        return Err(error.into());
    }
    let selection = selection(&solution);
    warn_yanked(finder, &selection);
    warn_sdist_only(finder, target, &selection);
    Ok(Outcome::Resolved(Resolution {
        via: annotations(&provider, &solution, &files),
        dependencies: dependencies(&provider, &solution),
        requirements: provider.roots.iter().map(|r| r.requirement.to_string()).collect(),
        selection,
        passthrough,
    }))
}

/// The constraints that hold for the target: a constraint's marker says where it holds, as pip
/// and uv read it, and one that does not hold is no constraint at all.
fn applicable_constraints<'a>(
    files: &'a lastmile_python::requirements_file::RequirementsFile,
    target: &Target,
) -> Vec<&'a Requirement> {
    let env = target.marker_environment();
    files
        .constraints
        .iter()
        .map(|c| &c.requirement)
        .filter(|r| r.marker.evaluate(&env, &[]))
        .collect()
}

/// Resolve the requirements of a build environment (PEP 518 `[build-system] requires` and what
/// the backend asks for besides): highest versions with a wheel for the target, never an sdist.
pub(crate) fn resolve_wheels_only(
    finder: &Finder,
    target: &Target,
    requirements: &[Requirement],
) -> Result<Vec<(PackageName, Version)>, crate::build::Failure> {
    use crate::build::Failure;
    let roots = requirements
        .iter()
        .map(|requirement| RootRequirement {
            requirement: requirement.clone(),
            origin: "[build-system] requires".into(),
            via: "[build-system] requires".into(),
        })
        .collect();
    let named: Vec<&Requirement> = requirements.iter().collect();
    let mut provider = Provider::new(
        finder,
        target,
        roots,
        HashMap::new(),
        Prerelease::default(),
        explicit_prereleases(&named),
        crate::options::Resolution::Highest,
        HashMap::new(),
    );
    provider.wheels_only = true;
    provider.exact = exact_pins(&named);
    let result = pubgrub::resolve(&provider, Pkg::Root, Version::new([0]));
    if let Some(error) = provider.take_errors().into_iter().next() {
        return Err(Failure::Requirements(error.to_string()));
    }
    match result {
        Ok(solution) => Ok(selection(&solution)
            .into_iter()
            .map(|(name, (version, _))| (name, version))
            .collect()),
        Err(PubGrubError::NoSolution(tree)) => Err(Failure::Requirements(format!(
            "its build requirements cannot be met with wheels from the package sources: {}",
            crate::explain::facts(&provider, &tree).join("; ")
        ))),
        Err(other) => Err(Failure::Requirements(other.to_string())),
    }
}

fn constrain(constraints: &mut HashMap<PackageName, Range>, requirement: &Requirement) {
    if let Some(VersionOrUrl::VersionSpecifier(specifiers)) = &requirement.version_or_url {
        let range = Range::from(specifiers.clone());
        let entry = constraints
            .entry(requirement.name.clone())
            .or_insert_with(Range::full);
        *entry = entry.intersection(&range);
    }
}

/// Packages whose requirement (or constraint) names a pre-release.
fn explicit_prereleases(requirements: &[&Requirement]) -> BTreeSet<PackageName> {
    requirements
        .iter()
        .filter(|r| match &r.version_or_url {
            Some(VersionOrUrl::VersionSpecifier(specifiers)) => {
                specifiers.iter().any(|s| s.version().any_prerelease())
            }
            _ => false,
        })
        .map(|r| r.name.clone())
        .collect()
}

/// PEP 592: a yanked version is chosen only when a requirement pins it exactly.
fn exact_pins(requirements: &[&Requirement]) -> HashMap<PackageName, Version> {
    let mut exact = HashMap::new();
    for requirement in requirements {
        if let Some(VersionOrUrl::VersionSpecifier(specifiers)) = &requirement.version_or_url
            && let [only] = specifiers.iter().collect::<Vec<_>>().as_slice()
            && matches!(only.operator(), Operator::Equal | Operator::ExactEqual)
        {
            exact.insert(requirement.name.clone(), only.version().clone());
        }
    }
    exact
}

/// The selected packages with the extras chosen of each.
fn selection(solution: &pubgrub::SelectedDependencies<Pkg, Version>) -> Selection {
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
    selection
}

/// Pins with no wheel the target can install: a candidate needs wheels, so they must be built
/// first. Said at once, all of them, when they are pinned, not one at a time by bake-image.
fn warn_sdist_only(finder: &Finder, target: &Target, selection: &Selection) {
    let only: Vec<String> = selection
        .iter()
        .filter(|(name, (version, _))| {
            let files = finder.files(name, version);
            !files.is_empty()
                && !files
                    .iter()
                    .any(|f| matches!(f.kind, lastmile_index::FileKind::Wheel { rank: Some(_) }))
        })
        .map(|(name, (version, _))| format!("{name}=={version}"))
        .collect();
    if !only.is_empty() {
        tracing::warn!(
            "{} only an sdist for {target}: {}; an image needs wheels: bake-image --build-root $(scripts/build-root) builds {} in the base plus a compiler",
            if only.len() == 1 {
                "1 pin has"
            } else {
                "these pins have"
            },
            only.join(", "),
            if only.len() == 1 { "it" } else { "them" }
        );
    }
}

fn warn_yanked(finder: &Finder, selection: &Selection) {
    for (name, (version, _)) in selection {
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
}

fn log_counters(finder: &Finder) {
    let counters = &finder.client().counters;
    tracing::info!(
        "{} requests ({} retried), {} answers from the cache ({} revalidated), {} KiB received",
        counters.requests.load(Ordering::Relaxed),
        counters.retries.load(Ordering::Relaxed),
        counters.cache_hits.load(Ordering::Relaxed),
        counters.revalidated.load(Ordering::Relaxed),
        counters.bytes.load(Ordering::Relaxed) / 1024,
    );
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
    files: &lastmile_python::requirements_file::RequirementsFile,
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
        // A constraint whose marker does not hold for the target constrained nothing.
        if constraint.requirement.marker.evaluate(&provider.env, &[])
            && solution
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

/// A spinner with request counts while resolving (hidden unless the reporter draws).
struct Progress {
    bar: indicatif::ProgressBar,
    stop: Arc<AtomicBool>,
    ticker: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    fn start(finder: &Finder, reporter: &lastmile_cli::Reporter) -> Self {
        let bar = reporter.spinner("resolving");
        let stop = Arc::new(AtomicBool::new(false));
        if bar.is_hidden() {
            return Self {
                bar,
                stop,
                ticker: None,
            };
        }
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
        self.stop.store(true, Ordering::Relaxed);
        if let Some(ticker) = self.ticker.take() {
            ticker.thread().unpark();
            let _ = ticker.join();
        }
        self.bar.finish_and_clear();
    }
}
