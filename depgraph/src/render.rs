//! `depgraph render`: a text tree like pipdeptree, Graphviz DOT, or a Mermaid flowchart.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use lastmile_documents::graph::{Edge, EdgeKind, GraphDocument, Node};
use lastmile_python::{ExtraName, PackageName};

use crate::cli::{RenderArgs, RenderFormat};

/// The part of the document being drawn: all nodes, or the in-house ones only.
struct View<'a> {
    nodes: BTreeMap<&'a PackageName, &'a Node>,
    /// Edges between drawn nodes, self-edges (a package asking for its own extras) left out.
    edges: Vec<&'a Edge>,
}

impl<'a> View<'a> {
    fn new(doc: &'a GraphDocument, internal_only: bool) -> Self {
        let nodes: BTreeMap<_, _> = doc
            .nodes
            .iter()
            .filter(|n| !internal_only || n.internal)
            .map(|n| (&n.name, n))
            .collect();
        let edges = doc
            .edges
            .iter()
            .filter(|e| e.from != e.to && nodes.contains_key(&e.from) && nodes.contains_key(&e.to))
            .collect();
        Self { nodes, edges }
    }

    fn edges_from<'b>(&'b self, name: &'b PackageName) -> impl Iterator<Item = &'a Edge> + 'b {
        self.edges.iter().copied().filter(move |e| &e.from == name)
    }

    fn edges_to(&self, name: &PackageName) -> impl Iterator<Item = &'a Edge> + '_ {
        let mut edges: Vec<_> = self.edges.iter().copied().filter(|e| &e.to == name).collect();
        edges.sort_by(|a, b| (&a.from, a.sort_key()).cmp(&(&b.from, b.sort_key())));
        edges.into_iter()
    }
}

pub(crate) fn render(doc: &GraphDocument, args: &RenderArgs) -> String {
    let view = View::new(doc, args.internal_only);
    match args.format {
        RenderFormat::Tree => tree(&view, args.reverse),
        RenderFormat::Dot => dot(&view, args.reverse),
        RenderFormat::Mermaid => mermaid(&view, args.reverse),
    }
}

/// The version to show: as declared, "(not found)" for an in-house package nobody scanned, and
/// nothing for a third-party package that was only referenced (it comes from an index later).
fn version_text(node: &Node) -> &str {
    match &node.version {
        Some(version) => version,
        None if node.source.is_none() && node.internal => "(not found)",
        None => "",
    }
}

fn versioned(node: &Node) -> String {
    match (&node.version, version_text(node)) {
        (Some(version), _) => format!("{}=={version}", node.name),
        (None, "") => node.name.to_string(),
        (None, text) => format!("{} {text}", node.name),
    }
}

fn with_extras(name: &PackageName, edge: &Edge) -> String {
    if edge.extras.is_empty() {
        name.to_string()
    } else {
        let extras: Vec<_> = edge.extras.iter().map(ToString::to_string).collect();
        format!("{name}[{}]", extras.join(","))
    }
}

fn conditions(edge: &Edge) -> String {
    let mut out = String::new();
    if let Some(extra) = &edge.extra {
        let _ = write!(out, ", extra: {extra}");
    }
    if let Some(marker) = &edge.marker {
        let _ = write!(out, ", marker: {marker}");
    }
    if edge.kind == EdgeKind::Build {
        out.push_str(", to build");
    }
    out
}

fn required(edge: &Edge) -> String {
    match (&edge.url, edge.specifier.as_str()) {
        (Some(url), _) => format!("@ {url}"),
        (None, "") => "Any".into(),
        (None, spec) => spec.replace(' ', ""),
    }
}

/// pipdeptree's layout: each top-level package, then `- dependency [required: ..., version: ...]`
/// indented two spaces a level. With `reverse`, dependants are listed under each package.
fn tree<'a>(view: &View<'a>, reverse: bool) -> String {
    let tops: Vec<&PackageName> = view
        .nodes
        .keys()
        .copied()
        .filter(|name| {
            if reverse {
                view.edges_from(name).next().is_none()
            } else {
                view.edges_to(name).next().is_none()
            }
        })
        .collect();
    let mut out = String::new();
    let mut printed: BTreeSet<&'a PackageName> = BTreeSet::new();
    for name in &tops {
        printed.insert(name);
        top(view, name, reverse, &mut out, &mut printed);
    }
    // Packages inside a cycle have no top; draw each cycle once from its smallest member.
    let rest: Vec<&PackageName> = view
        .nodes
        .keys()
        .copied()
        .filter(|n| !printed.contains(n))
        .collect();
    for name in rest {
        if printed.insert(name) {
            top(view, name, reverse, &mut out, &mut printed);
        }
    }
    out
}

fn top<'a>(
    view: &View<'a>,
    name: &PackageName,
    reverse: bool,
    out: &mut String,
    printed: &mut BTreeSet<&'a PackageName>,
) {
    let _ = writeln!(out, "{}", versioned(view.nodes[name]));
    let mut path = vec![name.clone()];
    branch(view, name, None, reverse, 1, &mut path, out, printed);
}

/// Draw the edges of `name`. `requested` is the set of extras asked of it by the edge that led
/// here (`None` at the top, where every extra is shown); a dependency of an extra nobody asked for
/// is not drawn, as pip would not install it.
#[allow(clippy::too_many_arguments)]
fn branch<'a>(
    view: &View<'a>,
    name: &PackageName,
    requested: Option<&[ExtraName]>,
    reverse: bool,
    depth: usize,
    path: &mut Vec<PackageName>,
    out: &mut String,
    printed: &mut BTreeSet<&'a PackageName>,
) {
    let indent = "  ".repeat(depth - 1);
    let edges: Vec<&Edge> = if reverse {
        view.edges_to(name).collect()
    } else {
        view.edges_from(name)
            .filter(|e| match (&e.extra, requested) {
                (Some(extra), Some(requested)) => requested.contains(extra),
                _ => true,
            })
            .collect()
    };
    for edge in edges {
        let next = if reverse { &edge.from } else { &edge.to };
        let (node_name, node) = view
            .nodes
            .get_key_value(next)
            .expect("view edges join drawn nodes");
        printed.insert(node_name);
        let line = if reverse {
            {
                let spec = if edge.url.is_some() || edge.specifier.is_empty() {
                    String::new()
                } else {
                    required(edge)
                };
                let conditions = conditions(edge).replace(", extra", ", via extra");
                format!(
                    "{indent}- {} [requires: {}{spec}{conditions}]",
                    versioned(node),
                    with_extras(name, edge)
                )
            }
        } else {
            let version = match version_text(node) {
                "" => "?",
                "(not found)" => "not found",
                version => version,
            };
            format!(
                "{indent}- {} [required: {}, version: {version}{}]",
                with_extras(next, edge),
                required(edge),
                conditions(edge)
            )
        };
        if path.contains(next) {
            let _ = writeln!(out, "{line} (cycle)");
            continue;
        }
        let _ = writeln!(out, "{line}");
        path.push(next.clone());
        let requested = if reverse {
            None
        } else {
            Some(edge.extras.as_slice())
        };
        branch(view, next, requested, reverse, depth + 1, path, out, printed);
        path.pop();
    }
}

fn dot_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

fn edge_label(edge: &Edge) -> String {
    let mut parts = Vec::new();
    if edge.kind == EdgeKind::Build {
        parts.push("build".to_owned());
    }
    if !edge.extras.is_empty() {
        let extras: Vec<_> = edge.extras.iter().map(ToString::to_string).collect();
        parts.push(format!("[{}]", extras.join(",")));
    }
    if let Some(url) = &edge.url {
        parts.push(format!("@ {url}"));
    } else if !edge.specifier.is_empty() {
        parts.push(edge.specifier.replace(' ', ""));
    }
    if let Some(extra) = &edge.extra {
        parts.push(format!("(extra {extra})"));
    }
    if let Some(marker) = &edge.marker {
        parts.push(format!("; {marker}"));
    }
    parts.join(" ")
}

fn dot(view: &View, reverse: bool) -> String {
    let mut out = String::from("digraph dependencies {\n");
    out.push_str(
        "  node [shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\", fontname=\"Helvetica\"];\n",
    );
    out.push_str("  edge [fontname=\"Helvetica\", fontsize=10];\n");
    for node in view.nodes.values() {
        let version = version_text(node);
        let label = if version.is_empty() {
            node.name.to_string()
        } else {
            format!("{}\\n{}", node.name, dot_escape(version))
        };
        let style = if node.source.is_none() {
            ", style=\"rounded,dashed\""
        } else if node.internal {
            ", fillcolor=\"#cfe2f3\""
        } else {
            ""
        };
        let _ = writeln!(out, "  \"{}\" [label=\"{label}\"{style}];", node.name);
    }
    for edge in &view.edges {
        let (tail, head) = if reverse {
            (&edge.to, &edge.from)
        } else {
            (&edge.from, &edge.to)
        };
        let style = if edge.kind == EdgeKind::Build {
            ", style=dotted"
        } else if edge.extra.is_some() {
            ", style=dashed"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  \"{tail}\" -> \"{head}\" [label=\"{}\"{style}];",
            dot_escape(&edge_label(edge))
        );
    }
    out.push_str("}\n");
    out
}

fn mermaid_escape(text: &str) -> String {
    text.replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
}

fn mermaid(view: &View, reverse: bool) -> String {
    let ids: BTreeMap<&PackageName, String> = view
        .nodes
        .keys()
        .enumerate()
        .map(|(i, name)| (*name, format!("n{i}")))
        .collect();
    let mut out = String::from("flowchart TD\n");
    for node in view.nodes.values() {
        let version = version_text(node);
        let label = mermaid_escape(format!("{} {version}", node.name).trim());
        let _ = writeln!(out, "    {}[\"{label}\"]", ids[&node.name]);
    }
    for edge in &view.edges {
        let (tail, head) = if reverse {
            (&edge.to, &edge.from)
        } else {
            (&edge.from, &edge.to)
        };
        let arrow = if edge.extra.is_some() || edge.kind == EdgeKind::Build {
            "-.->"
        } else {
            "-->"
        };
        let label = edge_label(edge);
        if label.is_empty() {
            let _ = writeln!(out, "    {} {arrow} {}", ids[tail], ids[head]);
        } else {
            let _ = writeln!(
                out,
                "    {} {arrow}|\"{}\"| {}",
                ids[tail],
                mermaid_escape(&label),
                ids[head]
            );
        }
    }
    let class = |keep: &dyn Fn(&Node) -> bool| -> Vec<&str> {
        view.nodes
            .values()
            .filter(|n| keep(n))
            .map(|n| ids[&n.name].as_str())
            .collect()
    };
    let internal = class(&|n| n.internal && n.source.is_some());
    let missing = class(&|n| n.source.is_none());
    out.push_str("    classDef internal fill:#cfe2f3,stroke:#3d85c6\n");
    out.push_str("    classDef missing stroke-dasharray: 5 5\n");
    if !internal.is_empty() {
        let _ = writeln!(out, "    class {} internal", internal.join(","));
    }
    if !missing.is_empty() {
        let _ = writeln!(out, "    class {} missing", missing.join(","));
    }
    out
}
