//! Command-line interface of `bake-image`.

use std::path::PathBuf;

use std::collections::BTreeMap;

use anyhow::bail;
use clap::{Args, Parser, Subcommand};

use crate::options::BakeOptions;

const EXAMPLES: &str = "\
Examples:
  bake-image pinned-requirements.txt --base $(scripts/base-rootfs) -f dist/ --out-dir images/
  pin-deps requirements.in -f dist/ | bake-image - --base base.tar.zst -f dist/ --offline
  bake-image lock.json --base base/ -f dist/ --services examples/cam/services.toml \\
      --overlay config/ --source-commit cam=3f2c1e9 > candidate.json
  bake-image pinned.txt --base $(scripts/base-rootfs) -f dist/ \\
      --build-root $(scripts/build-root) > candidate.json      # sdist-only pins built in the base
  bake-image verify images/autobuild-3fa9c2d17b04.tar.gz

A service with roles starts only on nodes of those roles: deploy-lxc links
lastmile-role-ROLE.target into multi-user.target.wants on each node of the role.

Exit codes: 0 baked (or verified), 1 verify found a difference, 2 bad input or error,
130 interrupted (nothing is left in --out-dir).";

/// Bake pinned requirements and a base root filesystem into a bit-for-bit reproducible LXC /
/// Proxmox template, `autobuild-<digest>.tar.gz`, without booting anything or using the network.
///
/// Prints a lastmile.candidate/v1 document on stdout (or into `-o FILE`): the image's path,
/// sha256 and size, the base's digest, the installed packages and the digests of every input.
#[derive(Debug, Parser)]
#[command(name = "bake-image", version = lastmile_cli::VERSION, after_help = EXAMPLES, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub bake: BakeArgs,
    #[command(flatten)]
    pub global: lastmile_cli::GlobalArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check an image: its file name against its sha256, every installed file against its
    /// RECORD, and the packages against the manifest inside.
    Verify {
        /// An autobuild-<digest>.tar.gz.
        image: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct BakeArgs {
    /// pinned-requirements.txt (every line NAME==VERSION with --hash=sha256:...) or a
    /// lastmile.lock/v1 document; `-` for stdin.
    #[arg(value_name = "PINNED")]
    pub pinned: Option<PathBuf>,
    /// The base root filesystem: a folder, or a .tar, .tar.gz, .tar.xz or .tar.zst.
    #[arg(long, value_name = "BASE")]
    pub base: Option<PathBuf>,
    /// The OS lock (pin-deps os-lock) the base was built from (scripts/base-from-lock): its
    /// Debian packages must be exactly the lock's image set, each at its locked version, or the
    /// bake is refused with the differences named. The manifest and the SBOM then list every
    /// Debian package (pkg:deb purl, the .deb's sha256, the roles that asked for it) and the
    /// host tools that built the base.
    #[arg(long, value_name = "LOCK")]
    pub os_lock: Option<PathBuf>,
    #[command(flatten)]
    pub index: lastmile_cli::IndexArgs,
    /// Where the image, its SBOM and its provenance (and nothing else) are written.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out_dir: PathBuf,
    /// The virtual environment's place inside the image.
    #[arg(long, value_name = "PATH", default_value = "/opt/lastmile/venv")]
    pub prefix: String,
    /// A folder whose tree is copied into the image's root (repeatable; later ones win).
    #[arg(long, value_name = "DIR")]
    pub overlay: Vec<PathBuf>,
    /// A source repository and the commit it was built from, recorded as provenance (repeatable).
    #[arg(long, value_name = "REPO=SHA")]
    pub source_commit: Vec<String>,
    /// A long-running service: a systemd unit NAME.service running COMMAND (a console script of
    /// the venv, or an absolute path), enabled at boot (repeatable).
    #[arg(long, value_name = "NAME=COMMAND")]
    pub service: Vec<String>,
    /// A TOML file of services with roles and health checks (repeatable):
    /// `[services.NAME]` with `command`, `roles = [...]`, `health = "tcp:PORT"`, `description`.
    /// A service with roles is started only on nodes of those roles.
    #[arg(long, value_name = "FILE")]
    pub services: Vec<PathBuf>,
    /// Compile .pyc files with the base's own Python under chroot (unchecked-hash pycs, so the
    /// image stays reproducible). Needs root.
    #[arg(long)]
    pub compile_bytecode: bool,
    /// Build the wheels of pins that have only an sdist in this build root: the base plus a C
    /// compiler and the base's Python headers (scripts/build-root makes one from the OS lock), so C
    /// extensions are compiled against the base's own Python and C library. Each build runs in
    /// an overlay over it (never changed) with the sources above read-only; wheels are cached
    /// by the sdist's sha256 under the cache folder, and the manifest says which wheel was built
    /// from which sdist. Needs root.
    #[arg(long, value_name = "DIR", env = "LASTMILE_BUILD_ROOT")]
    pub build_root: Option<PathBuf>,
    /// Build nothing: a pin that has only an sdist is refused (all of them named at once, with
    /// the command that builds them), even when a build root is given.
    #[arg(long)]
    pub no_build: bool,
    /// The time every file's modification time is clamped to (default: $SOURCE_DATE_EPOCH, else
    /// the newest modification time in the base: derived from the inputs, never the clock).
    #[arg(long, value_name = "SECONDS")]
    pub source_date_epoch: Option<u64>,
    /// gzip level (1-9); part of what makes the bytes, so it is recorded in the manifest.
    #[arg(long, value_name = "N", default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..=9))]
    pub level: u32,
    /// An earlier image, or a folder of them, whose pieces this bake may copy instead of reading
    /// and compressing what they hold again (repeatable; default: the newest image in
    /// --out-dir). A piece is copied only when the earlier image holds exactly the same archive
    /// bytes (the same headers and the same files, known by their sha256), its record in the
    /// cache was made by this bake-image with this compression, and the member's bytes still have
    /// the CRC-32 recorded for them: the image is byte for byte the one a cold bake makes, only
    /// sooner.
    #[arg(long, value_name = "PATH", conflicts_with = "no_reuse")]
    pub reuse: Vec<PathBuf>,
    /// Reuse nothing an earlier bake made: compress every piece, and read every file of the
    /// base and every wheel again to digest it instead of trusting the digests remembered for
    /// unchanged files (what --no-cache also does).
    #[arg(long)]
    pub no_reuse: bool,
}

impl BakeArgs {
    /// The command line as bake options; the clap types stop here.
    pub fn options(&self) -> anyhow::Result<BakeOptions> {
        let Some(pinned) = &self.pinned else {
            bail!("nothing to bake: name the pinned requirements (or `-` for stdin); see --help");
        };
        let Some(base) = &self.base else {
            bail!(
                "--base is required: a base root filesystem folder or tarball (scripts/base-rootfs makes one)"
            );
        };
        let mut source_commits = BTreeMap::new();
        for value in &self.source_commit {
            match value.split_once('=') {
                Some((repo, sha)) if !repo.is_empty() && !sha.is_empty() => {
                    source_commits.insert(repo.to_owned(), sha.to_owned());
                }
                _ => bail!("--source-commit {value:?}: expected REPO=SHA"),
            }
        }
        Ok(BakeOptions {
            pinned: pinned.clone(),
            base: base.clone(),
            os_lock: self.os_lock.clone(),
            wheels: self.index.options(None)?,
            out_dir: self.out_dir.clone(),
            prefix: self.prefix.clone(),
            overlays: self.overlay.clone(),
            source_commits,
            service_files: self.services.clone(),
            services: self.service.clone(),
            compile_bytecode: self.compile_bytecode,
            build_root: self.build_root.clone(),
            no_build: self.no_build,
            source_date_epoch: self.source_date_epoch,
            level: self.level,
            reuse: self.reuse.clone(),
            no_reuse: self.no_reuse,
        })
    }
}
