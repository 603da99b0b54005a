//! Assemble scanned distributions into a `lastmile.graph/v1` document.

use std::collections::{BTreeMap, BTreeSet};

use lastmile_documents::graph::{Duplicate, Edge, EdgeKind, GraphDocument, Node, SCHEMA, Source};
use lastmile_python::PackageName;

use crate::index::Index;
use crate::scan::Distribution;

/// Which names count as in-house besides those found in source trees.
pub(crate) struct Internal {
    globs: lastmile_python::NameGlobs,
}

impl Internal {
    pub(crate) fn new(globs: &[String]) -> anyhow::Result<Self> {
        let globs = lastmile_python::NameGlobs::new(globs).map_err(|e| anyhow::anyhow!("--internal {e}"))?;
        Ok(Self { globs })
    }

    fn matches(&self, name: &PackageName) -> bool {
        self.globs.matches(name)
    }
}

/// Build the document. The first distribution of a name (in input order) becomes the node; later
/// ones are listed as duplicates.
pub(crate) fn build(distributions: Vec<Distribution>, internal: &Internal) -> GraphDocument {
    let mut nodes: BTreeMap<PackageName, Node> = BTreeMap::new();
    let mut sources: BTreeMap<PackageName, Vec<Source>> = BTreeMap::new();
    let mut edges: Vec<Edge> = Vec::with_capacity(distributions.iter().map(|d| d.dependencies.len()).sum());
    for dist in distributions {
        sources
            .entry(dist.name.clone())
            .or_default()
            .push(dist.source.clone());
        if nodes.contains_key(&dist.name) {
            continue;
        }
        let kinds = std::iter::repeat(EdgeKind::Run)
            .zip(dist.dependencies)
            .chain(std::iter::repeat(EdgeKind::Build).zip(dist.build_dependencies));
        for (kind, dep) in kinds {
            edges.push(Edge {
                from: dist.name.clone(),
                declared_at: Some(dep.location.to_string()),
                to: dep.name,
                specifier: dep.specifier,
                extras: dep.extras,
                extra: dep.extra,
                marker: dep.marker,
                url: dep.url,
                kind,
            });
        }
        let is_internal = dist.source.kind.is_source_tree() || internal.matches(&dist.name);
        nodes.insert(
            dist.name.clone(),
            Node {
                name: dist.name,
                version: dist.version,
                internal: is_internal,
                source: Some(dist.source),
                requires_python: dist.requires_python,
                extras: dist.extras,
                scripts: dist.scripts,
            },
        );
    }
    for edge in &edges {
        if nodes.contains_key(&edge.to) {
            continue;
        }
        nodes.entry(edge.to.clone()).or_insert_with(|| Node {
            name: edge.to.clone(),
            version: None,
            internal: internal.matches(&edge.to),
            source: None,
            requires_python: None,
            extras: Vec::new(),
            scripts: BTreeMap::new(),
        });
    }
    edges.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    edges.dedup_by(|a, b| a.sort_key() == b.sort_key());
    let duplicates = sources
        .into_iter()
        .filter(|(_, s)| s.len() > 1)
        .map(|(name, sources)| Duplicate { name, sources })
        .collect();
    let mut doc = GraphDocument {
        schema: SCHEMA.to_owned(),
        nodes: nodes.into_values().collect(),
        edges,
        roots: Vec::new(),
        leaves: Vec::new(),
        build_order: None,
        cycles: Vec::new(),
        duplicates,
    };
    analyse(&mut doc);
    doc
}

/// Fill in roots, leaves, build order and cycles from the nodes and edges.
fn analyse(doc: &mut GraphDocument) {
    let index = Index::runtime(doc);
    let internal: BTreeSet<&PackageName> = doc.nodes.iter().filter(|n| n.internal).map(|n| &n.name).collect();
    let roots = internal
        .iter()
        .filter(|name| !index.dependencies(name).iter().any(|d| internal.contains(d)))
        .map(|&n| n.clone())
        .collect();
    // What an in-house package needs to be built (a version plugin, a build helper) is no leaf:
    // it is built first, and never deployed for its own sake.
    let build = Index::build(doc);
    let leaves = internal
        .iter()
        .filter(|name| !build.dependants(name).iter().any(|d| internal.contains(d)))
        .map(|&n| n.clone())
        .collect();
    let build_order = build.layers(&internal);
    let cycles = index.cycles();
    doc.roots = roots;
    doc.leaves = leaves;
    doc.build_order = build_order;
    doc.cycles = cycles;
}
