//! From changed files to changed packages: each file belongs to the in-house package whose source
//! tree holds it (the deepest, when trees nest), or to none (docs, CI files, a service file).
//! `--since` asks git which files changed; git runs read-only (`GIT_OPTIONAL_LOCKS=0`).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
pub(crate) use lastmile_documents::affected::ChangedFile;
use lastmile_documents::graph::GraphDocument;
use lastmile_python::PackageName;

/// A file to look up: how it is shown, and where it is.
pub(crate) struct File {
    shown: String,
    absolute: PathBuf,
}

/// The files given with `--changed-file`, relative to the current folder.
pub(crate) fn given(paths: &[PathBuf]) -> anyhow::Result<Vec<File>> {
    paths
        .iter()
        .map(|path| {
            Ok(File {
                shown: path.display().to_string(),
                absolute: std::path::absolute(path)
                    .with_context(|| format!("--changed-file {}", path.display()))?,
            })
        })
        .collect()
}

fn git(top: &Path, args: &[&str]) -> anyhow::Result<Result<Vec<u8>, String>> {
    let expression = duct::cmd("git", args)
        .dir(top)
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .stdin_null();
    let output = lastmile_process::output(&expression)?;
    Ok(if output.status.success() {
        Ok(output.stdout)
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
    })
}

/// NUL-separated paths relative to `top`.
fn paths_under(top: &Path, listed: &[u8]) -> Vec<File> {
    listed
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let shown = String::from_utf8_lossy(p).into_owned();
            File {
                absolute: top.join(&shown),
                shown,
            }
        })
        .collect()
}

/// The files changed in `repo` since commit `since`: up to commit `until`, or (without it) in
/// the working tree, uncommitted and untracked files included.
pub(crate) fn since(repo: &Path, since: &str, until: Option<&str>) -> anyhow::Result<Vec<File>> {
    let top = match git(repo, &["rev-parse", "--show-toplevel"])? {
        Ok(top) => PathBuf::from(String::from_utf8_lossy(&top).trim()),
        Err(e) => bail!("--since: {} is not in a git repository ({e})", repo.display()),
    };
    for (option, rev) in [("--since", Some(since)), ("--until", until)] {
        let Some(rev) = rev else { continue };
        if git(
            &top,
            &["rev-parse", "--verify", "--quiet", &format!("{rev}^{{commit}}")],
        )?
        .is_err()
        {
            bail!("{option} {rev}: no such commit in {}", top.display());
        }
    }
    let mut diff = vec![
        "diff",
        "--name-only",
        "-z",
        "--no-renames",
        "--no-relative",
        since,
    ];
    diff.extend(until);
    diff.push("--");
    let listed = git(&top, &diff)?.map_err(|e| anyhow::anyhow!("git diff in {}: {e}", top.display()))?;
    let mut files = paths_under(&top, &listed);
    if until.is_none() {
        let untracked = git(&top, &["ls-files", "-z", "--others", "--exclude-standard"])?
            .map_err(|e| anyhow::anyhow!("git ls-files in {}: {e}", top.display()))?;
        files.extend(paths_under(&top, &untracked));
    }
    files.sort_by(|a, b| a.shown.cmp(&b.shown));
    files.dedup_by(|a, b| a.shown == b.shown);
    Ok(files)
}

/// Each file with the in-house package whose source tree holds it. The graph's source paths are
/// relative to the current folder (where depgraph ran) or absolute.
pub(crate) fn owners(
    doc: &GraphDocument,
    files: Vec<File>,
    inputs: &[PathBuf],
) -> anyhow::Result<Vec<ChangedFile>> {
    let inputs: Vec<(PathBuf, String)> = inputs
        .iter()
        .map(|input| {
            Ok((
                std::path::absolute(input).with_context(|| format!("--input {}", input.display()))?,
                input.display().to_string(),
            ))
        })
        .collect::<anyhow::Result<_>>()?;
    let mut trees: Vec<(PathBuf, &PackageName)> = Vec::new();
    for node in doc.nodes.iter().filter(|n| n.internal) {
        let Some(source) = node.source.as_ref().filter(|s| s.kind.is_source_tree()) else {
            continue;
        };
        let folder = std::path::absolute(&source.path)
            .with_context(|| format!("{}: its source path {}", node.name, source.path))?;
        trees.push((folder, &node.name));
    }
    // The deepest tree first, so a nested package wins over the one around it.
    trees.sort_by_key(|(folder, _)| std::cmp::Reverse(folder.components().count()));
    Ok(files
        .into_iter()
        .map(|file| {
            let package = trees
                .iter()
                .find(|(folder, _)| file.absolute.starts_with(folder))
                .map(|(_, name)| (*name).clone());
            let input = package
                .is_none()
                .then(|| inputs.iter().find(|(at, _)| file.absolute.starts_with(at)))
                .flatten()
                .map(|(_, shown)| shown.clone());
            ChangedFile {
                package,
                input,
                path: file.shown,
            }
        })
        .collect())
}
