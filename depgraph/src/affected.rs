//! `depgraph affected`: what dependency-driven CI rebuilds after a change (named packages, or
//! the files changed, given or since a commit).

use std::collections::BTreeSet;
use std::str::FromStr;

use anyhow::bail;
use lastmile_cli::Exit;
use lastmile_documents::affected::{AffectedDocument, SCHEMA};
use lastmile_documents::graph::GraphDocument;
use lastmile_python::PackageName;

use crate::changes::{self, ChangedFile};
use crate::cli::{AffectedArgs, AffectedFormat};
use crate::index::Index;

/// The changed files of `--changed-file` and `--since`, with their packages; `None` without them.
fn changed_files(doc: &GraphDocument, args: &AffectedArgs) -> anyhow::Result<Option<Vec<ChangedFile>>> {
    if args.changed_file.is_empty() && args.since.is_none() {
        return Ok(None);
    }
    let mut files = changes::given(&args.changed_file)?;
    if let Some(since) = &args.since {
        files.extend(changes::since(&args.repo, since, args.until.as_deref())?);
    }
    let owned = changes::owners(doc, files, &args.inputs)?;
    let outside: Vec<&str> = owned
        .iter()
        .filter(|f| f.package.is_none() && f.input.is_none())
        .map(|f| f.path.as_str())
        .collect();
    let inputs = owned.iter().filter(|f| f.input.is_some()).count();
    let listed = |paths: &[&str]| {
        let mut text = paths.iter().take(3).copied().collect::<Vec<_>>().join(", ");
        if paths.len() > 3 {
            text.push_str(", ...");
        }
        text
    };
    if owned.is_empty() {
        tracing::warn!("no file changed: nothing to rebuild, no candidate");
    } else if outside.len() == owned.len() {
        tracing::warn!(
            "none of the {} changed file{} is in an in-house package's source tree{} ({}): nothing to rebuild, no candidate",
            owned.len(),
            if owned.len() == 1 { "" } else { "s" },
            if args.inputs.is_empty() {
                ""
            } else {
                " or an --input"
            },
            listed(&outside)
        );
    } else if inputs > 0 && owned.iter().all(|f| f.package.is_none()) {
        let changed: Vec<&str> = owned
            .iter()
            .filter_map(|f| f.input.is_some().then_some(f.path.as_str()))
            .collect();
        tracing::warn!(
            "no package to rebuild, but an input of the candidate changed ({}): a new candidate",
            listed(&changed)
        );
    } else if !outside.is_empty() {
        tracing::info!(
            "{} of {} changed files are in no package",
            outside.len(),
            owned.len()
        );
    }
    Ok(Some(owned))
}

pub(crate) fn run(doc: &GraphDocument, args: &AffectedArgs) -> anyhow::Result<(String, Exit)> {
    // Downstream over every declared edge (a change reaches the tests of an extra too, and what
    // is built with a build requirement); the build order over the edges that hold once
    // installed and those of building, like the document's own.
    let index = Index::new(doc);
    let runtime = Index::build(doc);
    let changed_files = changed_files(doc, args)?;
    let mut start: Vec<&PackageName> = changed_files
        .iter()
        .flatten()
        .filter_map(|f| f.package.as_ref())
        .filter_map(|name| doc.node(name).map(|node| &node.name))
        .collect();
    if args.all {
        start.extend(doc.nodes.iter().filter(|n| n.internal).map(|n| &n.name));
    }
    for raw in &args.changed {
        let name =
            PackageName::from_str(raw.trim()).map_err(|e| anyhow::anyhow!("--changed {raw:?}: {e}"))?;
        match doc.node(&name) {
            Some(node) => start.push(&node.name),
            None => bail!("--changed {raw}: no package named {name} in the graph"),
        }
    }
    start.sort();
    start.dedup();
    let changed: Vec<PackageName> = start.iter().map(|&n| n.clone()).collect();
    let downstream = index.downstream(&start);
    let internal: BTreeSet<&PackageName> = downstream
        .iter()
        .copied()
        .filter(|n| doc.node(n).is_some_and(|node| node.internal))
        .collect();
    let Some(build_order) = runtime.layers(&internal) else {
        let cycles: Vec<String> = doc
            .cycles
            .iter()
            .map(|c| c.iter().map(ToString::to_string).collect::<Vec<_>>().join(" -> "))
            .collect();
        bail!(
            "the affected packages have a dependency cycle ({}), so there is no build order",
            cycles.join("; ")
        );
    };
    let leaves: Vec<PackageName> = doc
        .leaves
        .iter()
        .filter(|l| downstream.contains(l))
        .cloned()
        .collect();
    let mut inputs_changed: Vec<String> = changed_files
        .iter()
        .flatten()
        .filter_map(|f| f.input.clone())
        .collect();
    inputs_changed.sort();
    inputs_changed.dedup();
    let result = AffectedDocument {
        candidate: !build_order.is_empty() || !inputs_changed.is_empty(),
        inputs_changed,
        schema: SCHEMA.to_owned(),
        changed,
        affected: downstream.into_iter().cloned().collect(),
        build_order,
        leaves,
        changed_files,
    };
    let text = match args.format {
        AffectedFormat::Json => lastmile_documents::to_string(&result),
        AffectedFormat::Lines => result
            .build_order
            .iter()
            .flatten()
            .map(|n| format!("{n}\n"))
            .collect(),
    };
    Ok((text, Exit::Success))
}
