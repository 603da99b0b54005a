//! `depgraph list`: a graph's answers as plain lines for shell scripts and Jenkinsfile stages,
//! so they never parse the JSON themselves: the build layers, the leaves, the in-house or
//! third-party packages, and where each package was found.

use anyhow::bail;
use lastmile_documents::graph::GraphDocument;

use crate::cli::{ListArgs, ListWhat};

/// The lines `args` asks for.
pub(crate) fn list(doc: &GraphDocument, args: &ListArgs) -> anyhow::Result<String> {
    let lines: Vec<String> = match args.what {
        ListWhat::Layers => {
            let Some(layers) = &doc.build_order else {
                return Err(lastmile_cli::Negative(
                    "the in-house packages form a cycle, so there is no build order (depgraph check names it)".into(),
                )
                .into());
            };
            layers
                .iter()
                .map(|layer| {
                    layer
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect()
        }
        ListWhat::Leaves => doc.leaves.iter().map(ToString::to_string).collect(),
        ListWhat::InHouse => names(doc, true),
        ListWhat::ThirdParty => names(doc, false),
        ListWhat::Sources => sources(doc, args.package.as_deref())?,
    };
    Ok(lines.iter().map(|l| format!("{l}\n")).collect())
}

fn names(doc: &GraphDocument, internal: bool) -> Vec<String> {
    doc.nodes
        .iter()
        .filter(|n| n.internal == internal)
        .map(|n| n.name.to_string())
        .collect()
}

/// `NAME PATH` for every package found at a path, or the one path of `--package NAME`.
fn sources(doc: &GraphDocument, package: Option<&str>) -> anyhow::Result<Vec<String>> {
    let Some(wanted) = package else {
        return Ok(doc
            .nodes
            .iter()
            .filter_map(|n| Some(format!("{} {}", n.name, n.source.as_ref()?.path)))
            .collect());
    };
    let name: lastmile_python::PackageName = wanted
        .parse()
        .map_err(|e| anyhow::anyhow!("--package {wanted:?}: {e}"))?;
    match doc.nodes.iter().find(|n| n.name == name) {
        Some(node) => match &node.source {
            Some(source) => Ok(vec![source.path.clone()]),
            None => bail!("{name} is in the graph only as a dependency: it was found at no path"),
        },
        None => bail!("{name} is not a package of the graph"),
    }
}
