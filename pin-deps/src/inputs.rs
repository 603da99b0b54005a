//! Step 1: the requirements to pin, from requirements files, project files and graph documents,
//! each remembering where it was written.

use std::path::Path;
use std::str::FromStr;

use anyhow::{Context, bail};
use lastmile_documents::Document;
use lastmile_documents::graph::GraphDocument;
use lastmile_project::{Outcome, ReadOptions, read_project};
use lastmile_python::requirements_file::RequirementsFile;
use lastmile_python::{ExtraName, PackageName, Requirement};

use crate::options::InputOptions;
use crate::provider::RootRequirement;

/// What the inputs ask for.
#[derive(Debug, Default)]
pub(crate) struct Inputs {
    pub(crate) roots: Vec<RootRequirement>,
    /// The packages a graph calls in-house: they come only from in-house sources.
    pub(crate) in_house: Vec<PackageName>,
    /// Constraints, and the options the requirements files gave (indexes, find-links, `--pre`),
    /// merged over every file read.
    pub(crate) files: RequirementsFile,
}

/// Read every input.
pub(crate) fn read(options: &InputOptions) -> anyhow::Result<Inputs> {
    let mut inputs = Inputs::default();
    for input in &options.files {
        if is_project_file(input) {
            inputs.roots.extend(project_roots(input, options)?);
            continue;
        }
        let file = if input == Path::new("-") {
            let text = lastmile_cli::input::read_stdin().context("reading requirements from stdin")?;
            RequirementsFile::parse(&text, lastmile_cli::input::STDIN_NAME)?
        } else {
            RequirementsFile::read(input)?
        };
        for r in &file.requirements {
            inputs.roots.push(RootRequirement {
                requirement: r.requirement.clone(),
                origin: r.location.to_string(),
                via: format!("-r {}", r.file),
            });
        }
        merge(&mut inputs.files, file);
    }
    for path in &options.constraints {
        if path == Path::new("-") {
            bail!("-c -: a constraints file is read from a file, not stdin");
        }
        merge(&mut inputs.files, RequirementsFile::read_constraints(path)?);
    }
    if let Some(graph) = &options.from_graph {
        let (roots, in_house) = graph_roots(graph, &options.packages)?;
        inputs.roots.extend(roots);
        inputs.in_house.extend(in_house);
    }
    if inputs.roots.is_empty() {
        if options.files.is_empty() && options.from_graph.is_none() {
            bail!("nothing to pin: name requirements files or --from-graph (see --help)");
        }
        let named: Vec<String> = options
            .files
            .iter()
            .map(|f| f.display().to_string())
            .chain(
                options
                    .from_graph
                    .iter()
                    .map(|g| format!("--from-graph {}", g.display())),
            )
            .collect();
        bail!(
            "nothing to pin: no requirement in {} (only comments, options or constraints)",
            named.join(", ")
        );
    }
    Ok(inputs)
}

fn is_project_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| lastmile_project::PROJECT_FILES.contains(&n))
}

/// The dependencies a project declares (those of the requested extras too), read the way
/// depgraph reads them. Annotated `# via NAME (FILE)` as pip-compile does.
fn project_roots(path: &Path, options: &InputOptions) -> anyhow::Result<Vec<RootRequirement>> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let project = match read_project(dir, &ReadOptions::default())? {
        Outcome::Project(project) => project,
        Outcome::Skipped(warnings) => bail!("{}: {}", path.display(), warnings.join("; ")),
    };
    for warning in &project.warnings {
        tracing::warn!("{warning}");
    }
    for extra in &options.extras {
        let wanted = ExtraName::from_str(extra).map_err(|e| anyhow::anyhow!("--extra {extra:?}: {e}"))?;
        if !project
            .extras
            .iter()
            .any(|e| ExtraName::from_str(e).is_ok_and(|e| e == wanted))
        {
            bail!(
                "--extra {extra}: {} has no such extra (it has: {})",
                project.name,
                project.extras.join(", ")
            );
        }
    }
    let wanted = |extra: &str| {
        options.all_extras
            || options
                .extras
                .iter()
                .any(|e| ExtraName::from_str(e).ok() == ExtraName::from_str(extra).ok())
    };
    let file = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut roots = Vec::new();
    for raw in &project.dependencies {
        if raw.extra.as_deref().is_some_and(|e| !wanted(e)) {
            continue;
        }
        let requirement = lastmile_python::requirement::parse_requirement(&raw.text, &raw.location)?;
        roots.push(RootRequirement {
            requirement,
            origin: raw.location.to_string(),
            via: format!("{} ({file})", project.name),
        });
    }
    Ok(roots)
}

fn merge(into: &mut RequirementsFile, file: RequirementsFile) {
    into.constraints.extend(file.constraints);
    into.index_url = into.index_url.take().or(file.index_url);
    into.extra_index_urls.extend(file.extra_index_urls);
    into.find_links.extend(file.find_links);
    into.no_index |= file.no_index;
    into.pre |= file.pre;
    into.formats.extend(&file.formats);
    into.prefer_binary |= file.prefer_binary;
    into.trusted_hosts.extend(file.trusted_hosts);
    // Valid options that change nothing for a resolution: said, as uv does, not an error.
    for (at, option) in file.ignored {
        tracing::warn!("{at}: {option} has no effect on a resolution; ignored");
    }
}

/// The leaves of a graph document (or the named packages) as unpinned requirements: "the latest
/// built versions of the leaves".
/// The graph's leaves (or the `--package`s asked for) as roots, and its in-house packages.
fn graph_roots(path: &Path, packages: &[String]) -> anyhow::Result<(Vec<RootRequirement>, Vec<PackageName>)> {
    let (text, name) =
        lastmile_cli::input::read_path_or_stdin(path).with_context(|| path.display().to_string())?;
    let doc = GraphDocument::from_json(&text, &name)?;
    let names: Vec<PackageName> = if packages.is_empty() {
        doc.leaves.clone()
    } else {
        packages
            .iter()
            .map(|p| {
                let parsed = PackageName::from_str(p).map_err(|e| anyhow::anyhow!("--package {p:?}: {e}"))?;
                if doc.node(&parsed).is_none() {
                    bail!("--package {p}: no package named {parsed} in {name}");
                }
                Ok(parsed)
            })
            .collect::<anyhow::Result<_>>()?
    };
    if names.is_empty() {
        bail!("{name}: the graph has no leaves to pin");
    }
    let roots = names
        .into_iter()
        .map(|n| {
            Ok(RootRequirement {
                requirement: Requirement::from_str(n.as_ref())?,
                origin: format!("{name} (leaf {n})"),
                via: format!("-r {name}"),
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let in_house = doc
        .nodes
        .iter()
        .filter(|n| n.internal)
        .map(|n| n.name.clone())
        .collect();
    Ok((roots, in_house))
}
