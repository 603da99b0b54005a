//! What a bake is asked to do, as plain values (what `run` builds from the command line).

use std::collections::BTreeMap;
use std::path::PathBuf;

/// One bake.
#[derive(Debug, Clone)]
pub struct BakeOptions {
    /// The pinned requirements (`-` for stdin) or a `lastmile.lock/v1`.
    pub pinned: PathBuf,
    /// The base root filesystem: a folder or a tarball.
    pub base: PathBuf,
    /// The OS lock the base's Debian packages must match (recorded in the manifest and SBOM).
    pub os_lock: Option<PathBuf>,
    /// Where the pinned wheels come from.
    pub wheels: lastmile_index::SourceOptions,
    /// Where the image and its SBOM are written.
    pub out_dir: PathBuf,
    /// The venv's place inside the image.
    pub prefix: String,
    /// Trees copied into the image's root, in order.
    pub overlays: Vec<PathBuf>,
    /// Source repositories and the commits they were built from.
    pub source_commits: BTreeMap<String, String>,
    /// `--services` files.
    pub service_files: Vec<PathBuf>,
    /// `--service NAME=COMMAND` values.
    pub services: Vec<String>,
    pub compile_bytecode: bool,
    /// The base plus a compiler, where pins that have only an sdist are built into wheels.
    pub build_root: Option<PathBuf>,
    /// Refuse to build from sdists even with a build root.
    pub no_build: bool,
    /// The time every modification time is clamped to; `None`: `$SOURCE_DATE_EPOCH`, else the
    /// base's newest.
    pub source_date_epoch: Option<u64>,
    /// gzip level, 1-9.
    pub level: u32,
    /// Earlier images (or folders of them) whose pieces may be copied; empty: the newest image
    /// in `out_dir`.
    pub reuse: Vec<PathBuf>,
    /// Compress every piece, copying none.
    pub no_reuse: bool,
}
