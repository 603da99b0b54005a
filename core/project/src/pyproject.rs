//! Read `pyproject.toml`: the PEP 621 `[project]` table and setuptools' `dynamic` sources.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::{Fields, VersionSource};
use lastmile_fs::{InputError, Location};
use lastmile_python::requirement::RawDependency;

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct PyProject {
    project: Option<Project>,
    tool: Option<Tool>,
    build_system: Option<BuildSystem>,
}

/// `[build-system]` (PEP 518): what building the project needs.
#[derive(Deserialize)]
struct BuildSystem {
    requires: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Project {
    name: Option<Spanned<String>>,
    version: Option<String>,
    #[serde(default)]
    dynamic: Vec<String>,
    requires_python: Option<String>,
    dependencies: Option<Vec<Spanned<String>>>,
    optional_dependencies: Option<BTreeMap<String, Vec<Spanned<String>>>>,
    scripts: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
struct Tool {
    setuptools: Option<Setuptools>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Setuptools {
    dynamic: Option<Dynamic>,
    package_dir: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Dynamic {
    version: Option<Spanned<DynamicSource>>,
    dependencies: Option<Spanned<DynamicSource>>,
    optional_dependencies: Option<BTreeMap<String, Spanned<DynamicSource>>>,
}

#[derive(Deserialize)]
struct DynamicSource {
    attr: Option<String>,
    file: Option<OneOrMany>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(one) => vec![one],
            OneOrMany::Many(many) => many,
        }
    }
}

/// What `pyproject.toml` says about the project.
#[derive(Debug)]
pub(crate) struct PyProjectInfo {
    /// False when there is no `[project]` table (a build-system-only file: metadata is elsewhere).
    pub(crate) has_project: bool,
    pub(crate) fields: Fields,
    /// Fields listed in `project.dynamic`.
    pub(crate) dynamic: Vec<String>,
    pub(crate) version_source: Option<VersionSource>,
    /// `[tool.setuptools.dynamic]` requirement files, for the main list and per extra.
    pub(crate) dependency_files: Option<(Vec<String>, Location)>,
    pub(crate) optional_files: BTreeMap<String, (Vec<String>, Location)>,
    pub(crate) package_dir: BTreeMap<String, String>,
    /// `[build-system] requires`, with the line of each.
    pub(crate) build_requires: Vec<RawDependency>,
}

pub(crate) fn read(text: &str, location: &Location) -> Result<PyProjectInfo, InputError> {
    let doc: PyProject = toml::from_str(text).map_err(|err| {
        let at = match err.span() {
            Some(span) => location.at_offset(text, span.start),
            None => location.clone(),
        };
        InputError::new(at, format!("invalid TOML: {}", err.message().trim_end()))
    })?;
    let at = |span: std::ops::Range<usize>| location.at_offset(text, span.start);
    let mut info = PyProjectInfo {
        has_project: doc.project.is_some(),
        fields: Fields::default(),
        dynamic: Vec::new(),
        version_source: None,
        dependency_files: None,
        optional_files: BTreeMap::new(),
        package_dir: BTreeMap::new(),
        build_requires: Vec::new(),
    };
    let deps = |list: Vec<Spanned<String>>| -> Vec<RawDependency> {
        list.into_iter()
            .map(|s| {
                let span = s.span();
                RawDependency::new(s.into_inner(), at(span))
            })
            .collect()
    };
    if let Some(requires) = doc.build_system.and_then(|b| b.requires) {
        info.build_requires = deps(requires);
    }
    if let Some(project) = doc.project {
        info.fields.name = project.name.map(|n| {
            let span = n.span();
            (n.into_inner(), at(span))
        });
        info.fields.version = project.version;
        info.fields.requires_python = project.requires_python;
        info.fields.dependencies = project.dependencies.map(deps);
        info.fields.optional = project
            .optional_dependencies
            .map(|extras| extras.into_iter().map(|(k, v)| (k, deps(v))).collect());
        info.fields.scripts = project.scripts;
        info.dynamic = project.dynamic.iter().map(|d| d.to_ascii_lowercase()).collect();
    }
    if let Some(setuptools) = doc.tool.and_then(|t| t.setuptools) {
        info.package_dir = setuptools.package_dir.unwrap_or_default();
        if let Some(dynamic) = setuptools.dynamic {
            if let Some(version) = dynamic.version {
                let loc = at(version.span());
                let source = version.into_inner();
                info.version_source = match (source.attr, source.file) {
                    (Some(attr), _) => Some(VersionSource::Attr(attr, loc)),
                    (None, Some(file)) => file
                        .into_vec()
                        .into_iter()
                        .next()
                        .map(|f| VersionSource::File(f, loc)),
                    (None, None) => None,
                };
            }
            if let Some(deps) = dynamic.dependencies {
                let loc = at(deps.span());
                if let Some(files) = deps.into_inner().file {
                    info.dependency_files = Some((files.into_vec(), loc));
                }
            }
            for (extra, source) in dynamic.optional_dependencies.unwrap_or_default() {
                let loc = at(source.span());
                if let Some(files) = source.into_inner().file {
                    info.optional_files.insert(extra, (files.into_vec(), loc));
                }
            }
        }
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pep621_with_lines() {
        let text = "[project]\nname = \"katcore\"\ndynamic = [\"version\"]\ndependencies = [\n  \"katcp~=0.9\",\n  \"katconf>=2.0\",\n]\n\
[project.optional-dependencies]\nmonitoring = [\"katmisc[metrics]>=1.1\"]\n\
[tool.setuptools.dynamic]\nversion = {attr = \"katcore.__version__\"}\n";
        let info = read(text, &Location::file("pyproject.toml")).unwrap();
        assert!(info.has_project);
        let deps = info.fields.dependencies.unwrap();
        assert_eq!(
            deps.iter().map(|d| d.location.line.unwrap()).collect::<Vec<_>>(),
            [5, 6]
        );
        assert_eq!(
            info.fields.optional.unwrap()["monitoring"][0].location.line,
            Some(9)
        );
        assert!(
            matches!(info.version_source, Some(VersionSource::Attr(ref a, _)) if a == "katcore.__version__")
        );
        assert_eq!(info.dynamic, ["version"]);
        assert!(info.build_requires.is_empty());
        let info = read(
            "[build-system]\nrequires = [\n  \"setuptools>=61\",\n  \"setuptools_scm[toml]>=6.2\",\n]\n",
            &Location::file("pyproject.toml"),
        )
        .unwrap();
        assert!(!info.has_project);
        assert_eq!(
            info.build_requires
                .iter()
                .map(|d| (d.text.as_str(), d.location.line.unwrap()))
                .collect::<Vec<_>>(),
            [("setuptools>=61", 3), ("setuptools_scm[toml]>=6.2", 4)]
        );
    }

    #[test]
    fn bad_toml_names_the_line() {
        let err = read(
            "[project]\nname = \"x\"\ndependencies = [\"a\",\n",
            &Location::file("p/pyproject.toml"),
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("p/pyproject.toml:"), "{err}");
        assert!(err.to_string().contains("invalid TOML"), "{err}");
        let err = read(
            "[project]\nname = \"x\"\ndependencies = \"a\"\n",
            &Location::file("pyproject.toml"),
        )
        .unwrap_err();
        assert!(
            err.to_string().starts_with("pyproject.toml:3: invalid TOML"),
            "{err}"
        );
    }
}
