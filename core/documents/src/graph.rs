//! The `lastmile.graph/v1` document: the dependency DAG that depgraph emits and pin-deps, the
//! pipeline scripts and CI read.

use std::collections::BTreeMap;
use std::fmt;

use lastmile_python::{ExtraName, PackageName};
use serde::{Deserialize, Serialize};

pub const SCHEMA: &str = "lastmile.graph/v1";

/// The dependency graph of a set of Python distributions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphDocument {
    pub schema: String,
    /// Every package scanned or referenced, sorted by name.
    pub nodes: Vec<Node>,
    /// Every declared dependency, sorted by `(from, to, extra, marker, specifier)`.
    pub edges: Vec<Edge>,
    /// In-house packages that depend on no other in-house package (the top of the tree).
    pub roots: Vec<PackageName>,
    /// In-house packages no other in-house package depends on: the candidate's entry points.
    pub leaves: Vec<PackageName>,
    /// In-house packages in layers; a layer's packages depend only on earlier layers and can be
    /// built in parallel. `null` when the in-house graph has a cycle.
    pub build_order: Option<Vec<Vec<PackageName>>>,
    /// Dependency cycles, each as a path that starts and ends at the same package.
    pub cycles: Vec<Vec<PackageName>>,
    /// Names found more than once among the inputs; the first source (in input order) is the node.
    pub duplicates: Vec<Duplicate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    pub name: PackageName,
    /// As declared; `null` for a package that was only referenced, or whose version is dynamic.
    pub version: Option<String>,
    /// An in-house package (found in a source tree, or matching `--internal`).
    pub internal: bool,
    /// Where it was found; `null` for a package that was only referenced by others.
    pub source: Option<Source>,
    pub requires_python: Option<String>,
    /// The extras the package provides.
    pub extras: Vec<ExtraName>,
    /// Console scripts: command name to `module:function`.
    pub scripts: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Source {
    pub kind: SourceKind,
    pub path: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// A source tree whose dependencies come from `pyproject.toml`.
    Pyproject,
    /// A source tree whose dependencies come from `setup.cfg`.
    SetupCfg,
    /// A source tree whose dependencies come from `setup.py`.
    SetupPy,
    /// An installed distribution (`*.dist-info`).
    DistInfo,
    /// An installed distribution (`*.egg-info`).
    EggInfo,
    Wheel,
    Sdist,
}

impl SourceKind {
    pub fn is_source_tree(self) -> bool {
        matches!(
            self,
            SourceKind::Pyproject | SourceKind::SetupCfg | SourceKind::SetupPy
        )
    }

    pub fn is_installed(self) -> bool {
        matches!(self, SourceKind::DistInfo | SourceKind::EggInfo)
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SourceKind::Pyproject => "pyproject",
            SourceKind::SetupCfg => "setup-cfg",
            SourceKind::SetupPy => "setup-py",
            SourceKind::DistInfo => "dist-info",
            SourceKind::EggInfo => "egg-info",
            SourceKind::Wheel => "wheel",
            SourceKind::Sdist => "sdist",
        })
    }
}

/// One declared dependency of `from` on `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edge {
    pub from: PackageName,
    pub to: PackageName,
    /// The version specifier (`>=1.2, <2`); empty for any version.
    pub specifier: String,
    /// Extras of `to` that `from` asks for.
    pub extras: Vec<ExtraName>,
    /// The extra of `from` that activates this dependency; `null` for a dependency always needed.
    pub extra: Option<ExtraName>,
    /// The environment marker, without the extra clause.
    pub marker: Option<String>,
    /// A direct reference (`to @ url`).
    pub url: Option<String>,
    /// Where the dependency is declared (`path:line`), when known.
    pub declared_at: Option<String>,
    /// `build` for what building `from` needs (`[build-system] requires`, `setup_requires`):
    /// in the build order, never in the leaves nor installed with `from`. Left out for `run`.
    #[serde(default, skip_serializing_if = "EdgeKind::is_run")]
    pub kind: EdgeKind,
}

/// What an edge is needed for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EdgeKind {
    /// Installed with the package (`dependencies`, `install_requires`, `Requires-Dist`).
    #[default]
    Run,
    /// Needed to build it only.
    Build,
}

impl EdgeKind {
    pub fn is_run(&self) -> bool {
        *self == EdgeKind::Run
    }
}

impl Edge {
    /// The ordering key of edges in a document.
    pub fn sort_key(&self) -> impl Ord + '_ {
        (
            &self.from,
            &self.to,
            self.kind,
            &self.extra,
            &self.marker,
            &self.specifier,
            &self.extras,
            &self.url,
        )
    }

    /// The requirement as a person writes it: `katcore[monitoring]>=1.2 ; marker`.
    pub fn requirement(&self) -> String {
        let mut out = self.to.to_string();
        if !self.extras.is_empty() {
            let extras: Vec<_> = self.extras.iter().map(ToString::to_string).collect();
            out.push_str(&format!("[{}]", extras.join(",")));
        }
        if let Some(url) = &self.url {
            out.push_str(&format!(" @ {url}"));
        }
        out.push_str(&self.specifier.replace(' ', ""));
        if let Some(marker) = &self.marker {
            out.push_str(&format!(" ; {marker}"));
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Duplicate {
    pub name: PackageName,
    pub sources: Vec<Source>,
}

impl GraphDocument {
    pub fn node(&self, name: &PackageName) -> Option<&Node> {
        self.nodes
            .binary_search_by(|n| n.name.cmp(name))
            .ok()
            .map(|i| &self.nodes[i])
    }
}

impl crate::Document for GraphDocument {
    const SCHEMA: &'static str = SCHEMA;

    /// Nodes sorted and unique (readers search them), and every name elsewhere a node.
    fn check(&self) -> Result<(), String> {
        if let Some(pair) = self.nodes.windows(2).find(|pair| pair[0].name >= pair[1].name) {
            return Err(format!(
                "nodes are not sorted by name without repeats ({} before {})",
                pair[0].name, pair[1].name
            ));
        }
        let known = |name: &PackageName, role: &str| -> Result<(), String> {
            if self.node(name).is_some() {
                Ok(())
            } else {
                Err(format!("{role} names {name}, which is not a node"))
            }
        };
        for edge in &self.edges {
            known(&edge.from, "an edge")?;
            known(&edge.to, "an edge")?;
        }
        for name in &self.roots {
            known(name, "roots")?;
        }
        for name in &self.leaves {
            known(name, "leaves")?;
        }
        for name in self.build_order.iter().flatten().flatten() {
            known(name, "build_order")?;
        }
        for name in self.cycles.iter().flatten() {
            known(name, "a cycle")?;
        }
        Ok(())
    }
    const JSON_SCHEMA: &'static str = include_str!("../../../schemas/graph.v1.schema.json");
}
