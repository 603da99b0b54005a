//! Python project files: a project's declared metadata read from its source tree, statically:
//! `pyproject.toml` (PEP 621 and setuptools `dynamic`), `setup.cfg` and `setup.py`, merged the way
//! setuptools merges them. With [`ReadOptions::exec_setup`], a `setup.py` that cannot be read
//! statically is run (`egg_info`, in a temporary copy of the tree) instead.
//!
//! Depends on `lastmile-python` (requirements, metadata), `lastmile-fs` and `lastmile-process`
//! (for `--exec-setup`); knows nothing of archives, indexes or the documents.

mod exec_setup;
mod literal;
mod per_build;
mod pyproject;
mod setup_cfg;
mod setup_py;
mod vcs;
mod version;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lastmile_fs::{InputError, Location};
use lastmile_python::requirement::RawDependency;

pub use per_build::{PerBuild, PerBuildError, version_per_build};
pub use vcs::computes_version_from_git;

/// How to read source trees.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Run `setup.py egg_info` when `setup.py` cannot be read statically.
    pub exec_setup: bool,
    /// The Python interpreter for `exec_setup`.
    pub python: String,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            exec_setup: false,
            python: "python3".into(),
        }
    }
}

/// A project as its source tree declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub name: String,
    pub name_location: Location,
    pub version: Option<String>,
    pub requires_python: Option<String>,
    /// Every dependency; those of an extra have [`RawDependency::extra`] set.
    pub dependencies: Vec<RawDependency>,
    /// What building it needs (`[build-system] requires`, `setup_requires`): needed before it is
    /// built, never installed with it.
    pub build_requires: Vec<RawDependency>,
    pub extras: Vec<String>,
    pub scripts: BTreeMap<String, String>,
    /// The file the metadata came from.
    pub kind: ProjectFormat,
    pub dir: PathBuf,
    /// Things the reader could not read and left out, as `file:line: message`.
    pub warnings: Vec<String>,
}

/// The file a project's metadata came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProjectFormat {
    /// `pyproject.toml` with a `[project]` table (PEP 621).
    Pyproject,
    SetupCfg,
    SetupPy,
}

/// What reading a folder found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Project(Box<Project>),
    /// The folder's files name no project (a tool-settings-only `pyproject.toml`, say); why.
    Skipped(Vec<String>),
}

/// A project's files could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("{location}: cannot read: {source}")]
    Read {
        location: Location,
        #[source]
        source: std::io::Error,
    },
    /// A file is malformed, at a file and line.
    #[error(transparent)]
    Input(#[from] InputError),
    /// `setup.py egg_info` (with `--exec-setup`) failed.
    #[error("{location}: {message}")]
    ExecSetup { location: Location, message: String },
    #[error(transparent)]
    Interrupted(#[from] lastmile_process::Interrupted),
}

use version::{VersionSource, read_version};

/// Fields a project file declares; `None` where the file says nothing.
#[derive(Debug, Default)]
pub(crate) struct Fields {
    pub(crate) name: Option<(String, Location)>,
    pub(crate) version: Option<String>,
    pub(crate) requires_python: Option<String>,
    pub(crate) dependencies: Option<Vec<RawDependency>>,
    pub(crate) optional: Option<BTreeMap<String, Vec<RawDependency>>>,
    pub(crate) scripts: Option<BTreeMap<String, String>>,
    /// `setup_requires` (setup.cfg, setup.py).
    pub(crate) setup_requires: Option<Vec<RawDependency>>,
    /// `(field, where, what it is)` for values that are not literals.
    pub(crate) unreadable: Vec<(String, Location, String)>,
}

impl Fields {
    /// Fill what `self` leaves unset from `lower`.
    fn or(mut self, lower: Fields) -> Fields {
        self.name = self.name.or(lower.name);
        self.version = self.version.or(lower.version);
        self.requires_python = self.requires_python.or(lower.requires_python);
        self.dependencies = self.dependencies.or(lower.dependencies);
        self.optional = self.optional.or(lower.optional);
        self.scripts = self.scripts.or(lower.scripts);
        self.setup_requires = self.setup_requires.or(lower.setup_requires);
        self.unreadable.extend(lower.unreadable);
        self
    }

    fn provides_anything(&self) -> bool {
        self.name.is_some() || self.dependencies.is_some() || self.optional.is_some()
    }
}

/// The files that make a folder a Python project.
pub const PROJECT_FILES: [&str; 3] = ["pyproject.toml", "setup.cfg", "setup.py"];

/// Whether `dir` holds a Python project.
pub fn is_project_dir(dir: &Path) -> bool {
    PROJECT_FILES.iter().any(|f| dir.join(f).is_file())
}

/// Whether `dir`'s project files can name a project: a `setup.py` or `setup.cfg`, or a
/// `pyproject.toml` with a `[project]` table (or one that does not parse, so reading it reports
/// why). A `pyproject.toml` holding only tool settings, as at the root of a repository of many
/// packages, names none: the packages are in the folders below.
pub fn declares_project(dir: &Path) -> bool {
    if dir.join("setup.py").is_file() || dir.join("setup.cfg").is_file() {
        return true;
    }
    match lastmile_fs::read_text(&dir.join("pyproject.toml")) {
        Ok(text) => match text.parse::<toml::Table>() {
            Ok(table) => table.contains_key("project"),
            Err(_) => true,
        },
        Err(_) => false,
    }
}

/// Read the project in `dir`. `Ok(None)` (with the reason in `warnings`) when the folder's files
/// name no project, such as a tool-configuration-only `pyproject.toml`.
pub fn read_project(dir: &Path, options: &ReadOptions) -> Result<Outcome, ProjectError> {
    let files = ProjectFiles::read(dir)?;
    let has_setup_py = files.setup_py.is_some();
    let setup_py_location = Location::file(dir.join("setup.py").display().to_string());
    let mut merged = merge(dir, files)?;
    let mut warnings = Vec::new();
    if merged.fields.version.is_none()
        && let Some(source) = &merged.version_source
    {
        match read_version(dir, source, &merged.package_dir) {
            Ok(version) => merged.fields.version = Some(version),
            Err(why) => warnings.push(why),
        }
    }
    let fields = merged.fields;
    let mut build_requires = merged.build_requires;
    build_requires.extend(fields.setup_requires.clone().unwrap_or_default());
    if !fields.unreadable.is_empty() && has_setup_py {
        if options.exec_setup {
            return exec_setup::run(dir, &options.python, &setup_py_location).map(|mut p| {
                p.build_requires = build_requires;
                Outcome::Project(Box::new(p))
            });
        }
        warnings.extend(unreadable_warnings(&fields));
    }
    let Some((name, name_location)) = fields.name else {
        let what = if has_setup_py || pyproject_exists(dir) {
            "no project name found"
        } else {
            "no project files"
        };
        warnings.push(format!("{}: {what}; skipped", dir.display()));
        return Ok(Outcome::Skipped(warnings));
    };
    let mut version = fields.version;
    if version.is_none()
        && let Some(plugin) = vcs::plugin(&build_requires)
    {
        match vcs::version(dir) {
            vcs::GitVersion::Release(release) => version = Some(release),
            vcs::GitVersion::Unknown(why) => warnings.push(format!(
                "{}: the version is computed from git when it is built ({plugin}): {why}; it is left null here",
                dir.display()
            )),
        }
    }
    let mut dependencies = fields.dependencies.unwrap_or_default();
    let optional = fields.optional.unwrap_or_default();
    let extras: Vec<String> = optional.keys().cloned().collect();
    for (extra, deps) in optional {
        dependencies.extend(deps.into_iter().map(|d| d.with_extra(Some(&extra))));
    }
    Ok(Outcome::Project(Box::new(Project {
        name,
        name_location,
        version,
        requires_python: fields.requires_python,
        dependencies,
        build_requires,
        extras,
        scripts: fields.scripts.unwrap_or_default(),
        kind: merged.kind,
        dir: dir.to_path_buf(),
        warnings,
    })))
}

/// The project files of a folder, each read if it is there.
struct ProjectFiles {
    pyproject: Option<pyproject::PyProjectInfo>,
    cfg: setup_cfg::CfgInfo,
    setup_py: Option<Fields>,
}

impl ProjectFiles {
    fn read(dir: &Path) -> Result<Self, ProjectError> {
        let file = |name: &str| -> Result<Option<(String, Location)>, ProjectError> {
            let path = dir.join(name);
            let location = Location::file(path.display().to_string());
            match lastmile_fs::read_text(&path) {
                Ok(text) => Ok(Some((text, location))),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(source) => Err(ProjectError::Read { location, source }),
            }
        };
        Ok(Self {
            pyproject: match file("pyproject.toml")? {
                Some((text, loc)) => Some(pyproject::read(&text, &loc)?),
                None => None,
            },
            cfg: match file("setup.cfg")? {
                Some((text, loc)) => setup_cfg::read(&text, &loc)?,
                None => Default::default(),
            },
            setup_py: match file("setup.py")? {
                Some((text, loc)) => Some(setup_py::read(&text, &loc)?),
                None => None,
            },
        })
    }
}

/// The fields of the files taken together, and where a version computed at build time is.
struct Merged {
    fields: Fields,
    kind: ProjectFormat,
    version_source: Option<version::VersionSource>,
    package_dir: BTreeMap<String, String>,
    /// `[build-system] requires` (also of a pyproject.toml without `[project]`).
    build_requires: Vec<RawDependency>,
}

/// PEP 621 metadata first (its dynamic fields from setuptools' tables, setup.cfg or setup.py),
/// else setup.py over setup.cfg.
fn merge(dir: &Path, files: ProjectFiles) -> Result<Merged, ProjectError> {
    let setup_cfg::CfgInfo {
        fields: cfg,
        version_source: cfg_version,
        package_dir: cfg_dirs,
    } = files.cfg;
    let setup_py = files.setup_py.unwrap_or_default();
    match files.pyproject {
        Some(info) if info.has_project => merge_pyproject(dir, info, setup_py.or(cfg), cfg_version),
        pyproject => {
            let build_requires = pyproject.map(|p| p.build_requires).unwrap_or_default();
            let kind = if setup_py.provides_anything() {
                ProjectFormat::SetupPy
            } else {
                ProjectFormat::SetupCfg
            };
            Ok(Merged {
                fields: setup_py.or(cfg),
                kind,
                version_source: cfg_version,
                package_dir: cfg_dirs,
                build_requires,
            })
        }
    }
}

/// A PEP 621 project: the fields it marks dynamic come from setuptools' dynamic table, else from
/// `legacy` (setup.py over setup.cfg).
fn merge_pyproject(
    dir: &Path,
    info: pyproject::PyProjectInfo,
    legacy: Fields,
    cfg_version: Option<version::VersionSource>,
) -> Result<Merged, ProjectError> {
    let mut fields = info.fields;
    let dynamic = |field: &str| info.dynamic.iter().any(|d| d == field);
    if dynamic("dependencies") {
        fields.dependencies = match &info.dependency_files {
            Some((files, loc)) => Some(read_requirement_files(dir, files, loc)?),
            None => legacy.dependencies,
        };
    }
    if dynamic("optional-dependencies") {
        let mut optional = legacy.optional.unwrap_or_default();
        for (extra, (files, loc)) in &info.optional_files {
            optional.insert(extra.clone(), read_requirement_files(dir, files, loc)?);
        }
        fields.optional = Some(optional);
    }
    if dynamic("version") && info.version_source.is_none() {
        fields.version = legacy.version;
    }
    if dynamic("scripts") {
        fields.scripts = legacy.scripts;
    }
    // setup_requires is no PEP 621 field: setuptools reads it from setup.py/setup.cfg anyway.
    fields.setup_requires = legacy.setup_requires;
    fields.unreadable.extend(legacy.unreadable);
    let version_source = if dynamic("version") {
        info.version_source.or(cfg_version)
    } else {
        None
    };
    Ok(Merged {
        fields,
        kind: ProjectFormat::Pyproject,
        version_source,
        package_dir: info.package_dir,
        build_requires: info.build_requires,
    })
}

/// What could not be read statically from setup.py, said as warnings.
fn unreadable_warnings(fields: &Fields) -> Vec<String> {
    fields
        .unreadable
        .iter()
        .map(|(field, at, what)| {
            if field == "setup()" {
                format!("{at}: {what}; nothing could be read statically (--exec-setup runs setup.py)")
            } else {
                format!(
                    "{at}: {field} is {what}; it cannot be read statically and is left out (--exec-setup runs setup.py)"
                )
            }
        })
        .collect()
}

fn pyproject_exists(dir: &Path) -> bool {
    dir.join("pyproject.toml").is_file()
}

/// A file a project file names (`file:` references of setuptools' `dynamic`, `attr:` modules),
/// which must be inside the project: a relative path that does not climb out, and does not leave
/// through a link either. A project file can never make lastmile read a file elsewhere.
pub(crate) fn inside(dir: &Path, relative: &str) -> Result<PathBuf, String> {
    let path = Path::new(relative);
    if path.is_absolute()
        || path
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_) | std::path::Component::CurDir))
    {
        return Err("not a path inside the project (absolute, or with ..)".into());
    }
    let joined = dir.join(path);
    if let (Ok(real), Ok(root)) = (joined.canonicalize(), dir.canonicalize())
        && !real.starts_with(&root)
    {
        return Err(format!("a link out of the project (to {})", real.display()));
    }
    Ok(joined)
}

fn read_requirement_files(
    dir: &Path,
    files: &[String],
    from: &Location,
) -> Result<Vec<RawDependency>, InputError> {
    let mut out = Vec::new();
    for file in files {
        let path = inside(dir, file)
            .map_err(|why| InputError::new(from.clone(), format!("dependency file {file}: {why}")))?;
        let location = Location::file(path.display().to_string());
        let text = lastmile_fs::read_text(&path).map_err(|err| {
            InputError::new(from.clone(), format!("cannot read dependency file {file}: {err}"))
        })?;
        out.extend(lastmile_python::requirement_lines::parse_requirement_lines(
            &text, &location,
        )?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let path = dir.path().join("p").join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    fn read(dir: &tempfile::TempDir) -> Result<Outcome, ProjectError> {
        read_project(&dir.path().join("p"), &ReadOptions::default())
    }

    #[test]
    fn files_a_project_names_must_be_inside_it() {
        let pyproject = |file: &str| {
            format!(
                "[project]\nname = \"p\"\nversion = \"1\"\ndynamic = [\"dependencies\"]\n\
                 [tool.setuptools.dynamic]\ndependencies = {{file = [\"{file}\"]}}\n"
            )
        };
        for file in ["../secret.txt", "/etc/passwd", "sub/../../secret.txt"] {
            let dir = tree(&[("pyproject.toml", &pyproject(file))]);
            std::fs::write(dir.path().join("secret.txt"), "leaked\n").unwrap();
            let err = read(&dir).unwrap_err().to_string();
            assert!(
                err.contains(&format!("dependency file {file}: not a path inside the project")),
                "{err}"
            );
        }
        // A link inside the project that leads out of it.
        let dir = tree(&[("pyproject.toml", &pyproject("reqs.txt"))]);
        std::fs::write(dir.path().join("secret.txt"), "leaked\n").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.txt"), dir.path().join("p/reqs.txt")).unwrap();
        let err = read(&dir).unwrap_err().to_string();
        assert!(
            err.contains("dependency file reqs.txt: a link out of the project"),
            "{err}"
        );
        // A file inside is read.
        let dir = tree(&[
            ("pyproject.toml", &pyproject("reqs.txt")),
            ("reqs.txt", "katcp\n"),
        ]);
        let Outcome::Project(project) = read(&dir).unwrap() else {
            panic!("no project")
        };
        assert_eq!(project.dependencies[0].text, "katcp");
    }

    #[test]
    fn a_version_file_or_module_outside_the_project_is_not_read() {
        let dir = tree(&[(
            "setup.cfg",
            "[metadata]\nname = p\nversion = file: ../../etc/hostname\n",
        )]);
        let Outcome::Project(project) = read(&dir).unwrap() else {
            panic!("no project")
        };
        assert_eq!(project.version, None);
        assert!(
            project.warnings[0].contains("not a path inside the project"),
            "{:?}",
            project.warnings
        );
        let dir = tree(&[(
            "setup.cfg",
            "[metadata]\nname = p\nversion = attr: ..x.__version__\n",
        )]);
        let Outcome::Project(project) = read(&dir).unwrap() else {
            panic!("no project")
        };
        assert_eq!(project.version, None);
    }
}
