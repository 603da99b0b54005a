//! The PubGrub dependency provider: packages, their versions from the package sources, and their
//! dependencies evaluated for the target. Extras are virtual packages (`katcore[monitoring]`
//! depends on `katcore` at the same version plus the extra's requirements), and the target's
//! Python is a package with one version, so `Requires-Python` conflicts are explained like any
//! other.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use lastmile_fs::InputError;
use lastmile_index::{DistFile, FileKind, Finder, IndexError};
use lastmile_python::target::Target;
use lastmile_python::{ExtraName, PackageName, Requirement, Version};
use pep508_rs::{MarkerEnvironment, VersionOrUrl};
use pubgrub::{Dependencies, DependencyConstraints, DependencyProvider, PackageResolutionStatistics, Ranges};

use crate::build::Builder;
pub(crate) use crate::declared::Declared;
use crate::options::{Prerelease, Resolution};

pub(crate) type Range = Ranges<Version>;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Pkg {
    Root,
    Python,
    Name(PackageName),
    Extra(PackageName, ExtraName),
}

impl fmt::Display for Pkg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pkg::Root => f.write_str("the requirements"),
            Pkg::Python => f.write_str("Python"),
            Pkg::Name(name) => write!(f, "{name}"),
            Pkg::Extra(name, extra) => write!(f, "{name}[{extra}]"),
        }
    }
}

impl Pkg {
    pub(crate) fn name(&self) -> Option<&PackageName> {
        match self {
            Pkg::Name(name) | Pkg::Extra(name, _) => Some(name),
            _ => None,
        }
    }
}

/// A requirement of the root, with where it was written.
#[derive(Debug, Clone)]
pub(crate) struct RootRequirement {
    pub(crate) requirement: Requirement,
    /// `requirements.in:3`, or `graph.json (leaf)`.
    pub(crate) origin: String,
    /// How the output annotates it: `-r requirements.in`, or `katportal (pyproject.toml)`.
    pub(crate) via: String,
}

pub(crate) struct Provider<'a> {
    pub(crate) finder: &'a Finder,
    pub(crate) target: &'a Target,
    pub(crate) env: MarkerEnvironment,
    pub(crate) roots: Vec<RootRequirement>,
    pub(crate) constraints: HashMap<PackageName, Range>,
    pub(crate) prerelease: Prerelease,
    /// Packages whose requirement (or constraint) names a pre-release.
    pub(crate) explicit_pre: BTreeSet<PackageName>,
    pub(crate) resolution: Resolution,
    pub(crate) direct: BTreeSet<PackageName>,
    pub(crate) preferences: HashMap<PackageName, Version>,
    /// Exact `==` pins, which may select a yanked version.
    pub(crate) exact: HashMap<PackageName, Version>,
    /// Where each package's constraints were written (`versions.txt:3`), for the explanation.
    pub(crate) constraint_origins: HashMap<PackageName, Vec<String>>,
    /// Builds sdists with dynamic metadata; `None` with `--no-build`.
    pub(crate) builder: Option<Builder<'a>>,
    /// Only versions with a wheel for the target (resolving a build environment, whose
    /// requirements are never built themselves).
    pub(crate) wheels_only: bool,
    /// `--prefer-binary`: versions with wheels before newer ones with only sdists.
    pub(crate) prefer_binary: bool,
    warnings: RefCell<BTreeSet<String>>,
    cache: RefCell<HashMap<(PackageName, Version), Option<Declared>>>,
    errors: RefCell<Vec<ProviderError>>,
}

impl<'a> Provider<'a> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        finder: &'a Finder,
        target: &'a Target,
        roots: Vec<RootRequirement>,
        constraints: HashMap<PackageName, Range>,
        prerelease: Prerelease,
        explicit_pre: BTreeSet<PackageName>,
        resolution: Resolution,
        preferences: HashMap<PackageName, Version>,
    ) -> Self {
        let direct = roots.iter().map(|r| r.requirement.name.clone()).collect();
        Self {
            finder,
            target,
            env: target.marker_environment(),
            roots,
            constraints,
            prerelease,
            explicit_pre,
            resolution,
            direct,
            preferences,
            exact: HashMap::new(),
            constraint_origins: HashMap::new(),
            builder: None,
            wheels_only: false,
            prefer_binary: false,
            warnings: RefCell::default(),
            cache: RefCell::default(),
            errors: RefCell::default(),
        }
    }

    /// The dependencies `name==version` declares (cached), `None` if its metadata is not usable.
    pub(crate) fn declared(
        &self,
        name: &PackageName,
        version: &Version,
    ) -> Result<Option<Declared>, ProviderError> {
        let key = (name.clone(), version.clone());
        if let Some(found) = self.cache.borrow().get(&key) {
            return Ok(found.clone());
        }
        let found = match self.finder.metadata(name, version)? {
            Some((meta, file)) => Some((meta, file.clone())),
            None => self.built_sdist_metadata(name, version)?,
        };
        let declared = match found {
            None => None,
            Some((meta, file)) => Some(Declared::read(&meta, &file)?),
        };
        self.cache.borrow_mut().insert(key, declared.clone());
        Ok(declared)
    }

    /// The dependencies of a selected package, for annotations: `(dependency, its extras)`.
    pub(crate) fn edges_of(&self, pkg: &Pkg, version: &Version) -> Vec<(PackageName, Vec<ExtraName>)> {
        let (name, extras): (&PackageName, Vec<ExtraName>) = match pkg {
            Pkg::Name(name) => (name, Vec::new()),
            Pkg::Extra(name, extra) => (name, vec![extra.clone()]),
            _ => return Vec::new(),
        };
        let Ok(Some(declared)) = self.declared(name, version) else {
            return Vec::new();
        };
        declared
            .requirements
            .iter()
            .filter(|r| r.marker.evaluate(&self.env, &extras))
            .map(|r| (r.name.clone(), r.extras.clone()))
            .collect()
    }

    /// An sdist with dynamic metadata: its metadata built, or (`--no-build`, or resolving a build
    /// environment) `None`.
    fn built_sdist_metadata(
        &self,
        name: &PackageName,
        version: &Version,
    ) -> Result<Option<(lastmile_dist::DistMetadata, DistFile)>, ProviderError> {
        let Some(sdist) = self.dynamic_sdist(name, version) else {
            return Ok(None);
        };
        match &self.builder {
            Some(builder) if !self.wheels_only => {
                let local = self.finder.local_path(&sdist)?;
                Ok(Some((builder.metadata(&sdist, &local)?, sdist)))
            }
            _ => {
                if !self.wheels_only {
                    self.warnings.borrow_mut().insert(format!(
                        "{}: the sdist's metadata is dynamic and --no-build is given, so {name} {version} was skipped",
                        sdist.filename
                    ));
                }
                Ok(None)
            }
        }
    }

    /// The sdist of a version, when the target has no wheel of it to read metadata from.
    fn dynamic_sdist(&self, name: &PackageName, version: &Version) -> Option<DistFile> {
        self.finder
            .files(name, version)
            .into_iter()
            .find(|f| f.python_ok && f.kind == FileKind::Sdist)
    }

    /// Why a version has no dependencies to offer, for the explanation.
    fn unusable(&self, name: &PackageName, version: &Version) -> String {
        match self.dynamic_sdist(name, version) {
            Some(sdist) if self.builder.is_none() && !self.wheels_only => format!(
                "has only an sdist with dynamic metadata ({}), which --no-build does not build",
                sdist.filename
            ),
            Some(_) if self.wheels_only => {
                "has no wheel for the target (a build requirement is never built itself)".into()
            }
            _ => "has no wheel for the target and no sdist with static metadata".into(),
        }
    }

    pub(crate) fn take_warnings(&self) -> Vec<String> {
        self.warnings.take().into_iter().collect()
    }

    pub(crate) fn take_errors(&self) -> Vec<ProviderError> {
        std::mem::take(&mut self.errors.borrow_mut())
    }

    fn range_of(&self, requirement: &Requirement) -> Range {
        let range = match &requirement.version_or_url {
            Some(VersionOrUrl::VersionSpecifier(specifiers)) => Range::from(specifiers.clone()),
            _ => Range::full(),
        };
        match self.constraints.get(&requirement.name) {
            Some(constraint) => range.intersection(constraint),
            None => range,
        }
    }

    fn add(&self, deps: &mut BTreeMap<Pkg, Range>, requirement: &Requirement) {
        let range = self.range_of(requirement);
        let mut put = |pkg: Pkg, range: Range| {
            let merged = match deps.get(&pkg) {
                Some(existing) => existing.intersection(&range),
                None => range,
            };
            deps.insert(pkg, merged);
        };
        put(Pkg::Name(requirement.name.clone()), range.clone());
        for extra in &requirement.extras {
            put(Pkg::Extra(requirement.name.clone(), extra.clone()), range.clone());
        }
    }

    /// The versions that may be chosen; a package whose page cannot be fetched has none (the
    /// fetch error is reported by `choose_version`).
    fn candidates(&self, name: &PackageName) -> Vec<Version> {
        self.finder
            .versions_allowing(name, self.exact.get(name))
            .unwrap_or_default()
    }

    /// Whether a version has a wheel the target can install.
    fn has_wheel(&self, name: &PackageName, version: &Version) -> bool {
        self.finder
            .files(name, version)
            .iter()
            .any(|f| f.installable() && matches!(f.kind, FileKind::Wheel { .. }))
    }

    fn allows_prerelease(&self, name: &PackageName, candidates: &[Version]) -> bool {
        let explicit = self.explicit_pre.contains(name);
        let necessary = || candidates.iter().all(|v| v.any_prerelease());
        match self.prerelease {
            Prerelease::Allow => true,
            Prerelease::Disallow => false,
            Prerelease::Explicit => explicit,
            Prerelease::IfNecessary => necessary(),
            Prerelease::IfNecessaryOrExplicit => explicit || necessary(),
        }
    }

    fn lowest(&self, name: &PackageName) -> bool {
        match self.resolution {
            Resolution::Highest => false,
            Resolution::Lowest => true,
            Resolution::LowestDirect => self.direct.contains(name),
        }
    }
}

impl DependencyProvider for Provider<'_> {
    type P = Pkg;
    type V = Version;
    type VS = Range;
    type M = String;
    type Priority = (u8, u32, Reverse<usize>);
    type Err = ProviderError;

    fn prioritize(
        &self,
        package: &Pkg,
        range: &Range,
        stats: &PackageResolutionStatistics,
    ) -> Self::Priority {
        match package {
            Pkg::Root | Pkg::Python => (3, 0, Reverse(0)),
            Pkg::Extra(..) => (2, stats.conflict_count(), Reverse(0)),
            Pkg::Name(name) => {
                let count = self
                    .candidates(name)
                    .into_iter()
                    .filter(|v| range.contains(v))
                    .count();
                (1, stats.conflict_count(), Reverse(count))
            }
        }
    }

    fn choose_version(&self, package: &Pkg, range: &Range) -> Result<Option<Version>, ProviderError> {
        let name = match package {
            Pkg::Root => return Ok(Some(Version::new([0]))),
            Pkg::Python => {
                let python = self.target.python_full_version();
                return Ok(range.contains(&python).then_some(python));
            }
            Pkg::Name(name) | Pkg::Extra(name, _) => name,
        };
        let candidates: Vec<Version> = self
            .finder
            .versions_allowing(name, self.exact.get(name))?
            .into_iter()
            .filter(|v| range.contains(v))
            .collect();
        let allow_pre = self.allows_prerelease(name, &candidates);
        let mut usable: Vec<Version> = candidates
            .into_iter()
            .filter(|v| allow_pre || !v.any_prerelease())
            .collect();
        if self.wheels_only {
            usable.retain(|v| self.has_wheel(name, v));
        }
        // --prefer-binary: a version with a wheel for the target before a newer one that would
        // have to be built (pip's rule), when there is one.
        if self.prefer_binary {
            let with_wheel: Vec<Version> = usable
                .iter()
                .filter(|v| self.has_wheel(name, v))
                .cloned()
                .collect();
            if !with_wheel.is_empty() {
                usable = with_wheel;
            }
        }
        let mut usable = usable.into_iter();
        // A pin from the existing output is kept while it still fits (pip-compile's behaviour).
        if let Some(preferred) = self.preferences.get(name)
            && range.contains(preferred)
            && self.candidates(name).contains(preferred)
            && (allow_pre || !preferred.any_prerelease())
        {
            return Ok(Some(preferred.clone()));
        }
        let chosen = if self.lowest(name) {
            usable.next()
        } else {
            usable.next_back()
        };
        Ok(chosen)
    }

    fn get_dependencies(
        &self,
        package: &Pkg,
        version: &Version,
    ) -> Result<Dependencies<Pkg, Range, String>, ProviderError> {
        let mut deps: BTreeMap<Pkg, Range> = BTreeMap::new();
        match package {
            Pkg::Root => {
                for root in &self.roots {
                    if root.requirement.marker.evaluate(&self.env, &[]) {
                        self.add(&mut deps, &root.requirement);
                    }
                }
            }
            Pkg::Python => {}
            Pkg::Name(name) | Pkg::Extra(name, _) => {
                let declared = match self.declared(name, version) {
                    Ok(Some(declared)) => declared,
                    Ok(None) => return Ok(Dependencies::Unavailable(self.unusable(name, version))),
                    // A malformed metadata file rules out that one version, with a warning: the
                    // resolver goes on with the others (pip and uv do the same).
                    Err(error) if error.is_bad_file() => {
                        self.warnings.borrow_mut().insert(format!(
                            "{name} {version} is skipped: its metadata cannot be used: {error}"
                        ));
                        return Ok(Dependencies::Unavailable(format!(
                            "has metadata that cannot be used ({error})"
                        )));
                    }
                    // The sources themselves failing (the network, a disk) ends the run.
                    Err(error) => {
                        let message = format!("has unreadable metadata ({error})");
                        self.errors.borrow_mut().push(error);
                        return Ok(Dependencies::Unavailable(message));
                    }
                };
                if let Some(python) = &declared.requires_python {
                    deps.insert(Pkg::Python, Range::from(python.clone()));
                }
                let extras: Vec<ExtraName> = match package {
                    Pkg::Extra(name, extra) => {
                        deps.insert(Pkg::Name(name.clone()), Range::singleton(version.clone()));
                        vec![extra.clone()]
                    }
                    _ => Vec::new(),
                };
                for requirement in &declared.requirements {
                    let active = requirement.marker.evaluate(&self.env, &extras);
                    // An extra's package carries only the extra's own requirements.
                    let base = !extras.is_empty() && requirement.marker.evaluate(&self.env, &[]);
                    if active && !base && requirement.name != *name {
                        self.add(&mut deps, requirement);
                    } else if active && !base && requirement.name == *name {
                        // `name[a]` asking for `name[b]`: the same version with the other extras.
                        for extra in &requirement.extras {
                            deps.insert(
                                Pkg::Extra(name.clone(), extra.clone()),
                                Range::singleton(version.clone()),
                            );
                        }
                    }
                }
            }
        }
        // The resolver will ask about these next: fetch their pages (and likely metadata) now.
        self.finder
            .prefetch(deps.keys().filter_map(|pkg| pkg.name().cloned()));
        Ok(Dependencies::Available(
            deps.into_iter().collect::<DependencyConstraints<_, _>>(),
        ))
    }
}

impl ProviderError {
    /// A problem with one file's contents (not with reaching the sources): that version is
    /// skipped, the run goes on.
    pub(crate) fn is_bad_file(&self) -> bool {
        match self {
            ProviderError::Metadata(_) | ProviderError::Build(_) => true,
            ProviderError::Index(IndexError::Page(_) | IndexError::Dist(_)) => true,
            ProviderError::Index(_) => false,
        }
    }
}

/// Why the resolver could not learn a package's versions or dependencies.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum ProviderError {
    /// The sources could not be read (the URL or file is named).
    #[error(transparent)]
    Index(#[from] IndexError),
    /// A distribution's metadata is malformed (with where it was read).
    #[error(transparent)]
    Metadata(#[from] InputError),
    /// Building an sdist's metadata failed.
    #[error(transparent)]
    Build(#[from] crate::build::BuildError),
}

/// Which versions of each package exist, for explanations.
pub(crate) fn available(finder: &Finder, name: &PackageName) -> Vec<Version> {
    finder.versions(name)
}

/// The selected packages as `name -> (version, extras)`.
pub(crate) type Selection = BTreeMap<PackageName, (Version, BTreeSet<ExtraName>)>;
