//! sdists whose metadata is dynamic, built the way a PEP 517 frontend (`build`, uv) does: the
//! sdist unpacked; its `[build-system] requires` (PEP 518; setuptools' legacy backend when the
//! sdist has none) set up in an isolated environment from the run's own sources; the backend's
//! `get_requires_for_build_wheel` added; `prepare_metadata_for_build_wheel` run (or `build_wheel`)
//! by the target's Python version where the host has it, with a time limit. The metadata built is
//! cached by the sdist's sha256, so a warm run builds nothing.

mod env;
mod hook;
mod unpack;

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use lastmile_dist::DistMetadata;
use lastmile_fs::{Location, Sha256};
use lastmile_index::{DistFile, Finder};
use lastmile_python::metadata::CoreMetadata;
use lastmile_python::{Requirement, Target};

use lastmile_python::{PackageName, Version};

use crate::options::BuildOptions;

use hook::{Backend, Hook};

/// An sdist whose metadata could not be built.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{file}: building metadata failed: {reason}")]
pub(crate) struct BuildError {
    file: String,
    reason: Failure,
}

/// Why a step of a build failed.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum Failure {
    /// Reading or writing the files of the build.
    #[error("{0}")]
    Io(String),
    /// The sdist's archive.
    #[error("cannot unpack: {0}")]
    Unpack(String),
    /// Its `pyproject.toml` or the requirements its backend asks for.
    #[error("{0}")]
    BuildSystem(String),
    /// Its build requirements have no wheels that fit.
    #[error("{0}")]
    Requirements(String),
    /// The backend or its hook.
    #[error("{0}")]
    Backend(String),
    #[error("no Python to build with (python{wanted} or python3 on the PATH, or --build-python)")]
    NoPython { wanted: String },
}

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Self {
        Failure::Io(error.to_string())
    }
}

/// How the builder resolves an sdist's build requirements into exact versions (as wheels): the
/// resolver's, given by the caller (the resolver sits above the builder, not beside it).
pub(crate) type ResolveRequires =
    fn(&Finder, &Target, &[Requirement]) -> Result<Vec<(PackageName, Version)>, Failure>;

/// Builds the metadata of sdists for one run.
pub(crate) struct Builder<'a> {
    finder: &'a Finder,
    target: &'a Target,
    resolve: ResolveRequires,
    options: BuildOptions,
    /// Where environments and built metadata are kept (`build-v1` in the run's cache).
    cache: PathBuf,
    /// The build Python and its version (found once).
    python: RefCell<Option<(PathBuf, String)>>,
    /// Built this run, by sdist digest.
    built: RefCell<HashMap<Sha256, DistMetadata>>,
}

impl<'a> Builder<'a> {
    pub(crate) fn new(
        finder: &'a Finder,
        target: &'a Target,
        resolve: ResolveRequires,
        options: BuildOptions,
        cache: &Path,
    ) -> Self {
        Self {
            finder,
            target,
            resolve,
            options,
            cache: cache.join("build-v1"),
            python: RefCell::default(),
            built: RefCell::default(),
        }
    }

    /// The metadata of an sdist (downloaded to `local`), built or from the cache.
    pub(crate) fn metadata(&self, sdist: &DistFile, local: &Path) -> Result<DistMetadata, BuildError> {
        let fail = |reason: Failure| BuildError {
            file: sdist.shown(),
            reason,
        };
        let digest = Sha256::of_file(local).map_err(|e| fail(e.into()))?;
        if let Some(found) = self.built.borrow().get(&digest) {
            return Ok(found.clone());
        }
        let (python, version) = self.python().map_err(fail)?;
        let cache = &self.cache;
        let stored = cache.join("metadata").join(format!("{digest}-py{version}"));
        let text = match std::fs::read_to_string(&stored) {
            Ok(text) => text,
            Err(_) => {
                let text = self.build(sdist, local, &python, cache).map_err(fail)?;
                let _ = std::fs::create_dir_all(stored.parent().expect("a folder"));
                let _ = lastmile_fs::write_atomic(&stored, text.as_bytes());
                text
            }
        };
        let metadata = CoreMetadata::parse(
            &text,
            &Location::file(format!("{} (built metadata)", sdist.shown())),
        )
        .map_err(|e| fail(Failure::Backend(format!("its metadata: {e}"))))?;
        let meta = DistMetadata {
            dependencies: metadata.requires_dist.clone(),
            console_scripts: Default::default(),
            metadata,
            warning: None,
        };
        self.built.borrow_mut().insert(digest, meta.clone());
        Ok(meta)
    }

    /// Build an sdist's METADATA: unpack, set up its backend, run the hooks.
    fn build(&self, sdist: &DistFile, local: &Path, python: &Path, cache: &Path) -> Result<String, Failure> {
        tracing::info!("building the metadata of {}", sdist.filename);
        let work = tempfile::tempdir()?;
        let unpacked = work.path().join("src");
        unpack::unpack(local, &unpacked)?;
        let source = single_top(&unpacked)?;
        let (backend, requires) = build_system(&source)?;
        let environments = cache.join("environments");
        let environment = |requires: &[Requirement]| {
            let pins = (self.resolve)(self.finder, self.target, requires)?;
            env::environment(self.finder, self.target, &pins, &environments, python)
        };
        let mut site = environment(&requires)?;
        let out = work.path().join("metadata");
        std::fs::create_dir(&out)?;
        let limit = self.options.timeout;
        // What the backend says it needs besides (setuptools asks for `wheel` on old versions);
        // when nothing, the metadata came with the answer.
        let first = hook::run(
            python,
            Hook::RequiresThenMetadata,
            &backend,
            &site,
            &source,
            &out,
            limit,
        )?;
        let more: Vec<Requirement> = first["requires"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r.as_str())
            .map(|r| {
                Requirement::from_str(r)
                    .map_err(|e| Failure::BuildSystem(format!("the backend asks for {r:?}: {e}")))
            })
            .collect::<Result<_, _>>()?;
        let name = if more.is_empty() {
            first["metadata"].clone()
        } else {
            let all: Vec<Requirement> = requires.iter().chain(&more).cloned().collect();
            site = environment(&all)?;
            hook::run(python, Hook::Metadata, &backend, &site, &source, &out, limit)?
        };
        let name = name
            .as_str()
            .filter(|n| !n.contains('/') && n.ends_with(".dist-info"))
            .ok_or_else(|| Failure::Backend(format!("{} named no .dist-info folder", backend.name)))?;
        lastmile_fs::read_text(&out.join(name).join("METADATA"))
            .map_err(|e| Failure::Backend(format!("{} wrote no METADATA: {e}", backend.name)))
    }

    /// The build Python: `--build-python`, else the target's `python3.X` when the host has it,
    /// else `python3` (said in a warning when its version is not the target's).
    fn python(&self) -> Result<(PathBuf, String), Failure> {
        if let Some(found) = self.python.borrow().as_ref() {
            return Ok(found.clone());
        }
        let wanted = format!("{}.{}", self.target.python.0, self.target.python.1);
        let candidates: Vec<String> = match &self.options.python {
            Some(python) => vec![python.clone()],
            None => vec![format!("python{wanted}"), "python3".to_owned()],
        };
        for candidate in candidates {
            let mut command = std::process::Command::new(&candidate);
            command.args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"]);
            let Ok(done) = lastmile_process::run(&mut command, None, Some(Duration::from_secs(30))) else {
                continue;
            };
            if !done.success() {
                continue;
            }
            let version = String::from_utf8_lossy(&done.stdout).trim().to_owned();
            if version != wanted {
                tracing::warn!(
                    "sdists are built with {candidate} (Python {version}), not the target's Python {wanted}, which this host does not have"
                );
            }
            let found = (PathBuf::from(candidate), version);
            *self.python.borrow_mut() = Some(found.clone());
            return Ok(found);
        }
        Err(Failure::NoPython { wanted })
    }
}

/// The one folder an sdist unpacks into (`name-version/`), or the unpacked folder itself.
fn single_top(unpacked: &Path) -> Result<PathBuf, Failure> {
    let mut tops = std::fs::read_dir(unpacked)?
        .filter_map(Result::ok)
        .map(|e| e.path());
    Ok(match (tops.next(), tops.next()) {
        (Some(top), None) if top.is_dir() => top,
        _ => unpacked.to_path_buf(),
    })
}

#[derive(serde::Deserialize, Default)]
struct PyProject {
    #[serde(rename = "build-system")]
    build_system: Option<BuildSystem>,
}

#[derive(serde::Deserialize, Default)]
struct BuildSystem {
    #[serde(default)]
    requires: Option<Vec<String>>,
    #[serde(rename = "build-backend")]
    backend: Option<String>,
    #[serde(rename = "backend-path", default)]
    backend_path: Vec<String>,
}

/// The backend and its requirements (PEP 517/518): setuptools' legacy backend, with setuptools
/// and wheel, when the sdist names none.
fn build_system(source: &Path) -> Result<(Backend, Vec<Requirement>), Failure> {
    let pyproject: PyProject = match lastmile_fs::read_text(&source.join("pyproject.toml")) {
        Ok(text) => toml::from_str(&text)
            .map_err(|e| Failure::BuildSystem(format!("pyproject.toml: {}", e.message())))?,
        Err(_) => PyProject::default(),
    };
    let system = pyproject.build_system.unwrap_or_default();
    let requires = system
        .requires
        .unwrap_or_else(|| vec!["setuptools>=40.8.0".to_owned(), "wheel".to_owned()]);
    let requires = requires
        .iter()
        .map(|r| {
            lastmile_python::requirement::parse_requirement(r, &Location::file("pyproject.toml"))
                .map_err(|e| Failure::BuildSystem(e.to_string()))
        })
        .collect::<Result<_, _>>()?;
    let backend = Backend {
        name: system
            .backend
            .unwrap_or_else(|| "setuptools.build_meta:__legacy__".to_owned()),
        path: system.backend_path,
    };
    Ok((backend, requires))
}
