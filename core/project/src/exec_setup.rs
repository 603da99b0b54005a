//! Run `setup.py egg_info` in a temporary copy of a source tree, for a `setup.py` that cannot be
//! read statically. The tree itself is never written to. A version computed from git
//! (setuptools_scm, katversion) sees the tree's history: git in the copy reads the repository's
//! own git folder (`GIT_DIR`, `GIT_WORK_TREE` on the copy, placed where the project is in its
//! repository), read-only (`GIT_OPTIONAL_LOCKS=0`).

use std::path::Path;

use lastmile_fs::Location;
use lastmile_python::metadata::{CoreMetadata, parse_requires_txt};

use crate::{Project, ProjectError, ProjectFormat};

pub(super) fn run(dir: &Path, python: &str, setup_py: &Location) -> Result<Project, ProjectError> {
    let fail = |message: String| ProjectError::ExecSetup {
        location: setup_py.clone(),
        message,
    };
    let work = tempfile::tempdir().map_err(|err| fail(format!("cannot make a temporary folder: {err}")))?;
    let top = work.path().join("src");
    let repository = crate::vcs::repository(dir);
    // The project's place in its repository, so paths git reports are the repository's own.
    let inside = repository
        .as_ref()
        .and_then(|r| {
            let dir = dir.canonicalize().ok()?;
            dir.strip_prefix(&r.top).ok().map(Path::to_path_buf)
        })
        .unwrap_or_default();
    let copy = top.join(&inside);
    copy_tree(dir, &copy).map_err(|err| fail(format!("cannot copy the source tree: {err}")))?;
    let egg_base = work.path().join("egg");
    std::fs::create_dir(&egg_base).map_err(|err| fail(err.to_string()))?;
    let mut command = duct::cmd!(python, "setup.py", "-q", "egg_info", "--egg-base", &egg_base)
        .dir(&copy)
        .env("PYTHONDONTWRITEBYTECODE", "1");
    if let Some(repository) = &repository {
        command = command
            .env("GIT_DIR", &repository.git_dir)
            .env("GIT_WORK_TREE", &top)
            .env("GIT_OPTIONAL_LOCKS", "0");
    }
    let output = lastmile_process::output(&command).map_err(|err| match err {
        lastmile_process::ProcessError::Interrupted(i) => ProjectError::Interrupted(i),
        other => fail(other.to_string()),
    })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no output");
        return Err(fail(format!("`{python} setup.py egg_info` failed: {last}")));
    }
    let egg_info = std::fs::read_dir(&egg_base)
        .map_err(|err| fail(err.to_string()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "egg-info"))
        .ok_or_else(|| fail("`setup.py egg_info` wrote no .egg-info".into()))?;
    let read = |name: &str| std::fs::read_to_string(egg_info.join(name)).ok();
    let via = |name: &str| Location::file(format!("{} (egg_info {name})", setup_py.file));
    let pkg_info = read("PKG-INFO").ok_or_else(|| fail("`setup.py egg_info` wrote no PKG-INFO".into()))?;
    let meta = CoreMetadata::parse(&pkg_info, &via("PKG-INFO"))?;
    let dependencies = match read("requires.txt") {
        Some(text) => parse_requires_txt(&text, &via("requires.txt"))?,
        None => Vec::new(),
    };
    let scripts = match read("entry_points.txt") {
        Some(text) => lastmile_python::entry_points::parse(&text, &via("entry_points.txt"))?
            .remove("console_scripts")
            .unwrap_or_default(),
        None => Default::default(),
    };
    let mut extras: Vec<String> = dependencies.iter().filter_map(|d| d.extra.clone()).collect();
    extras.extend(meta.provides_extra.iter().cloned());
    extras.sort();
    extras.dedup();
    Ok(Project {
        name: meta.name,
        name_location: setup_py.clone(),
        version: meta.version,
        requires_python: meta.requires_python,
        dependencies,
        build_requires: Vec::new(),
        extras,
        scripts,
        kind: ProjectFormat::SetupPy,
        dir: dir.to_path_buf(),
        warnings: Vec::new(),
    })
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        let name_str = name.to_string_lossy();
        if name_str.starts_with('.')
            || name_str == "build"
            || name_str == "dist"
            || name_str.ends_with(".egg-info")
        {
            continue;
        }
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_tree(&entry.path(), &to.join(&name))?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), to.join(&name))?;
        }
    }
    Ok(())
}
