//! Versions computed from git when the package is built (setuptools_scm, katversion, hatch-vcs
//! and the like): what the version will be when that can be known without building (HEAD exactly
//! at a release tag, nothing uncommitted), else why not, said as a warning instead of a silent
//! `null`. Git runs read-only (`GIT_OPTIONAL_LOCKS=0`: not even the index is refreshed).

use std::path::{Path, PathBuf};
use std::str::FromStr;

use lastmile_python::requirement::RawDependency;
use lastmile_python::{PackageName, Version};

/// Build plugins that compute a version from git (normalized names).
const PLUGINS: [&str; 9] = [
    "setuptools-scm",
    "setuptools-git-versioning",
    "setuptools-git-version",
    "hatch-vcs",
    "katversion",
    "versioneer",
    "pbr",
    "dunamai",
    "poetry-dynamic-versioning",
];

/// Whether the build requirement `name` computes the package's version from git when it is built.
pub fn computes_version_from_git(name: &PackageName) -> bool {
    PLUGINS.contains(&name.as_ref())
}

/// The build requirement that computes the version from git, if any.
pub(crate) fn plugin(build_requires: &[RawDependency]) -> Option<String> {
    build_requires.iter().find_map(|r| {
        let name: String = r
            .text
            .trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
            .collect();
        let name = PackageName::from_str(&name).ok()?;
        PLUGINS.contains(&name.as_ref()).then(|| name.to_string())
    })
}

/// Where a folder's git repository is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Repository {
    /// The work tree's top folder.
    pub(crate) top: PathBuf,
    /// The git folder (`.git`, or where a worktree's `.git` file points).
    pub(crate) git_dir: PathBuf,
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The repository `dir` is in, if git is installed and it is in one.
pub(crate) fn repository(dir: &Path) -> Option<Repository> {
    let out = git(dir, &["rev-parse", "--show-toplevel", "--absolute-git-dir"])?;
    let mut lines = out.lines();
    Some(Repository {
        top: PathBuf::from(lines.next()?),
        git_dir: PathBuf::from(lines.next()?),
    })
}

/// What git says the version of `dir` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GitVersion {
    /// HEAD is the release tag, nothing uncommitted: the build gives this version.
    Release(String),
    /// Anything else: why the version is a development one, or cannot be known.
    Unknown(String),
}

/// The version a git-versioned build of `dir` gets, or why it cannot be said.
pub(crate) fn version(dir: &Path) -> GitVersion {
    let Some(_) = repository(dir) else {
        return GitVersion::Unknown(
            "there is no git history here (a copy or an export), so the build has no version to compute: clone the repository with its history and tags".into(),
        );
    };
    let shallow = git(dir, &["rev-parse", "--is-shallow-repository"]).is_some_and(|s| s == "true");
    let Some(described) = git(
        dir,
        &["describe", "--tags", "--long", "--dirty", "--match", "*[0-9]*"],
    ) else {
        return GitVersion::Unknown(if shallow {
            "a shallow clone without a release tag in its history: fetch the tags (git fetch --tags --unshallow)".into()
        } else {
            "no release tag in its history, so the build makes a 0.x development version".into()
        });
    };
    let (rest, dirty) = match described.strip_suffix("-dirty") {
        Some(rest) => (rest, true),
        None => (described.as_str(), false),
    };
    let mut parts = rest.rsplitn(3, '-');
    let (Some(hash), Some(commits), Some(tag)) = (parts.next(), parts.next(), parts.next()) else {
        return GitVersion::Unknown(format!("git describe said {described:?}"));
    };
    let release = tag.trim_start_matches(['v', 'V']);
    match (commits, dirty) {
        ("0", false) if Version::from_str(release).is_ok() => GitVersion::Release(release.to_owned()),
        ("0", false) => GitVersion::Unknown(format!("tag {tag} is not a version")),
        ("0", true) => GitVersion::Unknown(format!(
            "at tag {tag} with uncommitted changes, so the build makes a development version"
        )),
        (n, _) => GitVersion::Unknown(format!(
            "{n} commit{} after tag {tag} ({hash}{}), so the build makes a development version",
            if n == "1" { "" } else { "s" },
            if dirty { ", uncommitted changes" } else { "" }
        )),
    }
}
