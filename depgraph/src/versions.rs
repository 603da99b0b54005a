//! `depgraph versions`: the version each in-house package gets when it is built from the commit
//! its source tree is at (a version per build, `lastmile_project::version_per_build`). As
//! constraints (`katcore==1.3.0.post2+g89aae256d743`), the candidate of a commit is pinned to the
//! builds of that commit, whatever newer builds the index also holds; as JSON
//! (`lastmile.versions/v1`), `scripts/build-package` reads the tag its build appends.

use std::path::Path;
use std::str::FromStr;

use anyhow::bail;
use lastmile_documents::graph::{EdgeKind, GraphDocument, Node};
use lastmile_project::PerBuild;
use lastmile_python::{PackageName, Version};
use serde::Serialize;

use crate::cli::{VersionsArgs, VersionsFormat};

pub(crate) const SCHEMA: &str = "lastmile.versions/v1";

#[derive(Debug, Serialize)]
struct VersionsDocument {
    schema: &'static str,
    /// The in-house packages found in source trees, sorted by name.
    packages: Vec<PackageVersion>,
}

/// Where a package's version comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum From {
    /// The declared version, the count of its tree's commits and the last one's id.
    Commit,
    /// The declared version: the tree is in no git repository, so it names no commit.
    Declared,
    /// Its build backend computes it from git when it is built (setuptools-scm, katversion...):
    /// known here only at a release tag.
    Backend,
}

#[derive(Debug, Serialize)]
struct PackageVersion {
    name: PackageName,
    /// As written in its files; `null` when its backend computes it.
    declared: Option<String>,
    /// What a build of it is published as; `null` when that cannot be known before building.
    version: Option<String>,
    from: From,
    /// With `commit`: the commits that touched its tree, and the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    commits: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    commit: Option<String>,
    /// Its source tree, as the graph names it.
    path: String,
}

/// Whether a build requirement of `node` computes its version from git.
fn backend_computes_version(doc: &GraphDocument, node: &Node) -> bool {
    doc.edges.iter().any(|e| {
        e.from == node.name && e.kind == EdgeKind::Build && lastmile_project::computes_version_from_git(&e.to)
    })
}

fn version_of(doc: &GraphDocument, node: &Node, path: &str) -> anyhow::Result<PackageVersion> {
    let mut out = PackageVersion {
        name: node.name.clone(),
        declared: None,
        version: None,
        from: From::Backend,
        commits: None,
        commit: None,
        path: path.to_owned(),
    };
    if backend_computes_version(doc, node) {
        // The graph has the version only when HEAD is at a release tag (depgraph said why not).
        out.version.clone_from(&node.version);
        if out.version.is_none() {
            tracing::warn!(
                "{}: its build backend computes its version from git when it is built, so it is not known before and not constrained",
                node.name
            );
        }
        return Ok(out);
    }
    let Some(declared) = &node.version else {
        bail!(
            "{}: no version could be read from its files ({path}), so a build of it has none to extend; write it as a literal",
            node.name
        );
    };
    let parsed = Version::from_str(declared)
        .map_err(|e| anyhow::anyhow!("{}: its declared version {declared:?}: {e}", node.name))?;
    out.declared = Some(declared.clone());
    match lastmile_project::version_per_build(Path::new(path), &parsed)
        .map_err(|e| anyhow::anyhow!("{}: {e}", node.name))?
    {
        PerBuild::Commit {
            version,
            commits,
            commit,
        } => {
            out.version = Some(version.to_string());
            out.from = From::Commit;
            out.commits = Some(commits);
            out.commit = Some(commit);
        }
        PerBuild::NoHistory => {
            tracing::warn!(
                "{}: {path} is not in a git repository, so it keeps its declared version {declared}, which names no commit",
                node.name
            );
            out.version = Some(parsed.to_string());
            out.from = From::Declared;
        }
    }
    Ok(out)
}

pub(crate) fn run(doc: &GraphDocument, args: &VersionsArgs) -> anyhow::Result<String> {
    let wanted = match &args.package {
        Some(raw) => {
            let name =
                PackageName::from_str(raw.trim()).map_err(|e| anyhow::anyhow!("--package {raw:?}: {e}"))?;
            match doc.node(&name) {
                Some(node) if node.internal => Some(name),
                Some(_) => bail!("--package {raw}: {name} is not an in-house package of the graph"),
                None => bail!("--package {raw}: no package named {name} in the graph"),
            }
        }
        None => None,
    };
    let mut packages = Vec::new();
    let mut problems = Vec::new();
    for node in doc.nodes.iter().filter(|n| n.internal) {
        if wanted.as_ref().is_some_and(|w| *w != node.name) {
            continue;
        }
        let Some(source) = node.source.as_ref().filter(|s| s.kind.is_source_tree()) else {
            if wanted.is_some() {
                bail!(
                    "{}: it was found in no source tree, so it is not built here",
                    node.name
                );
            }
            continue;
        };
        match version_of(doc, node, &source.path) {
            Ok(version) => packages.push(version),
            Err(e) => problems.push(e.to_string()),
        }
    }
    match problems.len() {
        0 => {}
        1 => bail!("{}", problems[0]),
        n => bail!(
            "{n} packages have no version per build:\n  {}",
            problems.join("\n  ")
        ),
    }
    Ok(match args.format {
        VersionsFormat::Json => lastmile_documents::to_string(&VersionsDocument {
            schema: SCHEMA,
            packages,
        }),
        VersionsFormat::Constraints => packages
            .iter()
            .filter_map(|p| Some(format!("{}=={}\n", p.name, p.version.as_ref()?)))
            .collect(),
    })
}
