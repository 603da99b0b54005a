//! Read every discovered item into a [`Distribution`], in parallel, keeping input order.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};

use lastmile_dist::DistError;
use lastmile_dist::{DistMetadata, read_dist_info, read_egg_info, read_sdist, read_wheel};
use lastmile_documents::graph::{Source, SourceKind};
use lastmile_project::{Outcome, ProjectError, ProjectFormat, ReadOptions, read_project};
use lastmile_python::requirement::{Dependency, RawDependency, parse_name};
use lastmile_python::{ExtraName, InputError, Location, PackageName};

use crate::discover::Item;

/// A package and what it declares.
#[derive(Debug, Clone)]
pub(crate) struct Distribution {
    pub(crate) name: PackageName,
    pub(crate) version: Option<String>,
    pub(crate) source: Source,
    pub(crate) requires_python: Option<String>,
    pub(crate) extras: Vec<ExtraName>,
    pub(crate) scripts: BTreeMap<String, String>,
    pub(crate) dependencies: Vec<Dependency>,
    /// What building it needs (a source tree's `[build-system] requires`, `setup_requires`).
    pub(crate) build_dependencies: Vec<Dependency>,
}

/// An item that cannot be read: the message names its file and line.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ScanError {
    #[error(transparent)]
    Project(#[from] ProjectError),
    #[error(transparent)]
    Dist(#[from] DistError),
    #[error(transparent)]
    Input(#[from] InputError),
}

/// The result of reading one item: maybe a distribution, and warnings to print.
#[derive(Debug, Default)]
pub(crate) struct Scanned {
    pub(crate) distribution: Option<Distribution>,
    pub(crate) warnings: Vec<String>,
}

/// Read all items. The first error in input order wins, so the message is the same on every run.
///
/// Items are handed out one at a time to a thread per core (scoped threads over a shared
/// counter). Reading one takes tens of microseconds, so a work-stealing pool's idle spinning
/// (rayon's) cost more than the reading itself on a small environment.
pub(crate) fn read_all(
    items: &[Item],
    options: &ReadOptions,
    progress: &indicatif::ProgressBar,
) -> Result<Vec<Scanned>, ScanError> {
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(index) else {
                return done;
            };
            done.push((index, read_item(item, options)));
            progress.inc(1);
        }
    };
    // One thread per 32 items, at most one per core; the calling thread is one of them.
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let threads = cores.min(items.len().div_ceil(32)).max(1);
    let mut results: Vec<(usize, Result<Scanned, ScanError>)> = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
        let mut all = work();
        for helper in helpers {
            all.extend(helper.join().expect("a scan thread panicked"));
        }
        all
    });
    results.sort_unstable_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, result)| result).collect()
}

fn read_item(item: &Item, options: &ReadOptions) -> Result<Scanned, ScanError> {
    match item {
        Item::Project(dir) => match read_project(dir, options)? {
            Outcome::Project(project) => {
                let location = project.name_location.clone();
                let kind = match project.kind {
                    ProjectFormat::Pyproject => SourceKind::Pyproject,
                    ProjectFormat::SetupCfg => SourceKind::SetupCfg,
                    ProjectFormat::SetupPy => SourceKind::SetupPy,
                };
                let mut dist = distribution(
                    &project.name,
                    &location,
                    project.version,
                    Source {
                        kind,
                        path: dir.display().to_string(),
                    },
                    project.requires_python,
                    &project.extras,
                    project.scripts,
                    &project.dependencies,
                )?;
                dist.build_dependencies = project
                    .build_requires
                    .iter()
                    .map(Dependency::parse)
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Scanned {
                    distribution: Some(dist),
                    warnings: project.warnings,
                })
            }
            Outcome::Skipped(warnings) => Ok(Scanned {
                distribution: None,
                warnings,
            }),
        },
        Item::DistInfo(dir) => from_dist(
            read_dist_info(dir)?,
            SourceKind::DistInfo,
            dir.display().to_string(),
        ),
        Item::EggInfo(path) => from_dist(
            read_egg_info(path)?,
            SourceKind::EggInfo,
            path.display().to_string(),
        ),
        Item::Wheel(path) => from_dist(read_wheel(path)?, SourceKind::Wheel, path.display().to_string()),
        Item::Sdist { path, explicit } => match read_sdist(path) {
            Ok(meta) => from_dist(meta, SourceKind::Sdist, path.display().to_string()),
            Err(err) if !explicit => Ok(Scanned {
                distribution: None,
                warnings: vec![format!("{err} (not read as an sdist; skipped)")],
            }),
            Err(err) => Err(err.into()),
        },
    }
}

fn from_dist(meta: DistMetadata, kind: SourceKind, path: String) -> Result<Scanned, ScanError> {
    let location = Location::file(format!("{path} (Name)"));
    let mut extras: Vec<String> = meta.metadata.provides_extra.clone();
    extras.extend(meta.dependencies.iter().filter_map(|d| d.extra.clone()));
    let dist = distribution(
        &meta.metadata.name,
        &location,
        meta.metadata.version.clone(),
        Source { kind, path },
        meta.metadata.requires_python.clone(),
        &extras,
        meta.console_scripts,
        &meta.dependencies,
    )?;
    Ok(Scanned {
        distribution: Some(dist),
        warnings: meta.warning.into_iter().collect(),
    })
}

#[allow(clippy::too_many_arguments)]
fn distribution(
    name: &str,
    name_location: &Location,
    version: Option<String>,
    source: Source,
    requires_python: Option<String>,
    extras: &[String],
    scripts: BTreeMap<String, String>,
    dependencies: &[RawDependency],
) -> Result<Distribution, InputError> {
    let name = parse_name(name, name_location)?;
    let mut extra_names = Vec::new();
    for extra in extras {
        let parsed = ExtraName::from_str(extra).map_err(|err| {
            InputError::new(
                name_location.clone(),
                format!("invalid extra name {extra:?}: {err}"),
            )
        })?;
        extra_names.push(parsed);
    }
    extra_names.sort();
    extra_names.dedup();
    let dependencies = dependencies
        .iter()
        .map(Dependency::parse)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Distribution {
        name,
        version,
        source,
        requires_python,
        extras: extra_names,
        scripts,
        dependencies,
        build_dependencies: Vec::new(),
    })
}
