//! What pin-deps is asked to do, as plain values: what `run` builds from the command line, and
//! what a caller without a command line builds itself.

use std::path::PathBuf;
use std::time::Duration;

use lastmile_python::{PackageName, Version};

/// Everything one `pin` needs.
#[derive(Debug, Clone)]
pub struct Options {
    pub inputs: InputOptions,
    /// Where distributions come from (the requirements files may add to it).
    pub sources: lastmile_index::SourceOptions,
    pub target: TargetChoice,
    pub resolve: ResolveOptions,
    pub output: OutputOptions,
}

/// Where the requirements come from.
#[derive(Debug, Clone, Default)]
pub struct InputOptions {
    /// Requirements files (`-` for stdin) or project files (pyproject.toml, setup.cfg, setup.py).
    pub files: Vec<PathBuf>,
    /// Extras of a project file whose dependencies are pinned too.
    pub extras: Vec<String>,
    pub all_extras: bool,
    /// A `lastmile.graph/v1` document whose leaves (or `packages`) are pinned.
    pub from_graph: Option<PathBuf>,
    pub packages: Vec<String>,
    /// Constraints files (`-c`): versions allowed, nothing asked for.
    pub constraints: Vec<PathBuf>,
}

/// The Python and platform the pins are for.
#[derive(Debug, Clone)]
pub enum TargetChoice {
    /// `3.11` on `x86_64-manylinux_2_36`.
    Named { python: String, platform: String },
    /// Read from a base root filesystem, as bake-image will.
    Rootfs(PathBuf),
}

/// How to choose among versions.
#[derive(Debug, Clone, Default)]
pub struct ResolveOptions {
    pub resolution: Resolution,
    pub prerelease: Prerelease,
    /// Pins to keep while they fit (from an existing output file).
    pub preferences: Vec<(PackageName, Version)>,
    /// Requirements (`NAME` or `NAME==VER`) whose existing pins are lifted.
    pub upgrade_packages: Vec<String>,
    /// Whether and how sdists with dynamic metadata are built.
    pub build: BuildOptions,
    /// Versions with wheels before newer ones with only sdists (also from a requirements file).
    pub prefer_binary: bool,
}

/// How sdists whose metadata is dynamic are built (PEP 517, in an isolated environment).
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// `false` (`--no-build`): such sdists are skipped, and the explanation says so.
    pub enabled: bool,
    /// The interpreter; `None`: `python3.X` of the target's version, else `python3`.
    pub python: Option<String>,
    /// The longest one build step (a backend hook) may run.
    pub timeout: Duration,
}

impl Default for BuildOptions {
    fn default() -> Self {
        Self {
            enabled: true,
            python: None,
            timeout: Duration::from_secs(600),
        }
    }
}

/// How the result is written.
#[derive(Debug, Clone)]
pub struct OutputOptions {
    pub format: Format,
    /// Which files' hashes are listed; `None`: no hashes.
    pub hashes: Option<Hashes>,
    pub strip_extras: bool,
    /// The command shown in the header; `None`: no header.
    pub header: Option<String>,
    pub annotate: bool,
    pub allow_unsafe: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Resolution {
    #[default]
    Highest,
    Lowest,
    /// Lowest for the requirements you name, highest for everything they pull in.
    LowestDirect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Prerelease {
    Disallow,
    Allow,
    /// Only when no final release satisfies the requirements.
    IfNecessary,
    /// Only for packages whose requirement names a pre-release.
    Explicit,
    /// Explicit, or when necessary (pip's behaviour).
    #[default]
    IfNecessaryOrExplicit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Txt,
    Json,
    Pylock,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Hashes {
    Installable,
    All,
}
