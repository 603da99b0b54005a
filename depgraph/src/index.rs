//! A petgraph view of a graph document: one edge per dependent pair, self-edges (a package
//! asking for its own extras) left out, since they are not dependencies between packages.
//! [`Index::runtime`] keeps only the edges that hold when the packages are installed: a
//! dependency of an extra nobody asks for (`A[dev]` needing `B`, which needs `A`) is no cycle.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use lastmile_documents::graph::{Edge, EdgeKind, GraphDocument};
use lastmile_python::ExtraName;
use lastmile_python::PackageName;
use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};

pub(crate) struct Index<'a> {
    pub(crate) graph: DiGraph<&'a PackageName, ()>,
    ids: BTreeMap<&'a PackageName, NodeIndex>,
}

/// The edges that hold once installed: the unconditional ones, and those of an extra some
/// package asks for (an extra asked for only by another such extra counts too).
pub(crate) fn runtime_edges(doc: &GraphDocument) -> Vec<&Edge> {
    let mut requested: BTreeSet<(&PackageName, &ExtraName)> = BTreeSet::new();
    let mut active = vec![false; doc.edges.len()];
    loop {
        let mut changed = false;
        for (i, edge) in doc.edges.iter().enumerate() {
            // A build requirement's extras are the build's, not the installed package's.
            if active[i] || edge.kind == EdgeKind::Build {
                continue;
            }
            let on = match &edge.extra {
                None => true,
                Some(extra) => requested.contains(&(&edge.from, extra)),
            };
            if on {
                active[i] = true;
                changed = true;
                requested.extend(edge.extras.iter().map(|extra| (&edge.to, extra)));
            }
        }
        if !changed {
            break;
        }
    }
    doc.edges
        .iter()
        .zip(active)
        .filter(|(edge, on)| *on && edge.kind == EdgeKind::Run)
        .map(|(edge, _)| edge)
        .collect()
}

impl<'a> Index<'a> {
    /// Every declared edge (for what a change affects: an extra's tests need rebuilding too).
    pub(crate) fn new(doc: &'a GraphDocument) -> Self {
        Self::with_edges(doc, doc.edges.iter().collect())
    }

    /// The edges that hold once installed (for layers, cycles, roots and leaves).
    pub(crate) fn runtime(doc: &'a GraphDocument) -> Self {
        Self::with_edges(doc, runtime_edges(doc))
    }

    /// The run-time edges and what building each package needs (for the build order and the
    /// leaves: a build requirement is built before what it builds).
    pub(crate) fn build(doc: &'a GraphDocument) -> Self {
        let mut edges = runtime_edges(doc);
        edges.extend(doc.edges.iter().filter(|e| e.kind == EdgeKind::Build));
        Self::with_edges(doc, edges)
    }

    fn with_edges(doc: &'a GraphDocument, edges: Vec<&'a Edge>) -> Self {
        let mut graph = DiGraph::new();
        let mut ids = BTreeMap::new();
        for node in &doc.nodes {
            ids.insert(&node.name, graph.add_node(&node.name));
        }
        let pairs: BTreeSet<(&PackageName, &PackageName)> = edges
            .iter()
            .filter(|e| e.from != e.to)
            .map(|e| (&e.from, &e.to))
            .collect();
        for (from, to) in pairs {
            graph.add_edge(ids[from], ids[to], ());
        }
        Self { graph, ids }
    }

    pub(crate) fn id(&self, name: &PackageName) -> Option<NodeIndex> {
        self.ids.get(name).copied()
    }

    fn neighbours(&self, name: &PackageName, direction: Direction) -> Vec<&'a PackageName> {
        let Some(id) = self.id(name) else {
            return Vec::new();
        };
        let mut out: Vec<_> = self
            .graph
            .neighbors_directed(id, direction)
            .map(|n| self.graph[n])
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// What `name` depends on, sorted.
    pub(crate) fn dependencies(&self, name: &PackageName) -> Vec<&'a PackageName> {
        self.neighbours(name, Direction::Outgoing)
    }

    /// What depends on `name`, sorted.
    pub(crate) fn dependants(&self, name: &PackageName) -> Vec<&'a PackageName> {
        self.neighbours(name, Direction::Incoming)
    }

    /// Every cycle, as a path from its smallest name back to itself (the shortest such path).
    pub(crate) fn cycles(&self) -> Vec<Vec<PackageName>> {
        let mut cycles = Vec::new();
        for component in petgraph::algo::tarjan_scc(&self.graph) {
            if component.len() < 2 {
                continue;
            }
            let members: BTreeSet<&PackageName> = component.iter().map(|&n| self.graph[n]).collect();
            let start = *members.iter().next().expect("a component has members");
            cycles.push(self.shortest_cycle(start, &members));
        }
        cycles.sort();
        cycles
    }

    fn shortest_cycle(
        &self,
        start: &'a PackageName,
        members: &BTreeSet<&'a PackageName>,
    ) -> Vec<PackageName> {
        let mut previous: BTreeMap<&PackageName, &PackageName> = BTreeMap::new();
        let mut queue = VecDeque::from([start]);
        while let Some(current) = queue.pop_front() {
            for next in self.dependencies(current) {
                if !members.contains(next) {
                    continue;
                }
                if next == start {
                    let mut path = vec![start.clone()];
                    let mut at = current;
                    while at != start {
                        path.push(at.clone());
                        at = previous[at];
                    }
                    path.push(start.clone());
                    path.reverse();
                    return path;
                }
                if !previous.contains_key(next) {
                    previous.insert(next, current);
                    queue.push_back(next);
                }
            }
        }
        unreachable!("a strongly connected component with two members has a cycle through each")
    }

    /// Layers of `subset` such that a package only depends on packages of earlier layers
    /// (dependencies outside the subset are ignored). `None` if the subset has a cycle.
    pub(crate) fn layers(&self, subset: &BTreeSet<&PackageName>) -> Option<Vec<Vec<PackageName>>> {
        let mut remaining: BTreeMap<&PackageName, usize> = subset
            .iter()
            .map(|&name| {
                (
                    name,
                    self.dependencies(name)
                        .into_iter()
                        .filter(|d| subset.contains(d))
                        .count(),
                )
            })
            .collect();
        let mut layers = Vec::new();
        while !remaining.is_empty() {
            let ready: Vec<&PackageName> = remaining
                .iter()
                .filter(|(_, n)| **n == 0)
                .map(|(&k, _)| k)
                .collect();
            if ready.is_empty() {
                return None;
            }
            for name in &ready {
                remaining.remove(name);
                for dependant in self.dependants(name) {
                    if let Some(count) = remaining.get_mut(dependant) {
                        *count -= 1;
                    }
                }
            }
            layers.push(ready.into_iter().cloned().collect());
        }
        Some(layers)
    }

    /// Everything that depends on any of `start`, directly or not, including `start`.
    pub(crate) fn downstream(&self, start: &[&'a PackageName]) -> BTreeSet<&'a PackageName> {
        let mut seen: BTreeSet<&PackageName> = start.iter().copied().collect();
        let mut queue: VecDeque<&PackageName> = start.iter().copied().collect();
        while let Some(current) = queue.pop_front() {
            for dependant in self.dependants(current) {
                if seen.insert(dependant) {
                    queue.push_back(dependant);
                }
            }
        }
        seen
    }
}
