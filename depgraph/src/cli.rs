//! Command-line interface of `depgraph`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXAMPLES: &str = "\
Examples:
  depgraph examples/cam > graph.json                 scan source trees
  depgraph .venv                                     scan an installed environment (like pipdeptree)
  depgraph dist/ --internal 'kat*'                   scan a folder of wheels and sdists
  find src -name pyproject.toml | depgraph -         read paths from stdin
  depgraph affected --changed katcore < graph.json   what a change to katcore rebuilds, in order
  depgraph render --format dot graph.json | dot -Tsvg > graph.svg
  depgraph check graph.json                          conflicts, duplicates, missing packages, cycles
  depgraph list layers graph.json                    the build order, a line per layer
  depgraph list sources --package katcore graph.json where katcore's source tree is
  depgraph versions graph.json > versions.txt        what this commit's builds are published as

Exit codes: 0 success, 1 a negative answer (cycle, check found problems), 2 bad input or error.";

/// Scan Python source trees, environments and wheels into a dependency graph (lastmile.graph/v1).
///
/// Without a subcommand, depgraph scans the given paths: source trees (pyproject.toml,
/// setup.cfg, setup.py read statically), installed environments (a venv or site-packages folder)
/// and folders of wheels and sdists, in any mix. It prints one JSON document with the nodes,
/// edges, leaves, roots and a layered build order.
#[derive(Debug, Parser)]
#[command(name = "depgraph", version = lastmile_cli::VERSION, after_help = EXAMPLES, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub scan: ScanArgs,
    #[command(flatten)]
    pub global: lastmile_cli::GlobalArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan paths into a graph document (the default when no subcommand is given).
    Scan(ScanArgs),
    /// Everything downstream of changed packages, in build order, and the leaves it reaches.
    Affected(AffectedArgs),
    /// The version each in-house package gets when built from the commit its source tree is at
    /// (the declared one, the count of its tree's commits and the last one's id), as
    /// constraints for pip and pin-deps, or JSON.
    Versions(VersionsArgs),
    /// Draw a graph document as a text tree, Graphviz DOT or Mermaid.
    Render(RenderArgs),
    /// Report version conflicts, duplicate names, missing dependencies and cycles (exit 1 if any).
    Check(CheckArgs),
    /// Print what a graph says as plain lines, for shell scripts: build layers, leaves, in-house
    /// or third-party packages, where each package was found.
    List(ListArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// What to list.
    #[arg(value_enum)]
    pub what: ListWhat,
    /// A lastmile.graph/v1 document; `-` or nothing reads stdin.
    #[arg(value_name = "GRAPH")]
    pub graph: Option<PathBuf>,
    /// With `sources`: only this package's path (an error if it was found at no path).
    #[arg(long, value_name = "NAME")]
    pub package: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListWhat {
    /// The build order: a line per layer, its packages separated by spaces.
    Layers,
    /// The leaves: the packages nothing in the graph depends on, a line each.
    Leaves,
    /// The in-house packages, a line each.
    InHouse,
    /// The third-party packages, a line each.
    ThirdParty,
    /// `NAME PATH` of every package found at a path (its source tree, wheel or environment).
    Sources,
}

#[derive(Debug, Args, Default)]
pub struct ScanArgs {
    /// Source trees, environments, site-packages folders, wheels, sdists or folders holding
    /// them. `-` reads a path a line from stdin; with no paths and piped input, stdin is read.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Also treat packages whose name matches GLOB as in-house (source-tree packages always are).
    #[arg(long, value_name = "GLOB")]
    pub internal: Vec<String>,
    /// Run `setup.py egg_info` (in a temporary copy) for a setup.py that cannot be read statically.
    #[arg(long)]
    pub exec_setup: bool,
    /// Python interpreter used by --exec-setup.
    #[arg(long, value_name = "PYTHON", default_value = "python3")]
    pub python: String,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("change").required(true).multiple(true).args(["changed", "changed_file", "since", "all"]))]
#[command(after_help = AFFECTED_EXAMPLES)]
pub struct AffectedArgs {
    /// A lastmile.graph/v1 document; `-` or nothing reads stdin.
    #[arg(value_name = "GRAPH")]
    pub graph: Option<PathBuf>,
    /// A changed package (repeatable).
    #[arg(long, value_name = "NAME")]
    pub changed: Vec<String>,
    /// A changed file (repeatable), relative to the current folder: it changes the in-house
    /// package whose source tree holds it (the deepest, when trees nest), or none.
    #[arg(long, value_name = "PATH")]
    pub changed_file: Vec<PathBuf>,
    /// The files changed since this commit of the repository (git diff REV, uncommitted and new
    /// files included), or between REV and --until.
    #[arg(long, value_name = "REV")]
    pub since: Option<String>,
    /// Every in-house package, as if each had changed: a first build, or one from nothing.
    #[arg(long)]
    pub all: bool,
    /// With --since: the other end, a commit (the working tree is not looked at).
    #[arg(long, value_name = "REV", requires = "since")]
    pub until: Option<String>,
    /// With --since: the git repository to look at (default: the one the current folder is in).
    #[arg(long, value_name = "DIR", requires = "since", default_value = ".")]
    pub repo: PathBuf,
    /// A file or folder outside every package that the candidate is also made from
    /// (services.toml, the OS lock; repeatable): a change to it makes a new candidate though no
    /// package is rebuilt (`candidate` in the JSON).
    #[arg(long = "input", value_name = "PATH")]
    pub inputs: Vec<PathBuf>,
    /// json: a lastmile.affected/v1 document; lines: the affected in-house packages in build order.
    #[arg(long, value_enum, default_value_t = AffectedFormat::Json)]
    pub format: AffectedFormat,
}

const AFFECTED_EXAMPLES: &str = "\
The graph's source paths are read relative to the current folder, as depgraph wrote them: run
where the graph was made. A change to no in-house package's tree (docs, CI files) affects none,
and says so on stderr; the JSON's `candidate` says whether the change makes a new candidate (a
package to rebuild, or a changed --input).

Examples:
  depgraph affected --changed katcore graph.json
  depgraph affected --since origin/main --format lines graph.json     this branch's change
  depgraph affected --since HEAD~1 --until HEAD graph.json            the last commit's
  depgraph affected --since $PREVIOUS --until HEAD --input examples/cam/services.toml graph.json
  git diff --name-only A B | sed 's/^/--changed-file=/' | xargs depgraph affected graph.json";

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AffectedFormat {
    Json,
    Lines,
}

#[derive(Debug, Args)]
#[command(after_help = VERSIONS_EXAMPLES)]
pub struct VersionsArgs {
    /// A lastmile.graph/v1 document; `-` or nothing reads stdin.
    #[arg(value_name = "GRAPH")]
    pub graph: Option<PathBuf>,
    /// Only this package.
    #[arg(long, value_name = "NAME")]
    pub package: Option<String>,
    /// constraints: `name==version` lines (pip's and pin-deps' -c); json: a
    /// lastmile.versions/v1 document with where each version comes from.
    #[arg(long, value_enum, default_value_t = VersionsFormat::Constraints)]
    pub format: VersionsFormat,
}

const VERSIONS_EXAMPLES: &str = "\
A package whose version is written in its files (version = \"1.3.0\", __version__) is published
by each build as the declared version, the number of commits that touched its source tree and
the last one's id: katcore 1.3.0 at the 42nd commit of its tree, 1a2b3c4d5e6f, is
1.3.0.post42+g1a2b3c4d5e6f (scripts/build-package builds it so). The same commit always gives the
same version; a commit elsewhere in the repository leaves it unchanged. A tree with uncommitted
changes, or in a shallow clone, is refused (exit 2). A package whose build backend computes its
version from git (setuptools-scm, katversion) is listed only at a release tag; a tree outside
git keeps its declared version, with a warning. Run where the graph was made.

Examples:
  depgraph versions graph.json -o versions.txt
  pin-deps --from-graph graph.json -c versions.txt --internal-index $INDEX   # this commit's builds
  depgraph versions graph.json --package katcore --format json";

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum VersionsFormat {
    Constraints,
    Json,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// A lastmile.graph/v1 document; `-` or nothing reads stdin.
    #[arg(value_name = "GRAPH")]
    pub graph: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = RenderFormat::Tree)]
    pub format: RenderFormat,
    /// Draw dependants under each package instead of dependencies.
    #[arg(long)]
    pub reverse: bool,
    /// Leave third-party packages out.
    #[arg(long)]
    pub internal_only: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RenderFormat {
    /// An indented text tree, like pipdeptree.
    Tree,
    /// Graphviz DOT.
    Dot,
    /// A Mermaid flowchart.
    Mermaid,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// A lastmile.graph/v1 document; `-` or nothing reads stdin.
    #[arg(value_name = "GRAPH")]
    pub graph: Option<PathBuf>,
    /// CPython version the markers are evaluated for (a dependency whose marker is false there
    /// is not checked).
    #[arg(long, default_value = "3.11", value_name = "X.Y")]
    pub python_version: String,
    /// Platform the markers are evaluated for: ARCH-manylinux_X_Y or ARCH-linux.
    #[arg(long, default_value = "x86_64-manylinux_2_36", value_name = "PLATFORM")]
    pub python_platform: String,
    /// Print a lastmile.check/v1 JSON document instead of text.
    #[arg(long)]
    pub json: bool,
}
