//! `bake-image`: pinned requirements + a base root filesystem → a bit-for-bit reproducible
//! LXC/Proxmox template, `autobuild-<digest>.tar.gz`, with a manifest and an SBOM.

pub mod cli;

mod archive;
mod base;
mod install;
mod pins;
mod sbom;
mod services;
mod verify;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use lastmile_core::candidate::{BaseInfo, CandidateDocument, CandidatePackage, ImageInfo, TargetInfo};
use lastmile_core::exit::Exit;
use lastmile_core::finder::{DistFile, FileKind, Finder, Sources, find_links_dir};
use lastmile_core::target::Target;
use sha2::Digest;

use crate::cli::{BakeArgs, Cli, Command};

/// Run `bake-image`.
pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    lastmile_core::logging::init("bake-image", cli.verbose, cli.quiet);
    lastmile_core::interrupt::install("bake-image");
    match &cli.command {
        Some(Command::Verify { image }) => verify::verify(image),
        None => bake(&cli.bake, &cli),
    }
}

fn bake(args: &BakeArgs, cli: &Cli) -> anyhow::Result<Exit> {
    let Some(pinned_path) = &args.pinned else {
        bail!("nothing to bake: name the pinned requirements (or `-` for stdin); see --help");
    };
    let Some(base_path) = &args.base else {
        bail!("--base is required: a base root filesystem folder or tarball (scripts/base-rootfs makes one)");
    };
    let (pinned_text, pinned_name) = if pinned_path == Path::new("-") {
        (
            lastmile_core::input::read_stdin().context("reading the pinned requirements from stdin")?,
            lastmile_core::input::STDIN_NAME.to_owned(),
        )
    } else {
        (
            std::fs::read_to_string(pinned_path)
                .with_context(|| format!("reading {}", pinned_path.display()))?,
            pinned_path.display().to_string(),
        )
    };
    let pins = pins::parse(&pinned_text, &pinned_name)?;
    if !args.prefix.starts_with('/') || args.prefix.contains("..") {
        bail!(
            "--prefix {:?}: give an absolute path inside the image",
            args.prefix
        );
    }
    let services = services::load(&args.services, &args.service)?;
    let source_commits = parse_pairs(&args.source_commit, "--source-commit", "REPO=SHA")?;
    std::fs::create_dir_all(&args.out_dir).with_context(|| format!("creating {}", args.out_dir.display()))?;

    // The staging tree lives in the output folder (same file system as the image, so the final
    // rename is atomic) and is removed whatever happens.
    let staging = tempfile::Builder::new()
        .prefix(".bake-")
        .tempdir_in(&args.out_dir)
        .context("creating the staging folder")?;
    let rootfs = staging.path().join("rootfs");
    let spinner = progress_bar(cli, "preparing the base", 0, false);
    let mut clock = Clock::start();
    let base = base::prepare(base_path, &rootfs)?;
    spinner.finish_and_clear();
    clock.lap("copied and digested the base");
    let target = Target::from_rootfs(&rootfs).map_err(|e| {
        anyhow::anyhow!(
            "{}: cannot tell the base's Python and C library: {e}",
            base_path.display()
        )
    })?;
    tracing::info!("base {} ({}), target {target}", base.digest, base.os);
    let epoch = match args.source_date_epoch.or_else(|| {
        std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .and_then(|v| v.trim().parse().ok())
    }) {
        Some(epoch) => epoch,
        None => base::newest_mtime(&rootfs)?,
    };

    // Every pinned wheel, checked against its hash and the base's tags.
    let finder = Finder::new(sources(args)?, &target)?;
    finder.prefetch(pins.iter().map(|p| p.name.clone()));
    let ranks = target.tag_ranks();
    let mut chosen: Vec<(pins::Pin, DistFile, PathBuf, String)> = Vec::new();
    let progress = progress_bar(cli, "fetching wheels", pins.len() as u64, false);
    for pin in &pins {
        lastmile_core::interrupt::check()?;
        progress.set_message(pin.name.to_string());
        let file = choose_wheel(&finder, pin, &target, &ranks)?;
        let path = finder
            .local_path(&file)
            .map_err(|e| anyhow::anyhow!("{}: {e}", pin.origin))?;
        let sha = lastmile_core::finder::sha256_file(&path)?;
        if !pin.sha256.contains(&sha) {
            bail!(
                "{}: {}: sha256 {sha} is not one of the pinned hashes ({}); the file differs from the one that was pinned",
                pin.origin,
                file.shown(),
                pin.sha256.join(", ")
            );
        }
        chosen.push((pin.clone(), file, path, sha));
        progress.inc(1);
    }
    progress.finish_and_clear();

    let venv = install::Venv {
        rootfs: rootfs.clone(),
        prefix: args.prefix.clone(),
        python: target.python,
        python_full: target.python_full.clone(),
        // The wheels' files go straight from the wheels into the archive, unless a step needs
        // them on disk.
        defer: !args.compile_bytecode,
    };
    clock.lap("checked the wheels");
    venv.create().context("creating the virtual environment")?;
    let mut packages = Vec::new();
    let mut deferred: BTreeMap<PathBuf, install::Deferred> = BTreeMap::new();
    let progress = progress_bar(cli, "installing", chosen.len() as u64, false);
    for (pin, file, path, sha) in &chosen {
        lastmile_core::interrupt::check()?;
        progress.set_message(file.filename.clone());
        let installed = venv.install_wheel(path, pin.requested)?;
        progress.inc(1);
        // A later wheel's file replaces an earlier one's, as with any installer.
        let prefix = Path::new(args.prefix.trim_start_matches('/'));
        for file in &installed.files {
            deferred.remove(&prefix.join(file));
        }
        deferred.extend(installed.deferred);
        packages.push(CandidatePackage {
            name: pin.name.to_string(),
            version: pin.version.clone(),
            filename: file.filename.clone(),
            sha256: sha.clone(),
            scripts: installed.scripts,
            record_sha256: installed.record_sha256,
        });
    }
    progress.finish_and_clear();
    clock.lap("installed the wheels");
    // Inputs by role and position, never by path: the same files baked from another folder
    // (another CI workspace, stdin) give the same bytes.
    let mut inputs = BTreeMap::new();
    inputs.insert(
        "pinned".to_owned(),
        format!("{:x}", sha2::Sha256::digest(pinned_text.as_bytes())),
    );
    for (number, overlay) in args.overlay.iter().enumerate() {
        let digest = base::copy_overlay(overlay, &rootfs)?;
        inputs.insert(format!("overlay:{}", number + 1), digest);
    }
    services::write(&rootfs, &args.prefix, &services, &packages)?;
    // A file an overlay put where a wheel's file was replaces it (the install removed every
    // file at a deferred path, so anything there now came later).
    deferred.retain(|path, _| std::fs::symlink_metadata(rootfs.join(path)).is_err());
    if args.compile_bytecode {
        install::materialize(&rootfs, &deferred)?;
        deferred.clear();
        base::compile_bytecode(&rootfs, &venv)?;
    }

    let mut document = CandidateDocument {
        schema: lastmile_core::candidate::SCHEMA.to_owned(),
        image: None,
        base: BaseInfo {
            digest: base.digest.clone(),
            os: base.os.clone(),
        },
        target: TargetInfo {
            python: target.python_full.clone(),
            platform: target.platform_option(),
        },
        prefix: args.prefix.clone(),
        packages,
        services,
        source_commits,
        inputs,
        source_date_epoch: epoch,
        tool: concat!("bake-image ", env!("CARGO_PKG_VERSION")).to_owned(),
        compression: format!(
            "gzip level {}, {} KiB members, flate2 (zlib-rs)",
            args.level,
            archive::ParallelGz::<Vec<u8>>::PIECE / 1024
        ),
    };
    clock.lap("wrote overlays, services and bytecode");
    let sbom_text = sbom::cyclonedx(&document);
    base::write_fixed(
        &rootfs.join("etc/lastmile/candidate.json"),
        lastmile_core::document::to_string(&document).as_bytes(),
    )?;
    base::write_fixed(&rootfs.join("etc/lastmile/sbom.cdx.json"), sbom_text.as_bytes())?;

    // The archive: into a temporary file beside the image, hashed as it is written, then renamed.
    let total = base::tree_size(&rootfs) + deferred.values().map(|d| d.size).sum::<u64>();
    let progress = progress_bar(cli, "compressing", total, true);
    let temp = tempfile::Builder::new()
        .prefix(".autobuild-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))
        .tempfile_in(&args.out_dir)
        .context("creating the image file")?;
    let writer = archive::HashingWriter::new(std::io::BufWriter::new(temp.as_file()));
    let mut gz = archive::ParallelGz::new(writer, args.level);
    let stats = archive::write_tar(&rootfs, epoch, &deferred, &mut gz, |n| progress.inc(n))
        .context("archiving the root filesystem")?;
    let mut hashing = gz.finish()?;
    hashing.flush()?;
    progress.finish_and_clear();
    let sha = format!("{:x}", hashing.hasher.clone().finalize());
    let size = hashing.written;
    drop(hashing);
    clock.lap("archived and compressed");
    temp.as_file().sync_all()?;
    clock.lap("synced the image to disk");
    // Past this point the image is whole; a signal before it leaves nothing behind.
    lastmile_core::interrupt::check()?;
    let image = args.out_dir.join(format!("autobuild-{}.tar.gz", &sha[..12]));
    temp.persist(&image)
        .map_err(|e| e.error)
        .context("naming the image")?;
    let sbom_path = args
        .out_dir
        .join(format!("autobuild-{}.sbom.cdx.json", &sha[..12]));
    lastmile_core::fs::write_atomic(&sbom_path, sbom_text.as_bytes())?;
    tracing::info!(
        "{} entries, {} MiB in, {} MiB out, {} device nodes left out",
        stats.entries,
        stats.bytes_in >> 20,
        size >> 20,
        stats.skipped_devices
    );
    document.image = Some(ImageInfo {
        path: image.display().to_string(),
        sha256: sha,
        size,
    });
    let mut out = std::io::stdout().lock();
    lastmile_core::document::write(&mut out, &document)?;
    out.flush()?;
    Ok(Exit::Success)
}

/// Wall time per step, logged with -v.
struct Clock(std::time::Instant);

impl Clock {
    fn start() -> Self {
        Self(std::time::Instant::now())
    }

    fn lap(&mut self, step: &str) {
        tracing::info!("{step} in {:.2} s", self.0.elapsed().as_secs_f64());
        self.0 = std::time::Instant::now();
    }
}

/// A progress bar on a terminal, hidden otherwise. `total` 0 is a spinner.
fn progress_bar(cli: &Cli, step: &str, total: u64, bytes: bool) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if cli.quiet || cli.no_progress || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let (bar, template) = if total == 0 {
        (
            indicatif::ProgressBar::new_spinner(),
            format!("bake-image: {step} {{spinner}} {{elapsed}}"),
        )
    } else if bytes {
        (
            indicatif::ProgressBar::new(total),
            format!("bake-image: {step} {{bar:30}} {{bytes}}/{{total_bytes}} {{elapsed}}"),
        )
    } else {
        (
            indicatif::ProgressBar::new(total),
            format!("bake-image: {step} {{bar:30}} {{pos}}/{{len}} {{msg}}"),
        )
    };
    bar.set_style(indicatif::ProgressStyle::with_template(&template).expect("a valid progress template"));
    if total == 0 {
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
    }
    bar
}

fn parse_pairs(values: &[String], option: &str, shape: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let mut pairs = BTreeMap::new();
    for value in values {
        match value.split_once('=') {
            Some((key, val)) if !key.is_empty() && !val.is_empty() => {
                pairs.insert(key.to_owned(), val.to_owned());
            }
            _ => bail!("{option} {value:?}: expected {shape}"),
        }
    }
    Ok(pairs)
}

fn sources(args: &BakeArgs) -> anyhow::Result<Sources> {
    let mut find_links = Vec::new();
    for value in &args.find_links {
        match find_links_dir(value) {
            Some(dir) => find_links.push(dir),
            None => bail!("--find-links {value}: give a folder"),
        }
    }
    let indexes: Vec<String> = args
        .index_url
        .iter()
        .chain(&args.extra_index_url)
        .cloned()
        .collect();
    if find_links.is_empty() && indexes.is_empty() {
        bail!("no wheel source: give --find-links DIR (scripts/build-wheels makes one) or --index-url URL");
    }
    let cache_dir = args
        .cache_dir
        .clone()
        .or_else(lastmile_core::finder::HashCache::default_root);
    Ok(Sources {
        find_links,
        indexes,
        http: lastmile_core::http::HttpOptions {
            cache_dir,
            offline: args.offline,
            ..Default::default()
        },
        concurrency: 8,
        ..Sources::default()
    })
}

/// The wheel to install for a pin: a file of that version whose hash is pinned and whose tags
/// the base supports, the best-ranked one.
fn choose_wheel(
    finder: &Finder,
    pin: &pins::Pin,
    target: &Target,
    ranks: &lastmile_core::target::TagRanks,
) -> anyhow::Result<DistFile> {
    let version: lastmile_core::Version = pin
        .version
        .parse()
        .map_err(|e| anyhow::anyhow!("{}: version {}: {e}", pin.origin, pin.version))?;
    let files = finder.files(&pin.name, &version);
    if files.is_empty() {
        let _ = finder
            .project(&pin.name)
            .map_err(|e| anyhow::anyhow!("{}: {e}", pin.origin))?;
        bail!(
            "{}: no file of {}=={} in the wheel sources",
            pin.origin,
            pin.name,
            pin.version
        );
    }
    let hashed = |f: &DistFile| f.sha256.as_ref().is_none_or(|h| pin.sha256.contains(h));
    let mut wheels: Vec<(usize, &DistFile)> = files
        .iter()
        .filter(|f| hashed(f))
        .filter_map(|f| match &f.kind {
            FileKind::Wheel { .. } => {
                let parsed: lastmile_core::wheel_name::WheelName = f.filename.parse().ok()?;
                ranks.rank(&parsed).map(|rank| (rank, f))
            }
            FileKind::Sdist => None,
        })
        .collect();
    wheels.sort_by_key(|(rank, f)| (*rank, f.filename.clone()));
    if let Some((_, best)) = wheels.first() {
        return Ok((*best).clone());
    }
    let incompatible: Vec<&str> = files
        .iter()
        .filter(|f| matches!(f.kind, FileKind::Wheel { .. }))
        .map(|f| f.filename.as_str())
        .collect();
    if !incompatible.is_empty() {
        let tags: Vec<String> = target
            .supported_tags()
            .iter()
            .take(6)
            .map(|(p, a, l)| format!("{p}-{a}-{l}"))
            .collect();
        bail!(
            "{}: {}=={}: no wheel fits the base (Python {}.{}, {}): {} (the base supports {}, ...)",
            pin.origin,
            pin.name,
            pin.version,
            target.python.0,
            target.python.1,
            target.platform_option(),
            incompatible.join(", "),
            tags.join(", ")
        );
    }
    if let Some(sdist) = files.iter().find(|f| f.kind == FileKind::Sdist) {
        bail!(
            "{}: {}=={} is only an sdist ({}); build it into a wheel first (scripts/build-wheels, or `pip wheel --no-deps {}`) and give the wheel's folder with --find-links",
            pin.origin,
            pin.name,
            pin.version,
            sdist.filename,
            sdist.shown()
        );
    }
    bail!(
        "{}: {}=={}: no file matches the pinned hashes",
        pin.origin,
        pin.name,
        pin.version
    )
}
