//! A bake, step by step: read the pins, prepare the base, fetch and check the wheels, install
//! them, add overlays and services, write the manifest and SBOM, archive and compress, name the
//! image by its digest. Everything happens in a staging folder inside the output folder that is
//! removed whatever happens; the image appears only once it is whole.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use lastmile_cli::Reporter;
use lastmile_documents::candidate::{
    BaseInfo, CANDIDATE_PATH, CandidateDocument, CandidatePackage, ImageInfo, ImageName, SCHEMA, Service,
    TargetInfo,
};
use std::sync::Arc;

use lastmile_fs::{Root, Sha256};
use lastmile_python::Target;

use crate::install::{Deferred, Venv};
use crate::options::BakeOptions;
use crate::wheels::Chosen;
use crate::{archive, base, build, pins, sbom, services, wheels};

/// Bake the candidate `options` describe; returns its document, with the image.
pub fn bake(options: &BakeOptions, reporter: &Reporter) -> anyhow::Result<CandidateDocument> {
    let (pins, pinned_text) = read_pins(&options.pinned)?;
    check_prefix(&options.prefix)?;
    let (services, masking) = services::load(&options.service_files, &options.services)?;
    let staging = staging(options)?;
    let rootfs = staging.path().join("rootfs");
    let mut clock = Clock::start();

    refuse_what_needs_root(options)?;
    let spinner = reporter.spinner("preparing the base");
    // What earlier bakes left in the cache for this one (none with --no-reuse).
    let remembered = (!options.no_reuse)
        .then_some(options.wheels.http.cache_dir.as_deref())
        .flatten();
    let base = base::prepare(&options.base, options.os_lock.as_deref(), &rootfs, remembered)?;
    spinner.finish_and_clear();
    // Every write from here on stays inside the image, never through a link of the base.
    let root = Arc::new(Root::open(&rootfs)?);
    clock.lap("copied and digested the base");
    let target = Target::from_rootfs(&rootfs).map_err(|e| {
        anyhow::anyhow!(
            "{}: cannot tell the base's Python and C library: {e}",
            options.base.display()
        )
    })?;
    tracing::info!("base {} ({}), target {target}", base.digest, base.os);
    let epoch = source_date_epoch(options, &rootfs)?;

    let builder = builder(options, &rootfs, &target, staging.path())?;
    let chosen = fetch_wheels(options, &pins, &target, builder.as_ref(), remembered, reporter)?;
    clock.lap("checked the wheels");
    let venv = Venv {
        root: root.clone(),
        prefix: options.prefix.clone(),
        python: target.python,
        python_full: target.python_full.clone(),
        // The wheels' files go straight from the wheels into the archive, unless a step needs
        // them on disk.
        defer: !options.compile_bytecode,
    };
    let (packages, mut deferred) = install(&venv, &chosen, reporter)?;
    clock.lap("installed the wheels");

    let inputs = add_overlays(options, &pinned_text, &root)?;
    services::write(&root, &options.prefix, &services, &packages)?;
    let masked_units = crate::units::mask(&root, &masking, &services)?;
    // A file an overlay put where a wheel's file was replaces it (the install removed every
    // file at a deferred path, so anything there now came later).
    deferred.retain(|path, _| !root.exists(path));
    if options.compile_bytecode {
        crate::install::materialize(&root, &deferred)?;
        deferred.clear();
        base::compile_bytecode(&root, &venv)?;
    }
    let mut document = manifest(options, &base, &target, packages, services, inputs, epoch)?;
    document.masked_units = masked_units;
    clock.lap("wrote overlays, services and bytecode");

    let sbom_text = write_provenance_inside(&root, &document)?;
    let owners = archive::Owners {
        made: root.made(),
        base: options.base.is_dir().then_some(options.base.as_path()),
    };
    let checked = crate::digests::CheckedWheels::open(remembered);
    let sources = sources(options, &base, deferred, &checked)?;
    let image = write_image(options, &rootfs, epoch, &sources, &owners, reporter, &mut clock)?;
    // Every member of every wheel has now been read and checked, in this bake or an earlier one.
    for wheel in &chosen {
        checked.mark(&wheel.sha256);
    }
    write_beside(options, &document, &image, &sbom_text)?;
    document.image = Some(image);
    Ok(document)
}

/// The staging folder: in the output folder (the same file system as the image, so the final
/// rename is atomic), removed whatever happens, and marked as a new tree apart from the last
/// bake's, which was just removed ([`lastmile_fs::mark_top_of_tree`]).
fn staging(options: &BakeOptions) -> anyhow::Result<tempfile::TempDir> {
    std::fs::create_dir_all(&options.out_dir)
        .with_context(|| format!("creating {}", options.out_dir.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".bake-")
        .tempdir_in(&options.out_dir)
        .context("creating the staging folder")?;
    if let Err(e) = lastmile_fs::mark_top_of_tree(staging.path()) {
        tracing::debug!("{}: not marked as a top folder: {e}", staging.path().display());
    }
    Ok(staging)
}

/// Every pin's wheel, found, checked against its pin (its digest remembered in `remembered`
/// when the file is unchanged since an earlier bake) and against the target.
fn fetch_wheels(
    options: &BakeOptions,
    pins: &[crate::pins::Pin],
    target: &Target,
    builder: Option<&build::Builder>,
    remembered: Option<&Path>,
    reporter: &Reporter,
) -> anyhow::Result<Vec<Chosen>> {
    let mut digests = crate::digests::Remembered::open(remembered, "wheels");
    let chosen = wheels::fetch(&options.wheels, pins, target, builder, &mut digests, reporter)?;
    digests.keep();
    crate::complete::check(&chosen, target)?;
    Ok(chosen)
}

/// The candidate document and its SBOM inside the image (`/etc/lastmile/`); the SBOM's text.
fn write_provenance_inside(root: &Root, document: &CandidateDocument) -> anyhow::Result<String> {
    let sbom_text = sbom::cyclonedx(document);
    base::write_fixed(
        root,
        Path::new(CANDIDATE_PATH),
        lastmile_documents::to_string(document).as_bytes(),
    )?;
    base::write_fixed(
        root,
        Path::new("etc/lastmile/sbom.cdx.json"),
        sbom_text.as_bytes(),
    )?;
    Ok(sbom_text)
}

/// The builder of sdist-only pins, when a build root is given and building is not refused.
fn builder(
    options: &BakeOptions,
    rootfs: &Path,
    target: &Target,
    scratch: &Path,
) -> anyhow::Result<Option<build::Builder>> {
    match &options.build_root {
        Some(path) if !options.no_build => {
            let root = build::BuildRoot::open(path, rootfs, target)?;
            Ok(Some(build::Builder::new(root, &options.wheels, scratch)?))
        }
        _ => Ok(None),
    }
}

/// What is written beside the image: its SBOM and its provenance.
fn write_beside(
    options: &BakeOptions,
    document: &CandidateDocument,
    image: &ImageInfo,
    sbom_text: &str,
) -> anyhow::Result<()> {
    let name = ImageName::of(&image.sha256);
    let write = |file: String, bytes: &[u8]| {
        let path = options.out_dir.join(file);
        lastmile_fs::write_atomic(&path, bytes).with_context(|| format!("writing {}", path.display()))
    };
    write(name.sbom(), sbom_text.as_bytes())?;
    let statement = crate::provenance::statement(document, image, &Sha256::of(sbom_text.as_bytes()));
    write(
        name.provenance(),
        lastmile_documents::to_string(&statement).as_bytes(),
    )
}

fn check_prefix(prefix: &str) -> anyhow::Result<()> {
    if !prefix.starts_with('/') || prefix.contains("..") {
        bail!("--prefix {prefix:?}: give an absolute path inside the image");
    }
    Ok(())
}

/// What only root can do right, refused with the reason for anyone else: unpacking a tarball
/// keeps its owners only as root, and byte-compiling runs the base's Python under chroot. (A
/// folder base is fine: owners and modes are read from the base itself, never from the copy.)
fn refuse_what_needs_root(options: &BakeOptions) -> anyhow::Result<()> {
    if rustix::process::geteuid().is_root() {
        return Ok(());
    }
    if !options.base.is_dir() {
        bail!(
            "--base {}: a base tarball can be unpacked with its owners only as root (bake-image runs as uid {}); run it as root, or unpack the base once as root and give the folder",
            options.base.display(),
            rustix::process::geteuid().as_raw()
        );
    }
    if options.compile_bytecode {
        bail!("--compile-bytecode runs the base's Python under chroot, which needs root");
    }
    Ok(())
}

/// The pins, and the pinned file's text (its digest is an input of the image).
fn read_pins(path: &Path) -> anyhow::Result<(Vec<pins::Pin>, String)> {
    let (text, name) = if path == Path::new("-") {
        (
            lastmile_cli::input::read_stdin().context("reading the pinned requirements from stdin")?,
            lastmile_cli::input::STDIN_NAME.to_owned(),
        )
    } else {
        (
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
            path.display().to_string(),
        )
    };
    Ok((pins::parse(&text, &name)?, text))
}

/// `--source-date-epoch`, else `$SOURCE_DATE_EPOCH`, else the newest modification time in the
/// base: derived from the inputs, never the clock.
fn source_date_epoch(options: &BakeOptions, rootfs: &Path) -> anyhow::Result<u64> {
    match options.source_date_epoch.or_else(|| {
        std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .and_then(|v| v.trim().parse().ok())
    }) {
        Some(epoch) => Ok(epoch),
        None => base::newest_mtime(rootfs),
    }
}

/// Install every wheel; returns the manifest's packages and the files left in their wheels.
fn install(
    venv: &Venv,
    chosen: &[Chosen],
    reporter: &Reporter,
) -> anyhow::Result<(Vec<CandidatePackage>, BTreeMap<PathBuf, Deferred>)> {
    venv.create().context("creating the virtual environment")?;
    let mut packages = Vec::new();
    let mut deferred: BTreeMap<PathBuf, Deferred> = BTreeMap::new();
    let progress = reporter.items("installing", chosen.len() as u64);
    let prefix = Path::new(venv.prefix.trim_start_matches('/'));
    for wheel in chosen {
        lastmile_process::interrupt::check()?;
        progress.set_message(wheel.filename.clone());
        let installed = venv.install_wheel(&wheel.path, wheel.pin.requested)?;
        progress.inc(1);
        // A later wheel's file replaces an earlier one's, as with any installer.
        for file in &installed.files {
            deferred.remove(&prefix.join(file));
        }
        deferred.extend(installed.deferred.into_iter().map(|(path, mut file)| {
            file.wheel_sha256 = Some(wheel.sha256);
            (path, file)
        }));
        packages.push(CandidatePackage {
            name: wheel.pin.name.to_string(),
            version: wheel.pin.version.clone(),
            filename: wheel.filename.clone(),
            sha256: wheel.sha256,
            scripts: installed.scripts,
            record_sha256: installed.record_sha256,
            built_from: wheel.built_from.clone(),
        });
    }
    progress.finish_and_clear();
    Ok((packages, deferred))
}

/// Copy the overlays into the root filesystem. Returns the inputs by role and position, never
/// by path: the same files baked from another folder (another CI workspace, stdin) give the
/// same bytes.
fn add_overlays(
    options: &BakeOptions,
    pinned_text: &str,
    root: &Root,
) -> anyhow::Result<BTreeMap<String, Sha256>> {
    let mut inputs = BTreeMap::new();
    inputs.insert("pinned".to_owned(), Sha256::of(pinned_text.as_bytes()));
    for (number, overlay) in options.overlays.iter().enumerate() {
        let digest = base::copy_overlay(overlay, root)?;
        inputs.insert(format!("overlay:{}", number + 1), digest);
    }
    Ok(inputs)
}

/// The candidate's manifest (without the image, which cannot hold its own hash), checked as
/// every reader checks it (an OS lock's role no service has, say).
fn manifest(
    options: &BakeOptions,
    base: &base::Base,
    target: &Target,
    packages: Vec<CandidatePackage>,
    services: BTreeMap<String, Service>,
    inputs: BTreeMap<String, Sha256>,
    epoch: u64,
) -> anyhow::Result<CandidateDocument> {
    let document = CandidateDocument {
        schema: SCHEMA.to_owned(),
        image: None,
        base: BaseInfo {
            digest: base.digest,
            os: base.os.clone(),
            lock: base.lock.clone(),
        },
        target: TargetInfo {
            python: target.python_full.clone(),
            platform: target.platform_option(),
        },
        prefix: options.prefix.clone(),
        packages,
        services,
        source_commits: options.source_commits.clone(),
        inputs,
        masked_units: Vec::new(),
        source_date_epoch: epoch,
        tool: concat!("bake-image ", env!("CARGO_PKG_VERSION")).to_owned(),
        compression: compression(options),
    };
    lastmile_documents::Document::check(&document)
        .map_err(|problem| anyhow::anyhow!("the candidate's manifest: {problem}"))?;
    Ok(document)
}

/// Archive and compress the root filesystem into a temporary file beside the image, hashed as
/// it is written, then renamed `autobuild-<digest>.tar.gz`. Pieces an earlier image holds are
/// copied from it; where this image's pieces are is recorded in the cache for the next bake.
fn write_image(
    options: &BakeOptions,
    rootfs: &Path,
    epoch: u64,
    sources: &archive::Sources,
    owners: &archive::Owners,
    reporter: &Reporter,
    clock: &mut Clock,
) -> anyhow::Result<ImageInfo> {
    let total = if reporter.draws() {
        base::tree_size(rootfs) + sources.deferred.values().map(|d| d.size).sum::<u64>()
    } else {
        0
    };
    let progress = reporter.bytes("compressing", total);
    let temp = tempfile::Builder::new()
        .prefix(".autobuild-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))
        .tempfile_in(&options.out_dir)
        .context("creating the image file")?;
    let writer = lastmile_fs::Sha256Writer::new(std::io::BufWriter::new(temp.as_file()));
    let mut gz = archive::ParallelGz::new(writer, options.level, sources.earlier.clone());
    let stats = archive::write_tar(rootfs, epoch, sources, owners, &mut gz, |n| progress.inc(n))
        .context("archiving the root filesystem")?;
    let (hashing, pieces, made) = gz.finish()?;
    progress.finish_and_clear();
    let (sha256, size, mut buffered) = hashing.finish();
    std::io::Write::flush(&mut buffered)?;
    drop(buffered);
    clock.lap("archived and compressed");
    temp.as_file().sync_all()?;
    clock.lap("synced the image to disk");
    // Past this point the image is whole; a signal before it leaves nothing behind.
    lastmile_process::interrupt::check()?;
    let image = options.out_dir.join(ImageName::of(&sha256).to_string());
    temp.persist(&image)
        .map_err(|e| e.error)
        .context("naming the image")?;
    lastmile_fs::sync_dir(&options.out_dir).context("syncing the output folder")?;
    if let Some(cache) = &options.wheels.http.cache_dir
        && let Err(e) = archive::reuse::record(cache, &sha256, &compression(options), pieces)
    {
        tracing::warn!("cannot record the image's pieces for the next bake: {e}");
    }
    tracing::info!(
        "{} entries, {} MiB in, {} MiB out, {} device nodes left out; {} of {} pieces ({} MiB) copied from an earlier image",
        stats.entries,
        stats.bytes_in >> 20,
        size >> 20,
        stats.skipped_devices,
        made.reused,
        made.pieces,
        made.reused_bytes >> 20
    );
    // Absolute: the document is read from other folders (deploy-lxc, aqf-run promote), and
    // from stdin, where nothing else could say what a relative path is relative to.
    let image = std::path::absolute(&image).unwrap_or(image);
    Ok(ImageInfo {
        path: image.display().to_string(),
        sha256,
        size,
    })
}

/// What the archive takes besides the staging tree. With earlier images to copy pieces from,
/// the members of wheels not checked by an earlier bake are read and checked against their
/// RECORD first (a piece copied names its members by their RECORD digests, unread).
fn sources<'a>(
    options: &BakeOptions,
    base: &'a base::Base,
    deferred: BTreeMap<PathBuf, Deferred>,
    checked: &crate::digests::CheckedWheels,
) -> anyhow::Result<archive::Sources<'a>> {
    let earlier = earlier_images(options);
    if earlier.is_some() {
        let read = crate::install::verify_members(&deferred, |wheel| checked.contains(wheel))?;
        tracing::debug!("{} wheels' members checked against their RECORD", read.len());
    }
    Ok(archive::Sources {
        deferred,
        base_files: Some(&base.files),
        earlier,
    })
}

/// How the image is compressed, as the manifest says it.
fn compression(options: &BakeOptions) -> String {
    format!(
        "gzip level {}, members cut at entries (up to {} KiB), flate2 (zlib-rs)",
        options.level,
        archive::ParallelGz::<Vec<u8>>::PIECE / 1024
    )
}

/// The earlier images whose pieces this bake may copy (`--reuse`, else the newest image in the
/// output folder), with the cache that recorded them; none without a cache or with `--no-reuse`.
fn earlier_images(options: &BakeOptions) -> Option<Arc<archive::reuse::Earlier>> {
    let cache = options.wheels.http.cache_dir.as_ref()?;
    if options.no_reuse {
        return None;
    }
    let paths = archive::reuse::candidates(cache, &options.reuse, &options.out_dir);
    let earlier = archive::reuse::Earlier::open(cache, &paths, &compression(options));
    (earlier.images() > 0).then(|| Arc::new(earlier))
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
