//! Command-line interface of `pin-deps`.

use std::path::PathBuf;

use clap::{Args, Parser};

use crate::options::{
    BuildOptions, Format, Hashes, InputOptions, Options, OutputOptions, Prerelease, Resolution,
    ResolveOptions, TargetChoice,
};

const EXAMPLES: &str = "\
Examples:
  pin-deps requirements.in --find-links dist/ -o pinned-requirements.txt
  pin-deps --from-graph graph.json --find-links dist/ --no-index
  depgraph examples/cam | pin-deps --from-graph - --find-links dist/
  pin-deps requirements.in -f dist/ --python-version 3.11 --python-platform x86_64-manylinux_2_36
  pin-deps requirements.in -f dist/ -o pinned.txt --upgrade-package katcore
  pin-deps requirements.in -i https://ci:$TOKEN@pypi.example.org/simple/ \\
      --extra-index-url https://pypi.org/simple/ --index-strategy first-index
  pin-deps requirements.in -f dist/ --internal 'kat*'   # kat* only from dist/, never an index
  pin-deps --from-graph graph.json --internal-index http://127.0.0.1:3141/simple/
  pin-deps --from-graph graph.json -c versions.txt --internal-index URL   # this commit's builds
  pin-deps requirements.in --exclude-newer 2024-06-01 -o pinned.txt
  pin-deps requirements.in --offline    # from the cache only
  pin-deps requirements.in --no-build   # never run an sdist's build backend
  pin-deps diff old/pinned-requirements.txt pinned-requirements.txt   # what a re-pin moved
  pin-deps os-lock os-packages.toml -o os-lock.json   # the Debian packages, locked

Exit codes: 0 pinned, 1 no set of versions satisfies the requirements (explained on stderr;
for diff: the files pin differently), 2 bad input or error.";

/// Resolve loose requirements into the pinned, hashed requirement set of a release candidate.
///
/// The output is pip-compile's format: `name==version` sorted by name, a `--hash` for every file
/// of that version the target can install, and `# via` annotations. Markers and Requires-Python
/// are evaluated for the target (--python-version, --python-platform), never the host. With
/// `-o FILE`, the pins already in FILE are kept where they still fit.
#[derive(Debug, Parser)]
#[command(name = "pin-deps", version = lastmile_cli::VERSION, after_help = EXAMPLES, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub global: lastmile_cli::GlobalArgs,
    #[command(flatten)]
    pub inputs: InputArgs,
    #[command(flatten)]
    pub index: lastmile_cli::IndexArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub resolve: ResolveArgs,
    #[command(flatten)]
    pub build: BuildArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// How two pinned requirement files differ, package by package, with what pulled each in
    /// (exit 1 when they differ). A requirements file named `diff` is given as `./diff`.
    Diff {
        #[arg(value_name = "OLD")]
        old: PathBuf,
        #[arg(value_name = "NEW")]
        new: PathBuf,
        /// Names for the two sides (default: the file names).
        #[arg(long, num_args = 2, value_names = ["OLD", "NEW"])]
        labels: Vec<String>,
    },
    /// Lock the Debian packages of the base (and of the build root): a lastmile.oslock/v1
    /// document of every package the root filesystems hold, the essential and required set
    /// included, resolved by apt's own solver in a throw-away state folder, each with the sha256,
    /// size and pool path of its .deb and the index it came from. The InRelease is checked with
    /// gpgv against the keyrings (default: Debian's archive keyring), the Packages index against
    /// it, every .deb against its record; the .deb files go into the store under the cache
    /// folder. Exit 1 when apt finds no set of packages that satisfies the file.
    ///
    /// The file (TOML): `architecture = "amd64"`, `keyrings = [...]`, `[[sources]]` with `uri`,
    /// `suite`, `components`; `base = [...]`, `[roles]` NAME = [...], `build = [...]`.
    #[command(after_help = OS_LOCK_EXAMPLES)]
    OsLock {
        /// The OS package file (`examples/cam/os-packages.toml`).
        #[arg(value_name = "FILE")]
        spec: PathBuf,
        /// Use only the cache and the store: no network.
        #[arg(long)]
        offline: bool,
        /// The cache and .deb store (default: $LASTMILE_CACHE_DIR, else $XDG_CACHE_HOME/lastmile,
        /// else ~/.cache/lastmile).
        #[arg(long, value_name = "DIR")]
        cache_dir: Option<PathBuf>,
        /// Take the index's newest version of every package, not the ones already locked in
        /// the -o file (which are kept, where the index still has them, by default).
        #[arg(long)]
        upgrade: bool,
        /// Take the index's newest version of this package only (repeatable).
        #[arg(long, value_name = "NAME")]
        upgrade_package: Vec<String>,
    },
}

const OS_LOCK_EXAMPLES: &str = "\
Examples:
  pin-deps os-lock examples/cam/os-packages.toml -o examples/cam/os-lock.json
  pin-deps os-lock os-packages.toml --offline     # from the cache and the store only
  pin-deps os-lock os-packages.toml -o os-lock.json --upgrade   # today's versions; prints what moved

With -o FILE, the versions FILE already locks are kept where the index still has them (a package
added to the file brings only what it needs); what moved is printed on stderr either way:
+ added, - removed, ~ a version moved.";

/// What to pin.
#[derive(Debug, Args)]
#[command(next_help_heading = "Inputs")]
pub struct InputArgs {
    /// requirements.in-style files (`-` for stdin), or project files (pyproject.toml, setup.cfg,
    /// setup.py) whose dependencies are pinned.
    #[arg(value_name = "REQUIREMENTS")]
    pub inputs: Vec<PathBuf>,
    /// With a project file: also pin the dependencies of this extra (repeatable).
    #[arg(long, value_name = "NAME")]
    pub extra: Vec<String>,
    /// With a project file: pin the dependencies of every extra.
    #[arg(long, conflicts_with = "extra")]
    pub all_extras: bool,
    /// Pin the leaves of a lastmile.graph/v1 document (`-` for stdin).
    #[arg(long, value_name = "GRAPH")]
    pub from_graph: Option<PathBuf>,
    /// With --from-graph: pin these packages instead of the leaves (repeatable).
    #[arg(long, value_name = "NAME", requires = "from_graph")]
    pub package: Vec<String>,
    /// A constraints file (repeatable; pip's -c): it narrows the versions of the packages it
    /// names without asking for them, e.g. `depgraph versions`' builds of this commit.
    #[arg(short = 'c', long = "constraint", value_name = "FILE")]
    pub constraints: Vec<PathBuf>,
}

/// The Python the pins are for.
#[derive(Debug, Args)]
#[command(next_help_heading = "Target")]
pub struct TargetArgs {
    /// CPython version of the target.
    #[arg(long, default_value = "3.11", value_name = "X.Y")]
    pub python_version: String,
    /// Platform of the target: ARCH-manylinux_X_Y (the glibc version) or ARCH-linux.
    #[arg(long, default_value = "x86_64-manylinux_2_36", value_name = "PLATFORM")]
    pub python_platform: String,
    /// Read the target (Python version, glibc, architecture) from a base root filesystem folder,
    /// as bake-image will, instead of --python-version/--python-platform.
    #[arg(long, value_name = "BASE", conflicts_with_all = ["python_version", "python_platform"])]
    pub target_rootfs: Option<PathBuf>,
}

/// Which versions and files may be chosen.
#[derive(Debug, Args)]
#[command(next_help_heading = "Resolution")]
pub struct ResolveArgs {
    /// Ignore files uploaded after this time (RFC 3339, or a date: 2024-05-01), so a resolution
    /// can be reproduced later. Needs an index that gives upload times (PEP 700).
    #[arg(long, value_name = "DATE")]
    pub exclude_newer: Option<String>,
    /// Use only wheels for these packages (comma-separated names, :all: or :none:; repeatable,
    /// pip's meaning).
    #[arg(long, value_name = "NAMES")]
    pub only_binary: Vec<String>,
    /// Use only sdists (built) for these packages (names, :all: or :none:; repeatable).
    #[arg(long, value_name = "NAMES")]
    pub no_binary: Vec<String>,
    /// Prefer a version with a wheel over a newer one that has only an sdist.
    #[arg(long)]
    pub prefer_binary: bool,
    /// Which versions to prefer.
    #[arg(long, value_enum, default_value_t = Resolution::Highest)]
    pub resolution: Resolution,
    /// When pre-releases may be chosen.
    #[arg(long, value_enum, default_value_t = Prerelease::IfNecessaryOrExplicit)]
    pub prerelease: Prerelease,
    /// Ignore the pins of an existing output file.
    #[arg(short = 'U', long)]
    pub upgrade: bool,
    /// Ignore the existing pin of NAME, or pin it to VER (repeatable).
    #[arg(short = 'P', long, value_name = "NAME[==VER]")]
    pub upgrade_package: Vec<String>,
}

/// How sdists with dynamic metadata are built.
#[derive(Debug, Args)]
#[command(next_help_heading = "Building sdists")]
pub struct BuildArgs {
    /// Never build an sdist: versions whose sdist has dynamic metadata (and no wheel for the
    /// target) are skipped, and a failed resolution says so. By default such sdists are built
    /// the way pip and uv do it: their PEP 517 backend, set up in an isolated environment from
    /// the same sources, writes the metadata (cached by the sdist's sha256).
    #[arg(long)]
    pub no_build: bool,
    /// The Python that runs build backends (default: python3.X of the target, else python3).
    #[arg(long, value_name = "PYTHON", conflicts_with = "no_build")]
    pub build_python: Option<String>,
    /// The longest one build step may run before it is stopped.
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    pub build_timeout: u64,
}

/// What is written.
#[derive(Debug, Args)]
#[command(next_help_heading = "Output")]
pub struct OutputArgs {
    /// txt: pip-compile's requirements format; json: a lastmile.lock/v1 document with every file;
    /// pylock: a PEP 751 pylock.toml.
    #[arg(long, value_enum, default_value_t = Format::Txt)]
    pub format: Format,
    /// Leave out --hash lines.
    #[arg(long)]
    pub no_hashes: bool,
    /// Hash only the files the target can install (installable), or every file of the version (all).
    #[arg(long, value_enum, default_value_t = Hashes::Installable)]
    pub hashes: Hashes,
    /// Write `name==version` without `[extras]`.
    #[arg(long)]
    pub strip_extras: bool,
    /// Leave out the header comment.
    #[arg(long)]
    pub no_header: bool,
    /// Leave out the `# via` comments.
    #[arg(long)]
    pub no_annotate: bool,
    /// List pip, setuptools and distribute too.
    #[arg(long)]
    pub allow_unsafe: bool,
}

impl Cli {
    /// The command line as pin-deps' options; the clap types stop here.
    pub fn into_options(self) -> anyhow::Result<Options> {
        let command: Vec<String> = std::env::args().collect();
        // `-o FILE` keeps the pins already in FILE while they fit, unless --upgrade.
        let preferences = match &self.global.output {
            Some(path) if !self.resolve.upgrade => std::fs::read_to_string(path)
                .map(|text| crate::output::existing_pins(&text).into_iter().collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let mut sources = self.index.options(Some(lastmile_index::PYPI))?;
        sources.exclude_newer = self
            .resolve
            .exclude_newer
            .as_deref()
            .map(parse_time)
            .transpose()?;
        for value in &self.resolve.only_binary {
            sources.formats.only_binary(value);
        }
        for value in &self.resolve.no_binary {
            sources.formats.no_binary(value);
        }
        let output = self.output;
        Ok(Options {
            inputs: InputOptions {
                files: self.inputs.inputs,
                extras: self.inputs.extra,
                all_extras: self.inputs.all_extras,
                from_graph: self.inputs.from_graph,
                constraints: self.inputs.constraints,
                packages: self.inputs.package,
            },
            sources,
            target: match self.target.target_rootfs {
                Some(root) => TargetChoice::Rootfs(root),
                None => TargetChoice::Named {
                    python: self.target.python_version,
                    platform: self.target.python_platform,
                },
            },
            resolve: ResolveOptions {
                resolution: self.resolve.resolution,
                prerelease: self.resolve.prerelease,
                preferences,
                upgrade_packages: self.resolve.upgrade_package,
                build: BuildOptions {
                    enabled: !self.build.no_build,
                    python: self.build.build_python,
                    timeout: std::time::Duration::from_secs(self.build.build_timeout),
                },
                prefer_binary: self.resolve.prefer_binary,
            },
            output: OutputOptions {
                format: output.format,
                hashes: (!output.no_hashes).then_some(output.hashes),
                strip_extras: output.strip_extras,
                header: (!output.no_header).then(|| crate::output::command_line(&command)),
                annotate: !output.no_annotate,
                allow_unsafe: output.allow_unsafe,
            },
        })
    }
}

/// An RFC 3339 time, or a date (the start of that day, UTC).
fn parse_time(text: &str) -> anyhow::Result<jiff::Timestamp> {
    if let Ok(time) = text.parse::<jiff::Timestamp>() {
        return Ok(time);
    }
    let date: jiff::civil::Date = text.parse().map_err(|_| {
        anyhow::anyhow!(
            "--exclude-newer {text:?}: give an RFC 3339 time (2024-05-01T12:00:00Z) or a date (2024-05-01)"
        )
    })?;
    Ok(date.to_zoned(jiff::tz::TimeZone::UTC)?.timestamp())
}
