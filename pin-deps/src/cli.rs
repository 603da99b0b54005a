//! Command-line interface of `pin-deps`.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

use crate::options::{
    BuildOptions, Format, Hashes, InputOptions, Options, OutputOptions, Prerelease, Resolution,
    ResolveOptions, SourceOptions, TargetChoice,
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
  pin-deps requirements.in --exclude-newer 2024-06-01 -o pinned.txt
  pin-deps requirements.in --offline    # from the cache only
  pin-deps requirements.in --no-build   # never run an sdist's build backend

Exit codes: 0 pinned, 1 no set of versions satisfies the requirements (explained on stderr),
2 bad input or error.";

/// Resolve loose requirements into the pinned, hashed requirement set of a release candidate.
///
/// The output is pip-compile's format: `name==version` sorted by name, a `--hash` for every file
/// of that version the target can install, and `# via` annotations. Markers and Requires-Python
/// are evaluated for the target (--python-version, --python-platform), never the host. With
/// `-o FILE`, the pins already in FILE are kept where they still fit.
#[derive(Debug, Parser)]
#[command(name = "pin-deps", version = lastmile_cli::VERSION, after_help = EXAMPLES)]
pub struct Cli {
    #[command(flatten)]
    pub global: lastmile_cli::GlobalArgs,
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
    /// txt: pip-compile's requirements format; json: a lastmile.lock/v1 document with every file;
    /// pylock: a PEP 751 pylock.toml.
    #[arg(long, value_enum, default_value_t = Format::Txt)]
    pub format: Format,
    /// Pin the leaves of a lastmile.graph/v1 document (`-` for stdin).
    #[arg(long, value_name = "GRAPH")]
    pub from_graph: Option<PathBuf>,
    /// With --from-graph: pin these packages instead of the leaves (repeatable).
    #[arg(long, value_name = "NAME", requires = "from_graph")]
    pub package: Vec<String>,
    /// A folder of wheels and sdists (repeatable; also $PIP_FIND_LINKS, space-separated).
    #[arg(short = 'f', long, value_name = "DIR")]
    pub find_links: Vec<String>,
    /// The package index: a PEP 503/691 simple index over http(s), or a `file:///` folder
    /// (default: $PIP_INDEX_URL, else https://pypi.org/simple/). Credentials may be given in the
    /// URL (https://USER:PASSWORD@host/simple/), in ~/.netrc, or in
    /// LASTMILE_AUTH_<HOST>_USERNAME / _PASSWORD; they are never printed or written.
    #[arg(short = 'i', long, value_name = "URL")]
    pub index_url: Option<String>,
    /// Another simple index (repeatable; also $PIP_EXTRA_INDEX_URL, space-separated).
    #[arg(long, value_name = "URL")]
    pub extra_index_url: Vec<String>,
    /// How several indexes combine: unsafe-best-match takes every index's files (pip);
    /// first-index takes a package only from the first index that has it, so a public index
    /// can never supply a package of your private one (dependency confusion).
    #[arg(long, value_enum, default_value_t = IndexStrategy::UnsafeBestMatch)]
    pub index_strategy: IndexStrategy,
    /// Ignore all indexes and use only --find-links.
    #[arg(long)]
    pub no_index: bool,
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
    /// Allow this host's plain-HTTP index (HOST or HOST:PORT; loopback is always allowed).
    #[arg(long, value_name = "HOST")]
    pub trusted_host: Vec<String>,
    /// Use only the cache and local files; fail on anything that would need the network.
    #[arg(long)]
    pub offline: bool,
    /// Ignore files uploaded after this time (RFC 3339, or a date: 2024-05-01), so a resolution
    /// can be reproduced later. Needs an index that gives upload times (PEP 700).
    #[arg(long, value_name = "DATE")]
    pub exclude_newer: Option<String>,
    /// Seconds to wait for a connection, a response or more of its body.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    pub timeout: f64,
    /// Further attempts after a server error, a dropped connection or a timeout (waits 0.25 s,
    /// then doubling).
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub retries: u32,
    /// Requests in flight at once.
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub concurrency: usize,
    /// CPython version of the target.
    #[arg(long, default_value = "3.11", value_name = "X.Y")]
    pub python_version: String,
    /// Platform of the target: ARCH-manylinux_X_Y (the glibc version) or ARCH-linux.
    #[arg(long, default_value = "x86_64-manylinux_2_36", value_name = "PLATFORM")]
    pub python_platform: String,
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
    /// Read the target (Python version, glibc, architecture) from a base root filesystem folder,
    /// as bake-image will, instead of --python-version/--python-platform.
    #[arg(long, value_name = "BASE", conflicts_with_all = ["python_version", "python_platform"])]
    pub target_rootfs: Option<PathBuf>,
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
    /// The cache of index pages, metadata, downloaded files and file hashes (default:
    /// $LASTMILE_CACHE_DIR, else $XDG_CACHE_HOME/lastmile, else ~/.cache/lastmile).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Use no cache: fetch and hash everything again.
    #[arg(long, conflicts_with = "cache_dir")]
    pub no_cache: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IndexStrategy {
    UnsafeBestMatch,
    FirstIndex,
}

impl Cli {
    /// The command line as pin-deps' options; the clap types stop here.
    pub fn into_options(self) -> Options {
        let command: Vec<String> = std::env::args().collect();
        // `-o FILE` keeps the pins already in FILE while they fit, unless --upgrade.
        let preferences = match &self.global.output {
            Some(path) if !self.upgrade => std::fs::read_to_string(path)
                .map(|text| crate::output::existing_pins(&text).into_iter().collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        Options {
            inputs: InputOptions {
                files: self.inputs,
                extras: self.extra,
                all_extras: self.all_extras,
                from_graph: self.from_graph,
                packages: self.package,
            },
            sources: SourceOptions {
                find_links: self.find_links,
                index_url: self.index_url,
                extra_index_urls: self.extra_index_url,
                index_strategy: match self.index_strategy {
                    IndexStrategy::UnsafeBestMatch => lastmile_index::IndexStrategy::UnsafeBestMatch,
                    IndexStrategy::FirstIndex => lastmile_index::IndexStrategy::FirstIndex,
                },
                no_index: self.no_index,
                offline: self.offline,
                exclude_newer: self.exclude_newer,
                timeout_seconds: self.timeout,
                retries: self.retries,
                concurrency: self.concurrency,
                cache_dir: if self.no_cache {
                    None
                } else {
                    self.cache_dir.or_else(lastmile_index::HashCache::default_root)
                },
                formats: {
                    let mut formats = lastmile_python::requirements_file::FormatControl::default();
                    for value in &self.only_binary {
                        formats.only_binary(value);
                    }
                    for value in &self.no_binary {
                        formats.no_binary(value);
                    }
                    formats
                },
                trusted_hosts: self.trusted_host,
            },
            target: match self.target_rootfs {
                Some(root) => TargetChoice::Rootfs(root),
                None => TargetChoice::Named {
                    python: self.python_version,
                    platform: self.python_platform,
                },
            },
            resolve: ResolveOptions {
                resolution: self.resolution,
                prerelease: self.prerelease,
                preferences,
                upgrade_packages: self.upgrade_package,
                build: BuildOptions {
                    enabled: !self.no_build,
                    python: self.build_python,
                    timeout: std::time::Duration::from_secs(self.build_timeout),
                },
                prefer_binary: self.prefer_binary,
            },
            output: OutputOptions {
                format: self.format,
                hashes: (!self.no_hashes).then_some(self.hashes),
                strip_extras: self.strip_extras,
                header: (!self.no_header).then(|| crate::output::command_line(&command)),
                annotate: !self.no_annotate,
                allow_unsafe: self.allow_unsafe,
            },
        }
    }
}
