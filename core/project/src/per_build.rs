//! A version per build: what a CI build of a source tree whose version is written in its files
//! (`version = "1.3.0"`, `__version__`, `setup(version=...)`) is published as. The declared
//! version, then the number of commits that touched the tree and the last one's id:
//! katcore `1.3.0` at the 42nd commit of its tree, `1a2b3c4d5e6f`, is
//! `1.3.0.post42+g1a2b3c4d5e6f`, as setuptools-scm and katversion do from a tag. A post-release,
//! not a development one, so the dependents' `>=` bounds still accept it. It depends on the
//! package's own tree only: a commit elsewhere in the repository leaves it as it is, and two
//! commits that change the tree never share one. Git runs read-only (`GIT_OPTIONAL_LOCKS=0`).

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use lastmile_python::Version;

/// The version a build of a tree gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PerBuild {
    /// The tree is committed: `declared.postN+gCOMMIT`.
    Commit {
        version: Version,
        /// Commits that touched the tree (`git rev-list --count HEAD -- TREE`).
        commits: u64,
        /// The last of them, abbreviated to at least 12 hex digits.
        commit: String,
    },
    /// The tree is in no git repository (a copy, an export): the declared version, which names no
    /// commit.
    NoHistory,
}

impl PerBuild {
    /// What setuptools appends to the declared version (`[egg_info] tag_build`).
    pub fn tag(&self) -> Option<String> {
        match self {
            PerBuild::Commit { commits, commit, .. } => Some(format!(".post{commits}+g{commit}")),
            PerBuild::NoHistory => None,
        }
    }
}

/// Why a tree cannot be given a version per build.
#[derive(Debug, thiserror::Error)]
pub enum PerBuildError {
    #[error(
        "uncommitted changes in {} ({files}): commit them first, a build's version names the commit it was built from",
        dir.display()
    )]
    Uncommitted { dir: PathBuf, files: String },
    #[error(
        "{} is in a shallow clone, so the commits of its tree cannot be counted: git fetch --unshallow",
        dir.display()
    )]
    Shallow { dir: PathBuf },
    #[error("no commit holds {} yet: commit it first", dir.display())]
    NeverCommitted { dir: PathBuf },
    #[error(
        "its declared version {declared} already has a {what}; a version per build adds a post-release and a commit id: declare the release only (1.3.0, 2.0rc1)"
    )]
    Declared { declared: String, what: &'static str },
    #[error("git in {}: {message}", dir.display())]
    Git { dir: PathBuf, message: String },
}

fn git(dir: &Path, args: &[&str]) -> Result<String, PerBuildError> {
    let output = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| PerBuildError::Git {
            dir: dir.to_path_buf(),
            message: format!("cannot run git: {e}"),
        })?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim_end().to_owned())
    } else {
        Err(PerBuildError::Git {
            dir: dir.to_path_buf(),
            message: format!(
                "git {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        })
    }
}

/// The version a build of the tree `dir` gets, its version written in its files as `declared`.
pub fn version_per_build(dir: &Path, declared: &Version) -> Result<PerBuild, PerBuildError> {
    if declared.is_post() || declared.is_dev() || declared.is_local() {
        let what = if declared.is_local() {
            "local label"
        } else if declared.is_post() {
            "post-release"
        } else {
            "development release"
        };
        return Err(PerBuildError::Declared {
            declared: declared.to_string(),
            what,
        });
    }
    if crate::vcs::repository(dir).is_none() {
        return Ok(PerBuild::NoHistory);
    }
    if git(dir, &["rev-parse", "--is-shallow-repository"])? == "true" {
        return Err(PerBuildError::Shallow {
            dir: dir.to_path_buf(),
        });
    }
    let dirty = git(
        dir,
        &["status", "--porcelain", "--untracked-files=normal", "--", "."],
    )?;
    if !dirty.is_empty() {
        let mut files: Vec<&str> = dirty.lines().map(|l| l.get(3..).unwrap_or(l)).collect();
        let more = files.len().saturating_sub(3);
        files.truncate(3);
        let mut files = files.join(", ");
        if more > 0 {
            files.push_str(&format!(" and {more} more"));
        }
        return Err(PerBuildError::Uncommitted {
            dir: dir.to_path_buf(),
            files,
        });
    }
    // No commit yet (an empty repository) makes rev-list fail on HEAD.
    let commits: u64 = git(dir, &["rev-list", "--count", "HEAD", "--", "."])
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    if commits == 0 {
        return Err(PerBuildError::NeverCommitted {
            dir: dir.to_path_buf(),
        });
    }
    let commit = git(dir, &["log", "-1", "--format=%h", "--abbrev=12", "--", "."])?;
    let text = format!("{declared}.post{commits}+g{commit}");
    let version = Version::from_str(&text).map_err(|e| PerBuildError::Git {
        dir: dir.to_path_buf(),
        message: format!("{text} is not a version: {e}"),
    })?;
    Ok(PerBuild::Commit {
        version,
        commits,
        commit,
    })
}

impl fmt::Display for PerBuild {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PerBuild::Commit { version, .. } => write!(f, "{version}"),
            PerBuild::NoHistory => f.write_str("the declared version (no git history)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(dir: &Path, args: &[&str]) {
        let status = std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@localhost")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@localhost")
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    }

    fn version(text: &str) -> Version {
        Version::from_str(text).unwrap()
    }

    #[test]
    fn counts_the_commits_of_its_own_tree_only() {
        let dir = tempfile::tempdir().unwrap();
        let pkg = dir.path().join("pkg");
        std::fs::create_dir_all(&pkg).unwrap();
        std::fs::write(pkg.join("a.py"), "A = 1\n").unwrap();
        std::fs::write(dir.path().join("README"), "r\n").unwrap();
        run(dir.path(), &["init", "-q"]);
        run(dir.path(), &["add", "."]);
        run(dir.path(), &["commit", "-q", "-m", "one"]);
        let first = version_per_build(&pkg, &version("1.3")).unwrap();
        let PerBuild::Commit {
            version: v,
            commits: 1,
            commit,
        } = &first
        else {
            panic!("{first:?}");
        };
        assert_eq!(v.to_string(), format!("1.3.post1+g{commit}"));
        assert!(commit.len() >= 12, "{commit}");
        assert_eq!(first.tag(), Some(format!(".post1+g{commit}")));

        // A commit elsewhere changes nothing; one in the tree gives another version.
        std::fs::write(dir.path().join("README"), "r2\n").unwrap();
        run(dir.path(), &["commit", "-q", "-am", "readme"]);
        assert_eq!(version_per_build(&pkg, &version("1.3")).unwrap(), first);
        std::fs::write(pkg.join("a.py"), "A = 2\n").unwrap();
        let dirty = version_per_build(&pkg, &version("1.3")).unwrap_err();
        assert!(
            dirty.to_string().starts_with("uncommitted changes in ")
                && dirty.to_string().contains("pkg/a.py"),
            "{dirty}"
        );
        run(dir.path(), &["commit", "-q", "-am", "a"]);
        let second = version_per_build(&pkg, &version("1.3")).unwrap();
        assert!(second.to_string().starts_with("1.3.post2+g"), "{second}");
        assert_ne!(second, first);
    }

    #[test]
    fn a_declared_post_release_and_a_tree_outside_git_are_said() {
        let err = version_per_build(Path::new("."), &version("1.3.post1")).unwrap_err();
        assert!(err.to_string().contains("already has a post-release"), "{err}");
        let err = version_per_build(Path::new("."), &version("1.3+local")).unwrap_err();
        assert!(err.to_string().contains("local label"), "{err}");
        let outside = tempfile::tempdir().unwrap();
        assert_eq!(
            version_per_build(outside.path(), &version("1.3")).unwrap(),
            PerBuild::NoHistory
        );
    }
}
