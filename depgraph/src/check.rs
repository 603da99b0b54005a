//! `depgraph check`: pipdeptree-style warnings about a graph.

use std::fmt::Write;
use std::str::FromStr;

use lastmile_documents::graph::{Edge, GraphDocument};
use lastmile_python::{MarkerEnvironment, PackageName, Target, Version, VersionSpecifiers};
use serde::Serialize;

pub(crate) const SCHEMA: &str = "lastmile.check/v1";

#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Kind {
    Conflict,
    Duplicate,
    Missing,
    Cycle,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Problem {
    kind: Kind,
    packages: Vec<PackageName>,
    message: String,
}

#[derive(Serialize)]
struct CheckDocument<'a> {
    schema: &'static str,
    problems: &'a [Problem],
}

fn at(edge: &Edge) -> String {
    edge.declared_at
        .as_deref()
        .map(|a| format!(" (declared at {a})"))
        .unwrap_or_default()
}

fn requirement_text(edge: &Edge) -> String {
    let mut text = edge.requirement();
    if let Some(extra) = &edge.extra {
        text.push_str(&format!(" [extra {extra}]"));
    }
    text
}

/// Whether an edge's marker holds on the target (an edge whose marker does not parse is kept, so
/// nothing is hidden).
fn applies(edge: &Edge, env: &MarkerEnvironment) -> bool {
    match &edge.marker {
        None => true,
        Some(marker) => {
            lastmile_python::requirement::parse_marker(marker, &lastmile_fs::Location::file("marker"))
                .map_or(true, |m| m.evaluate(env, &[]))
        }
    }
}

/// Every problem, in a stable order: conflicts, duplicates, missing packages, cycles. Only the
/// dependencies that hold on `target` count: those whose marker is true there, and those of an
/// extra that some package asks for.
pub(crate) fn check(doc: &GraphDocument, target: &Target) -> Vec<Problem> {
    let env = target.marker_environment();
    let mut problems = Vec::new();
    for edge in crate::index::runtime_edges(doc)
        .into_iter()
        .filter(|edge| applies(edge, &env))
    {
        let (Some(node), Some(from)) = (doc.node(&edge.to), doc.node(&edge.from)) else {
            continue;
        };
        let from_label = from
            .version
            .as_ref()
            .map_or_else(|| from.name.to_string(), |v| format!("{} {v}", from.name));
        match &node.version {
            Some(version) if !edge.specifier.is_empty() => {
                let (Ok(parsed), Ok(specifiers)) = (
                    Version::from_str(version),
                    VersionSpecifiers::from_str(&edge.specifier),
                ) else {
                    continue;
                };
                if !specifiers.contains(&parsed) {
                    problems.push(Problem {
                        kind: Kind::Conflict,
                        packages: vec![edge.from.clone(), edge.to.clone()],
                        message: format!(
                            "{from_label} requires {}, but {} is {version}{}",
                            requirement_text(edge),
                            edge.to,
                            at(edge)
                        ),
                    });
                }
            }
            None if node.source.is_none() => {
                // A third-party dependency of a source tree comes from the index later; it is only
                // missing for an installed environment, or for an in-house package.
                let installed = from.source.as_ref().is_some_and(|s| s.kind.is_installed());
                let unconditional = edge.extra.is_none() && edge.marker.is_none();
                if unconditional && (installed || node.internal) {
                    problems.push(Problem {
                        kind: Kind::Missing,
                        packages: vec![edge.from.clone(), edge.to.clone()],
                        message: format!(
                            "{from_label} requires {}, which was not found{}",
                            requirement_text(edge),
                            at(edge)
                        ),
                    });
                }
            }
            _ => {}
        }
    }
    for duplicate in &doc.duplicates {
        let paths: Vec<String> = duplicate
            .sources
            .iter()
            .map(|s| format!("{} ({})", s.path, s.kind))
            .collect();
        problems.push(Problem {
            kind: Kind::Duplicate,
            packages: vec![duplicate.name.clone()],
            message: format!(
                "{} is found {} times: {}",
                duplicate.name,
                paths.len(),
                paths.join(", ")
            ),
        });
    }
    for cycle in &doc.cycles {
        let names: Vec<_> = cycle.iter().map(ToString::to_string).collect();
        problems.push(Problem {
            kind: Kind::Cycle,
            packages: cycle.clone(),
            message: names.join(" -> "),
        });
    }
    problems.sort_by(|a, b| (&a.kind, &a.packages, &a.message).cmp(&(&b.kind, &b.packages, &b.message)));
    problems
}

pub(crate) fn format(problems: &[Problem], json: bool) -> String {
    if json {
        return lastmile_documents::to_string(&CheckDocument {
            schema: SCHEMA,
            problems,
        });
    }
    let mut out = String::new();
    for problem in problems {
        let kind = match problem.kind {
            Kind::Conflict => "conflict",
            Kind::Duplicate => "duplicate",
            Kind::Missing => "missing",
            Kind::Cycle => "cycle",
        };
        let _ = writeln!(out, "{kind}: {}", problem.message);
    }
    out
}
